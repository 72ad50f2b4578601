"""Gold majority vote: workers weighted by their accuracy on tasks whose true label is known."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Self

import numpy as np
import pandas as pd

from strategies.aggregation.base import (
    BaseClassificationAggregator,
    Setting,
    TieBreak,
    check_answers,
    distinct_answers,
    encode_answers,
)
from strategies.aggregation.majority_vote import MajorityVote


@dataclass
class GoldMajorityVote(BaseClassificationAggregator):
    r"""Majority vote weighted by each worker's accuracy on gold (control) tasks, whose true label is known.

    With :math:`G_j` the gold tasks worker :math:`j` answered and :math:`A_i` the accepted labels of gold task
    :math:`i` (one, or several when ``true_labels`` lists a task more than once),

    .. math::

        s_j = \frac{\alpha + \sum_{i \in G_j} [y_{ij} \in A_i]}{2\alpha + |G_j|}, \qquad
        \hat y_i = \arg\max_k \sum_{j \in W_i} s_j \, [y_{ij} = k]

    with ``smoothing`` :math:`\alpha`: 0 (default) is crowd-kit's raw gold accuracy, 1 is Laplace's rule of
    succession (a uniform prior on the accuracy, so that one lucky gold answer does not give full weight). A
    worker's repeated identical answers to a gold task count once, as in crowd-kit. A worker with no gold answer
    gets the weight 1/2 (crowd-kit raises), so she still votes, with less weight than a worker proven accurate.
    The voting itself is :class:`MajorityVote` with ``skills=skills_``, so ``probas_`` is the weighted share of
    votes and ties follow ``tie_break``.

    ``fit(data, true_labels)``: ``true_labels`` is a Series task -> label (or a DataFrame with columns ``task``
    and ``label``); NaN entries and tasks not in ``data`` are ignored; a missing ``true_labels`` or one that
    shares no task with ``data`` raises ``ValueError``. ``fit`` also labels every task of ``data``;
    ``predict(data)`` and ``predict_proba(data)`` vote on new answers with the learned ``skills_`` (a worker not
    seen in ``fit`` weighs 1/2).
    """

    settings: ClassVar[dict[str, Setting]] = {
        "tie_break": Setting(choices=("lowest", "random")),
        "smoothing": Setting(float, 0.0),
    }

    tie_break: TieBreak = "lowest"
    random_state: int | np.random.Generator | None = 0
    smoothing: float = 0.0

    labels_: pd.Series = field(init=False, repr=False)
    probas_: pd.DataFrame = field(init=False, repr=False)
    skills_: pd.Series = field(init=False, repr=False)

    requires_gold: ClassVar[bool] = True  # experiments pass the gold answers and labels (experiments.metrics)

    def fit(self, data: pd.DataFrame, true_labels: pd.Series | pd.DataFrame | None = None) -> Self:
        answers = encode_answers(data)
        gold = _gold_series(true_labels)
        accepted = gold[gold.notna()]
        task_codes = answers.tasks.get_indexer(pd.Index(accepted.index))
        label_codes = answers.labels.get_indexer(pd.Index(accepted.to_numpy()))
        known = task_codes >= 0
        if not known.any():
            raise ValueError(
                "true_labels shares no task with data: no worker answered a gold task "
                f"(first gold tasks {list(gold.index[:5])}, first data tasks {list(answers.tasks[:5])})"
            )
        has_gold = np.zeros(answers.n_tasks, dtype=bool)
        has_gold[task_codes[known]] = True
        right_cells = set((task_codes * answers.n_labels + label_codes)[known & (label_codes >= 0)].tolist())
        task, worker, label = distinct_answers(answers)
        on_gold = has_gold[task]
        right = np.isin(task * answers.n_labels + label, np.fromiter(right_cells, dtype=np.int64))
        correct = np.bincount(worker, weights=on_gold & right, minlength=answers.n_workers)
        answered = np.bincount(worker, weights=on_gold, minlength=answers.n_workers)
        alpha = self.smoothing
        skills = np.divide(correct + alpha, answered + 2 * alpha, out=np.full(answers.n_workers, 0.5),
                           where=answered + 2 * alpha > 0)  # fmt: skip
        self.skills_ = answers.worker_series(skills)
        return self._apply(data)

    def predict(self, data: pd.DataFrame) -> pd.Series:
        return self._apply(data).labels_

    def predict_proba(self, data: pd.DataFrame) -> pd.DataFrame:
        return self._apply(data).probas_

    def _apply(self, data: pd.DataFrame) -> Self:
        vote = MajorityVote(tie_break=self.tie_break, random_state=self.random_state, on_missing_skill="value",
                            default_skill=0.5).fit(data, skills=self.skills_)  # fmt: skip
        self.labels_ = vote.labels_
        self.probas_ = vote.probas_
        return self

    def fit_predict(self, data: pd.DataFrame, true_labels: pd.Series | pd.DataFrame | None = None) -> pd.Series:
        return self.fit(data, true_labels).labels_

    def fit_predict_proba(
        self, data: pd.DataFrame, true_labels: pd.Series | pd.DataFrame | None = None
    ) -> pd.DataFrame:
        return self.fit(data, true_labels).probas_


def _gold_series(true_labels: pd.Series | pd.DataFrame | None) -> pd.Series:
    """``true_labels`` as a Series task -> label; a DataFrame needs columns ``task`` and ``label``."""
    if true_labels is None:
        raise ValueError("GoldMajorityVote.fit needs true_labels: a Series task -> label for the gold tasks")
    if isinstance(true_labels, pd.DataFrame):
        check_answers(true_labels, ("task", "label"), name="true_labels")
        return true_labels.set_index("task")["label"]
    if not isinstance(true_labels, pd.Series):
        raise ValueError(f"true_labels must be a pandas Series task -> label, got {type(true_labels).__name__}")
    return true_labels
