"""The oracle: the Bayes posterior of each task's label under a known answer model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, Self

import numpy as np
import pandas as pd

from strategies.aggregation.base import (
    BaseClassificationAggregator,
    argmax_rows,
    encode_answers,
    log_posteriors,
)

LogJoint = Callable[[pd.DataFrame], pd.DataFrame]


@dataclass
class Oracle(BaseClassificationAggregator):
    r"""The Bayes posterior of each task's label when the answer model is known.

    .. math:: P(z_i = k \mid y) = \frac{P(z_i = k, y_i)}{\sum_{k'} P(z_i = k', y_i)}

    ``fit(data, log_joint)``: ``log_joint(data)`` returns a task x label DataFrame of :math:`\log P(z_i = k, y_i)`
    (up to a constant per task) for the answers in ``data``. A simulated campaign provides it:
    ``Oracle().fit(result.worker_answers(), log_joint=result.log_joint)`` is the posterior under the simulator's
    true answer model (:mod:`sim.oracle`), the upper bound no aggregator beats in expectation; experiments pass it
    automatically (``requires_model``). Ties go to the lowest label.
    """

    requires_model: ClassVar[bool] = True

    labels_: pd.Series = field(init=False, repr=False)
    probas_: pd.DataFrame = field(init=False, repr=False)

    def fit(self, data: pd.DataFrame, log_joint: LogJoint | None = None) -> Self:
        answers = encode_answers(data)
        if log_joint is None:
            raise ValueError(
                "Oracle needs the answer model: fit(data, log_joint=...), e.g. log_joint=result.log_joint for a "
                "campaign simulated with sim.simulate"
            )
        joint = log_joint(data)
        missing_tasks = answers.tasks.difference(joint.index)
        if len(missing_tasks):
            raise ValueError(f"log_joint gave no row for task(s) {list(missing_tasks[:5])}")
        aligned = joint.reindex(index=answers.tasks, columns=answers.labels).to_numpy(dtype=np.float64)
        aligned = np.where(np.isnan(aligned), -np.inf, aligned)  # a label the model does not know is impossible
        impossible = ~np.isfinite(aligned).any(axis=1)
        aligned[impossible] = 0.0  # no label fits the model: uniform rather than NaN
        probas, _ = log_posteriors(aligned)
        self.probas_ = answers.proba_frame(probas)
        self.labels_ = answers.label_series(argmax_rows(probas))
        return self

    def fit_predict(self, data: pd.DataFrame, log_joint: LogJoint | None = None) -> pd.Series:
        return self.fit(data, log_joint).labels_

    def fit_predict_proba(self, data: pd.DataFrame, log_joint: LogJoint | None = None) -> pd.DataFrame:
        return self.fit(data, log_joint).probas_
