"""Random pairs: comparisons of pairs drawn uniformly from the pool, without looking at any answer."""

from __future__ import annotations

from dataclasses import dataclass

from strategies.assignment._pairs import PairPolicy


@dataclass
class RandomPairs(PairPolicy):
    """Hand out the pool's pairs in a random order (each at most ``max_per_pair`` times): the non-adaptive design
    that the adaptive pair policies are measured against. Labels are never read."""
