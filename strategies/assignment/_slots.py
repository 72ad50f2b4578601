"""Slots handed out in item order: the shared core of fixed redundancy and of the adaptive policies' first answers."""

from __future__ import annotations


class SlotQueue:
    """``per_item`` answer slots for each of ``n_items`` items, handed out in id order, each item to distinct raters.

    A free rater gets the lowest-id items that still have slots and that it has not been given. Because slots are
    never returned here, every rater's items are strictly increasing, so a per-rater cursor replaces a per-rater set
    of given items; a skip list with path compression (union-find) jumps over items whose slots are gone. Each
    answer costs amortised O(1) Python work, whatever the pool size.
    """

    def __init__(self, n_items: int, n_raters: int, per_item: int) -> None:
        self.n_items = n_items
        self.per_item = per_item
        self.remaining = [per_item] * n_items
        # _find(i): the lowest item >= i with slots left (n_items when none is left)
        self._next_open = list(range(n_items + 1))
        self._ids = list(range(n_items + 1))  # item ids, sliced to build pages and to test a block is all open
        self._cursor = [0] * n_raters
        self.open_slots = n_items * per_item

    def _find(self, item: int) -> int:
        next_open = self._next_open
        root = item
        while next_open[root] != root:
            root = next_open[root]
        while next_open[item] != root:
            next_open[item], item = root, next_open[item]
        return root

    def take(self, rater: int, n: int) -> list[int]:
        """Up to ``n`` items for ``rater`` (one slot of each), lowest ids first."""
        if n <= 0 or self.open_slots == 0:
            return []
        next_open = self._next_open
        remaining = self.remaining
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
            self.open_slots -= len(items)
        return items

    def cursor(self, rater: int) -> int:
        """The lowest item the slot queue may still give ``rater`` (every item below was given or skipped)."""
        return self._cursor[rater]

    def started(self, item: int) -> bool:
        """Whether any slot of ``item`` was handed out."""
        return self.remaining[item] < self.per_item
