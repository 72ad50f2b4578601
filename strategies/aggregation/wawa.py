"""Wawa (worker agreement with aggregate): majority vote weighted by each worker's agreement with majority
vote."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Self

import numpy as np
import pandas as pd

from strategies.aggregation._agreement import agreement_counts, reference_codes
from strategies.aggregation.base import BaseClassificationAggregator, Setting, TieBreak, encode_answers
from strategies.aggregation.majority_vote import MajorityVote


@dataclass
class Wawa(BaseClassificationAggregator):
    r"""Worker Agreement With Aggregate, crowd-kit's definition (Ustalov et al., JOSS 2024,
    ``crowdkit.aggregation.Wawa``).

    Three steps: the plain majority vote :math:`\tilde y_i`; each worker's skill, the share of her answers
    that agree with it; and a majority vote weighted by those skills:

    .. math::

        s_j = \frac{\sum_{i \in T_j} [y_{ij} = \tilde y_i]}{|T_j|}, \qquad
        \hat y_i = \arg\max_k \sum_{j \in W_i} s_j \, [y_{ij} = k]

    Both votes are :class:`MajorityVote` (the second with ``skills=skills_``), with the same ``tie_break`` and
    ``random_state``; ``probas_`` is the weighted share of votes. Duplicate answers count separately in both
    steps. A task whose only workers all have skill zero gets uniform ``probas_`` and the tie-broken label
    (crowd-kit gives NaN probabilities there). A single worker, or unanimous answers, give every worker skill
    one and reproduce the majority vote.
    """

    settings: ClassVar[dict[str, Setting]] = {"tie_break": Setting(choices=("lowest", "random"))}

    tie_break: TieBreak = "lowest"
    random_state: int | np.random.Generator | None = 0

    labels_: pd.Series = field(init=False, repr=False)
    probas_: pd.DataFrame = field(init=False, repr=False)
    skills_: pd.Series = field(init=False, repr=False)

    def fit(self, data: pd.DataFrame) -> Self:
        answers = encode_answers(data)
        majority = MajorityVote(tie_break=self.tie_break, random_state=self.random_state).fit(data)
        correct, answered = agreement_counts(answers, reference_codes(answers, majority.labels_))
        self.skills_ = answers.worker_series(correct / answered)  # every worker answered at least one task
        vote = MajorityVote(tie_break=self.tie_break, random_state=self.random_state).fit(data, skills=self.skills_)
        self.labels_ = vote.labels_
        self.probas_ = vote.probas_
        return self
