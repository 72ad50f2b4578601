"""The aggregator contract and the shared encoding of answers to integer codes.

Every aggregator follows crowd-kit's interface (Ustalov et al., "Learning from Crowds with Crowd-Kit", JOSS 2024), so
that a crowd-kit aggregator works wherever ours is accepted and ours can replace theirs with a one-line import change:

* the constructor only stores hyperparameters (dataclass fields);
* ``fit(data)`` takes a long table with columns ``task, worker, label``, learns attributes ending in ``_`` and
  returns ``self``;
* ``labels_`` is a Series indexed by task (index name ``task``, series name ``agg_label``);
* ``probas_`` (categorical aggregators) is a task x label DataFrame whose rows sum to one;
* ``fit_predict`` and ``fit_predict_proba`` return ``labels_`` and ``probas_``.

Algorithms work on integer-coded numpy arrays: :func:`encode_answers` turns the table into codes once,
:func:`vote_counts` and friends are the vectorised building blocks, and :meth:`EncodedAnswers.label_series` /
:meth:`EncodedAnswers.proba_frame` map codes back to the caller's ids at the end.

Degenerate input, as documented once here for every aggregator: an empty table, a missing column and a NaN task,
worker or label raise :class:`AnswersError` naming the column. Duplicate answers of one worker to one task are kept and
count as separate votes (crowd-kit does the same). Labels may be ints or strings, but not a mix of both.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self

import numpy as np
import pandas as pd

TieBreak = Literal["lowest", "random"]
TIE_BREAKS: tuple[str, ...] = ("lowest", "random")

REQUIRED_COLUMNS: tuple[str, ...] = ("task", "worker", "label")


class AnswersError(ValueError):
    """Raised for malformed answer tables; the message names the offending column and what was expected."""


class MissingColumnError(AnswersError, KeyError):
    """A required column is missing: an :class:`AnswersError` that is also a ``KeyError``, the exception crowd-kit
    raises there (so ``except KeyError`` written for crowd-kit still works)."""

    __str__ = BaseException.__str__  # the message as written, not KeyError's quoted repr


def check_answers(data: Any, columns: Sequence[str] = REQUIRED_COLUMNS, name: str = "answers") -> pd.DataFrame:
    """Return ``data`` if it is a non-empty DataFrame holding ``columns`` without missing values, else raise."""
    if not isinstance(data, pd.DataFrame):
        raise AnswersError(f"{name} must be a pandas DataFrame with columns {list(columns)}, got {type(data).__name__}")
    duplicated = sorted({str(column) for column in data.columns[data.columns.duplicated()]})
    if duplicated:
        raise AnswersError(f"{name} has duplicate column(s) {duplicated}; each of {list(columns)} must appear once")
    missing = [column for column in columns if column not in data.columns]
    if missing:
        raise MissingColumnError(
            f"{name} is missing column(s) {missing}; expected columns {list(columns)}, found {list(data.columns)}"
        )
    if len(data) == 0:
        raise AnswersError(f"{name} is empty: at least one row with columns {list(columns)} is needed")
    for column in columns:
        n_missing = int(data[column].isna().sum())
        if n_missing:
            raise AnswersError(f"{name} column {column!r} has {n_missing} missing (NaN/None) value(s)")
    return data


# Integer ids spanning at most this many values per answer are encoded by counting instead of hashing.
_DENSE_RANGE_PER_ANSWER = 4
# Uniques of these inferred types argsort exactly as pandas' factorize(sort=True) orders them.
_ARGSORT_SAFE = frozenset({"string", "integer", "floating", "boolean"})


def _dense_integer_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Sorted-order codes of integer ``values`` by counting, or None when their range is too wide for it."""
    low, high = int(values.min()), int(values.max())
    span = high - low + 1
    if span > _DENSE_RANGE_PER_ANSWER * values.shape[0] + 1024:
        return None
    if values.dtype == np.uint64:  # may exceed the int64 range; the differences do not
        offsets = (values - np.uint64(low)).astype(np.intp)
    else:
        offsets = values.astype(np.intp, copy=False) - low
    present = np.zeros(span, dtype=bool)
    present[offsets] = True
    rank = np.cumsum(present, dtype=np.int64) - 1
    if values.dtype == np.uint64:
        uniques = np.flatnonzero(present).astype(np.uint64) + np.uint64(low)
    else:
        uniques = (np.flatnonzero(present) + low).astype(values.dtype, copy=False)
    return rank[offsets], uniques


