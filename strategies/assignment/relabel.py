"""Relabeling: a first pass at fixed redundancy, then more answers for the items a selection rule sends back."""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from sim.streams import stream
from sim.validation import ConfigError, check_choice, check_int, check_probability
from strategies.aggregation.online import online_aggregator
from strategies.assignment._sequential import SequentialPolicy

if TYPE_CHECKING:
    from sim.campaign import Campaign, CampaignRun
    from sim.raters import RaterPopulation
    from sim.store import AnswerStore, Rows
    from sim.tasks import TaskDesign

SELECTIONS: tuple[str, ...] = ("detector", "random", "uncertainty")


@dataclass
class Relabel(SequentialPolicy):
    """Every item gets ``redundancy`` answers (None: ``campaign.redundancy``); once all of them are in, the
    ``aggregator`` (a name of :data:`strategies.aggregation.online.ONLINE_AGGREGATORS`) labels the items, a share
    ``share`` of them is sent back, and each gets ``extra_answers`` more answers from raters who have not labeled it.

    ``selection`` picks the items sent back: ``detector`` (the highest ``scores_`` of the noisy-label ``detector``,
    fitted on the items' features and the aggregated labels; default :class:`strategies.cleaning.ConfidentLearning`;
    needs items with features), ``random`` (uniformly, from the run's ``relabel`` stream: the baseline at equal
    spend) or ``uncertainty`` (the lowest top posterior of the aggregator, which needs no features). With
    ``share = 0`` nothing is sent back: the first pass alone, the zero of extra spend.
    """

    redundancy: int | None = None
    share: float = 0.1
    extra_answers: int = 2
    selection: str = "detector"
    detector: Any = None
    aggregator: Any = "dawid_skene"

    key: ClassVar[str] = "assignment"

    _features: Any = field(init=False, repr=False, default=None)
    _store: Any = field(init=False, repr=False, default=None)
    _flagged: np.ndarray | None = field(init=False, repr=False, default=None)
    _seed: tuple[int, int] = field(init=False, repr=False, default=(0, 0))

    def validate(self, design: TaskDesign, population: RaterPopulation, campaign: Campaign) -> None:
        redundancy = campaign.redundancy if self.redundancy is None else self.redundancy
        check_int(f"{self.key}.redundancy", redundancy, 1)
        check_probability(f"{self.key}.share", self.share)
        check_int(f"{self.key}.extra_answers", self.extra_answers, 1)
        check_choice(f"{self.key}.selection", self.selection, SELECTIONS)
        online_aggregator(f"{self.key}.aggregator", self.aggregator)
        if self.detector is not None and not hasattr(self.detector, "fit"):
            raise ConfigError(
                f"{self.key}.detector must be a noisy-label detector, given as an object, e.g. "
                f"'{self.key}.detector={{_target_: strategies.cleaning.MultiAnnotatorScore}}'; got {self.detector!r}"
            )
        if int(redundancy) + int(self.extra_answers) > population.n_raters:
            raise ConfigError(
                f"{self.key}.extra_answers = {self.extra_answers} on top of redundancy {redundancy} exceeds the rater "
                f"pool (no rater labels an item twice); accepted values: extra_answers <= "
                f"{population.n_raters - int(redundancy)} (raters.n_raters = {population.n_raters})"
            )

    def start(self, run: CampaignRun) -> None:
        self.redundancy = int(run.campaign.redundancy if self.redundancy is None else self.redundancy)
        self.first_answers, self.cap = self.redundancy, self.redundancy + int(self.extra_answers)
        super().start(run)
        if self.selection == "detector" and self.share > 0 and run.features is None:
            raise ConfigError(
                f"{self.key}.selection=detector fits a noisy-label detector on the items' features, and the items "
                "have none; accepted values: features=gaussian, digits, wine or breast_cancer, or "
                f"{self.key}.selection=random or uncertainty"
            )
        self._features, self._store, self._flagged = run.features, run.store, None
        self._seed = (run.seed, run.replicate)

    def needed(self, item: int) -> int:
        target = self.cap if self._flagged is not None and self._flagged[item] else self.redundancy
        assert target is not None
        return max(0, target - self._visible[item])

    def observe(self, store: AnswerStore, rows: Rows) -> None:
        super().observe(store, rows)
        if self._flagged is None and self._n_done == self._n_items and self.share > 0:
            self.send_back()

    def send_back(self) -> None:
        """The first pass is in: choose the items to relabel and reopen them (vectorised over items)."""
        n_items = self._n_items
        flagged = np.zeros(n_items, dtype=bool)
        flagged[self.select(round(self.share * n_items))] = True
        self._flagged = flagged
        _, _, _, done = self.state_views()
        reopened = np.flatnonzero(flagged & (done == 1))
        done[reopened] = 0
        self._n_done -= reopened.shape[0]
        self.evaluate_all(reopened.tolist())

    def select(self, n: int) -> np.ndarray:
        """The ``n`` items to relabel, by ``selection``."""
        if self.selection == "random":
            return stream(*self._seed, "relabel").permutation(self._n_items)[:n]
        probas = self._posteriors()
        if self.selection == "uncertainty":
            return np.argsort(probas.max(axis=1), kind="stable")[:n]
        from strategies.cleaning.base import DetectionError, single_threaded
        from strategies.cleaning.confident_learning import ConfidentLearning

        state = int(stream(*self._seed, "relabel").integers(2**31 - 1))  # the run's randomness, per replicate
        detector = ConfidentLearning() if self.detector is None else copy.copy(self.detector)
        if hasattr(detector, "random_state"):
            detector.random_state = state
        labels = probas.argmax(axis=1)
        extra = {"answers": self._answers()} if "answers" in inspect.signature(detector.fit).parameters else {}
        try:
            with single_threaded():
                scores = detector.fit(self._features.X[: self._n_items], labels, **extra).scores_
        except DetectionError as error:
            raise ConfigError(
                f"{self.key}.detector ({type(detector).__name__}) cannot score the first pass's labels: {error}; "
                f"accepted values: more items (task.n_items), or {self.key}.selection=random or uncertainty"
            ) from None
        return np.argsort(-np.asarray(scores), kind="stable")[:n]

    def _answers(self) -> pd.DataFrame:
        """The answers to regular items so far (task = item id), without those of dropped raters."""
        store = self._store
        item, worker, label = (np.asarray(column) for column in (store.item, store.worker, store.label))
        counted = (item < self._n_items) & ~np.isin(worker, list(store.dropped_workers))
        return pd.DataFrame({"task": item[counted], "worker": worker[counted], "label": label[counted]})

    def _posteriors(self) -> np.ndarray:
        """The aggregator's posteriors over classes for every item, from the answers to regular items."""
        aggregator = online_aggregator(f"{self.key}.aggregator", self.aggregator)
        probas = aggregator.fit(self._answers()).probas_
        full = probas.reindex(index=range(self._n_items), columns=range(self._n_classes), fill_value=0.0)
        return full.fillna(0.0).to_numpy()

    def expected_answers(self) -> int:
        return self._n_items * self.first_answers + round(self.share * self._n_items) * int(self.extra_answers)
