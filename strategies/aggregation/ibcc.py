"""Independent Bayesian classifier combination (IBCC): Dawid-Skene with Dirichlet priors, by variational Bayes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy.special import digamma

from strategies.aggregation.base import Setting, diagonal_prior
from strategies.aggregation.dawid_skene import DawidSkene


@dataclass
class IBCC(DawidSkene):
    r"""IBCC: the Dawid-Skene model with a Dirichlet prior on every row of every worker's confusion matrix, fitted
    by mean-field variational Bayes.

    Worker :math:`j`'s answers to a task of class :math:`c` follow :math:`\pi^j_{c} \sim
    \mathrm{Dirichlet}(\beta_c)`, with prior pseudo-counts :math:`\beta_{cl} = ` ``prior_diagonal`` for the right
    label :math:`l = c` and ``prior_off_diagonal`` for each wrong one; the class proportions get ``smoothing``
    pseudo-counts. Variational Bayes alternates

    .. math::
        q(z_i = c) \propto p_c \prod_{j \in W_i} \exp \mathbb{E}[\log \pi^j_{c, y_{ij}}],
        \qquad
        \mathbb{E}[\log \pi^j_{cl}] = \psi(\beta_{cl} + N^j_{cl}) - \psi\big(\textstyle\sum_{l'} \beta_{cl'} +
        N^j_{cl'}\big),

    with :math:`N^j_{cl} = \sum_i q(z_i = c)[y_{ij} = l]` the expected counts and :math:`\psi` the digamma
    function. It is :class:`DawidSkene`'s EM driver (soft majority-vote start, stopping rule, known labels,
    online model) with this step in place of the normalised counts; the class proportions are the driver's
    smoothed point estimate. A worker with few answers keeps a confusion near the prior, which rates the right
    label ``prior_diagonal / prior_off_diagonal`` times more likely than each wrong one.

    H.-C. Kim and Z. Ghahramani, "Bayesian Classifier Combination", *Proceedings of the Fifteenth International
    Conference on Artificial Intelligence and Statistics (AISTATS)*, PMLR 22, 619-627, 2012.
    https://proceedings.mlr.press/v22/kim12.html. The default pseudo-counts (4 right, 1 wrong) are those of Li,
    Rubinstein and Cohn's IBCC baseline (ICML 2019).

    Learned attributes as :class:`DawidSkene`'s; ``errors_`` holds :math:`\exp \mathbb{E}[\log \pi]`, which sums to
    slightly less than one per true class.
    """

    settings: ClassVar[dict[str, Setting]] = {
        **DawidSkene.settings,
        "prior_diagonal": Setting(float, 0.0, low_open=True),
        "prior_off_diagonal": Setting(float, 0.0, low_open=True),
    }

    n_iter: int = 500
    tol: float = 1e-7
    smoothing: float = 1.0
    prior_diagonal: float = 4.0
    prior_off_diagonal: float = 1.0

    def _log_confusions(self, counts: np.ndarray) -> np.ndarray:
        """Variational step: :math:`\\mathbb{E}[\\log \\pi]` ``[worker, answered label, true class]`` from expected
        counts plus the prior pseudo-counts."""
        n_labels = counts.shape[1]
        prior = diagonal_prior(n_labels, self.prior_diagonal, self.prior_off_diagonal)
        posterior = counts + prior[None]
        return digamma(posterior) - digamma(posterior.sum(axis=1, keepdims=True))