def _factorize_sorted(values: pd.Series) -> tuple[np.ndarray, Any]:
    """``pd.factorize(values, sort=True)``, faster: count integers, else hash, then sort only the uniques."""
    if isinstance(values.dtype, np.dtype) and values.dtype.kind in "iu":
        dense = _dense_integer_codes(values.to_numpy())
        if dense is not None:
            return dense
    codes, uniques = pd.factorize(values, sort=False)
    if uniques.dtype == object and pd.api.types.infer_dtype(uniques, skipna=False) not in _ARGSORT_SAFE:
        return pd.factorize(values, sort=True)  # mixed types: pandas' own ordering (ints before strings)
    order = np.asarray(uniques.argsort(), dtype=np.intp)
    rank = np.empty(order.shape[0], dtype=np.int64)
    rank[order] = np.arange(order.shape[0], dtype=np.int64)
    return rank[codes], uniques.take(order)


def _codes(
    values: pd.Series, column: str, categories: Iterable[Hashable] | None = None, declared: bool = False
) -> tuple[np.ndarray, pd.Index]:
    """Integer codes of ``values`` and the sorted index of distinct values they point into.

    With ``declared`` (the label column) the categories of a categorical column count even where nobody chose them;
    elsewhere (task, worker ids) only the ids present do: an unused category is not a task or worker without
    answers, just a leftover of filtering.
    """
    if isinstance(values.dtype, pd.CategoricalDtype) and not declared:
        values = values.cat.remove_unused_categories()
    declared_by_dtype = categories is None and isinstance(values.dtype, pd.CategoricalDtype)
    if declared_by_dtype:
        categories = values.cat.categories  # a declared class that nobody chose keeps its column
    if categories is None:
        try:
            codes, uniques = _factorize_sorted(values)
        except TypeError as error:
            message = f"column {column!r} mixes types that cannot be ordered (e.g. ints and strings)"
            raise AnswersError(message) from error
        return codes.astype(np.int64, copy=False), pd.Index(uniques, name=column)
    index = pd.Index(list(categories), name=column)
    if declared_by_dtype:
        return values.cat.codes.to_numpy().astype(np.int64), index  # categories are the index, in order
    codes = index.get_indexer(pd.Index(values))
    if (codes < 0).any():
        unknown = pd.unique(values[codes < 0])[:5]
        raise AnswersError(f"column {column!r} holds values {list(unknown)} outside the declared {list(index)}")
    return codes.astype(np.int64, copy=False), index


@dataclass(frozen=True, eq=False)
class EncodedAnswers:
    """Answers as integer codes: ``task[a]``, ``worker[a]``, ``label[a]`` index into ``tasks``, ``workers``,
    ``labels``."""

    task: np.ndarray
    worker: np.ndarray
    label: np.ndarray
    tasks: pd.Index
    workers: pd.Index
    labels: pd.Index

    @property
    def n_answers(self) -> int:
        return int(self.task.shape[0])

    @property
    def n_tasks(self) -> int:
        return len(self.tasks)

    @property
    def n_workers(self) -> int:
        return len(self.workers)

    @property
    def n_labels(self) -> int:
        return len(self.labels)

    def label_series(self, codes: np.ndarray, name: str = "agg_label") -> pd.Series:
        """Map one label code per task back to the caller's label ids."""
        return pd.Series(self.labels.to_numpy()[codes], index=self.tasks.rename("task"), name=name)

    def proba_frame(self, probas: np.ndarray) -> pd.DataFrame:
        """A task x label DataFrame from a (n_tasks, n_labels) array whose rows sum to one."""
        return pd.DataFrame(probas, index=self.tasks.rename("task"), columns=self.labels.rename("label"))

    def worker_series(self, values: np.ndarray, name: str = "skill") -> pd.Series:
        return pd.Series(values, index=self.workers.rename("worker"), name=name)


