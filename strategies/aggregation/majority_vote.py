"""Majority vote: each task gets the label most workers gave it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Self

import numpy as np
import pandas as pd

from strategies.aggregation.base import (
    BaseClassificationAggregator,
    TieBreak,
    argmax_rows,
    as_generator,
    encode_answers,
    normalise_rows,
    vote_counts,
)


@dataclass
class MajorityVote(BaseClassificationAggregator):
    r"""Majority vote, optionally weighted per worker.

    .. math:: \hat y_i = \arg\max_k \sum_{j \in W_i} w_j \, [y_{ij} = k]

    ``probas_`` is the (weighted) share of votes per label. Ties are broken by ``tie_break``: ``"lowest"`` (default,
    deterministic: the lowest label in sort order) or ``"random"`` (uniform among the tied labels, drawn from
    ``random_state``). Papers that score majority vote with "random ties" give 1/m credit to an m-way tie; that is the
    expectation of ``"random"``.

    ``fit(data, skills=None)``: ``skills`` is an optional Series of worker weights (indexed by worker; crowd-kit's
    signature), for example accuracies on gold questions.
    """

    tie_break: TieBreak = "lowest"
    random_state: int | np.random.Generator | None = 0
    default_skill: float | None = None

    labels_: pd.Series = field(init=False, repr=False)
    probas_: pd.DataFrame = field(init=False, repr=False)

    def fit(self, data: pd.DataFrame, skills: pd.Series | None = None) -> Self:
        answers = encode_answers(data)
        weights = None
        if skills is not None:
            aligned = skills.reindex(answers.workers)
            if aligned.isna().any():
                if self.default_skill is None:
                    missing = list(answers.workers[aligned.isna().to_numpy()][:5])
                    raise ValueError(f"skills has no weight for worker(s) {missing}; pass default_skill to fill them")
                aligned = aligned.fillna(self.default_skill)
            values = aligned.to_numpy(dtype=np.float64)
            if not (np.isfinite(values) & (values >= 0)).all():
                bad = list(answers.workers[~(np.isfinite(values) & (values >= 0))][:5])
                raise ValueError(f"skills must be finite and non-negative (vote weights); worker(s) {bad} are not")
            weights = values[answers.worker]
        counts = vote_counts(answers, weights)
        rng = as_generator(self.random_state) if self.tie_break == "random" else None
        self.labels_ = answers.label_series(argmax_rows(counts, self.tie_break, rng))
        self.probas_ = answers.proba_frame(normalise_rows(counts))
        return self
