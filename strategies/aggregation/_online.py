r"""Online aggregation: models updated answer by answer, for the campaign engine and for ``partial_fit``.

An :class:`OnlineModel` is built for a fixed problem size (``n_tasks``, ``n_workers``, ``n_labels``, every id an
integer code ``0..n-1``) by an aggregator's ``online_model(n_tasks, n_workers, n_labels)``, so that the
aggregator's hyperparameters carry over. :meth:`OnlineModel.add` takes one answer and is the engine's hot path: it
does O(K) plain-Python work on per-task state held in :class:`array.array` buffers (which numpy reads and writes
in place, without a copy, for the vectorised :meth:`~OnlineModel.add_many` and :meth:`~OnlineModel.probas`).

* :class:`OnlineMajorityVote` keeps the vote counts of each task.
* :class:`OnlineConfusionEM` is the one online EM driver of the confusion-matrix models (Dawid-Skene and
  one-coin Dawid-Skene), as :func:`~strategies.aggregation._em.run_confusion_em` is their one batch driver;
  each model supplies only its M-step.

:class:`AnswerStream` turns the pandas tables of successive ``partial_fit`` calls into codes, growing the model as
new task, worker and label ids arrive, and maps the model's arrays back to the sorted ids a batch ``fit`` reports.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from array import array
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from strategies.aggregation._em import _LOG_FLOOR, MStep, run_confusion_em
from strategies.aggregation.base import (
    AnswersError,
    EncodedAnswers,
    TieBreak,
    _codes,
    argmax_rows,
    check_answers,
    log_posteriors,
    normalise_rows,
)

# Refit schedule of OnlineConfusionEM (chosen by experiments/benchmarks/online.py --sweep; see its docstring)
REFIT_GROWTH = 0.1
RESTART_GROWTH = 0.0
MIN_ANSWERS = 100
INITIAL_ACCURACY = 0.7
# log(1 - 1e-12): labels whose posterior is within argmax_rows' default relative tolerance of the top one are tied
_LOG_TIE = math.log1p(-1e-12)


class OnlineModel(ABC):
    """An aggregator's state over a stream of answers, all ids integer codes (the engine's interface).

    ``add`` one answer (or ``add_many``); read a task's ``top`` label and its probability, its ``posterior``, or
    every task's ``probas()``. ``refits`` counts the changes of the model's parameters: after one, every task's
    posterior may have changed (re-read ``probas()``); between two, ``add`` changes only the answered task's.
    ``mean_confusion()`` is the answer-weighted mean over workers of :math:`P(\\text{answer } l \\mid \\text{class }
    c)`, indexed ``[c, l]`` (rows sum to one). ``grow`` enlarges the problem (``partial_fit`` uses it).
    """

    n_tasks: int
    n_workers: int
    n_labels: int
    n_answers: int
    refits: int

    def __init__(self, n_tasks: int, n_workers: int, n_labels: int) -> None:
        for name, size in [("n_tasks", n_tasks), ("n_workers", n_workers), ("n_labels", n_labels)]:
            if size < (1 if name == "n_labels" else 0):
                raise ValueError(f"{name} must be {'positive' if name == 'n_labels' else 'non-negative'}, got {size}")
        self.n_tasks, self.n_workers, self.n_labels = int(n_tasks), int(n_workers), int(n_labels)
        self.n_answers = 0
        self.refits = 0

    @abstractmethod
    def add(self, task: int, worker: int, label: int) -> None:
        """Take one answer (plain Python ints, each within the model's size)."""

    def add_many(self, tasks: ArrayLike, workers: ArrayLike, labels: ArrayLike) -> None:
        """Take answers in order; the same result as ``add`` on each, vectorised."""
        codes = [np.asarray(values, dtype=np.int64).reshape(-1) for values in (tasks, workers, labels)]
        if not codes[0].shape == codes[1].shape == codes[2].shape:
            raise ValueError(f"tasks, workers and labels differ in length: {[c.shape[0] for c in codes]}")
        for name, values, size in zip(("task", "worker", "label"), codes, self._sizes(), strict=True):
            if values.size and (values.min() < 0 or values.max() >= size):
                raise IndexError(f"{name} codes must lie in 0..{size - 1}, got {values.min()}..{values.max()}")
        if codes[0].size:
            self._add_codes(*codes)

    @abstractmethod
    def _add_codes(self, tasks: np.ndarray, workers: np.ndarray, labels: np.ndarray) -> None:
        """``add_many`` on validated int64 arrays."""

    @abstractmethod
    def top(self, task: int) -> tuple[int, float]:
        """The task's most probable label code (ties: the lowest code) and its posterior probability."""

    @abstractmethod
    def posterior(self, task: int) -> list[float]:
        """The task's K label probabilities (summing to one)."""

    @abstractmethod
    def probas(self) -> np.ndarray:
        """Every task's posterior, ``(n_tasks, n_labels)``."""

    def top_probabilities(self) -> np.ndarray:
        """Every task's ``top`` probability (the largest posterior), vectorised."""
        probas = self.probas()
        top = probas[:, 0].copy()
        for column in range(1, probas.shape[1]):  # column by column: far faster than a max along the short axis
            np.maximum(top, probas[:, column], out=top)
        return top

    @abstractmethod
    def mean_confusion(self) -> np.ndarray:
        """``(K, K)`` answer-weighted mean confusion, ``[true class, answered label]``."""

    @abstractmethod
    def drop_worker(self, worker: int) -> None:
        """Forget every answer of ``worker`` (quality control dropped them): they no longer count anywhere."""

    @abstractmethod
    def grow(self, n_tasks: int, n_workers: int, n_labels: int) -> None:
        """Enlarge the problem to at least these sizes; new tasks have no answers yet, new workers no history."""

    def _sizes(self) -> tuple[int, int, int]:
        return self.n_tasks, self.n_workers, self.n_labels

    def _bad_answer(self, task: int, worker: int, label: int) -> IndexError:
        return IndexError(
            f"answer (task={task}, worker={worker}, label={label}) is outside the model's codes "
            f"0..{self.n_tasks - 1}, 0..{self.n_workers - 1}, 0..{self.n_labels - 1}"
        )

    def _check_task(self, task: int) -> None:
        if not 0 <= task < self.n_tasks:
            raise IndexError(f"task code {task} is outside 0..{self.n_tasks - 1}")


def _float_buffer(values: np.ndarray) -> array:
    """An ``array('d')`` holding ``values`` (flattened): fast to index from Python, viewable by numpy."""
    buffer = array("d")
    buffer.frombytes(np.ascontiguousarray(values, dtype=np.float64).tobytes())
    return buffer


def _view(buffer: array, n_columns: int) -> np.ndarray:
    """A writable numpy view ``(-1, n_columns)`` of ``buffer``; drop it before the buffer is resized."""
    return np.frombuffer(buffer, dtype=np.float64).reshape(-1, n_columns)


def _int_codes(buffer: array) -> np.ndarray:
    return np.frombuffer(buffer, dtype=np.int64).copy()


def symmetric_confusion(accuracy: float, n_labels: int) -> np.ndarray:
    """``(K, K)`` matrix with ``accuracy`` on the diagonal and the rest spread evenly over the other labels."""
    if n_labels == 1:
        return np.ones((1, 1))
    off = (1.0 - accuracy) / (n_labels - 1)
    return np.where(np.eye(n_labels, dtype=bool), accuracy, off)


class OnlineMajorityVote(OnlineModel):
    """Online majority vote: each task's vote counts; the posterior is the share of votes (uniform with none).

    ``top`` breaks ties by ``tie_break``: ``"lowest"`` code, or ``"random"``, a uniformly random label among the
    tied ones, fixed per task by random label priorities drawn once from ``rng`` (so that asking twice gives the
    same answer). ``refits`` stays 0: the model has no parameters. ``mean_confusion`` is the symmetric matrix
    implied by the share of answers that agree with their task's current top label.
    """

    def __init__(
        self,
        n_tasks: int,
        n_workers: int,
        n_labels: int,
        tie_break: TieBreak = "lowest",
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__(n_tasks, n_workers, n_labels)
        if tie_break == "random" and rng is None:
            raise ValueError("tie_break='random' needs an rng (numpy Generator)")
        self.tie_break = tie_break
        self._rng = rng
        self._counts = _float_buffer(np.zeros(n_tasks * n_labels))
        self._cells, self._workers = array("q"), array("q")  # each answer's vote cell and worker, to drop a worker
        self._priority = (
            _float_buffer(rng.random(n_tasks * n_labels)) if rng is not None and tie_break == "random" else None
        )

    def add(self, task: int, worker: int, label: int) -> None:
        n_labels = self.n_labels
        if not (0 <= task < self.n_tasks and 0 <= worker < self.n_workers and 0 <= label < n_labels):
            raise self._bad_answer(task, worker, label)
        self._counts[task * n_labels + label] += 1.0
        self._cells.append(task * n_labels + label)
        self._workers.append(worker)
        self.n_answers += 1

    def _add_codes(self, tasks: np.ndarray, workers: np.ndarray, labels: np.ndarray) -> None:
        cells = tasks * self.n_labels + labels
        np.add.at(np.frombuffer(self._counts, dtype=np.float64), cells, 1.0)
        self._cells.frombytes(cells.astype(np.int64).tobytes())
        self._workers.frombytes(workers.astype(np.int64).tobytes())
        self.n_answers += int(tasks.shape[0])

    def drop_worker(self, worker: int) -> None:
        cells, workers = _int_codes(self._cells), _int_codes(self._workers)
        mine = workers == worker
        if mine.any():
            np.subtract.at(np.frombuffer(self._counts, dtype=np.float64), cells[mine], 1.0)
            self._cells, self._workers = array("q", cells[~mine].tobytes()), array("q", workers[~mine].tobytes())
            self.n_answers -= int(mine.sum())

    def top(self, task: int) -> tuple[int, float]:
        self._check_task(task)
        n_labels = self.n_labels
        start = task * n_labels
        votes = self._counts[start : start + n_labels]
        best = max(votes)
        total = sum(votes)
        share = best / total if total > 0 else 1.0 / n_labels
        if self._priority is None:
            return votes.index(best), share
        priority = self._priority
        tied = [code for code in range(n_labels) if votes[code] == best]
        return max(tied, key=lambda code: priority[start + code]), share

    def posterior(self, task: int) -> list[float]:
        self._check_task(task)
        n_labels = self.n_labels
        votes = self._counts[task * n_labels : (task + 1) * n_labels]
        total = sum(votes)
        return [count / total for count in votes] if total > 0 else [1.0 / n_labels] * n_labels

    def counts(self) -> np.ndarray:
        """``(n_tasks, n_labels)`` vote counts (a copy)."""
        return _view(self._counts, self.n_labels).copy()

    def probas(self) -> np.ndarray:
        return normalise_rows(self.counts())

    def top_codes(self) -> np.ndarray:
        """Every task's ``top`` label code, vectorised."""
        counts = self.counts()
        if self._priority is None:
            return argmax_rows(counts)
        tied = counts >= counts.max(axis=1, keepdims=True)
        return np.argmax(np.where(tied, _view(self._priority, self.n_labels), -1.0), axis=1)

    def mean_confusion(self) -> np.ndarray:
        counts = self.counts()
        total = counts.sum()
        agreeing = np.take_along_axis(counts, self.top_codes()[:, None], axis=1).sum()
        return symmetric_confusion(agreeing / total if total > 0 else 1.0 / self.n_labels, self.n_labels)

    def grow(self, n_tasks: int, n_workers: int, n_labels: int) -> None:
        n_tasks, n_workers, n_labels = (
            max(n_tasks, self.n_tasks),
            max(n_workers, self.n_workers),
            max(n_labels, self.n_labels),
        )
        if n_labels == self.n_labels:  # new rows at the end of the buffers
            new_cells = (n_tasks - self.n_tasks) * n_labels
            self._counts.frombytes(np.zeros(new_cells).tobytes())
            if self._priority is not None:
                assert self._rng is not None
                self._priority.frombytes(self._rng.random(new_cells).tobytes())
        else:  # a new column in every row
            counts = np.zeros((n_tasks, n_labels))
            counts[: self.n_tasks, : self.n_labels] = self.counts()
            self._counts = _float_buffer(counts)
            tasks, labels = np.divmod(_int_codes(self._cells), self.n_labels)  # each answer's cell, in the new rows
            self._cells = array("q", (tasks * n_labels + labels).tobytes())
            if self._priority is not None:
                assert self._rng is not None
                priority = self._rng.random((n_tasks, n_labels))
                priority[: self.n_tasks, : self.n_labels] = _view(self._priority, self.n_labels)
                self._priority = _float_buffer(priority)
        self.n_tasks, self.n_workers, self.n_labels = n_tasks, n_workers, n_labels


class OnlineConfusionEM(OnlineModel):
    r"""Online EM for a confusion-matrix model (Dawid and Skene 1979): incremental E-steps between refits.

    The model is the batch one (:func:`~strategies.aggregation._em.run_confusion_em`): task :math:`i` has class
    :math:`c` with probability :math:`p_c` and worker :math:`j` answers :math:`l` to it with probability
    :math:`e^j_{lc}`, so :math:`\log \Pr(z_i = c \mid y) = \log p_c + \sum_{a \in i} \log e^{w_a}_{y_a c}
    + \text{const}`. Each task keeps this sum; ``add`` adds the answer's :math:`\log e^{w}_{y \cdot}` to it,
    the exact E-step for that task at the current parameters (while they are fixed no other task's posterior
    depends on the answer). A *refit* runs EM on all answers so far with the aggregator's M-step, ``n_iter``,
    ``tol`` and ``smoothing``, either warm-started from the current confusions and priors or restarted from
    the soft majority vote (then it is a batch fit), and recomputes every task's posterior.

    Schedule: the first refit comes once ``min_answers`` answers are in, each later one when the answers
    have grown by the fraction ``refit_growth`` :math:`g` since the last, so all refits together cost about
    :math:`1 + 1/g` fits of the final data and the parameters have always seen at least :math:`1/(1 + g)`
    of the answers. A refit restarts from the soft majority vote when the answers have grown by
    ``restart_growth`` since the last restart (and always the first time, and after a new label), else it
    is warm-started. Before the first refit every worker has the symmetric confusion of accuracy
    ``initial_accuracy`` and the prior is uniform, so the posterior's argmax is the majority vote; a worker
    who joins between refits gets the answer-weighted mean confusion, a new task the prior.

    Defaults (``refit_growth`` 0.1, ``restart_growth`` 0: every refit restarts): the fastest schedule whose gold
    accuracy after the last answer is within 0.5 point of the batch fit on the tuning data, with real and simulated
    data sets held out (``python -m experiments.benchmarks.online --sweep`` prints the grid). Warm-started refits
    drift to other optima of the likelihood on sparse multi-class data and, without restarts, stay in the
    label-switched optimum of an early fit on few answers per task.

    Stepwise online EM (Cappé and Moulines 2009; Liang and Klein 2009) would instead blend each answer's
    expected counts into running sufficient statistics with a decreasing step size. It treats observations
    as independent units seen once, whereas here a task's latent class keeps receiving answers, so the
    expected counts of its earlier answers go stale as its posterior moves; the refits keep them exact at an
    amortised cost of :math:`O(1/g)` passes per answer.

    A. P. Dawid and A. M. Skene, "Maximum Likelihood Estimation of Observer Error-Rates Using the EM
    Algorithm", JRSS-C 28(1), 20-28, 1979. https://doi.org/10.2307/2346806
    O. Cappé and E. Moulines, "On-line expectation-maximization algorithm for latent data models", JRSS-B
    71(3), 593-613, 2009. https://doi.org/10.1111/j.1467-9868.2009.00698.x
    P. Liang and D. Klein, "Online EM for Unsupervised Models", NAACL-HLT 2009, 611-619.
    """

    def __init__(
        self,
        n_tasks: int,
        n_workers: int,
        n_labels: int,
        m_step: MStep,
        n_iter: int = 100,
        tol: float = 1e-5,
        smoothing: float = 0.01,
        refit_growth: float = REFIT_GROWTH,
        min_answers: int = MIN_ANSWERS,
        restart_growth: float = RESTART_GROWTH,
        initial_accuracy: float = INITIAL_ACCURACY,
    ) -> None:
        super().__init__(n_tasks, n_workers, n_labels)
        if refit_growth <= 0 or restart_growth < 0:
            raise ValueError(f"need refit_growth > 0 and restart_growth >= 0, got {refit_growth}, {restart_growth}")
        if not 0 < initial_accuracy < 1:
            raise ValueError(f"initial_accuracy must lie strictly between 0 and 1, got {initial_accuracy}")
        self.m_step, self.n_iter, self.tol, self.smoothing = m_step, n_iter, tol, smoothing
        self.refit_growth, self.restart_growth, self.initial_accuracy = refit_growth, restart_growth, initial_accuracy
        self.min_answers = max(int(min_answers), 1)
        self.loss_history: list[float] = []
        self._answer_tasks = array("q")
        self._answer_columns = array("q")  # worker * K + label, the batch driver's answer-matrix column
        self._start_parameters()

    def _start_parameters(self) -> None:
        """The symmetric start: uniform prior, every worker of accuracy ``initial_accuracy``; posteriors redone."""
        n_labels = self.n_labels
        self._last_restart = 0  # answers at the last refit from the soft majority vote; 0: none yet
        self._refitted_at = 0
        self._next_refit = self.min_answers
        self._mean_confusion = symmetric_confusion(self.initial_accuracy, n_labels)
        self._log_priors = np.full(n_labels, -math.log(n_labels))
        self._default_log_confusion = np.log(self._mean_confusion.T)  # [answered label, true class]
        self._set_confusions(np.broadcast_to(self._default_log_confusion, (self.n_workers, n_labels, n_labels)))
        log_posteriors = np.tile(self._log_priors, (self.n_tasks, 1))
        if self.n_answers:
            tasks, columns = self._answers()
            np.add.at(log_posteriors, tasks, self._log_confusions.reshape(-1, n_labels)[columns])
        self._log_posteriors = _float_buffer(log_posteriors)

    def _set_confusions(self, log_confusions: np.ndarray) -> None:
        self._log_confusions = np.array(log_confusions, dtype=np.float64)  # (W, K, K) [worker, label, class]
        self._log_confusion_rows: list[list[list[float]]] = self._log_confusions.tolist()

    def _answers(self) -> tuple[np.ndarray, np.ndarray]:
        return _int_codes(self._answer_tasks), _int_codes(self._answer_columns)

    def add(self, task: int, worker: int, label: int) -> None:
        n_labels = self.n_labels
        if not (0 <= task < self.n_tasks and 0 <= worker < self.n_workers and 0 <= label < n_labels):
            raise self._bad_answer(task, worker, label)
        self._answer_tasks.append(task)
        self._answer_columns.append(worker * n_labels + label)
        log_posteriors = self._log_posteriors
        for index, value in enumerate(self._log_confusion_rows[worker][label], task * n_labels):
            log_posteriors[index] += value
        self.n_answers += 1
        if self.n_answers >= self._next_refit:
            self.refit()

    def _add_codes(self, tasks: np.ndarray, workers: np.ndarray, labels: np.ndarray) -> None:
        columns = workers * self.n_labels + labels
        start = 0
        while start < tasks.shape[0]:
            # up to the next scheduled refit the parameters are fixed: one vectorised incremental E-step
            stop = min(tasks.shape[0], start + self._next_refit - self.n_answers)
            self._answer_tasks.frombytes(tasks[start:stop].tobytes())
            self._answer_columns.frombytes(columns[start:stop].tobytes())
            contributions = self._log_confusions.reshape(-1, self.n_labels)[columns[start:stop]]
            np.add.at(_view(self._log_posteriors, self.n_labels), tasks[start:stop], contributions)
            self.n_answers += stop - start
            start = stop
            if self.n_answers >= self._next_refit:
                self.refit()

    def drop_worker(self, worker: int) -> None:
        """Remove the worker's answers; their tasks' posteriors lose the answers' terms at the current parameters
        (the next refit fits the answers that remain)."""
        n_labels = self.n_labels
        tasks, columns = self._answers()
        mine = columns // n_labels == worker
        if not mine.any():
            return
        contributions = self._log_confusions.reshape(-1, n_labels)[columns[mine]]
        np.subtract.at(_view(self._log_posteriors, n_labels), tasks[mine], contributions)
        keep = ~mine
        self._answer_tasks = array("q", tasks[keep].tobytes())
        self._answer_columns = array("q", columns[keep].tobytes())
        removed = int(mine.sum())
        self.n_answers -= removed
        self._refitted_at = min(self._refitted_at, self.n_answers)

    @property
    def answers_since_refit(self) -> int:
        """Answers added since the last refit (whose confusions have not seen them)."""
        return self.n_answers - self._refitted_at

    def refit(self, restart: bool | None = None) -> None:
        """EM on all answers so far, warm-started unless ``restart`` (by default: when the schedule says so);
        every posterior is recomputed and ``refits`` goes up by one."""
        if self.n_answers == 0:
            return
        n_labels = self.n_labels
        tasks, columns = self._answers()
        workers = columns // n_labels
        answered = np.bincount(tasks, minlength=self.n_tasks) > 0
        local = np.cumsum(answered) - 1  # tasks without answers stay out of EM, as in a batch fit
        encoded = EncodedAnswers(
            task=local[tasks],
            worker=workers,
            label=columns % n_labels,
            tasks=pd.RangeIndex(int(answered.sum())),
            workers=pd.RangeIndex(self.n_workers),
            labels=pd.RangeIndex(n_labels),
        )
        if restart is None:
            restart = self._last_restart == 0 or self.n_answers >= self._last_restart * (1.0 + self.restart_growth)
        warm_start = None if restart else (self._log_confusions, self._log_priors)
        result = run_confusion_em(encoded, self.m_step, self.n_iter, self.tol, self.smoothing, warm_start=warm_start)
        answers_per_worker = np.bincount(workers, minlength=self.n_workers)
        mean = np.tensordot(answers_per_worker / self.n_answers, np.exp(result.log_confusions), axes=1)
        with np.errstate(divide="ignore"):
            self._default_log_confusion = np.maximum(np.log(mean), _LOG_FLOOR)
            self._log_priors = np.maximum(np.log(result.priors), _LOG_FLOOR)
            log_probas = np.maximum(np.log(result.probas), _LOG_FLOOR)
        self._mean_confusion = mean.T
        log_confusions = result.log_confusions
        log_confusions[answers_per_worker == 0] = self._default_log_confusion  # no answers: no history
        self._set_confusions(log_confusions)
        log_posteriors = np.tile(self._log_priors, (self.n_tasks, 1))
        log_posteriors[answered] = log_probas
        _view(self._log_posteriors, n_labels)[:] = log_posteriors
        self.loss_history = result.loss_history
        if restart:
            self._last_restart = self.n_answers
        self.refits += 1
        self._refitted_at = self.n_answers
        self._next_refit = max(self.n_answers + 1, math.ceil(self.n_answers * (1.0 + self.refit_growth)))

    def top(self, task: int) -> tuple[int, float]:
        self._check_task(task)
        n_labels = self.n_labels
        scores = self._log_posteriors[task * n_labels : (task + 1) * n_labels]
        best = max(scores)
        threshold = best + _LOG_TIE
        total, code = 0.0, -1
        for index, score in enumerate(scores):
            total += math.exp(score - best)
            if code < 0 and score >= threshold:
                code = index
        return code, math.exp(scores[code] - best) / total

    def posterior(self, task: int) -> list[float]:
        self._check_task(task)
        n_labels = self.n_labels
        scores = self._log_posteriors[task * n_labels : (task + 1) * n_labels]
        best = max(scores)
        weights = [math.exp(score - best) for score in scores]
        total = sum(weights)
        return [weight / total for weight in weights]

    def probas(self) -> np.ndarray:
        return log_posteriors(_view(self._log_posteriors, self.n_labels).copy())[0]

    def top_probabilities(self) -> np.ndarray:
        """1 / sum_c exp(log posterior_c - the largest), from the log posteriors without forming the posteriors (equal
        to ``probas().max(axis=1)`` up to the order of a sum: a few units in the last place for K >= 5)."""
        scores = _view(self._log_posteriors, self.n_labels)
        best = scores[:, 0].copy()
        for column in range(1, self.n_labels):
            np.maximum(best, scores[:, column], out=best)
        total = np.zeros_like(best)
        for column in range(self.n_labels):
            total += np.exp(scores[:, column] - best)
        return 1.0 / total

    def log_confusions(self) -> np.ndarray:
        """``(W, K, K)`` current log confusions ``[worker, answered label, true class]`` (a copy; a worker without
        answers at the last refit has the log mean confusion)."""
        return self._log_confusions.copy()

    def priors(self) -> np.ndarray:
        return np.exp(self._log_priors)

    def mean_confusion(self) -> np.ndarray:
        """As of the last refit (the symmetric start before the first)."""
        return self._mean_confusion.copy()

    def grow(self, n_tasks: int, n_workers: int, n_labels: int) -> None:
        n_tasks, n_workers, n_labels = (
            max(n_tasks, self.n_tasks),
            max(n_workers, self.n_workers),
            max(n_labels, self.n_labels),
        )
        if n_labels > self.n_labels:
            # the parameters have no room for the new label: start again from the symmetric start, and refit
            # from the soft majority vote (a batch fit) once there are enough answers
            workers, labels = np.divmod(_int_codes(self._answer_columns), self.n_labels)
            self._answer_columns = array("q")
            self._answer_columns.frombytes((workers * n_labels + labels).tobytes())
            self.n_tasks, self.n_workers, self.n_labels = n_tasks, n_workers, n_labels
            self._start_parameters()
            if self.n_answers >= self.min_answers:
                self.refit()
            else:
                self.refits += 1
            return
        if n_workers > self.n_workers:
            new = np.broadcast_to(self._default_log_confusion, (n_workers - self.n_workers, n_labels, n_labels))
            self._log_confusions = np.concatenate([self._log_confusions, new])
            self._log_confusion_rows.extend([self._default_log_confusion.tolist()] * (n_workers - self.n_workers))
            self.n_workers = n_workers
        if n_tasks > self.n_tasks:
            self._log_posteriors.frombytes(np.tile(self._log_priors, n_tasks - self.n_tasks).tobytes())
            self.n_tasks = n_tasks


Model = TypeVar("Model", bound=OnlineModel)


class AnswerStream(Generic[Model]):
    """The answers of successive ``partial_fit`` calls: the ids seen, in order of arrival, and an online model.

    ``add(data)`` validates the table as ``fit`` does, gives new task, worker and label ids the next codes
    (growing the model, built by ``build(n_tasks, n_workers, n_labels)`` on the first call) and adds the
    answers in row order. ``ids()`` gives the ids in the order a batch ``fit`` reports them (sorted; the
    categories' order for a categorical label column in the first call) and, for each, the model's codes in
    that order, so that ``model.probas()[task_order][:, label_order]`` lines up with a batch ``probas_``.
    """

    def __init__(self, build: Callable[[int, int, int], Model]) -> None:
        self._build = build
        self.model: Model | None = None
        self._arrived: dict[str, pd.Index] = {}
        self._orders: dict[str, tuple[pd.Index, np.ndarray]] = {}
        self._declared_label_order = False

    def add(self, data: pd.DataFrame) -> None:
        check_answers(data)
        label_values = data["label"]
        declared: list[Hashable] = []
        if isinstance(label_values.dtype, pd.CategoricalDtype):
            declared = list(label_values.cat.categories)
            if self.model is None:
                self._declared_label_order = True
        arrived: dict[str, pd.Index] = {}
        codes: dict[str, np.ndarray] = {}
        for column in ("task", "worker", "label"):
            values = _plain(data[column])
            index = self._arrived.get(column)
            uniques = pd.Index(declared + list(pd.unique(values))).unique() if column == "label" else None
            arrived[column], codes[column] = _extend(index, values, uniques)
        # order every id set now, so that ids that cannot be ordered (ints mixed with strings) raise before any
        # state changes
        orders = {column: self._order(column, index) for column, index in arrived.items()}
        sizes = tuple(len(arrived[column]) for column in ("task", "worker", "label"))
        if self.model is None:
            self.model = self._build(*sizes)
        else:
            self.model.grow(*sizes)
        self._arrived, self._orders = arrived, orders
        self.model.add_many(codes["task"], codes["worker"], codes["label"])

    def _order(self, column: str, arrived: pd.Index) -> tuple[pd.Index, np.ndarray]:
        if column == "label" and self._declared_label_order:
            return arrived.rename(column), np.arange(len(arrived))
        ranks, ordered = _codes(pd.Series(arrived), column)
        order = np.empty_like(ranks)
        order[ranks] = np.arange(ranks.shape[0])
        return ordered, order

    def ids(self) -> tuple[EncodedAnswers, np.ndarray, np.ndarray, np.ndarray]:
        """(the ids as an :class:`EncodedAnswers` without answer codes, task order, worker order, label order)."""
        if self.model is None:
            raise AnswersError("no answers yet: call partial_fit with a table of answers first")
        (tasks, task_order), (workers, worker_order), (labels, label_order) = (
            self._orders[column] for column in ("task", "worker", "label")
        )
        empty = np.empty(0, dtype=np.int64)
        ids = EncodedAnswers(task=empty, worker=empty, label=empty, tasks=tasks, workers=workers, labels=labels)
        return ids, task_order, worker_order, label_order


def _plain(values: pd.Series) -> pd.Series:
    """A categorical id column as its plain values (the stream keeps its own codes)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.astype(values.cat.categories.dtype)
    return values


def _extend(index: pd.Index | None, values: pd.Series, uniques: pd.Index | None) -> tuple[pd.Index, np.ndarray]:
    """``index`` with the ids of ``values`` (and ``uniques``) it lacks appended, and the codes of ``values``."""
    if uniques is None:
        uniques = pd.Index(pd.unique(values))
    if index is None:
        index = uniques
    else:
        new = uniques[index.get_indexer(uniques) < 0]
        if len(new):
            index = index.append(new)
    return index, index.get_indexer(pd.Index(values)).astype(np.int64)
