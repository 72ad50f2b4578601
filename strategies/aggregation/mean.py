"""Mean: each task's estimate is the average of its numeric answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Self

import pandas as pd

from strategies.aggregation.numeric_base import BaseNumericAggregator, encode_numeric, task_means


@dataclass
class Mean(BaseNumericAggregator):
    r"""Arithmetic mean of the numeric answers per task, :math:`\hat x_i = \frac{1}{|W_i|} \sum_{j \in W_i}
    x_{ij}`.

    The least-squares estimate, optimal for unbiased Gaussian noise of equal variance, and sensitive to
    outliers (see :class:`Median`, :class:`TrimmedMean`, :class:`CATD`). Answers in column ``label`` (see
    ``numeric_base``). Duplicate answers count separately.
    """

    labels_: pd.Series = field(init=False, repr=False)

    def fit(self, data: pd.DataFrame) -> Self:
        answers = encode_numeric(data)
        self.labels_ = answers.task_series(task_means(answers))
        return self
