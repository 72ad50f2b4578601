"""One contract test for every aggregator: each conf/aggregators/*.yaml (and numeric/pairwise group) is built with
Hydra and held to the checks of strategies.aggregation.checks. A new YAML is picked up without editing this file.

Exceptions are declared, never silent: FIT_KWARGS gives the extra fit arguments a method needs, BINARY_ONLY the
methods whose domain is two classes (they get binary data, not a weaker check), SKIPS a check that does not apply
with the reason, and a class's own ``check_options`` a documented tolerance (``crowdlab bench`` reads it too).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hydra.utils import get_class, instantiate
from omegaconf import OmegaConf

from strategies.aggregation.checks import CATEGORICAL_CHECKS, NUMERIC_CHECKS, PAIRWISE_CHECKS, declared_options

CONF = Path(__file__).resolve().parents[2] / "conf"


def configs(group: str) -> list[Path]:
    return sorted((CONF / group).glob("*.yaml"))


def class_name(config: Path) -> str:
    return str(OmegaConf.load(config)["_target_"]).rsplit(".", 1)[-1]


def one_coin_log_joint(answers: pd.DataFrame, accuracy: float = 0.8) -> pd.DataFrame:
    """A known answer model for the oracle: every answer right with probability ``accuracy``, errors uniform."""
    label = answers["label"]
    labels = label.cat.categories if isinstance(label.dtype, pd.CategoricalDtype) else pd.Index(sorted(label.unique()))
    wrong = np.log((1 - accuracy) / max(len(labels) - 1, 1))
    columns = {k: np.where(label.to_numpy() == k, np.log(accuracy), wrong) for k in labels}
    return pd.DataFrame(columns, index=answers.index).groupby(answers["task"].to_numpy()).sum()


FIT_KWARGS: dict[str, Any] = {
    # gold answers for every third task (crowd-kit's signature: fit(data, true_labels))
    "GoldMajorityVote": lambda answers, truth: {"true_labels": truth.iloc[::3]},
    # the oracle needs the answer model; here a known one-coin model
    "Oracle": lambda answers, truth: {"log_joint": one_coin_log_joint},
}
BINARY_ONLY = {"KOS"}
SKIPS: dict[tuple[str, str], str] = {
    ("KOS", "check_class_nobody_chose"): "KOS is binary: a declared third class is outside its domain",
}


@pytest.mark.parametrize("config", configs("aggregators"), ids=lambda p: p.stem)
def test_config_lists_every_hyperparameter_with_its_default(config):
    """The YAML names one class and every constructor field with the class's own default."""
    cfg = OmegaConf.load(config)
    cls = get_class(cfg["_target_"])
    assert config.read_text().startswith(f"# @package {config.parent.name}.{config.stem}\n")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    assert set(cfg.keys()) - {"_target_"} == set(fields), f"{config.name} must list exactly the fields {set(fields)}"
    built = instantiate(cfg)
    for name, field in fields.items():
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()  # type: ignore[misc]
        assert getattr(built, name) == default, f"{config.name}: {name}={getattr(built, name)!r}, default {default!r}"


@pytest.mark.parametrize("check", CATEGORICAL_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("config", configs("aggregators"), ids=lambda p: p.stem)
def test_categorical_contract(config, check):
    name = class_name(config)
    if (name, check.__name__) in SKIPS:
        pytest.skip(SKIPS[name, check.__name__])
    cfg = OmegaConf.load(config)
    options = declared_options(lambda: instantiate(cfg), check)  # a class's documented tolerance (check_options)
    check(lambda: instantiate(cfg), FIT_KWARGS.get(name), n_classes=2 if name in BINARY_ONLY else 3, **options)


# Numeric answers (conf/numeric_aggregators): one float estimate per task.


@pytest.mark.parametrize("check", NUMERIC_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("config", configs("numeric_aggregators"), ids=lambda p: p.stem)
def test_numeric_contract(config, check):
    cfg = OmegaConf.load(config)
    check(lambda: instantiate(cfg))


# Pairwise comparisons (conf/pairwise_aggregators): columns worker, left, right, label (the winner).


@pytest.mark.parametrize("check", PAIRWISE_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("config", configs("pairwise_aggregators"), ids=lambda p: p.stem)
def test_pairwise_contract(config, check):
    cfg = OmegaConf.load(config)
    check(lambda: instantiate(cfg))
