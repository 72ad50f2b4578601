"""Shared contract and encoding of the numeric-answer aggregators (Mean, Median, TrimmedMean, CATD).

Numeric aggregators take the same long table as the categorical ones, columns ``task, worker, label``, where
``label`` holds numbers (crowd-kit keeps numeric and text outputs in an ``output`` column; our tables always
call the answer ``label``, so that is the column read here). ``labels_`` is a float Series indexed by task
(index name ``task``, name ``agg_label``); there is no ``probas_``. A non-numeric (or boolean) ``label``
column, or an infinite value in it, raises :class:`AnswersError` naming the column; empty tables, missing
columns and NaN follow :func:`check_answers`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from strategies.aggregation.base import (
    AnswersError,
    BaseAggregator,
    EncodedAnswers,
    check_answers,
    encode_answers,
)


@dataclass(frozen=True, eq=False)
class NumericAnswers:
    """Task and worker codes (``codes.task``, ``codes.worker``) of each answer and its float ``value``."""

    codes: EncodedAnswers
    value: np.ndarray

    def task_series(self, values: np.ndarray, name: str = "agg_label") -> pd.Series:
        return pd.Series(values, index=self.codes.tasks.rename("task"), name=name)


def encode_numeric(data: pd.DataFrame, label_column: str = "label") -> NumericAnswers:
    """Validate ``data`` (numeric, finite ``label_column``) and encode tasks and workers as integer codes."""
    check_answers(data, ("task", "worker", label_column))
    column = data[label_column]
    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        raise AnswersError(
            f"column {label_column!r} must hold numbers for a numeric aggregator, got dtype {column.dtype}"
        )
    codes = encode_answers(data, label_column=label_column)
    value = codes.labels.to_numpy(dtype=np.float64)[codes.label]
    if not np.isfinite(value).all():
        raise AnswersError(f"column {label_column!r} holds infinite values")
    return NumericAnswers(codes=codes, value=value)


def task_means(answers: NumericAnswers, weights: np.ndarray | None = None) -> np.ndarray:
    """(n_tasks,) mean of each task's answers, weighted by ``weights`` (per answer, positive) if given."""
    codes = answers.codes
    weights = np.ones(codes.n_answers) if weights is None else weights
    totals = np.bincount(codes.task, weights=weights * answers.value, minlength=codes.n_tasks)
    return totals / np.bincount(codes.task, weights=weights, minlength=codes.n_tasks)


@dataclass(frozen=True, eq=False)
class SortedByTask:
    """Answer values sorted by (task, value): ``value``, its ``task`` codes, each task's ``start`` offset and
    ``count``."""

    value: np.ndarray
    task: np.ndarray
    start: np.ndarray
    count: np.ndarray

    @property
    def rank(self) -> np.ndarray:
        """Position of each sorted value within its task (0 = the task's smallest answer)."""
        return np.arange(self.value.shape[0]) - self.start[self.task]


def sort_by_task(answers: NumericAnswers) -> SortedByTask:
    order = np.lexsort((answers.value, answers.codes.task))
    task = answers.codes.task[order]
    count = np.bincount(task, minlength=answers.codes.n_tasks)
    start = np.concatenate(([0], np.cumsum(count)[:-1]))
    return SortedByTask(value=answers.value[order], task=task, start=start, count=count)


class BaseNumericAggregator(BaseAggregator):
    """Numeric aggregators: ``fit(data)`` sets ``labels_``, a float Series task -> estimate; ``fit_predict``
    returns it."""

    labels_: pd.Series
