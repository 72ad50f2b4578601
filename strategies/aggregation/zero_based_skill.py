"""Zero-Based Skill: weighted majority vote whose worker skills move step by step towards their agreement with
it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Self

import numpy as np
import pandas as pd

from strategies.aggregation._agreement import agreement_counts
from strategies.aggregation.base import (
    BaseClassificationAggregator,
    Setting,
    TieBreak,
    argmax_rows,
    as_generator,
    encode_answers,
    vote_counts,
)
from strategies.aggregation.majority_vote import MajorityVote


@dataclass
class ZeroBasedSkill(BaseClassificationAggregator):
    r"""Zero-Based Skill (ZBS), crowd-kit's definition (Ustalov et al., JOSS 2024,
    ``crowdkit.aggregation.ZeroBasedSkill``).

    Every worker starts with the same skill :math:`s^{(0)}_j = 1/K + \varepsilon` (``K`` labels, ``eps``).
    Iteration
    :math:`t = 1, \dots, T` (``n_iter``) takes the skill-weighted majority vote and moves each skill a
    gradient step on :math:`\tfrac12 (s_j - a_j)^2` towards the worker's agreement :math:`a_j` with that vote:

    .. math::

        \hat y^{(t)}_i = \arg\max_k \sum_{j \in W_i} s^{(t-1)}_j [y_{ij} = k], \qquad
        a^{(t)}_j = \frac{\sum_{i \in T_j} [y_{ij} = \hat y^{(t)}_i]}{|T_j|}, \qquad
        s^{(t)}_j = s^{(t-1)}_j + \eta_t \bigl(a^{(t)}_j - s^{(t-1)}_j\bigr)

    with learning rate :math:`\eta_t = \eta_0 \, \rho^{\lfloor t / m \rfloor}` (``lr_init``,
    ``lr_reduce_factor``, ``lr_steps_to_reduce``: the rate is multiplied by :math:`\rho` at the start of
    iterations :math:`m, 2m, \dots`). ``labels_`` and ``probas_`` are the majority vote weighted by the final
    ``skills_``.

    Semantics follow crowd-kit 1.4.2's code, not its docstring: all ``n_iter`` iterations always run (there is
    no early stop), and ``eps`` only lifts the initial skill off chance level; crowd-kit documents it as a
    "convergence threshold" but never compares anything with it. With the default ``lr_init=1`` the first step
    sets each skill to its Wawa agreement, so the initial value does not matter. The per-iteration vote uses
    the same building blocks as :class:`MajorityVote` (:func:`vote_counts`, :func:`argmax_rows`) on arrays
    encoded once; the final vote is :class:`MajorityVote` itself. ``K`` counts declared labels too (a
    categorical label column).
    """

    settings: ClassVar[dict[str, Setting]] = {
        "n_iter": Setting(int, 0),  # no iteration: majority vote with equal skills
        "lr_init": Setting(float, 0.0, low_open=True),
        "lr_steps_to_reduce": Setting(int, 1),
        "lr_reduce_factor": Setting(float, 0.0, 1.0, low_open=True),
        "eps": Setting(float, 0.0),
        "tie_break": Setting(choices=("lowest", "random")),
    }

    n_iter: int = 100
    lr_init: float = 1.0
    lr_steps_to_reduce: int = 20
    lr_reduce_factor: float = 0.5
    eps: float = 1e-5
    tie_break: TieBreak = "lowest"
    random_state: int | np.random.Generator | None = 0

    labels_: pd.Series = field(init=False, repr=False)
    probas_: pd.DataFrame = field(init=False, repr=False)
    skills_: pd.Series = field(init=False, repr=False)

    def fit(self, data: pd.DataFrame) -> Self:
        if self.n_iter < 0 or self.lr_steps_to_reduce < 1:
            raise ValueError(
                f"need n_iter >= 0 and lr_steps_to_reduce >= 1, got {self.n_iter}, {self.lr_steps_to_reduce}"
            )
        answers = encode_answers(data)
        rng = as_generator(self.random_state) if self.tie_break == "random" else None
        skills = np.full(answers.n_workers, 1.0 / answers.n_labels + self.eps)
        answered = np.bincount(answers.worker, minlength=answers.n_workers).astype(np.float64)
        learning_rate = self.lr_init
        for iteration in range(1, self.n_iter + 1):
            if iteration % self.lr_steps_to_reduce == 0:
                learning_rate *= self.lr_reduce_factor
            aggregate = argmax_rows(vote_counts(answers, skills[answers.worker]), self.tie_break, rng)
            correct, _ = agreement_counts(answers, aggregate)
            skills += learning_rate * (correct / answered - skills)
        self.skills_ = answers.worker_series(skills)
        vote = MajorityVote(tie_break=self.tie_break, random_state=rng if rng is not None else self.random_state)
        vote.fit(data, skills=self.skills_)
        self.labels_ = vote.labels_
        self.probas_ = vote.probas_
        return self
