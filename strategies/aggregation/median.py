"""Median: each task's estimate is the median of its numeric answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Self

import pandas as pd

from strategies.aggregation.numeric_base import BaseNumericAggregator, encode_numeric, sort_by_task


@dataclass
class Median(BaseNumericAggregator):
    r"""Median of the numeric answers per task (the mean of the two middle answers for an even count, as
    ``np.median``).

    .. math:: \hat x_i = \operatorname{median}\{x_{ij} : j \in W_i\}

    Robust to up to half the answers being arbitrary outliers. Vectorised: one sort of all answers by (task,
    value), then the middle elements are read at each task's offset. Answers in column ``label`` (see
    ``numeric_base``).
    """

    labels_: pd.Series = field(init=False, repr=False)

    def fit(self, data: pd.DataFrame) -> Self:
        answers = encode_numeric(data)
        ordered = sort_by_task(answers)
        lower = ordered.value[ordered.start + (ordered.count - 1) // 2]
        upper = ordered.value[ordered.start + ordered.count // 2]
        self.labels_ = answers.task_series((lower + upper) / 2.0)
        return self
