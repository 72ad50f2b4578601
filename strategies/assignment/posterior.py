"""Posterior stopping: stop an item when an online aggregator is confident enough of its label."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from sim.validation import ConfigError, check_float, check_int, check_probability
from strategies.aggregation.online import online_aggregator
from strategies.assignment._sequential import SequentialPolicy

if TYPE_CHECKING:
    from sim.campaign import Campaign, CampaignRun
    from sim.raters import RaterPopulation
    from sim.store import AnswerStore, Rows
    from sim.tasks import TaskDesign


@dataclass
class PosteriorThreshold(SequentialPolicy):
    """Stop an item when the online aggregator's top posterior reaches ``threshold``, or at ``max_answers``.

    Each item starts with ``min_answers`` answers and then gets one more at a time until the rule holds. The
    aggregator (``aggregator``: a name of :data:`strategies.aggregation.online.ONLINE_AGGREGATORS`, or an object
    with ``online_model``) is updated with every answer as it becomes visible; when it refits its parameters
    (online Dawid-Skene does so on a schedule, when its answers have grown by ``refit_growth``), every item is
    judged again under the new posteriors: with ``reopen`` a done item that is no longer confident enough gets more
    answers (up to ``max_answers``). Top-ups go first come, first served.

    Defaults: the cheapest setting whose Dawid-Skene accuracy matched fixed redundancy 5 on the default campaign,
    checked on held-out seeds (``tests/strategies/test_assignment.py``). Dawid-Skene's posterior is overconfident
    when errors are correlated, so a nominal 0.87 is stricter than it reads.
    """

    threshold: float = 0.87
    min_answers: int = 2
    max_answers: int = 7
    aggregator: Any = "dawid_skene"
    reopen: bool = True
    refit_growth: float = 0.1

    key: ClassVar[str] = "assignment"
    judge_with_pending: ClassVar[bool] = True

    _model: Any = field(init=False, repr=False, default=None)
    _refits: int = field(init=False, repr=False, default=0)

    def validate(self, design: TaskDesign, population: RaterPopulation, campaign: Campaign) -> None:
        check_probability(f"{self.key}.threshold", self.threshold)
        if self.threshold < 1.0 / design.n_options:
            options = "task.n_classes" if design.kind == "categorical" else f"the answers of task.kind={design.kind}"
            raise ConfigError(
                f"{self.key}.threshold = {self.threshold} is below 1 / {options} = {1 / design.n_options:.3g}: "
                f"every posterior's top label reaches it, so every item would stop at min_answers; accepted "
                f"values: threshold in [{1 / design.n_options:.3g}, 1]"
            )
        if not isinstance(self.reopen, bool):
            raise ConfigError(f"{self.key}.reopen must be true or false, got {self.reopen!r}")
        self.min_answers = check_int(f"{self.key}.min_answers", self.min_answers, 1)
        check_float(f"{self.key}.refit_growth", self.refit_growth, 0.0, low_open=True)
        self.check_cap(self.max_answers, population, self.min_answers, f"min_answers = {self.min_answers}")
        self.max_answers = int(self.max_answers)
        online_aggregator(f"{self.key}.aggregator", self.aggregator)

    def start(self, run: CampaignRun) -> None:
        self.first_answers, self.cap = self.min_answers, self.max_answers
        super().start(run)
        aggregator = online_aggregator(f"{self.key}.aggregator", self.aggregator)
        schedule = {"refit_growth": self.refit_growth} if getattr(aggregator, "online_refits", False) else {}
        self._model = run.online_model(aggregator, **schedule)
        self._refits = self._model.refits

    def needed(self, item: int) -> int:
        given = self._visible[item]  # (evaluate_all calls this only for items that are not done)
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
        enough (it is done), and a done one that no longer is reopens while it has answers to spare (``reopen``), so
        that items stopped under the first, rough parameters are not stuck with them. Vectorised over items."""
        assigned, visible, wanted, done = self.state_views()
        confident = self._model.top_probabilities() >= self.threshold
        stopped = (done == 0) & confident & (visible >= self.min_answers)
        stopped &= assigned == visible  # nothing in flight: stopping now wastes no answer already handed out
        done[stopped] = 1
        wanted[stopped] = 0  # their queue entries lapse
        self._n_done += int(stopped.sum())
        if self.reopen:
            reopened = np.flatnonzero((done == 1) & ~confident & (assigned < self.cap))
            done[reopened] = 0
            self._n_done -= reopened.shape[0]
            self.evaluate_all(reopened.tolist())