def encode_answers(
    data: pd.DataFrame,
    labels: Iterable[Hashable] | None = None,
    label_column: str = "label",
) -> EncodedAnswers:
    """Validate ``data`` and encode its ``task``, ``worker`` and ``label_column`` columns as integer codes.

    ``labels`` declares the label set (for instance the task design's classes, so that a class nobody chose still gets
    a column in ``probas_``); by default it is the categories of a categorical label column, else the sorted set of
    labels seen.
    """
    check_answers(data, ("task", "worker", label_column))
    task, tasks = _codes(data["task"], "task")
    worker, workers = _codes(data["worker"], "worker")
    label, label_index = _codes(data[label_column], "label", labels, declared=True)
    return EncodedAnswers(task=task, worker=worker, label=label, tasks=tasks, workers=workers, labels=label_index)


def distinct_answers(answers: EncodedAnswers) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(task, worker, label) codes of the distinct answers: a worker's repeated identical answer to a task once."""
    cell = np.unique((answers.task * answers.n_workers + answers.worker) * answers.n_labels + answers.label)
    label, pair = cell % answers.n_labels, cell // answers.n_labels
    return pair // answers.n_workers, pair % answers.n_workers, label


def diagonal_prior(n_labels: int, diagonal: float, off_diagonal: float) -> np.ndarray:
    """A (K, K) matrix of Dirichlet pseudo-counts: ``diagonal`` for the right label, ``off_diagonal`` otherwise."""
    prior = np.full((n_labels, n_labels), off_diagonal)
    np.fill_diagonal(prior, diagonal)
    return prior


def vote_counts(answers: EncodedAnswers, weights: np.ndarray | None = None) -> np.ndarray:
    """(n_tasks, n_labels) sum of ``weights`` (default one) of the answers giving each label to each task."""
    flat = answers.task * answers.n_labels + answers.label
    counts = np.bincount(flat, weights=weights, minlength=answers.n_tasks * answers.n_labels)
    return counts.reshape(answers.n_tasks, answers.n_labels).astype(np.float64, copy=False)


