"""The machinery the adaptive policies share: first answers in item order, then top-ups where the stopping rule
asks for them, never more than it could need, and a budget spent on coverage first.

A subclass states its stopping rule as :meth:`SequentialPolicy.needed`: how many more answers an item needs *at
least* before the rule could stop it, given its visible answers (0: done). Handing out exactly that many, minus
those in flight, never gives an item an answer that asking one at a time would not have given too (the rule cannot
stop it sooner), so the campaign reproduces the sequential rule exactly while raters work in parallel.

Every item's first answer is handed out in id order; the rest of the answers it starts with, and every later one,
are top-ups from a queue. Budget: while the budget cannot also pay for the first answer of every item not yet
started, first answers come first (an item with no answer counts as wrong; a top-up only improves an item that has
some); beyond that, top-ups come first, so items finish early.
"""

from __future__ import annotations

import heapq
import math
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from sim.validation import ConfigError, check_int
from strategies.assignment._slots import SlotQueue
from strategies.assignment.base import WAIT, Assignment, AssignmentPolicy

if TYPE_CHECKING:
    from sim.campaign import CampaignRun
    from sim.raters import RaterPopulation
    from sim.store import AnswerStore, Rows


class FifoTopUps:
    """Items waiting for more answers, first come first served; a rater skips the items it has labeled."""

    reprioritise = False

    def __init__(self) -> None:
        self._items: list[int] = []
        self._head = 0

    def push(self, item: int, priority: float = 0.0) -> None:
        self._items.append(item)

    def take(self, rater: int, n: int, policy: SequentialPolicy) -> list[int]:
        if n <= 0:
            return []
        wanted, raters_of, assigned = policy._wanted, policy._raters_of, policy._assigned
        items = self._items
        taken: list[int] = []
        head = index = self._head
        end = len(items)
        while index < end:
            item = items[index]
            index += 1
            left = wanted[item]
            if left <= 0:  # served since it was queued
                if index - 1 == head:
                    head = index
                continue
            given = raters_of[item]
            if rater in given:
                continue
            given.append(rater)
            taken.append(item)
            assigned[item] += 1
            wanted[item] = left - 1
            if left == 1 and index - 1 == head:
                head = index
            if len(taken) == n:
                break
        policy._in_flight += len(taken)
        if head > 1024 and head * 2 > end:
            del items[:head]
            head = 0
        self._head = head
        return taken


class PriorityTopUps:
    """Items waiting for more answers, the highest priority first (a heap with lazy invalidation)."""

    reprioritise = True

    def __init__(self, n_items: int) -> None:
        self._heap: list[tuple[float, int, int]] = []
        self._stamp = [0] * n_items

    def push(self, item: int, priority: float = 0.0) -> None:
        self._stamp[item] += 1
        heapq.heappush(self._heap, (-priority, self._stamp[item], item))

    def take(self, rater: int, n: int, policy: SequentialPolicy) -> list[int]:
        wanted, raters_of, heap, stamp = policy._wanted, policy._raters_of, self._heap, self._stamp
        taken: list[int] = []
        skipped: list[tuple[float, int, int]] = []
        while heap and len(taken) < n:
            entry = heapq.heappop(heap)
            _, version, item = entry
            if version != stamp[item] or wanted[item] <= 0:
                continue
            if rater in raters_of[item]:
                skipped.append(entry)
                continue
            taken.append(item)
            policy._hand_out(item, rater)
            if wanted[item] > 0:
                skipped.append(entry)
        for entry in skipped:
            heapq.heappush(heap, entry)
        return taken


