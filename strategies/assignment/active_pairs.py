r"""Active pairs: compare the pair whose outcome is expected to teach most about the ranking."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy.special import expit, ndtr

from strategies.assignment._pairs import PairPolicy


@dataclass
class ActivePairs(PairPolicy):
    r"""After a first random batch, hand out the open pairs whose comparison is expected to fix the most of the
    current ranking's errors.

    With the current Bradley-Terry scores :math:`\hat s` and Laplace variances :math:`\sigma^2` (see
    :mod:`strategies.assignment._pairs`), a pair scores

    .. math:: g_{ij} = p_{ij}(1 - p_{ij})\;\Phi\!\left(-|\hat s_i - \hat s_j| / \sqrt{\sigma_i^2 + \sigma_j^2}\right)

    the Fisher information of one comparison about :math:`s_i - s_j` (largest for close pairs, :math:`p` near 1/2;
    the information criterion of adaptive paired-comparison design, Glickman and Jensen, "Adaptive paired
    comparison design", J. Statistical Planning and Inference 127, 2005) times the posterior probability that the
    current order of the two is wrong, which is what Kendall's tau counts: a close pair whose order is already
    settled by many comparisons scores low, an uncertain one high. Among the rules tried on the benchmark
    (``python -m experiments.benchmarks.pairwise``: information alone, information times the summed variance,
    their ratio forms) it reached random pairs' tau with the fewest comparisons. A batch takes the top pairs with
    each response at most a few times in it.
    """

    needs_labels: ClassVar[bool] = True
    name: ClassVar[str] = "active_pairs"
    max_per_pair: int = 3

    def order(self, open_pairs: np.ndarray) -> np.ndarray:
        if self.refits == 0:
            return self._rng.permutation(open_pairs)
        left, right = self._left[open_pairs], self._right[open_pairs]
        gap = self._scores[left] - self._scores[right]
        p = expit(gap)
        wrong_order = ndtr(-np.abs(gap) / np.sqrt(self._variances[left] + self._variances[right]))
        gain = p * (1.0 - p) * wrong_order
        jitter = 1e-9 * self._rng.random(open_pairs.shape[0])  # random among equal gains
        return self.batch_of(open_pairs, gain + jitter)
