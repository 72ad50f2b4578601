"""Fixed redundancy: every item gets exactly ``redundancy`` answers from different raters."""

from __future__ import annotations

import numpy as np

from strategies.assignment.base import AssignmentPolicy


class FixedRedundancy(AssignmentPolicy):
    """Hand out items in id order, each to ``redundancy`` distinct raters.

    A free rater gets the lowest-id items that still need answers and that it has not labeled. Because slots are
    never returned, every rater's items are strictly increasing, so a per-rater cursor replaces a per-rater set of
    labeled items; a skip list with path compression (union-find) jumps over items that are full. Each answer
    costs amortised O(1) Python work, whatever the pool size.
    """

    def __init__(self, n_items: int, n_raters: int, redundancy: int) -> None:
        self.n_items = n_items
        self.redundancy = redundancy
        self._remaining = [redundancy] * n_items
        # _find(i): the lowest item >= i with slots left (n_items when none is left)
        self._next_open = list(range(n_items + 1))
        self._ids = list(range(n_items + 1))  # item ids, sliced to build pages and to test a block is all open
        self._cursor = [0] * n_raters
        self._open_slots = n_items * redundancy

    def _find(self, item: int) -> int:
        next_open = self._next_open
        root = item
        while next_open[root] != root:
            root = next_open[root]
        while next_open[item] != root:
            next_open[item], item = root, next_open[item]
        return root

    def assign(self, rater: int, n: int) -> list[int]:
        if n <= 0:
            return []
        next_open = self._next_open
        remaining = self._remaining
        first = self._find(self._cursor[rater])
        last = first + n
        if last <= self.n_items and next_open[first:last] == self._ids[first:last]:
            # the common case: n consecutive open items; list slices do the work in C
            left = [count - 1 for count in remaining[first:last]]
            remaining[first:last] = left
            if 0 in left:
                for offset, count in enumerate(left):
                    if count == 0:
                        next_open[first + offset] = first + offset + 1
            items = self._ids[first:last]
        else:
            items = []
            item = first
            while item < self.n_items and len(items) < n:
                items.append(item)
                remaining[item] -= 1
                if remaining[item] == 0:
                    next_open[item] = item + 1
                item = self._find(item + 1)
        if items:
            self._cursor[rater] = items[-1] + 1
            self._open_slots -= len(items)
        return items

    @property
    def complete(self) -> bool:
        return self._open_slots == 0

    def answers_assigned(self) -> np.ndarray:
        return self.redundancy - np.asarray(self._remaining)
