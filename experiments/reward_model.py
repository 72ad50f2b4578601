r"""A reward model trained on a pairwise campaign's preferences: what the comparisons buy downstream (RLHF).

A linear reward :math:`r(x) = w^\top x` over the responses' features (:mod:`sim.kinds`) is fitted by logistic
regression on feature differences, :math:`P(a \succ b) = \sigma(w^\top (x_a - x_b))`, the Bradley-Terry reward
model of RLHF (Christiano et al., "Deep reinforcement learning from human preferences", NeurIPS 2017; Ouyang et al.,
"Training language models to follow instructions with human feedback", NeurIPS 2022), and scored on held-out true
preferences: random pairs of responses the campaign never saw, the better one by their true scores. It is trained
three ways, on the same compared pairs:

* ``reward_accuracy``: on the aggregated preferences, each compared pair labelled by the aggregator's scores (the
  response with the higher estimated score is preferred): what an aggregator's de-noising and de-biasing buys;
* ``reward_accuracy_raw``: on every answer as given (one row per comparison, ties left out), the common practice;
* ``reward_accuracy_true``: on the true preferences of the same pairs, the ceiling of the design.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from sim.streams import stream
from sim.validation import check_float

TEST_PAIRS = 5000


@dataclass
class RewardModel:
    """Linear reward model on response features; ``C`` is the inverse L2 strength of the logistic regression."""

    C: float = 1.0

    def __post_init__(self) -> None:
        check_float("reward_model.C", self.C, 0.0, low_open=True)

    def _fit_score(self, differences: np.ndarray, preferred_first: np.ndarray, test: tuple[np.ndarray, ...]) -> float:
        if differences.shape[0] == 0:
            return 0.5
        # both orders of every pair: the model has no intercept to learn, and never sees one class only
        x = np.vstack([differences, -differences])
        y = np.concatenate([preferred_first, ~preferred_first]).astype(int)
        model = LogisticRegression(C=self.C, fit_intercept=False, max_iter=1000).fit(x, y)
        test_differences, test_first_better = test
        predicted = test_differences @ model.coef_[0] > 0
        return float(np.mean(predicted == test_first_better))

    def evaluate(self, result: Any, scores: pd.Series | None, seed: int, replicate: int) -> dict[str, float]:
        """The three accuracies of the module docstring on ``result``'s held-out pairs (``scores``: an aggregator's
        estimated scores by response id; None or empty gives 0.5, a coin)."""
        responses = result.responses
        rng = stream(seed, replicate, "downstream", 1)
        n_test = responses.test_score.shape[0]
        a, b = rng.integers(n_test, size=TEST_PAIRS), rng.integers(n_test, size=TEST_PAIRS)
        keep = a != b
        a, b = a[keep], b[keep]
        test = (responses.test_features[a] - responses.test_features[b],
                responses.test_score[a] > responses.test_score[b])  # fmt: skip
        answers = result.worker_answers()
        left, right = answers["left"].to_numpy(), answers["right"].to_numpy()
        features = responses.features
        raw = self._fit_score(features[left] - features[right], answers["label"].to_numpy() == left, test)
        pairs = np.unique(np.column_stack([left, right]), axis=0) if left.size else np.empty((0, 2), np.int64)
        first, second = pairs[:, 0], pairs[:, 1]
        differences = features[first] - features[second]
        true = self._fit_score(differences, responses.score[first] > responses.score[second], test)
        aggregated = 0.5
        if scores is not None and len(scores):
            estimate = scores.reindex(np.arange(responses.n_responses)).to_numpy(dtype=float)
            known = np.isfinite(estimate[first]) & np.isfinite(estimate[second]) & (estimate[first] != estimate[second])
            aggregated = self._fit_score(differences[known], estimate[first][known] > estimate[second][known], test)
        return {"reward_accuracy": aggregated, "reward_accuracy_raw": raw, "reward_accuracy_true": true}
