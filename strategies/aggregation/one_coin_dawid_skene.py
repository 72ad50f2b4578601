"""One-coin Dawid-Skene: each worker has one skill, the probability of giving the right label."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from strategies.aggregation._em import EMResult
from strategies.aggregation.base import EncodedAnswers
from strategies.aggregation.dawid_skene import DawidSkene


@dataclass
class OneCoinDawidSkene(DawidSkene):
    r"""One-coin Dawid-Skene: the Dawid-Skene model with each confusion matrix reduced to one skill.

    Worker :math:`j` gives the true label with probability :math:`s_j` and otherwise one of the :math:`K - 1`
    wrong labels uniformly:

    .. math::
        e^j_{lc} = \begin{cases} s_j & l = c \\ \frac{1 - s_j}{K - 1} & l \ne c \end{cases},
        \qquad
        s_j = \frac{K\alpha + \sum_{i \in T_j} \Pr(z_i = y_{ij} \mid y)}{K^2\alpha + |T_j|}.

    The E-step, the priors, the soft majority-vote start, the stopping rule and the known (gold) labels are
    those of :class:`DawidSkene` (one shared EM driver); only the M-step differs: the skill is the worker's
    expected accuracy under the current posteriors, with the same additive smoothing :math:`\alpha` put on
    every cell of the worker's expected confusion counts, which shrinks the skill of a worker with few
    answers towards :math:`1/K` and keeps it strictly between 0 and 1.

    Y. Zhang, X. Chen, D. Zhou and M. I. Jordan, "Spectral Methods Meet EM: A Provably Optimal Algorithm for
    Crowdsourcing", *Journal of Machine Learning Research* 17(102), 1-44, 2016, the reference crowd-kit gives
    for this model. https://jmlr.org/papers/v17/14-511.html

    Learned attributes as :class:`DawidSkene` (``labels_``, ``probas_``, ``priors_``, ``errors_`` in
    crowd-kit's layout, ``loss_history_``) plus ``skills_``: a Series of :math:`s_j` indexed by worker, name
    ``skill``; ``partial_fit`` and ``online_model`` as :class:`DawidSkene`'s, with this M-step.
    """

    smoothing: float = 0.01  # kept: one skill per worker from few answers needs it more than a full confusion matrix

    skills_: pd.Series = field(init=False, repr=False)

    def _learned(self, answers: EncodedAnswers, result: EMResult) -> None:
        super()._learned(answers, result)
        self.skills_ = answers.worker_series(np.exp(result.log_confusions[:, 0, 0]))

    def _log_confusions(self, counts: np.ndarray) -> np.ndarray:
        """M-step: one smoothed skill per worker from the expected counts ``[worker, label, class]``."""
        n_labels = counts.shape[1]
        if n_labels == 1:
            return np.zeros_like(counts)  # one label: every answer is certain
        alpha = self.smoothing
        correct = np.trace(counts, axis1=1, axis2=2) + n_labels * alpha
        total = counts.sum(axis=(1, 2)) + n_labels * n_labels * alpha
        with np.errstate(divide="ignore", invalid="ignore"):
            skill = np.where(total > 0, correct / np.where(total > 0, total, 1.0), 1.0 / n_labels)
            log_right = np.log(skill)
            log_wrong = np.log1p(-skill) - np.log(n_labels - 1)
        diagonal = np.eye(n_labels, dtype=bool)
        return np.where(diagonal, log_right[:, None, None], log_wrong[:, None, None])
