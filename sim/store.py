"""The answer store: one shared, integer-coded, append-only record of a run's answers, and their delivery.

Rows are appended when a page is given (in the order pages are given; a page's answers in order) and hold the item,
the end time and, when the campaign reacts to its answers, the label. A row becomes *visible* when its page is
submitted, at the end of the page's last answer (``whole_pages``, as platforms return a task suite), or at its own
end time (``campaign.visibility = answer``):
:meth:`AnswerStore.deliver` hands every row whose end time has come to each subscriber (the assignment policy,
quality control, an online aggregator), in order of end time, one chunk of a page at a time. Delivery is lazy: it
runs whenever someone is about to decide (a rater asks for work, a waiting rater is woken), so that observers see
exactly the answers that have ended by then, without one simulation event per answer.

Subscribers implement ``observe(store, rows)`` (rows: a list of row indices, grouped page by page) and
``discard(store, rows, visible)``: the rows no longer count (their rater was blocked and its answers are dropped);
``visible`` says whether the subscriber had already observed them. Subscribers are called in order (the online
aggregators first, then the assignment policy, then quality control), so each sees the state the earlier ones
left.

Columns are Python lists while the campaign runs (an append or a scalar read is far cheaper than numpy's) and become
arrays once, in :class:`sim.records.AnswerTimeline`.
"""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

# per page: worker, start, time on task at its start, practice at its start, training minutes, answers,
# guideline version, ability offset, bias shrink, stage (0 work, 1 qualification)
PAGE_FIELDS: tuple[str, ...] = (
    "worker", "start", "time_on_task", "practice", "training_minutes", "n", "version", "ability_offset",
    "bias_shrink", "stage",
)  # fmt: skip
WORK, QUALIFICATION = 0, 1


Rows = Sequence[int]


class Subscriber(Protocol):
    def observe(self, store: AnswerStore, rows: Rows) -> None: ...

    def discard(self, store: AnswerStore, rows: Rows, visible: bool) -> None: ...


@dataclass
class AnswerStore:
    """The answers of one run (see the module docstring)."""

    pages: array = field(default_factory=lambda: array("d"))  # PAGE_FIELDS of each page, flat
    n_pages: int = 0
    page_first: list[int] = field(default_factory=list)  # row of each page's first answer (when delivering)
    page_size: list[int] = field(default_factory=list)  # answers of each page (when delivering)
    page_worker: list[int] = field(default_factory=list)  # rater of each page (when delivering)
    item: list[int] = field(default_factory=list)
    worker: list[int] = field(default_factory=list)  # per row, when delivering
    t_end: list[float] = field(default_factory=list)
    label: list[int] = field(default_factory=list)  # drawn just before a delivery needs them (see draw_labels)
    leader_row: list[int] = field(default_factory=list)  # colluders: row of the group's first answer, or -1
    draw_labels: Callable[[], None] | None = None  # draws the labels of every row given so far
    whole_pages: bool = True  # a page's rows become visible together, at the end of its last one
    subscribers: list[Subscriber] = field(default_factory=list)
    dropped_workers: set[int] = field(default_factory=set)
    delivered_rows: int = 0
    _heap: list[tuple[float, int, int]] = field(default_factory=list)  # (end of next row, page, next row)
    _delivering: bool = False
    _drop_requests: list[int] = field(default_factory=list)

    @property
    def n_answers(self) -> int:
        return len(self.item)

    @property
    def pending(self) -> bool:
        """Whether answers were given that have not become visible yet."""
        return bool(self._heap)

    @property
    def next_end(self) -> float:
        """End time of the next answer to become visible (inf if none is pending)."""
        return self._heap[0][0] if self._heap else float("inf")

    def add_page(
        self,
        page: tuple[int, float, float, int, float, int, int, float, float, int],
        items: list[int],
        ends: list[float],
    ) -> range:
        """Append one page (its record and per-answer items and end times); returns its rows."""
        first = len(self.item)
        number = self.n_pages
        self.pages.extend(page)
        self.n_pages = number + 1
        self.item.extend(items)
        self.t_end.extend(ends)
        if self.subscribers:  # rows are delivered, and read by worker: keep what delivery needs
            worker = page[0]
            self.page_first.append(first)
            self.page_size.append(len(items))
            self.page_worker.append(worker)
            self.worker.extend([worker] * len(items))
            heapq.heappush(self._heap, (ends[-1] if self.whole_pages else ends[0], number, first))
        return range(first, first + len(items))

    def deliver(self, now: float) -> int:
        """Hand every row that ended by ``now`` to the subscribers (one call each, rows grouped page by page, pages
        in order of their first pending end time); returns how many rows became visible."""
        heap = self._heap
        if not heap or heap[0][0] > now:
            return 0
        t_end, page_first, page_size, page_worker = self.t_end, self.page_first, self.page_size, self.page_worker
        dropped = self.dropped_workers
        rows: list[int] = []
        lost: list[int] = []
        pop, push = heapq.heappop, heapq.heappush
        whole_pages = self.whole_pages
        newest = -1
        while heap and heap[0][0] <= now:
            _, number, row = pop(heap)
            stop = page_first[number] + page_size[number]
            if whole_pages:
                last = stop
            else:
                last = bisect_right(t_end, now, row + 1, stop)  # a page's end times increase
                if last < stop:
                    push(heap, (t_end[last], number, last))
            (lost if page_worker[number] in dropped else rows).extend(range(row, last))
            newest = max(newest, last - 1)
        if newest >= len(self.label) and self.draw_labels is not None:
            self.draw_labels()  # every page given so far, in one batch
        if lost:
            for subscriber in self.subscribers:
                subscriber.discard(self, lost, False)
        if rows:
            self._delivering = True
            try:
                for subscriber in self.subscribers:
                    subscriber.observe(self, rows)
            finally:
                self._delivering = False
            while self._drop_requests:  # blocked for what these rows showed: dropped once every subscriber saw them
                self.drop_worker(self._drop_requests.pop(0))
        delivered = len(rows) + len(lost)
        self.delivered_rows += delivered
        return delivered

    def visible_rows(self, worker: int) -> list[int]:
        """The rows of ``worker`` that subscribers have seen."""
        pending = {number: row for _, number, row in self._heap}
        rows: list[int] = []
        for number in [page for page, rater in enumerate(self.page_worker) if rater == worker]:  # rare: on a drop
            first = self.page_first[number]
            rows.extend(range(first, pending.get(number, first + self.page_size[number])))
        return rows

    def drop_worker(self, worker: int) -> None:
        """From now on ``worker``'s answers do not count: subscribers discard what they saw of them, and its answers
        still in flight are discarded rather than observed when they end. Called while rows are being delivered,
        it takes effect once every subscriber has seen them."""
        if worker in self.dropped_workers:
            return
        if self._delivering:
            self._drop_requests.append(worker)
            return
        self.dropped_workers.add(worker)
        rows = self.visible_rows(worker)
        if rows:
            for subscriber in self.subscribers:
                subscriber.discard(self, rows, True)
