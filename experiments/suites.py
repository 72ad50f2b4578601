"""The numeric and pairwise scenario suites of ``crowdlab bench`` (``--suite numeric``, ``--suite pairwise``).

The campaign simulator makes categorical labels only, so these suites draw their answers from closed-form generative
models, seeded per scenario and replicate (a :class:`numpy.random.SeedSequence` of the bench's seed, the scenario's
position and the replicate), the same answers for every aggregator:

* numeric (:func:`draw_numeric`): ``n_items`` items with true values :math:`v_i \\sim N(50, 20^2)`; ``n_raters``
  raters with a bias :math:`b_j \\sim N(0, \\sigma_b^2)` and a noise scale :math:`s_j` (log-normal around ``noise``,
  a share ``noisy_share`` of them at ``noisy_noise``); each item gets ``per_item`` answers from distinct random
  raters, :math:`y = v_i + b_j + s_j \\varepsilon` with :math:`\\varepsilon` standard normal or Student-t
  (``tail_df``), and a share ``outliers`` of answers replaced by a uniform draw on [0, 100]. Where the answers are
  Gaussian the ``oracle`` row is the posterior mean under the true model (known biases and noise scales, the prior of
  the values); the emotion data set (0-100 ratings) is the real one.
* pairwise (:func:`draw_pairwise`): ``n_items`` responses with latent scores :math:`s_i \\sim N(0, 1.5^2)`;
  ``per_item`` comparisons per item on uniformly random pairs, each by a random rater who prefers the left item with
  probability :math:`\\sigma(\\kappa (s_l - s_r) + \\beta)` (:math:`\\kappa` = ``sharpness``, :math:`\\beta` =
  ``position_bias``); spammers answer at random and adversaries reverse the model. Scored against the true scores:
  Kendall's tau, Spearman's rho, and the recall of the true top 10 in the estimated top 10.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

VALUE_MEAN, VALUE_SD = 50.0, 20.0


@dataclass(frozen=True)
class NumericScenario:
    n_items: int = 400
    n_raters: int = 30
    per_item: int = 5
    bias_sd: float = 0.0
    noise: float = 8.0
    noisy_share: float = 0.0
    noisy_noise: float = 40.0
    tail_df: float | None = None
    outliers: float = 0.0

    @property
    def gaussian(self) -> bool:
        return self.tail_df is None and self.outliers == 0


@dataclass(frozen=True)
class PairwiseScenario:
    n_items: int = 60
    n_raters: int = 30
    per_item: int = 20
    sharpness: float = 1.0
    position_bias: float = 0.0
    spammers: float = 0.0
    adversaries: float = 0.0


NUMERIC: dict[str, NumericScenario] = {
    "gaussian": NumericScenario(),
    "biased_raters": NumericScenario(bias_sd=10.0, noise=5.0),
    "noisy_minority": NumericScenario(noise=5.0, noisy_share=0.2),
    "outliers_10": NumericScenario(noise=5.0, outliers=0.1),
    "heavy_tails": NumericScenario(noise=5.0, tail_df=2.0),
    "few_answers": NumericScenario(per_item=2),
}
PAIRWISE: dict[str, PairwiseScenario] = {
    "unbiased": PairwiseScenario(),
    "sharp_raters": PairwiseScenario(sharpness=3.0),
    "sparse": PairwiseScenario(per_item=5),
    "position_bias": PairwiseScenario(position_bias=1.0),
    "spammers_30": PairwiseScenario(spammers=0.3),
    "adversaries_20": PairwiseScenario(adversaries=0.2),
}


@dataclass(frozen=True)
class Drawn:
    """One replicate's answers, the truth (value per task, or score per item) and the oracle's estimate if any."""

    answers: pd.DataFrame
    truth: pd.Series
    oracle: pd.Series | None = field(default=None)


def generator(seed: int, scenario_index: int, replicate: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, scenario_index, replicate]))


def draw_numeric(scenario: NumericScenario, rng: np.random.Generator) -> Drawn:
    values = rng.normal(VALUE_MEAN, VALUE_SD, size=scenario.n_items)
    bias = (
        rng.normal(0.0, scenario.bias_sd, size=scenario.n_raters)
        if scenario.bias_sd > 0
        else np.zeros(scenario.n_raters)
    )
    noise = scenario.noise * rng.lognormal(0.0, 0.3, size=scenario.n_raters)
    noisy = rng.random(scenario.n_raters) < scenario.noisy_share
    noise[noisy] = scenario.noisy_noise
    raters = np.argsort(rng.random((scenario.n_items, scenario.n_raters)), axis=1)[:, : scenario.per_item]
    task = np.repeat(np.arange(scenario.n_items), scenario.per_item)
    worker = raters.ravel()
    shock = (rng.standard_t(scenario.tail_df, size=task.size) if scenario.tail_df is not None
             else rng.standard_normal(task.size))  # fmt: skip
    label = values[task] + bias[worker] + noise[worker] * shock
    wild = rng.random(task.size) < scenario.outliers
    label[wild] = rng.uniform(0.0, 100.0, size=int(wild.sum()))
    answers = pd.DataFrame({"task": task, "worker": worker, "label": label})
    truth = pd.Series(values, index=pd.RangeIndex(scenario.n_items, name="task"), name="value")
    oracle = None
    if scenario.gaussian:  # conjugate normal posterior mean with the true biases and noise scales
        precision = 1.0 / noise[worker] ** 2
        weighted = np.bincount(task, precision * (label - bias[worker]), minlength=scenario.n_items)
        total = np.bincount(task, precision, minlength=scenario.n_items)
        estimate = (VALUE_MEAN / VALUE_SD**2 + weighted) / (1.0 / VALUE_SD**2 + total)
        oracle = pd.Series(estimate, index=truth.index)
    return Drawn(answers, truth, oracle)


def draw_pairwise(scenario: PairwiseScenario, rng: np.random.Generator) -> Drawn:
    scores = rng.normal(0.0, 1.5, size=scenario.n_items)
    n_comparisons = scenario.n_items * scenario.per_item // 2
    left = rng.integers(scenario.n_items, size=n_comparisons)
    right = (left + rng.integers(1, scenario.n_items, size=n_comparisons)) % scenario.n_items
    worker = rng.integers(scenario.n_raters, size=n_comparisons)
    kind = rng.choice(3, size=scenario.n_raters, p=[1 - scenario.spammers - scenario.adversaries, scenario.spammers,
                                                    scenario.adversaries])  # fmt: skip
    logit = scenario.sharpness * (scores[left] - scores[right])
    logit = np.where(kind[worker] == 2, -logit, logit) + scenario.position_bias
    p_left = np.where(kind[worker] == 1, 0.5, expit(logit))
    left_wins = rng.random(n_comparisons) < p_left
    answers = pd.DataFrame({"worker": worker, "left": left, "right": right,
                            "label": np.where(left_wins, left, right)})  # fmt: skip
    truth = pd.Series(scores, index=pd.RangeIndex(scenario.n_items, name="item"), name="score")
    return Drawn(answers, truth)


def estimates(aggregator: Any, kind: str) -> pd.Series | None:
    """What a fitted numeric (``labels_``) or pairwise (``scores_``) aggregator estimates."""
    return getattr(aggregator, "labels_" if kind == "numeric" else "scores_", None)
