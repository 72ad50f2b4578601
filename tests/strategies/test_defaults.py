"""Every default that departs from its paper is held to the leave-one-data-set-out rule of
experiments/benchmarks/defaults.py on all the real data sets: either choosing it from the other sets generalises to
the held-out one, or it is accuracy-neutral against the paper's value."""

from __future__ import annotations

import pytest

from experiments.benchmarks.defaults import CANDIDATES, accuracy_table, leave_one_out, real_sets
from strategies import aggregation

SLOW = {"EBCC"}  # 40 restarts on relevance: about a minute


@pytest.mark.parametrize(
    ("name", "setting"),
    [pytest.param(name, setting, id=f"{name}.{setting}", marks=[pytest.mark.slow] if name in SLOW else [])
     for name, settings in CANDIDATES.items() for setting in settings],
)  # fmt: skip
def test_default_follows_the_leave_one_data_set_out_rule(name, setting, load_real_dataset):
    load_real_dataset("dog")  # skips without the shared data sets, fails under CI
    from experiments.bench import DATASETS

    verdict = leave_one_out(accuracy_table(name, setting, CANDIDATES[name][setting], real_sets(DATASETS)))
    default = getattr(getattr(aggregation, name)(), setting)
    print(verdict.table.round(4).to_string())
    print(
        f"held-out picks {dict(verdict.picks)}; selection {verdict.held_out_accuracy:.4f}; rule's default "
        f"{verdict.rule_default}; class default {default!r}"
    )
    assert repr(default) in verdict.table.index, f"{name}.{setting}: the default {default!r} is not a candidate"
    assert verdict.allows(default), f"{name}.{setting}={default!r} departs from the rule's {verdict.rule_default}"
