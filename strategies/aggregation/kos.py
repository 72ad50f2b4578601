"""KOS: Karger, Oh and Shah's message passing for binary labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Self

import numpy as np
import pandas as pd
from scipy.special import expit

from strategies.aggregation.base import BaseClassificationAggregator, Setting, as_generator, encode_answers


@dataclass
class KOS(BaseClassificationAggregator):
    r"""KOS iterative inference for binary labels (belief-propagation-like messages on the task-worker graph).

    Code the two labels as :math:`A_{ij} = -1` (the lower label in sort order) and :math:`+1` (the higher one).
    Each answer (edge :math:`i - j`) carries a task message :math:`x_{i \to j}` and a worker message
    :math:`y_{j \to i}`, the latter started at :math:`\mathcal{N}(1, 1)` draws from ``random_state``. Each of the
    ``n_iter`` iterations updates, leaving out the edge's own contribution,

    .. math::
        x_{i \to j} = \sum_{j' \in \partial i \setminus j} A_{ij'} \, y_{j' \to i},
        \qquad
        y_{j \to i} = \sum_{i' \in \partial j \setminus i} A_{i'j} \, x_{i' \to j},

    and the label is the sign of :math:`x_i = \sum_{j \in \partial i} A_{ij} \, y_{j \to i}`. The updates are
    linear, so messages grow geometrically; dividing each half-step's messages by their root mean square (a
    positive constant, which changes no sign) keeps them of order one, so they cannot overflow for any
    ``n_iter``. Both sums are ``np.bincount`` passes over the answers.

    D. R. Karger, S. Oh and D. Shah, "Iterative Learning for Reliable Crowdsourcing Systems", *Advances in Neural
    Information Processing Systems 24* (NIPS 2011), 1953-1961; and "Budget-Optimal Task Allocation for Reliable
    Crowdsourcing Systems", *Operations Research* 62(1), 1-24, 2014. https://doi.org/10.1287/opre.2013.1235

    KOS has no probabilistic model, so ``probas_`` is a squashed score, not a calibrated posterior: the higher
    label gets :math:`\sigma(x_i / \bar{|x|})` (logistic of the score divided by its mean absolute value over
    tasks) and the lower label the rest; rows sum to one, and the label with the larger share is ``labels_``.
    A task whose score is exactly 0 (for example when every task has a single answer, so every message is empty)
    gets 1/2 each and its label from majority vote, then the lower label. More than two labels raise
    ``ValueError``; a single label seen (and declared) makes every task that label.
    """

    binary_only: ClassVar[bool] = True  # experiments refuse it on more than two classes

    settings: ClassVar[dict[str, Setting]] = {"n_iter": Setting(int, 1)}

    n_iter: int = 10
    random_state: int | np.random.Generator | None = 0

    labels_: pd.Series = field(init=False, repr=False)
    probas_: pd.DataFrame = field(init=False, repr=False)

    def fit(self, data: pd.DataFrame) -> Self:
        answers = encode_answers(data)
        if answers.n_labels > 2:
            raise ValueError(f"KOS is for binary labels; found {answers.n_labels} labels {list(answers.labels)[:10]}")
        if self.n_iter < 0:
            raise ValueError(f"n_iter must be non-negative, got {self.n_iter}")
        if answers.n_labels == 1:
            self.labels_ = answers.label_series(np.zeros(answers.n_tasks, dtype=np.int64))
            self.probas_ = answers.proba_frame(np.ones((answers.n_tasks, 1)))
            return self
        sign = 2.0 * answers.label - 1.0
        scores = task_scores(
            answers.task,
            answers.worker,
            sign,
            answers.n_tasks,
            answers.n_workers,
            self.n_iter,
            as_generator(self.random_state),
        )
        votes = np.bincount(answers.task, weights=sign, minlength=answers.n_tasks)
        decided = np.where(scores != 0, scores, votes)
        self.labels_ = answers.label_series((decided > 0).astype(np.int64))
        scale = np.abs(scores).mean()
        higher = expit(scores / scale) if scale > 0 else np.full(answers.n_tasks, 0.5)
        self.probas_ = answers.proba_frame(np.column_stack([1.0 - higher, higher]))
        return self


def task_scores(
    task: np.ndarray,
    worker: np.ndarray,
    sign: np.ndarray,
    n_tasks: int,
    n_workers: int,
    n_iter: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """KOS score :math:`x_i` of each task after ``n_iter`` rounds of normalised edge messages."""
    worker_messages = np.asarray(rng.normal(1.0, 1.0, task.shape[0]))
    for _ in range(n_iter):
        weighted = sign * worker_messages
        task_messages = _normalised(np.bincount(task, weights=weighted, minlength=n_tasks)[task] - weighted)
        weighted = sign * task_messages
        worker_messages = _normalised(np.bincount(worker, weights=weighted, minlength=n_workers)[worker] - weighted)
    return np.bincount(task, weights=sign * worker_messages, minlength=n_tasks)


def _normalised(messages: np.ndarray) -> np.ndarray:
    """Messages divided by their root mean square (unchanged when all are zero)."""
    mean_square = float(np.mean(messages * messages))
    return messages / np.sqrt(mean_square) if mean_square > 0 else messages
