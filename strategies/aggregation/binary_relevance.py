"""Binary relevance: multi-label answers aggregated one label at a time by any categorical aggregator."""

from __future__ import annotations

import copy
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, Self

import pandas as pd

from strategies.aggregation.base import AnswersError, check_answers


@dataclass
class BinaryRelevance:
    """Multi-label aggregation by binary relevance (crowd-kit's ``BinaryRelevance``): each answer's ``label`` is a
    list (or set, or tuple) of labels; for every label seen, each answer becomes 1 if it holds that label and 0 if
    not, a copy of ``base_aggregator`` aggregates those binary answers, and a task's labels are those whose
    aggregate is 1, in sorted order.

    It treats the labels as independent, the assumption of binary relevance (Tsoumakas and Katakis, "Multi-Label
    Classification: An Overview", *International Journal of Data Warehousing and Mining* 3(3), 2007). Learned
    attributes: ``labels_`` (Series task -> list of labels, name ``agg_label``), ``aggregators_`` (label -> the
    fitted copy of ``base_aggregator``).
    """

    base_aggregator: Any

    labels_: pd.Series = field(init=False, repr=False)
    aggregators_: dict[Hashable, Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.base_aggregator, type):
            name = self.base_aggregator.__name__
            raise TypeError(f"base_aggregator must be an aggregator instance, e.g. {name}(), not the class {name}")
        if not hasattr(self.base_aggregator, "fit"):
            raise TypeError(f"base_aggregator must be an aggregator with fit(data), got {self.base_aggregator!r}")

    def fit(self, data: pd.DataFrame) -> Self:
        check_answers(data)
        label_sets = [_as_set(value, row) for row, value in enumerate(data["label"].tolist())]
        classes = _sorted(set().union(*label_sets))
        tasks = pd.unique(data["task"])
        chosen: dict[Hashable, list[Hashable]] = {task: [] for task in tasks}
        self.aggregators_ = {}
        for label in classes:
            binary = data[["task", "worker"]].assign(label=[int(label in labels) for labels in label_sets])
            aggregator = copy.deepcopy(self.base_aggregator)
            aggregator.fit(binary)
            self.aggregators_[label] = aggregator
            for task, value in aggregator.labels_.items():
                if value:
                    chosen[task].append(label)
        index = pd.Index(tasks, name="task")
        self.labels_ = pd.Series([chosen[task] for task in tasks], index=index, name="agg_label", dtype=object)
        return self

    def fit_predict(self, data: pd.DataFrame) -> pd.Series:
        return self.fit(data).labels_


def _as_set(value: Any, row: int) -> frozenset[Hashable]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise AnswersError(f"answers column 'label' must hold a list of labels per row; row {row} holds {value!r}")
    return frozenset(value)


def _sorted(labels: set[Hashable]) -> list[Hashable]:
    """Labels in their natural order, or by type and text when they do not compare (mixed types)."""
    try:
        return sorted(labels)  # type: ignore[type-var]
    except TypeError:
        return sorted(labels, key=lambda label: (type(label).__name__, str(label)))