@dataclass
class SequentialPolicy(AssignmentPolicy):
    """Base of the adaptive policies (see the module docstring). Subclasses set :attr:`first_answers` (answers each
    item starts with) and :attr:`cap` (at most this many answers per item) before calling :meth:`start`, and
    implement :meth:`needed`."""

    needs_labels: ClassVar[bool] = True
    key: ClassVar[str] = "assignment"

    first_answers: int = field(init=False, repr=False, default=1)
    cap: int = field(init=False, repr=False, default=1)
    _n_items: int = field(init=False, repr=False, default=0)
    _n_classes: int = field(init=False, repr=False, default=2)
    _slots: SlotQueue = field(init=False, repr=False)
    # per item, in array buffers: plain-Python indexing on the hot path, zero-copy numpy views for vectorised passes
    _assigned: array = field(init=False, repr=False, default_factory=lambda: array("q"))
    _visible: array = field(init=False, repr=False, default_factory=lambda: array("q"))
    _wanted: array = field(init=False, repr=False, default_factory=lambda: array("q"))
    _done: array = field(init=False, repr=False, default_factory=lambda: array("b"))
    _raters_of: dict[int, list[int]] = field(init=False, repr=False, default_factory=dict)  # started items
    _votes: list[int] = field(init=False, repr=False, default_factory=list)
    _queue: Any = field(init=False, repr=False, default=None)
    _n_done: int = field(init=False, repr=False, default=0)
    _in_flight: int = field(init=False, repr=False, default=0)
    _reopened: Any = field(init=False, repr=False, default=None)  # the run's hook: n more answers are wanted
    _gold_fraction: float = field(init=False, repr=False, default=0.0)
    _raters: int = field(init=False, repr=False, default=0)

    def check_cap(self, max_answers: int, population: RaterPopulation, first: int, what: str) -> None:
        """Refuse ``max_answers`` outside [answers the policy starts each item with, raters in the pool]."""
        check_int(f"{self.key}.max_answers", max_answers, 1)
        max_answers = int(max_answers)
        if max_answers > population.n_raters:
            raise ConfigError(
                f"{self.key}.max_answers = {max_answers} exceeds the rater pool: it must be at most "
                f"raters.n_raters = {population.n_raters} (no rater labels an item twice)"
            )
        if max_answers < first:
            raise ConfigError(
                f"{self.key}.max_answers = {max_answers} is below the {first} answers the policy starts each "
                f"item with ({what}); accepted values: max_answers >= {first}"
            )

    def start(self, run: CampaignRun) -> None:
        n, k = run.design.n_items, run.design.n_classes
        self._n_items, self._n_classes = n, k
        self._slots = SlotQueue(n, run.population.n_raters, 1)  # every item's first answer, in id order
        self._assigned = array("q", bytes(8 * n))
        self._visible = array("q", bytes(8 * n))
        self._wanted = array("q", bytes(8 * n))
        self._done = array("b", bytes(n))
        self._raters_of = {}
        self._votes = [0] * (n * k)
        self._queue = self.top_up_queue(n)
        self._n_done = 0
        self._in_flight = 0
        self._reopened = run.work_reopened
        self._gold_fraction, self._raters = run.design.gold_fraction, run.population.n_raters

    def top_up_queue(self, n_items: int) -> Any:
        return FifoTopUps()

    # -- the stopping rule --------------------------------------------------------------------------------------

    def needed(self, item: int) -> int:
        """More answers ``item`` needs at least before the rule could stop it (0: stop now); before the cap."""
        raise NotImplementedError

    def priority(self, item: int) -> float:
        """Order of top-ups in a priority queue (higher first)."""
        return 0.0

    #: False if the policy needs :meth:`observe_answer` for each answer beyond the vote counts
    counts_only: ClassVar[bool] = True
    #: True if the rule may stop an item while answers to it are in flight (a posterior can become confident after
    #: any answer); False for rules that hand out exactly the answers they cannot stop without (vote counts)
    judge_with_pending: ClassVar[bool] = False

    def observe_answer(self, item: int, worker: int, label: int) -> None:
        """What a subclass learns from one visible answer, beyond the vote counts the base keeps."""

    def forget_answer(self, item: int, worker: int, label: int) -> None:
        self._votes[item * self._n_classes + label] -= 1

    # -- assignment ---------------------------------------------------------------------------------------------

    def _hand_out(self, item: int, rater: int) -> None:
        self._assigned[item] += 1
        self._wanted[item] -= 1
        self._raters_of[item].append(rater)
        self._in_flight += 1

    def assign(self, rater: int, n: int, affordable: float) -> Assignment:
        reserve = self._slots.open_slots  # first answers of items not yet started
        if reserve and self._gold_fraction:  # and the gold mixed into their pages (each rater carries up to one)
            reserve = math.ceil(reserve / (1.0 - self._gold_fraction)) + self._raters
        top_ups = n if affordable == float("inf") else max(0, min(n, int(affordable) - reserve))
        items = self._queue.take(rater, top_ups, self) if top_ups else []
        fresh = self._slots.take(rater, n - len(items))
        more = min(self.first_answers, self.cap) - 1  # the rest of its first answers: top-ups from now on
        raters_of = self._raters_of
        for item in fresh:
            self._assigned[item] += 1
            raters_of[item] = [rater]  # its first answer
            if more > 0:
                self._wanted[item] = more
                self._queue.push(item, self.priority(item))
        self._in_flight += len(fresh)
        if more > 0 and fresh:
            self._reopened(more * len(fresh))
        items += fresh
        if items:
            return items
        return WAIT if self._in_flight > 0 else []

    # -- answers ------------------------------------------------------------------------------------------------

    def observe(self, store: AnswerStore, rows: Rows) -> None:
        n_items, k, visible, votes = self._n_items, self._n_classes, self._visible, self._votes
        items, labels = store.item, store.label
        if self.counts_only and not self.judge_with_pending and not self._queue.reprioritise:
            # the hot path: an item is judged once the last of its answers in flight is in (see the module docstring)
            assigned, remaining = self._assigned, self._slots.remaining
            ready = []
            seen = 0
            for row in rows:
                item = items[row]
                if item >= n_items:  # a gold question
                    continue
                seen += 1
                count = visible[item] + 1
                visible[item] = count
                votes[item * k + labels[row]] += 1
                if count == assigned[item] and not remaining[item]:
                    ready.append(item)
            self._in_flight -= seen
            if ready:
                self._judge_settled(ready)
            return
        touched = []
        for row in rows:
            item = items[row]
            if item >= n_items:  # a gold question
                continue
            visible[item] += 1
            votes[item * k + labels[row]] += 1
            touched.append(item)
        self._in_flight -= len(touched)
        if not self.counts_only:
            workers = store.worker
            for row in rows:
                if items[row] < n_items:
                    self.observe_answer(items[row], workers[row], labels[row])
        self.evaluate_all(touched)

    def discard(self, store: AnswerStore, rows: Rows, visible: bool) -> None:
        n_items = self._n_items
        for row in rows:
            item = store.item[row]
            if item >= n_items:
                continue
            self._assigned[item] -= 1
            if visible:
                self._visible[item] -= 1
                self.forget_answer(item, store.worker[row], store.label[row])
            else:
                self._in_flight -= 1
            if self._done[item]:
                self._done[item] = 0
                self._n_done -= 1
            self.evaluate(item)

    def release(self, rater: int, items: list[int]) -> None:
        for item in items:
            if item >= self._n_items:
                continue
            self._assigned[item] -= 1
            self._in_flight -= 1
            self._raters_of[item].remove(rater)
            self.evaluate(item)

    def evaluate(self, item: int) -> None:
        """Apply the stopping rule to ``item`` after its visible answers changed."""
        self.evaluate_all((item,))

    def evaluate_all(self, items: Iterable[int]) -> None:
        """Apply the stopping rule to each of ``items`` (the hot path: attributes bound once for the batch)."""
        done, assigned, visible, remaining = self._done, self._assigned, self._visible, self._slots.remaining
        wanted_of, needed, cap, queue = self._wanted, self.needed, self.cap, self._queue
        push, reprioritise = queue.push, queue.reprioritise
        reopened = 0
        patient = not self.judge_with_pending
        for item in items:
            if done[item]:
                continue
            slots = remaining[item]
            pending = assigned[item] - visible[item] + slots
            if pending and patient:  # the rule cannot stop it before these answers are in (see the module docstring)
                continue
            need = needed(item)
            room = cap - assigned[item] - slots
            if need == 0 or (room <= 0 and pending == 0):
                done[item] = 1
                self._n_done += 1
                wanted_of[item] = 0
                continue
            wanted = need - pending
            if wanted > room:
                wanted = room
            if wanted < 0:
                wanted = 0
            before = wanted_of[item]
            wanted_of[item] = wanted
            if wanted > 0 and (before <= 0 or reprioritise):
                push(item, self.priority(item) if reprioritise else 0.0)
            if wanted > before:
                reopened += wanted - (before if before > 0 else 0)
        if reopened:
            self._reopened(reopened)

    def _judge_settled(self, items: list[int]) -> None:
        """:meth:`evaluate_all` for items with nothing in flight and no first-answer slot left (the hot path of the
        patient rules)."""
        done, assigned, wanted_of, needed, cap = self._done, self._assigned, self._wanted, self.needed, self.cap
        push = self._queue.push
        reopened = 0
        for item in items:
            if done[item]:
                continue
            need = needed(item)
            room = cap - assigned[item]
            if need == 0 or room <= 0:
                done[item] = 1
                self._n_done += 1
                wanted_of[item] = 0
                continue
            wanted = need if need < room else room
            if wanted < 0:  # (no rule asks for fewer than none; as in evaluate_all)
                wanted = 0
            before = wanted_of[item]
            wanted_of[item] = wanted
            if wanted > 0 and before <= 0:
                push(item, 0.0)
            if wanted > before:
                reopened += wanted - (before if before > 0 else 0)
        if reopened:
            self._reopened(reopened)

    def votes(self, item: int) -> list[int]:
        k = self._n_classes
        return self._votes[item * k : item * k + k]

    # -- state --------------------------------------------------------------------------------------------------

    @property
    def complete(self) -> bool:
        return self._n_done == self._n_items

    def items_done(self) -> np.ndarray:
        return np.frombuffer(self._done, dtype=np.int8).astype(bool)

    def answers_assigned(self) -> np.ndarray:
        return np.frombuffer(self._assigned, dtype=np.int64).copy()

    def state_views(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Zero-copy numpy views of (assigned, visible, wanted, done) per item, for vectorised passes; writes go
        through to the policy's state."""
        return (
            np.frombuffer(self._assigned, dtype=np.int64),
            np.frombuffer(self._visible, dtype=np.int64),
            np.frombuffer(self._wanted, dtype=np.int64),
            np.frombuffer(self._done, dtype=np.int8),
        )

    def expected_answers(self) -> int:
        return self._n_items * self.first_answers
