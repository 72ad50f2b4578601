"""Fixed redundancy: every item gets exactly ``redundancy`` answers from different raters."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from sim.validation import ConfigError, check_int
from strategies.assignment._slots import SlotQueue
from strategies.assignment.base import Assignment, AssignmentPolicy

if TYPE_CHECKING:
    from sim.campaign import Campaign, CampaignRun
    from sim.raters import RaterPopulation
    from sim.store import AnswerStore, Rows
    from sim.tasks import TaskDesign


@dataclass
class FixedRedundancy(AssignmentPolicy):
    """Hand out items in id order, each to ``redundancy`` distinct raters (None: ``campaign.redundancy``).

    Labels are never read, so a campaign under this policy alone draws them at the end. An item is done when all its
    answers are handed out. When quality control drops a blocked rater's answers, their items reopen and are handed
    out again (first, lowest ids first) to raters who have not labeled them.
    """

    redundancy: int | None = None

    _slots: SlotQueue = field(init=False, repr=False)
    _reopened: dict[int, int] = field(init=False, repr=False)  # item -> slots given back by discarded answers
    _raters_of: dict[int, set[int]] | None = field(init=False, repr=False)
    _cut: dict[int, int] = field(init=False, repr=False)  # item -> answers the horizon cut
    _store: AnswerStore | None = field(init=False, repr=False)

    def validate(self, design: TaskDesign, population: RaterPopulation, campaign: Campaign) -> None:
        redundancy = campaign.redundancy if self.redundancy is None else self.redundancy
        check_int("assignment.redundancy", redundancy, 1)
        if redundancy > population.n_raters:
            key = "campaign.redundancy" if self.redundancy is None else "assignment.redundancy"
            raise ConfigError(
                f"{key} = {redundancy} exceeds the rater pool: it must be at most raters.n_raters = "
                f"{population.n_raters} (no rater labels an item twice)"
            )

    def start(self, run: CampaignRun) -> None:
        self.redundancy = run.campaign.redundancy if self.redundancy is None else self.redundancy
        self._slots = SlotQueue(run.design.n_items, run.population.n_raters, self.redundancy)
        self._reopened = {}
        self._cut = {}
        self._raters_of = None
        self._store = run.store

    def assign(self, rater: int, n: int, affordable: float) -> Assignment:
        if not self._reopened and self._raters_of is None:
            return self._slots.take(rater, n)
        items = self._take_reopened(rater, n) if self._reopened else []
        items += self._slots.take(rater, n - len(items))
        if self._raters_of is not None:
            for item in items:
                self._raters_of.setdefault(item, set()).add(rater)
        return items

    def _take_reopened(self, rater: int, n: int) -> list[int]:
        assert self._raters_of is not None
        taken: list[int] = []
        cursor, remaining = self._slots.cursor(rater), self._slots.remaining
        for item in sorted(self._reopened):
            if len(taken) == n:
                break
            if rater in self._raters_of.get(item, ()):
                continue
            if item >= cursor and remaining[item] > 0:
                continue  # the slot queue will still offer it to this rater: taking it here would give it twice
            taken.append(item)
            self._reopened[item] -= 1
            if self._reopened[item] == 0:
                del self._reopened[item]
        return taken

    def discard(self, store: AnswerStore, rows: Rows, visible: bool) -> None:
        if self._raters_of is None:  # who labeled what, from everything handed out so far
            self._raters_of = {}
            for item, worker in zip(store.item, store.worker, strict=True):
                self._raters_of.setdefault(item, set()).add(worker)
        self._reopen(store.item[row] for row in rows)

    def release(self, rater: int, items: list[int]) -> None:
        # the horizon cut them: nothing more can be answered in time, so they are not handed out again
        for item in items:
            self._cut[item] = self._cut.get(item, 0) + 1

    def _reopen(self, items: Iterable[int]) -> None:
        n_items = self._slots.n_items
        for item in items:
            if item < n_items:
                self._reopened[item] = self._reopened.get(item, 0) + 1

    @property
    def complete(self) -> bool:
        return self._slots.open_slots == 0 and not self._reopened and not self._cut

    def items_done(self) -> np.ndarray:
        done = np.asarray(self._slots.remaining) == 0
        for unfinished in (self._reopened, self._cut):
            if unfinished:
                done[list(unfinished)] = False
        return done

    def answers_assigned(self) -> np.ndarray:
        assigned = self._slots.per_item - np.asarray(self._slots.remaining)
        for unfinished in (self._reopened, self._cut):
            for item, slots in unfinished.items():
                assigned[item] -= slots
        return assigned

    def expected_answers(self) -> int:
        return self._slots.n_items * self._slots.per_item