def normalise_rows(scores: np.ndarray) -> np.ndarray:
    """Rows scaled to sum to one; an all-zero row becomes uniform rather than NaN."""
    totals = scores.sum(axis=1, keepdims=True)
    n_columns = scores.shape[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        normalised = np.where(totals > 0, scores / np.where(totals > 0, totals, 1.0), 1.0 / n_columns)
    return normalised


def argmax_rows(
    scores: np.ndarray,
    tie_break: TieBreak = "lowest",
    rng: np.random.Generator | None = None,
    rtol: float = 1e-12,
) -> np.ndarray:
    """Column index of each row's maximum, ties broken by ``tie_break``.

    ``"lowest"`` takes the lowest label code among the tied ones (deterministic); ``"random"`` picks uniformly among
    them with ``rng``. Scores within ``rtol`` (relative) of the row maximum count as tied, so that two labels whose
    posteriors differ only by floating-point noise are treated as the tie they are.
    """
    if tie_break not in TIE_BREAKS:
        raise ValueError(f"tie_break must be one of {list(TIE_BREAKS)}, got {tie_break!r}")
    row_max = scores.max(axis=1, keepdims=True)
    tied = scores >= row_max - rtol * np.abs(row_max)
    if tie_break == "lowest":
        return np.argmax(tied, axis=1)
    if rng is None:
        raise ValueError("tie_break='random' needs an rng (numpy Generator or seed)")
    keys = np.where(tied, rng.random(scores.shape), -1.0)
    return np.argmax(keys, axis=1)


def as_generator(seed: int | np.random.Generator | None) -> np.random.Generator:
    """``np.random.default_rng`` that passes a Generator through unchanged (SPEC 7)."""
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


class SettingError(ValueError):
    """A hyperparameter outside its accepted values; ``setting`` names it (the config key's last part)."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(message)
        self.setting = setting


@dataclass(frozen=True)
class Setting:
    """The accepted values of one hyperparameter: a number (``int`` or ``float``) in an interval, or a choice;
    ``optional`` admits None."""

    kind: type | None = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    choices: tuple[Any, ...] = ()
    optional: bool = False

    def check(self, name: str, value: Any) -> None:
        if value is None and self.optional:
            return
        if self.choices:
            if value not in self.choices:
                raise SettingError(name, f"{name} must be one of {list(self.choices)}, got {value!r}")
            return
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or (self.kind is int and not float(value).is_integer()) or not np.isfinite(value):
            raise SettingError(name, f"{name} must be {'an integer' if self.kind is int else 'a number'}"
                               f"{self._interval()}, got {value!r}")  # fmt: skip
        too_low = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        if too_low or (self.high is not None and value > self.high):
            kind = " an integer" if self.kind is int else ""
            raise SettingError(name, f"{name} must be{kind}{self._interval()}, got {value!r}")

    def _interval(self) -> str:
        if self.low is None and self.high is None:
            return ""
        if self.high is None:
            return f" > {self.low:g}" if self.low_open else f" >= {self.low:g}"
        left = "(" if self.low_open else "["
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf)" if self.high is None else f"{self.high:g}]"
        return f" in {left}{low}, {high}"


class BaseAggregator:
    """Common entry points; subclasses implement :meth:`fit` and set ``labels_``.

    ``settings`` declares the accepted values of the hyperparameters; they are checked when the aggregator is built,
    so that a wrong value fails at once with :class:`SettingError`, naming it, rather than deep inside ``fit``.
    """

    labels_: pd.Series
    settings: ClassVar[dict[str, Setting]] = {}

    def __post_init__(self) -> None:
        for name, setting in self.settings.items():
            setting.check(name, getattr(self, name))

    def fit(self, data: pd.DataFrame) -> Self:  # pragma: no cover - abstract
        raise NotImplementedError

    def fit_predict(self, data: pd.DataFrame) -> pd.Series:
        return self.fit(data).labels_


class BaseClassificationAggregator(BaseAggregator):
    """Categorical aggregators additionally expose ``probas_`` (task x label, rows sum to one)."""

    probas_: pd.DataFrame

    def fit_predict_proba(self, data: pd.DataFrame) -> pd.DataFrame:
        return self.fit(data).probas_


class BasePairwiseAggregator(BaseAggregator):
    """Pairwise aggregators (comparisons ``worker, left, right, label``) set ``scores_`` (item -> score), which
    ``fit_predict`` returns, as crowd-kit's do."""

    scores_: pd.Series

    def fit_predict(self, data: pd.DataFrame) -> pd.Series:
        return self.fit(data).scores_


def log_posteriors(log_joint: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posteriors from unnormalised log scores: ``(exp(log_joint) / row sum, log row sum)``, overflow-free.

    ``log_joint[i, k]`` is ``log P(task i's answers, true label k)``; the second array is each task's log marginal
    likelihood ``log sum_k P(answers, k)``, whose sum is the observed-data log-likelihood that EM increases. Rows must
    have at least one finite entry.
    """
    # column by column: numpy's reductions along a short last axis are ~10x slower than these elementwise passes
    n_labels = log_joint.shape[1]
    row_max = log_joint[:, 0].copy()
    for column in range(1, n_labels):
        np.maximum(row_max, log_joint[:, column], out=row_max)
    probas = np.exp(log_joint - row_max[:, None])
    totals = probas @ np.ones(n_labels)
    probas /= totals[:, None]
    return probas, row_max + np.log(totals)


def log_posteriors_class_major(log_joint: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`log_posteriors` for a class-major ``(..., n_labels, n_tasks)`` array, normalising over axis -2.

    Each class is one contiguous row, so the max, exp and sum are a few full-speed passes; ``log_joint`` is
    overwritten by the posteriors, which are returned with each task's log marginal likelihood ``(..., n_tasks)``.
    """
    row_max = log_joint.max(axis=-2)
    log_joint -= row_max[..., None, :]
    probas = np.exp(log_joint, out=log_joint)
    totals = probas.sum(axis=-2)
    probas /= totals[..., None, :]
    return probas, row_max + np.log(totals)
