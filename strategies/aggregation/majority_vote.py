"""Majority vote: each task gets the label most workers gave it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Self

import numpy as np
import pandas as pd

from strategies.aggregation._online import AnswerStream, OnlineMajorityVote
from strategies.aggregation.base import (
    BaseClassificationAggregator,
    EncodedAnswers,
    Setting,
    TieBreak,
    argmax_rows,
    as_generator,
    distinct_answers,
    encode_answers,
    normalise_rows,
    vote_counts,
)


@dataclass
class MajorityVote(BaseClassificationAggregator):
    r"""Majority vote, optionally weighted per worker.

    .. math:: \hat y_i = \arg\max_k \sum_{j \in W_i} w_j \, [y_{ij} = k]

    ``probas_`` is the (weighted) share of votes per label. Ties are broken by ``tie_break``: ``"lowest"`` (default,
    deterministic: the lowest label in sort order) or ``"random"`` (uniform among the tied labels, drawn from
    ``random_state``). Papers that score majority vote with "random ties" give 1/m credit to an m-way tie; that is the
    expectation of ``"random"``.

    ``fit(data, skills=None)`` (and ``fit_predict``, ``fit_predict_proba``): ``skills`` is an optional Series of
    worker weights (indexed by worker; crowd-kit's signature), for example accuracies on gold questions. A worker
    without a weight is handled as crowd-kit's ``on_missing_skill`` says: ``"error"`` (default) raises, ``"ignore"``
    drops that worker's answers (an error if a task is left without answers), ``"value"`` gives them
    ``default_skill``. A task whose answers all weigh zero is decided by the unweighted vote (crowd-kit gives NaN).
    ``skills_`` is each worker's share of answers equal to the label chosen (crowd-kit's).

    Online: ``partial_fit(data)`` adds unweighted answers to those of earlier ``partial_fit`` calls (new task,
    worker and label ids welcome) and sets ``labels_`` and ``probas_`` exactly as ``fit`` on all of them would;
    ``fit`` starts over. :meth:`online_model` gives the integer-coded model behind it (the engine's fast path).
    """

    settings: ClassVar[dict[str, Setting]] = {
        "tie_break": Setting(choices=("lowest", "random")),
        "default_skill": Setting(float, 0.0, optional=True),
        "on_missing_skill": Setting(choices=("error", "ignore", "value")),
    }

    online_refits: ClassVar[bool] = False  # its online model has no parameters to refit

    tie_break: TieBreak = "lowest"
    random_state: int | np.random.Generator | None = 0
    default_skill: float | None = None
    on_missing_skill: str = "error"

    labels_: pd.Series = field(init=False, repr=False)
    probas_: pd.DataFrame = field(init=False, repr=False)
    skills_: pd.Series = field(init=False, repr=False)
    _stream: AnswerStream[OnlineMajorityVote] | None = field(default=None, init=False, repr=False, compare=False)

    def fit(self, data: pd.DataFrame, skills: pd.Series | None = None) -> Self:
        answers = encode_answers(data)
        weights = None
        if skills is not None:
            answers, weights = self._weights(data, answers, skills)
        self._stream = None
        self._learned(answers, vote_counts(answers, weights))
        return self

    def fit_predict(self, data: pd.DataFrame, skills: pd.Series | None = None) -> pd.Series:
        return self.fit(data, skills).labels_

    def fit_predict_proba(self, data: pd.DataFrame, skills: pd.Series | None = None) -> pd.DataFrame:
        return self.fit(data, skills).probas_

    def _weights(
        self, data: pd.DataFrame, answers: EncodedAnswers, skills: pd.Series
    ) -> tuple[EncodedAnswers, np.ndarray]:
        """The answers to vote with and each one's weight, after ``on_missing_skill``."""
        if self.on_missing_skill not in ("error", "ignore", "value"):
            raise ValueError(
                f"on_missing_skill must be one of ['error', 'ignore', 'value'], got {self.on_missing_skill!r}"
            )
        if self.default_skill is not None and self.on_missing_skill != "value":
            raise ValueError('default_skill is used only with on_missing_skill="value"')
        aligned = skills.reindex(answers.workers)
        missing = aligned.isna().to_numpy()
        if missing.any():
            first = list(answers.workers[missing][:5])
            if self.on_missing_skill == "error":
                raise ValueError(f"skills has no weight for worker(s) {first}; set on_missing_skill='ignore' or "
                                 "'value' (with default_skill)")  # fmt: skip
            if self.on_missing_skill == "value":
                if self.default_skill is None:
                    raise ValueError('on_missing_skill="value" needs a default_skill')
                aligned = aligned.fillna(self.default_skill)
            else:  # ignore: vote without the answers of workers who have no weight
                keep = ~missing[answers.worker]
                if not keep.any() or np.unique(answers.task[keep]).size < answers.n_tasks:
                    lost = answers.n_tasks - np.unique(answers.task[keep]).size
                    raise ValueError(f"{lost} task(s) have no answer from a worker with a known skill; give those "
                                     "workers skills or use on_missing_skill='value'")  # fmt: skip
                answers = encode_answers(data.iloc[np.flatnonzero(keep)], labels=answers.labels)
                aligned = skills.reindex(answers.workers)
        values = aligned.to_numpy(dtype=np.float64)
        if not (np.isfinite(values) & (values >= 0)).all():
            bad = list(answers.workers[~(np.isfinite(values) & (values >= 0))][:5])
            raise ValueError(f"skills must be finite and non-negative (vote weights); worker(s) {bad} are not")
        return answers, values[answers.worker]

    def partial_fit(self, data: pd.DataFrame) -> Self:
        """Add ``data`` (columns ``task, worker, label``) to the answers of earlier calls; ``labels_`` and ``probas_``
        as :meth:`fit` on all answers so far."""
        if self._stream is None:
            self._stream = AnswerStream(self.online_model)
        self._stream.add(data)
        assert self._stream.model is not None
        ids, task_order, _, label_order = self._stream.ids()
        self._learned(ids, self._stream.model.counts()[np.ix_(task_order, label_order)])
        return self

    def online_model(self, n_tasks: int, n_workers: int, n_labels: int) -> OnlineMajorityVote:
        """An online majority vote for integer-coded answers, with this aggregator's ``tie_break`` (random ties
        drawn from ``random_state``)."""
        rng = as_generator(self.random_state) if self.tie_break == "random" else None
        return OnlineMajorityVote(n_tasks, n_workers, n_labels, self.tie_break, rng)

    def _learned(self, answers: EncodedAnswers, counts: np.ndarray) -> None:
        rng = as_generator(self.random_state) if self.tie_break == "random" else None
        silent = counts.sum(axis=1) <= 0  # every weight zero (proven-wrong workers only): the plain vote decides
        if silent.any():
            counts = counts.copy()
            counts[silent] = vote_counts(answers)[silent]
        chosen = argmax_rows(counts, self.tie_break, rng)
        self.labels_ = answers.label_series(chosen)
        self.probas_ = answers.proba_frame(normalise_rows(counts))
        # crowd-kit's skills_: the share of a worker's distinct (task, label) answers equal to the label chosen
        task, worker, label = distinct_answers(answers)
        right = np.bincount(worker, weights=label == chosen[task], minlength=answers.n_workers)
        given = np.bincount(worker, minlength=answers.n_workers)
        self.skills_ = answers.worker_series(np.divide(right, given, out=np.zeros(answers.n_workers), where=given > 0))
