"""Blocking without gold: block raters who disagree with the current consensus, or whose answers carry no
information about the truth (Raykar and Yu's spammer score), both from an online aggregator."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from sim.validation import ConfigError, check_choice, check_float, check_int, check_probability
from strategies.aggregation.online import online_aggregator
from strategies.quality.base import QualityControl
from strategies.quality.scores import spammer_scores

if TYPE_CHECKING:
    from sim.campaign import Campaign, CampaignRun
    from sim.raters import RaterPopulation
    from sim.store import AnswerStore, Rows
    from sim.tasks import TaskDesign

METHODS: tuple[str, ...] = ("agreement", "spammer_score")


@dataclass
class AgreementBlocking(QualityControl):
    r"""Block raters whose answers disagree with the consensus, judged while the campaign runs, without gold.

    The consensus is an online aggregator's (``aggregator``, one of
    :data:`strategies.aggregation.online.ONLINE_AGGREGATORS`), updated answer by answer. Whenever the visible
    answers have grown by ``check_growth`` (a share) since the last check, every rater with at least ``min_answers``
    visible answers is scored and blocked if its score is below ``threshold``:

    * ``agreement``: the share of its answers equal to the consensus label of the item (the consensus includes the
      rater's own answer, which favours it slightly when items have few answers);
    * ``spammer_score``: Raykar and Yu's score of its confusion matrix under online Dawid-Skene
      (:func:`strategies.quality.scores.spammer_scores`): 0 when the answers do not depend on the truth, 1 for a
      perfect rater (V. C. Raykar and S. Yu, "Eliminating Spammers and Ranking Annotators for Crowdsourced Labeling
      Tasks", JMLR 13, 2012). It needs a Dawid-Skene aggregator.

    ``drop_answers`` as in :class:`~strategies.quality.GoldBlocking`.
    """

    method: str = "agreement"
    threshold: float = 0.5
    min_answers: int = 30
    check_growth: float = 0.1
    aggregator: Any = "dawid_skene"
    drop_answers: bool = False

    key: ClassVar[str] = "quality.agreement_blocking"
    needs_labels: ClassVar[bool] = True

    _run: CampaignRun | None = field(init=False, repr=False, default=None)
    _model: Any = field(init=False, repr=False, default=None)
    _tasks: list[int] = field(init=False, repr=False, default_factory=list)
    _workers: list[int] = field(init=False, repr=False, default_factory=list)
    _labels: list[int] = field(init=False, repr=False, default_factory=list)
    _next_check: int = field(init=False, repr=False, default=0)

    def validate(self, design: TaskDesign, population: RaterPopulation, campaign: Campaign) -> None:
        check_choice(f"{self.key}.method", self.method, METHODS)
        check_probability(f"{self.key}.threshold", self.threshold)
        self.min_answers = check_int(f"{self.key}.min_answers", self.min_answers, 1)
        if not isinstance(self.drop_answers, bool):
            raise ConfigError(f"{self.key}.drop_answers must be true or false, got {self.drop_answers!r}")
        check_float(f"{self.key}.check_growth", self.check_growth, 0.0, low_open=True)
        aggregator = online_aggregator(f"{self.key}.aggregator", self.aggregator)
        if self.method == "spammer_score" and not getattr(aggregator, "online_refits", False):
            raise ConfigError(
                f"{self.key}.method = spammer_score needs confusion matrices: {self.key}.aggregator must be "
                f"dawid_skene or one_coin_dawid_skene, got {self.aggregator!r}"
            )

    def start(self, run: CampaignRun) -> None:
        self._run = run
        self._model = run.online_model(online_aggregator(f"{self.key}.aggregator", self.aggregator))
        self._tasks, self._workers, self._labels = [], [], []
        self._next_check = self.min_answers

    def observe(self, store: AnswerStore, rows: Rows) -> None:
        run = self._run
        assert run is not None
        n_items = run.design.n_items
        for row in rows:
            if store.item[row] < n_items:
                self._tasks.append(store.item[row])
                self._workers.append(store.worker[row])
                self._labels.append(store.label[row])
        if len(self._tasks) >= self._next_check:
            self._next_check = int(len(self._tasks) * (1.0 + self.check_growth)) + 1
            self.check(store.t_end[rows[-1]])

    def scores(self) -> tuple[np.ndarray, np.ndarray]:
        """(score, visible answers) of every rater now."""
        run = self._run
        assert run is not None
        workers = np.asarray(self._workers, dtype=np.int64)
        counts = np.bincount(workers, minlength=run.population.n_raters)
        if self.method == "agreement":
            consensus = self._model.probas().argmax(axis=1)
            agree = consensus[np.asarray(self._tasks, dtype=np.int64)] == np.asarray(self._labels)
            with np.errstate(invalid="ignore", divide="ignore"):
                score = np.bincount(workers, weights=agree, minlength=counts.shape[0]) / counts
        else:
            confusions = np.exp(self._model.log_confusions())  # [worker, answered label, true class]
            score = spammer_scores(confusions)
        return score, counts

    def check(self, now: float) -> None:
        run = self._run
        assert run is not None
        score, counts = self.scores()
        bad = np.flatnonzero((counts >= self.min_answers) & (score < self.threshold))
        for worker in bad.tolist():
            if not run.record.blocked[worker]:
                run.block(worker, now, self.drop_answers)

    def discard(self, store: AnswerStore, rows: Rows, visible: bool) -> None:
        if not visible:
            return
        dropped = set(store.worker[row] for row in rows)
        keep = [i for i, worker in enumerate(self._workers) if worker not in dropped]
        self._tasks = [self._tasks[i] for i in keep]
        self._workers = [self._workers[i] for i in keep]
        self._labels = [self._labels[i] for i in keep]
