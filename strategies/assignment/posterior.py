"""Posterior stopping: stop an item when an online aggregator is confident enough of its label."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from sim.validation import ConfigError, check_choice, check_int, check_probability
from strategies.aggregation import DawidSkene, MajorityVote, OneCoinDawidSkene
from strategies.assignment._sequential import SequentialPolicy

if TYPE_CHECKING:
    from sim.campaign import Campaign, CampaignRun
    from sim.raters import RaterPopulation
    from sim.store import AnswerStore, Rows
    from sim.tasks import TaskDesign

#: aggregators with an online model (``online_model``), by their name in conf/aggregators
ONLINE_AGGREGATORS: dict[str, type] = {
    "majority_vote": MajorityVote,
    "one_coin_dawid_skene": OneCoinDawidSkene,
    "dawid_skene": DawidSkene,
}


def online_aggregator(key: str, aggregator: Any) -> Any:
    """An aggregator object from a name of :data:`ONLINE_AGGREGATORS` (default settings) or an object that has
    ``online_model``."""
    if isinstance(aggregator, str):
        check_choice(key, aggregator, ONLINE_AGGREGATORS)
        return ONLINE_AGGREGATORS[aggregator]()
    if not hasattr(aggregator, "online_model"):
        raise ConfigError(
            f"{key} must name one of {list(ONLINE_AGGREGATORS)} or have online_model(), got {aggregator!r}"
        )
    return aggregator


@dataclass
class PosteriorThreshold(SequentialPolicy):
    """Stop an item when the online aggregator's top posterior reaches ``threshold``, or at ``max_answers``.

    Each item starts with ``min_answers`` answers and then gets one more at a time until the rule holds. The
    aggregator (``aggregator``: a name of :data:`ONLINE_AGGREGATORS`, or an object with ``online_model``) is updated
    with every answer as it becomes visible; when it refits its parameters (online Dawid-Skene does so on a
    schedule), every item is judged again under the new posteriors: with ``reopen`` a done item that is no longer
    confident enough gets more answers (up to ``max_answers``). Top-ups go first come, first served.
    """

    threshold: float = 0.95
    min_answers: int = 1
    max_answers: int = 10
    aggregator: Any = "dawid_skene"
    reopen: bool = True

    key: ClassVar[str] = "assignment"

    _model: Any = field(init=False, repr=False, default=None)
    _refits: int = field(init=False, repr=False, default=0)

    def validate(self, design: TaskDesign, population: RaterPopulation, campaign: Campaign) -> None:
        check_probability(f"{self.key}.threshold", self.threshold)
        check_int(f"{self.key}.min_answers", self.min_answers, 1)
        self.check_cap(self.max_answers, population, self.min_answers, f"min_answers = {self.min_answers}")
        online_aggregator(f"{self.key}.aggregator", self.aggregator)

    def start(self, run: CampaignRun) -> None:
        self.first_answers, self.cap = self.min_answers, self.max_answers
        super().start(run)
        self._model = run.online_model(online_aggregator(f"{self.key}.aggregator", self.aggregator))
        self._refits = self._model.refits

    def needed(self, item: int) -> int:
        given = self._visible[item]
        if given < self.min_answers:
            return self.min_answers - given
        return 0 if self._model.top(item)[1] >= self.threshold else 1

    def observe(self, store: AnswerStore, rows: Rows) -> None:
        super().observe(store, rows)
        if self._model.refits != self._refits:
            self._refits = self._model.refits
            self.rejudge()

    def rejudge(self) -> None:
        """Judge every started item again after the model's parameters changed: an open one may now be confident
        enough, and a done one that no longer is reopens (while it has answers to spare), so that items stopped
        under the first, rough parameters are not stuck with them."""
        done = np.asarray(self._done, dtype=bool)
        confident = self._model.probas().max(axis=1) >= self.threshold
        assigned = np.asarray(self._assigned)
        started = np.asarray(self._visible) > 0
        if self.reopen:
            reopened = np.flatnonzero(done & ~confident & (assigned < self.cap))
            for item in reopened.tolist():
                self._done[item] = False
            self._n_done -= reopened.shape[0]
            done[reopened] = False
        for item in np.flatnonzero(~done & started).tolist():
            self.evaluate(item)
