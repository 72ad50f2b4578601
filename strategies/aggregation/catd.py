"""CATD: confidence-aware truth discovery, a worker-reliability-weighted mean for numeric answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Self

import numpy as np
import pandas as pd
from scipy.special import chdtri

from strategies.aggregation.base import Setting
from strategies.aggregation.numeric_base import (
    BaseNumericAggregator,
    encode_numeric,
    sort_by_task,
    task_means,
)


@dataclass
class CATD(BaseNumericAggregator):
    r"""Confidence-Aware Truth Discovery (Li, Li, Gao, Su, Zhao, Demirbas, Fan, Han, "A Confidence-Aware
    Approach for Truth Discovery on Long-Tail Data", PVLDB 8(4):425-436, 2014, doi:10.14778/2735496.2735505).

    Worker :math:`j`'s answers are modelled as the truth plus Gaussian noise of variance :math:`\sigma_j^2`;
    the ideal weight is :math:`1/\sigma_j^2`. Its plug-in estimate is unreliable for a worker with few answers
    (the long tail), so CATD uses the upper end of the :math:`(1-\alpha)` confidence interval of
    :math:`\sigma_j^2` instead. With :math:`T_j` the tasks worker :math:`j` answered,
    :math:`\sum_{i \in T_j} (x_{ij} - x_i^*)^2 / \sigma_j^2 \sim \chi^2_{|T_j|}`, which gives

    .. math::

        w_j = \frac{\chi^2_{\alpha/2}(|T_j|)}{\sum_{i \in T_j} (x_{ij} - \hat x_i)^2 + \epsilon}, \qquad
        \hat x_i = \frac{\sum_{j \in W_i} w_j x_{ij}}{\sum_{j \in W_i} w_j}

    where :math:`\chi^2_{\alpha/2}(n)` is the lower :math:`\alpha/2` quantile of the chi-square distribution
    with :math:`n` degrees of freedom (the paper writes it :math:`\chi^2_{(1-\alpha/2, |T_j|)}`, upper-tail
    notation). Its ratio to :math:`n` grows towards one with :math:`n`, so of two workers with the same mean
    squared error the one with fewer answers gets the smaller weight. The two updates alternate from the
    per-task median (as the reference implementation of Zheng et al., PVLDB 2017, does) until no estimate
    moves by more than ``tol`` (in label units) or ``n_iter`` rounds have run. ``epsilon`` keeps the weight of
    a worker who matches the estimates exactly finite (a worker alone on her tasks, for instance). ``skills_``
    holds the final weights scaled to sum to one; ``n_iter_`` the number of rounds run. Answers in column
    ``label`` (see ``numeric_base``).
    """

    settings: ClassVar[dict[str, Setting]] = {
        "alpha": Setting(float, 0.0, 1.0, low_open=True),
        "n_iter": Setting(int, 1),
        "tol": Setting(float, 0.0),
        "epsilon": Setting(float, 0.0, low_open=True),
    }

    alpha: float = 0.05
    n_iter: int = 100
    tol: float = 1e-6
    epsilon: float = 1e-9

    labels_: pd.Series = field(init=False, repr=False)
    skills_: pd.Series = field(init=False, repr=False)
    n_iter_: int = field(init=False, repr=False)

    def fit(self, data: pd.DataFrame) -> Self:
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        answers = encode_numeric(data)
        codes = answers.codes
        ordered = sort_by_task(answers)
        estimates = (  # per-task median as the starting point
            ordered.value[ordered.start + (ordered.count - 1) // 2] + ordered.value[ordered.start + ordered.count // 2]
        ) / 2.0
        n_answered = np.bincount(codes.worker, minlength=codes.n_workers)
        confidence = chdtri(n_answered, 1.0 - self.alpha / 2.0)  # chi2.ppf(alpha / 2, n), without scipy.stats
        weights = np.ones(codes.n_workers)
        self.n_iter_ = 0
        for _ in range(self.n_iter):
            squared_error = np.bincount(
                codes.worker, weights=(answers.value - estimates[codes.task]) ** 2, minlength=codes.n_workers
            )
            weights = confidence / (squared_error + self.epsilon)
            weights /= weights.sum()
            updated = task_means(answers, weights[codes.worker])
            self.n_iter_ += 1
            shift = np.max(np.abs(updated - estimates))
            estimates = updated
            if shift <= self.tol:
                break
        self.labels_ = answers.task_series(estimates)
        self.skills_ = codes.worker_series(weights)
        return self
