"""One contract test for every aggregator: each conf/aggregators/*.yaml (and numeric/pairwise group) is built with
Hydra and held to the checks of strategies.aggregation.checks. A new YAML is picked up without editing this file.

Exceptions are declared, never silent: FIT_KWARGS gives the extra fit arguments a method needs, BINARY_ONLY the
methods whose domain is two classes (they get binary data, not a weaker check), SKIPS a check that does not apply
with the reason.
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

from strategies.aggregation import AnswersError
from strategies.aggregation.checks import CATEGORICAL_CHECKS

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
CHECK_OPTIONS: dict[tuple[str, str], dict[str, Any]] = {
    # MACE's random restarts are drawn per worker code; renaming reorders the codes (labels must still agree)
    ("MACE", "check_renaming_invariance"): {"probas_atol": 1e-3},
    # EBCC's random subtype split is drawn per task code, which renaming reorders
    ("EBCC", "check_renaming_invariance"): {"probas_atol": 1e-3},
}
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
    options = CHECK_OPTIONS.get((name, check.__name__), {})
    check(lambda: instantiate(cfg), FIT_KWARGS.get(name), n_classes=2 if name in BINARY_ONLY else 3, **options)


# Numeric answers (conf/numeric_aggregators): one float estimate per task.


def numeric_answers(seed: int = 0, ids: str = "int") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0, 100, 30)
    tasks = np.repeat(np.arange(30), 6)
    workers = np.tile(np.arange(6), 30)
    noise = rng.normal(0, np.array([2, 3, 5, 8, 13, 40])[workers])
    task_ids: Any = tasks + 5 if ids == "int" else [f"t{t}" for t in tasks]
    worker_ids: Any = workers + 5 if ids == "int" else [f"w{w}" for w in workers]
    return pd.DataFrame({"task": task_ids, "worker": worker_ids, "label": np.round(truth[tasks] + noise, 1)})


@pytest.mark.parametrize("config", configs("numeric_aggregators"), ids=lambda p: p.stem)
def test_numeric_contract(config):
    cfg = OmegaConf.load(config)
    for ids in ("int", "str"):
        answers = numeric_answers(ids=ids)
        aggregator = instantiate(cfg)
        assert aggregator.fit(answers) is aggregator
        labels = aggregator.labels_
        assert labels.index.is_unique and set(labels.index) == set(answers["task"])
        assert np.isfinite(labels.to_numpy(dtype=np.float64)).all()
        lo, hi = answers.groupby("task")["label"].agg(["min", "max"]).reindex(labels.index).T.to_numpy()
        assert ((labels >= lo - 1e-9) & (labels <= hi + 1e-9)).all(), "an estimate outside the task's answers"
        shuffled = instantiate(cfg).fit(answers.sample(frac=1.0, random_state=1)).labels_
        pd.testing.assert_series_equal(shuffled.sort_index(), labels.sort_index(), atol=1e-9)
        task_map = {t: f"renamed-{i}" for i, t in enumerate(pd.unique(answers["task"])[::-1])}
        renamed = instantiate(cfg).fit(answers.assign(task=answers["task"].map(task_map))).labels_
        back = renamed.rename(index={v: k for k, v in task_map.items()}).sort_index()
        pd.testing.assert_series_equal(back, labels.sort_index(), check_index_type=False, atol=1e-9)
        pd.testing.assert_series_equal(instantiate(cfg).fit(answers).labels_, labels)  # same settings, same output
    unanimous = answers.assign(label=answers["task"].map(lambda t: float(len(str(t)))))
    result = instantiate(cfg).fit(unanimous).labels_
    np.testing.assert_allclose(result.to_numpy(), result.index.map(lambda t: float(len(str(t)))).to_numpy())
    for expected, data in [
        ("empty", answers.iloc[:0]),
        ("worker", answers.drop(columns="worker")),
        ("label", answers.assign(label=answers["label"].where(answers.index != 2))),
    ]:
        with pytest.raises(AnswersError, match=expected):
            instantiate(cfg).fit(data)


# Pairwise comparisons (conf/pairwise_aggregators): columns worker, left, right, label (the winner).


@pytest.mark.parametrize("config", configs("pairwise_aggregators"), ids=lambda p: p.stem)
def test_pairwise_contract(config):
    cfg = OmegaConf.load(config)
    rng = np.random.default_rng(0)
    strength = np.array([4.0, 2.0, 1.0, 0.5, 0.25])
    left, right = rng.integers(0, 5, 400), rng.integers(0, 5, 400)
    keep = left != right
    left, right = left[keep], right[keep]
    left_wins = rng.random(left.shape[0]) < strength[left] / (strength[left] + strength[right])
    for names in (np.array([10, 11, 12, 13, 14]), np.array(["a", "b", "c", "d", "e"], dtype=object)):
        data = pd.DataFrame(
            {
                "worker": rng.integers(0, 8, left.shape[0]),
                "left": names[left],
                "right": names[right],
                "label": np.where(left_wins, names[left], names[right]),
            }
        )
        model = instantiate(cfg)
        assert model.fit(data) is model
        scores = model.scores_
        assert set(scores.index) == set(names) and np.isfinite(scores.to_numpy(dtype=np.float64)).all()
        assert list(scores.sort_values(ascending=False).index) == list(names), "the stronger item scores higher"
        shuffled = instantiate(cfg).fit(data.sample(frac=1.0, random_state=1)).scores_
        pd.testing.assert_series_equal(shuffled.sort_index(), scores.sort_index(), atol=1e-6)
        for expected, bad in [("empty", data.iloc[:0]), ("left", data.drop(columns="left"))]:
            with pytest.raises(AnswersError, match=expected):
                instantiate(cfg).fit(bad)
