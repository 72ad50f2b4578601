"""Trimmed mean: each task's estimate is the mean of its answers after cutting a share of the extremes at each
end."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Self

import numpy as np
import pandas as pd

from strategies.aggregation.base import Setting
from strategies.aggregation.numeric_base import BaseNumericAggregator, encode_numeric, sort_by_task


@dataclass
class TrimmedMean(BaseNumericAggregator):
    r"""Trimmed mean per task with ``scipy.stats.trim_mean`` semantics, vectorised over all tasks.

    For a task with :math:`n` answers sorted :math:`x_{(1)} \le \dots \le x_{(n)}` and :math:`g = \lfloor p n
    \rfloor` (``proportion_to_cut`` :math:`p`), the estimate is

    .. math:: \hat x_i = \frac{1}{n - 2g} \sum_{r = g + 1}^{n - g} x_{(r)}

    so a task with fewer than :math:`1/p` answers is not trimmed at all (its plain mean). :math:`p = 0` is the
    mean; :math:`p` must be in :math:`[0, 0.5)`, where at least one answer always remains. Answers in column
    ``label``.
    """

    settings: ClassVar[dict[str, Setting]] = {"proportion_to_cut": Setting(float, 0.0, 0.5)}

    proportion_to_cut: float = 0.1

    labels_: pd.Series = field(init=False, repr=False)

    def fit(self, data: pd.DataFrame) -> Self:
        if not 0.0 <= self.proportion_to_cut < 0.5:
            raise ValueError(f"proportion_to_cut must be in [0, 0.5), got {self.proportion_to_cut}")
        answers = encode_numeric(data)
        ordered = sort_by_task(answers)
        cut = np.floor(self.proportion_to_cut * ordered.count).astype(np.int64)  # scipy: int(p * n) per end
        rank = ordered.rank
        kept = (rank >= cut[ordered.task]) & (rank < (ordered.count - cut)[ordered.task])
        n_tasks = answers.codes.n_tasks
        totals = np.bincount(ordered.task, weights=np.where(kept, ordered.value, 0.0), minlength=n_tasks)
        self.labels_ = answers.task_series(totals / (ordered.count - 2 * cut))
        return self
