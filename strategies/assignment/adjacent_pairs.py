"""Adjacent pairs: compare responses that are next to each other in the current ranking."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from strategies.assignment._pairs import PairPolicy


@dataclass
class AdjacentPairs(PairPolicy):
    """After a first random batch, hand out the open pairs whose responses are closest in the current ranking (by
    the refitted Bradley-Terry scores), least-asked first among equally close ones: the comparisons a sort needs
    where the order is still uncertain, as in merge- or insertion-based ranking from noisy comparisons."""

    needs_labels: ClassVar[bool] = True
    name: ClassVar[str] = "adjacent_pairs"
    max_per_pair: int = 3

    def order(self, open_pairs: np.ndarray) -> np.ndarray:
        if self.refits == 0:
            return self._rng.permutation(open_pairs)
        rank = np.empty(self._n_items, dtype=np.int64)
        rank[np.argsort(self._scores, kind="stable")] = np.arange(self._n_items)
        distance = np.abs(rank[self._left[open_pairs]] - rank[self._right[open_pairs]])
        asked = np.asarray(self._asked)[open_pairs]
        jitter = self._rng.random(open_pairs.shape[0])  # random among equal distance and asks
        return self.batch_of(open_pairs, -(distance + asked * self._n_items + jitter))
