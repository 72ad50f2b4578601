"""Gold majority vote: workers weighted by their (smoothed) accuracy on tasks whose true label is known."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Self

import numpy as np
import pandas as pd

from strategies.aggregation._agreement import agreement_counts, reference_codes
from strategies.aggregation.base import BaseClassificationAggregator, Setting, TieBreak, encode_answers
from strategies.aggregation.majority_vote import MajorityVote


@dataclass
class GoldMajorityVote(BaseClassificationAggregator):
    r"""Majority vote weighted by each worker's Laplace-smoothed accuracy on gold (control) tasks.

    With :math:`G_j` the gold tasks worker :math:`j` answered, :math:`g_i` their true labels,

    .. math::

        s_j = \frac{1 + \sum_{i \in G_j} [y_{ij} = g_i]}{2 + |G_j|}, \qquad
        \hat y_i = \arg\max_k \sum_{j \in W_i} s_j \, [y_{ij} = k]

    (Laplace's rule of succession: a uniform prior on the accuracy). A worker with no gold answer gets
    the prior mean :math:`s_j = 1/2`, so she still votes, with less weight than a worker proven accurate; a
    worker who got every gold task wrong keeps a small positive weight :math:`1/(2 + |G_j|)`. The voting itself is
    :class:`MajorityVote` with ``skills=skills_``, so ``probas_`` is the weighted share of votes and ties
    follow ``tie_break``.

    Differences from crowd-kit 1.4.2's ``GoldMajorityVote``, whose skill is the raw gold accuracy and which
    fails on a worker without gold answers: the smoothing above (with many gold answers per worker the two
    agree), and ``fit`` sets ``labels_`` and ``probas_`` for every task of ``data`` at once (crowd-kit's
    ``fit_predict``). Gold tasks are labelled by the weighted vote too, not copied from ``true_labels``, as in
    crowd-kit.

    ``fit(data, true_labels)``: ``true_labels`` is a Series task -> label. NaN entries and tasks not in
    ``data`` are ignored; a missing ``true_labels``, one that shares no task with ``data`` or gives a task two
    labels raises ``ValueError``. Duplicate answers of a worker to a gold task count separately.
    """

    settings: ClassVar[dict[str, Setting]] = {"tie_break": Setting(choices=("lowest", "random"))}

    tie_break: TieBreak = "lowest"
    random_state: int | np.random.Generator | None = 0

    labels_: pd.Series = field(init=False, repr=False)
    probas_: pd.DataFrame = field(init=False, repr=False)
    skills_: pd.Series = field(init=False, repr=False)

    requires_gold: ClassVar[bool] = True  # experiments pass the gold answers and labels (experiments.metrics)

    def fit(self, data: pd.DataFrame, true_labels: pd.Series | None = None) -> Self:
        answers = encode_answers(data)
        if true_labels is None:
            raise ValueError("GoldMajorityVote.fit needs true_labels: a Series task -> label for the gold tasks")
        if not isinstance(true_labels, pd.Series):
            raise ValueError(f"true_labels must be a pandas Series task -> label, got {type(true_labels).__name__}")
        gold = reference_codes(answers, true_labels)
        correct, answered = agreement_counts(answers, gold)
        if not answered.any():
            raise ValueError(
                "true_labels shares no task with data: no worker answered a gold task "
                f"(first gold tasks {list(true_labels.index[:5])}, "
                f"first data tasks {list(answers.tasks[:5])})"
            )
        self.skills_ = answers.worker_series((correct + 1.0) / (answered + 2.0))
        vote = MajorityVote(tie_break=self.tie_break, random_state=self.random_state).fit(data, skills=self.skills_)
        self.labels_ = vote.labels_
        self.probas_ = vote.probas_
        return self

    def fit_predict(self, data: pd.DataFrame, true_labels: pd.Series | None = None) -> pd.Series:
        return self.fit(data, true_labels).labels_

    def fit_predict_proba(self, data: pd.DataFrame, true_labels: pd.Series | None = None) -> pd.DataFrame:
        return self.fit(data, true_labels).probas_
