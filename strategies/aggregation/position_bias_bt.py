"""Bradley-Terry with a position bias: item scores and the advantage of being shown first (left), with its interval."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Self

import numpy as np
import pandas as pd
from scipy.sparse.linalg import LinearOperator, cg
from scipy.special import expit, softmax

from strategies.aggregation._pairwise import (
    COMPARISON_COLUMNS,
    encode_comparisons,
    item_scores,
    maximise,
    one_blas_thread,
    phantom_prior,
)
from strategies.aggregation.base import BasePairwiseAggregator, Setting, check_answers

WALD_Z = 1.959963984540054  # the standard normal's 97.5% quantile: a two-sided 95% interval


@dataclass
class PositionBiasBradleyTerry(BasePairwiseAggregator):
    r"""Bradley-Terry with a home advantage for the left item, fitted by maximum a posteriori with L-BFGS: the
    within-pair order effect of Davidson and Beaver (Biometrics 33, 1977; their model also has ties), which Agresti
    (*Categorical Data Analysis*, 2nd ed., 2002, p. 438) fits to home and away baseball games.

    Each row of ``data`` is one comparison: columns ``left`` and ``right`` name the two items, ``label`` the winner
    (equal to ``left`` or to ``right``), as for :class:`~strategies.aggregation.BradleyTerry`; a ``worker`` column
    may be present and is ignored. Item :math:`i` has a log-strength :math:`\theta_i`, and one global bias
    :math:`\beta` favours whichever item is shown first:

    .. math:: \operatorname{logit} P(l \text{ beats } r) = \theta_l - \theta_r + \beta

    (:math:`\beta < 0`: the right item is favoured). With distinct ordered pairs :math:`(l, r)` shown :math:`n_{lr}`
    times, the left item winning :math:`k_{lr}` of them, and :math:`\eta_{lr}` the logit above, the maximised
    objective is

    .. math::

        \ell(\theta, \beta) = \sum_{(l, r)} \big[k_{lr}\, \eta_{lr} - n_{lr} \ln(1 + e^{\eta_{lr}})\big]
        + a \sum_{x \in \{\theta_1, \dots, \theta_n, \beta\}} \big[\ln \sigma(x) + \ln \sigma(-x)\big],

    the log-likelihood plus ``pseudo_count`` :math:`a` virtual wins and losses of every item against a phantom of
    log-strength 0 (:class:`~strategies.aggregation.BradleyTerry`'s prior, which keeps scores finite, connects a
    disconnected comparison graph and pins the scale) and :math:`a` virtual wins of each side for :math:`\beta`.
    :math:`\ell` is strictly concave, so L-BFGS (``n_iter`` iterations at most, ``tol`` its relative ``ftol``) finds
    its one maximum. With every comparison also shown in the other order, :math:`\hat\beta = 0` and the scores are
    :class:`~strategies.aggregation.BradleyTerry`'s. The estimate approaches the MLE as :math:`a \to 0`, but
    ``pseudo_count`` must be positive: whether the MLE exists here depends on more than every item winning and
    losing (items that each win and lose, but only from the left, make :math:`\hat\beta` infinite).

    The 95% Wald interval :math:`\hat\beta \pm 1.96\, \mathrm{se}` takes the standard error from the observed
    information :math:`H` (minus the Hessian of :math:`\ell`) of the joint fit, so that the uncertainty of the
    scores counts: with :math:`H_{\theta\theta}` the weighted graph Laplacian of the scores (plus the prior's
    diagonal), :math:`h` its column against :math:`\beta` and :math:`c` the :math:`\beta\beta` entry, the Schur
    complement gives :math:`\mathrm{se}^2 = (H^{-1})_{\beta\beta} = 1 / (c - h^\top H_{\theta\theta}^{-1} h)`,
    with :math:`H_{\theta\theta}^{-1} h` from one conjugate-gradient solve (``scipy.sparse.linalg.cg``, relative
    residual 1e-10) on matrix-vector products over the pairs: no dense matrix.

    Learned attributes: ``scores_``, a Series item -> :math:`e^{\theta_i} / \sum_j e^{\theta_j}`, the strengths
    without any position advantage (an unnamed index, scaled to sum to one, name ``agg_score``: BradleyTerry's
    conventions); ``position_bias_`` (:math:`\hat\beta`, logits; :math:`e^{\hat\beta}` is the odds multiplier of
    the left item), ``position_bias_se_`` and ``position_bias_interval_`` (low, high); ``loss_history_``, the
    objective at the start and after every iteration (non-decreasing; a log-posterior to maximise); ``n_iter_``,
    the iterations run. Bad input raises :class:`AnswersError` as for BradleyTerry.
    """

    settings: ClassVar[dict[str, Setting]] = {
        "n_iter": Setting(int, 1),
        "tol": Setting(float, 0.0),
        "pseudo_count": Setting(float, 0.0, low_open=True),
    }

    n_iter: int = 500
    tol: float = 1e-10
    pseudo_count: float = 0.1

    scores_: pd.Series = field(init=False, repr=False)
    position_bias_: float = field(init=False, repr=False)
    position_bias_se_: float = field(init=False, repr=False)
    position_bias_interval_: tuple[float, float] = field(init=False, repr=False)
    loss_history_: list[float] = field(init=False, repr=False)
    n_iter_: int = field(init=False, repr=False)

    def fit(self, data: pd.DataFrame) -> Self:
        check_answers(data, COMPARISON_COLUMNS, name="comparisons")
        items, left, right, winner = encode_comparisons(data)
        posterior = _OrderedPairs(left, right, winner, len(items), self.pseudo_count)
        start = np.zeros(len(items) + 1)
        logits, self.loss_history_, self.n_iter_ = maximise(
            posterior, start, self.n_iter, self.tol, posterior.curvature()
        )
        self.scores_ = item_scores(items, softmax(logits[:-1]))
        self.position_bias_ = float(logits[-1])
        self.position_bias_se_ = posterior.position_bias_se(logits)
        margin = WALD_Z * self.position_bias_se_
        self.position_bias_interval_ = (self.position_bias_ - margin, self.position_bias_ + margin)
        return self


class _OrderedPairs:
    """The distinct ordered pairs (``left``, ``right``) with their games and left wins; the objective of
    :class:`PositionBiasBradleyTerry` on them (parameters: the item logits, then the bias), its gradient and the
    standard error of the bias."""

    def __init__(self, left: np.ndarray, right: np.ndarray, winner: np.ndarray, n_items: int, phantom: float) -> None:
        pairs, pair_of_row, games = np.unique(left * n_items + right, return_inverse=True, return_counts=True)
        self.left, self.right = np.divmod(pairs, n_items)
        self.games = games.astype(np.float64)
        self.left_wins = np.bincount(pair_of_row, weights=winner == left, minlength=pairs.size)
        self.n_items, self.phantom = n_items, phantom

    def curvature(self) -> np.ndarray:
        """Minus the objective's second derivatives at the start (all logits 0, every game a coin flip)."""
        per_item = np.bincount(self.left, self.games, self.n_items) + np.bincount(self.right, self.games, self.n_items)
        return 0.25 * np.append(per_item, self.games.sum()) + 0.5 * self.phantom

    def _left_logits(self, logits: np.ndarray) -> np.ndarray:
        return logits[self.left] - logits[self.right] + logits[-1]

    def _between(self, weights: np.ndarray) -> np.ndarray:
        """Per item: the sum of ``weights`` over its pairs, with sign + where it is left and - where it is right."""
        return np.bincount(self.left, weights, self.n_items) - np.bincount(self.right, weights, self.n_items)

    def __call__(self, logits: np.ndarray) -> tuple[float, np.ndarray]:
        eta = self._left_logits(logits)
        odds = np.exp(eta)  # |eta| <= 3 LOGIT_BOUND: no overflow
        value = float(self.left_wins @ eta - self.games @ np.log1p(odds))
        surprise = self.left_wins - self.games * (odds / (1.0 + odds))  # observed minus expected left wins
        prior, prior_gradient, _ = phantom_prior(logits, self.phantom)
        return value + prior, np.append(self._between(surprise), surprise.sum()) + prior_gradient

    def position_bias_se(self, logits: np.ndarray) -> float:
        r""":math:`\sqrt{(H^{-1})_{\beta\beta}}` by the Schur complement of the item block (one CG solve)."""
        eta = self._left_logits(logits)
        information = self.games * expit(eta) * expit(-eta)  # per pair: minus the second derivative in eta
        _, _, prior_curvature = phantom_prior(logits, self.phantom)
        diagonal = (
            np.bincount(self.left, information, self.n_items)
            + np.bincount(self.right, information, self.n_items)
            + prior_curvature[:-1]
        )

        def item_block(vector: np.ndarray) -> np.ndarray:
            difference = vector[self.left] - vector[self.right]
            return self._between(information * difference) + prior_curvature[:-1] * vector

        n = self.n_items
        block = LinearOperator((n, n), matvec=item_block, dtype=np.float64)
        jacobi = LinearOperator((n, n), matvec=lambda vector: vector / diagonal)  # the prior makes it positive
        cross = self._between(information)  # d2 / d theta d beta, sign flipped
        with one_blas_thread():
            solved, status = cg(block, cross, rtol=1e-10, atol=0.0, maxiter=10 * n + 100, M=jacobi)
        if status != 0:
            raise RuntimeError(f"conjugate gradients did not converge for the position bias's variance ({status})")
        schur = information.sum() + prior_curvature[-1] - cross @ solved
        return float(1.0 / np.sqrt(schur))
