"""The item-level competence model of condorcet raters (raters.accuracy_correlation): the mean accuracy stays p,
two raters' correctness on one item correlates rho, and rho = 0 is the independent model unchanged."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim import Campaign, ConfigError, RaterPopulation, TaskDesign, simulate

TASK = TaskDesign(n_items=6000, n_classes=2, difficulty_sd=0.0, ambiguous_fraction=0.0, gold_fraction=0.0)


def _correct(rho: float) -> pd.DataFrame:
    raters = RaterPopulation(n_raters=10, archetypes={"condorcet": 1.0}, accuracy=0.7, accuracy_correlation=rho,
                             sessions=100_000)  # fmt: skip
    result = simulate(TASK, raters, Campaign(redundancy=2), seed=4)
    answers = result.answers.merge(result.items[["task", "true_label"]], on="task")
    answers["right"] = (answers["label"] == answers["true_label"]).astype(float)
    return answers.sort_values(["task", "t_start"]).groupby("task")["right"].agg(list).apply(pd.Series)


@pytest.mark.parametrize("rho", [0.0, 0.2, 0.5])
def test_mean_accuracy_is_p_and_two_raters_correlate_rho(rho):
    """Beta-Bernoulli: corr(right_1, right_2) = 1 / (a + b + 1) = rho; 6,000 items give a standard error of about
    0.013 on the correlation and 0.004 on the mean."""
    pairs = _correct(rho)
    assert pairs.to_numpy().mean() == pytest.approx(0.7, abs=0.015)
    assert np.corrcoef(pairs[0], pairs[1])[0, 1] == pytest.approx(rho, abs=0.04)


def test_correlation_needs_condorcet_raters_and_a_value_below_one():
    with pytest.raises(ConfigError, match=r"raters\.accuracy_correlation"):
        RaterPopulation(accuracy_correlation=0.2)
    with pytest.raises(ConfigError, match=r"raters\.accuracy_correlation"):
        RaterPopulation(archetypes={"condorcet": 1.0}, accuracy=0.7, accuracy_correlation=1.0)
