"""Influence functions of an L2-regularised logistic regression: what removing one training item does to a loss."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.special import log_softmax

from strategies.aggregation.base import Setting
from strategies.cleaning.base import BaseDetector, DetectionError, check_features

InfluenceScore = Literal["self_influence", "test_influence"]


@dataclass
class InfluenceFunctions(BaseDetector):
    r"""Influence functions (Koh and Liang), exact for multinomial logistic regression with an L2 penalty.

    The model. Item :math:`i` has inputs :math:`\tilde x_i = (x_i, 1)` (features standardised to mean 0 and standard
    deviation 1 with ``standardize``, a constant 1 appended with ``fit_intercept``; :math:`p` entries) and label
    :math:`y_i`, one-hot :math:`e_{y_i}`; the parameters are :math:`W \in \mathbb{R}^{K \times p}`, one row per
    class, :math:`\theta = \mathrm{vec}(W)` class by class. With :math:`p_i = \mathrm{softmax}(W \tilde x_i)`, the
    training objective is

    .. math:: J(\theta) = \sum_i \ell_i(\theta) + \frac{1}{2C} \sum_k \|w_k\|^2, \qquad
              \ell_i = -\log p_{i, y_i},

    the intercepts unpenalised: scikit-learn's multinomial ``LogisticRegression(C=C)`` objective (which it scales by
    :math:`C`) for :math:`K \ge 3`. Binary labels use the same two-row softmax; at the optimum :math:`w_0 = -w_1`, so
    this is the binary logistic regression on :math:`\beta = w_1 - w_0` with penalty :math:`\|\beta\|^2 / (4C)`,
    i.e. scikit-learn's binary ``LogisticRegression(C=2C)``. It is minimised by Newton's method with backtracking
    (Armijo) line search from :math:`\theta = 0`, until :math:`\|\nabla J\|_\infty \le n \cdot` ``tol``
    (the gradient of the mean loss at most ``tol``; convergence is quadratic, so a tight ``tol`` costs an iteration
    or two).
    The standardisation is fitted once on the training items and held fixed: influence is with respect to the
    model's parameters (removing an item would move the mean and scale by O(1/n), which is ignored).

    The derivatives, from the structure: per item :math:`g_i = \nabla \ell_i = (p_i - e_{y_i}) \otimes \tilde x_i`
    and

    .. math:: H = \nabla^2 J = \sum_i \left(\mathrm{diag}(p_i) - p_i p_i^\top\right) \otimes \tilde x_i \tilde x_i^\top
              + \frac{1}{C} (I_K \otimes D),

    :math:`D` the identity on the feature entries and 0 on the intercept, assembled as :math:`K` weighted Gram
    matrices :math:`X^\top \mathrm{diag}(p_{\cdot k}) X` minus :math:`A^\top A` with rows
    :math:`A_i = p_i \otimes \tilde x_i`: cost :math:`O(n K^2 p^2)`, memory :math:`n K p`; nothing of size
    :math:`(nKp)^2`. Influences are solved with one Cholesky factorisation of the :math:`Kp \times Kp` matrix,
    never inverted. The softmax is redundant (adding one vector to every row of :math:`W` changes no
    probability): the penalty gives the feature directions of that redundancy curvature :math:`1/C`, so :math:`H`
    is positive definite on them. The intercepts' shift :math:`v = (1, \dots, 1) \otimes e_{\text{intercept}} /
    \sqrt K` is unpenalised and stays flat; every :math:`g_i` is orthogonal to it (the entries of
    :math:`p_i - e_{y_i}` sum to 0), so solving with :math:`H + v v^\top` (positive definite) gives exactly the
    pseudo-inverse :math:`H^{+} g` and keeps the intercepts summing to 0 (scikit-learn's intercepts may differ from
    ours by such a shift; the probabilities are the same).

    Influences (Koh and Liang's :math:`\mathcal{I}_{\text{up,loss}}` for the removal of item :math:`i`, i.e.
    upweighting it by :math:`-1/n`; here the objective is a sum, so no :math:`1/n`). Removing item :math:`i` moves
    the optimum by :math:`\theta_{-i} - \hat\theta \approx H^{-1} g_i`, so:

    * ``self_influence_`` :math:`= g_i^\top H^{-1} g_i \ge 0`: the predicted increase of item :math:`i`'s own loss
      when it is left out; large for items the model fits only because they are in the training set, such as
      wrong labels (the paper's Section 5.4 ranks training items by it to find mislabeled ones);
    * ``test_influence_`` (with ``X_test, labels_test``) :math:`= \bar g_{\text{test}}^\top H^{-1} g_i`, with
      :math:`\bar g_{\text{test}}` the gradient of the mean test loss: the predicted change of the mean test loss
      when item :math:`i` is removed. Positive: removing it raises the test loss (a helpful item); negative:
      removing it lowers the test loss (a harmful one). NaN without test items.

    ``scores_`` is ``self_influence_`` (``score="self_influence"``, default) or ``-test_influence_``
    (``score="test_influence"``: the items whose removal lowers the test loss most rank highest; needs test items).
    ``issues_`` flags the ``round(fraction * n)`` items with the highest scores (ties to the lower index).

    Also learned: ``coef_`` (K x features) and ``intercept_`` (K) on the original feature scale, ``pred_probs_``
    (fitted training probabilities), ``hessian_`` (:math:`H`, :math:`Kp \times Kp`), ``objective_``
    (:math:`J(\hat\theta)`), ``test_loss_`` (mean test loss at :math:`\hat\theta`, NaN without test items),
    ``n_iter_`` (Newton iterations), ``mean_``, ``scale_`` (the standardisation; 0 and 1 without it) and
    ``classes_``.

    P. W. Koh and P. Liang. Understanding Black-box Predictions via Influence Functions. Proceedings of the 34th
    International Conference on Machine Learning (ICML 2017), PMLR 70, 1885-1894.
    https://proceedings.mlr.press/v70/koh17a.html
    """

    C: float = 1.0
    fit_intercept: bool = True
    standardize: bool = True
    score: InfluenceScore = "self_influence"
    fraction: float = 0.1
    tol: float = 1e-10
    max_iter: int = 100

    settings: ClassVar[dict[str, Setting]] = {
        "C": Setting(float, 0.0, low_open=True),
        "fit_intercept": Setting(choices=(True, False)),
        "standardize": Setting(choices=(True, False)),
        "score": Setting(choices=("self_influence", "test_influence")),
        "fraction": Setting(float, 0.0, 1.0),
        "tol": Setting(float, 0.0, low_open=True),
        "max_iter": Setting(int, 1),
    }

    def fit(self, X: Any, labels: Any, X_test: Any = None, labels_test: Any = None) -> Self:
        """Fit the regularised logistic regression on ``(X, labels)`` and the influence of every training item
        (on its own loss, and on the mean loss of ``(X_test, labels_test)`` when given)."""
        features, codes = self._inputs(X, labels)
        test = self._test_inputs(features.shape[1], X_test, labels_test)
        if test is None and self.score == "test_influence":
            raise DetectionError('X_test and labels_test are needed for score="test_influence"')
        self.mean_ = features.mean(axis=0) if self.standardize else np.zeros(features.shape[1])
        spread = features.std(axis=0) if self.standardize else np.ones(features.shape[1])
        self.scale_ = np.where(spread > 0, spread, 1.0)
        inputs = self._design(features)
        n_classes = self.classes_.shape[0]
        onehot = np.eye(n_classes)[codes]

        weights = self._newton(inputs, onehot)
        probs = softmax_rows(inputs @ weights.T)
        self.pred_probs_ = probs
        gradients = per_item_gradients(inputs, probs, onehot)
        self.hessian_ = loss_hessian(inputs, probs) + np.diag(self._penalty_mask(inputs.shape[1], n_classes) / self.C)
        factor = cho_factor(self._solvable(self.hessian_, inputs.shape[1], n_classes))
        solved = cho_solve(factor, gradients.T)  # H^-1 g_i, one column per item
        self.self_influence_ = np.einsum("ij,ji->i", gradients, solved)

        if test is None:
            self.test_influence_ = np.full(codes.shape[0], np.nan)
            self.test_loss_ = float("nan")
        else:
            test_inputs = self._design(test[0])
            test_onehot = np.eye(n_classes)[test[1]]
            test_logits = test_inputs @ weights.T
            self.test_loss_ = float(-(log_softmax(test_logits, axis=1) * test_onehot).sum(axis=1).mean())
            mean_gradient = per_item_gradients(test_inputs, softmax_rows(test_logits), test_onehot).mean(axis=0)
            self.test_influence_ = solved.T @ mean_gradient

        self.scores_ = self.self_influence_ if self.score == "self_influence" else -self.test_influence_
        self.issues_ = top_fraction(self.scores_, self.fraction)
        n_features = features.shape[1]
        coef = weights[:, :n_features] / self.scale_
        self.coef_ = coef
        intercept = weights[:, n_features] if self.fit_intercept else np.zeros(n_classes)
        self.intercept_ = intercept - coef @ self.mean_
        return self

    def _test_inputs(self, n_features: int, X_test: Any, labels_test: Any) -> tuple[np.ndarray, np.ndarray] | None:
        if X_test is None and labels_test is None:
            return None
        if X_test is None or labels_test is None:
            raise DetectionError("X_test and labels_test must be given together (test features and their labels)")
        test_features = check_features(X_test, "X_test")
        if test_features.shape[1] != n_features:
            raise DetectionError(f"X_test has {test_features.shape[1]} features but X has {n_features}")
        values = np.asarray(labels_test)
        if values.ndim != 1 or values.shape[0] != test_features.shape[0]:
            raise DetectionError(
                f"labels_test must be one label per test item: {test_features.shape[0]} expected, got shape "
                f"{values.shape}"
            )
        try:
            codes = np.searchsorted(self.classes_, values)
        except TypeError:
            raise DetectionError("labels_test must be of the same type as labels") from None
        codes = np.minimum(codes, self.classes_.shape[0] - 1)
        unknown = self.classes_[codes] != values
        if unknown.any():
            raise DetectionError(
                f"labels_test holds label(s) {np.unique(values[unknown])[:5].tolist()} absent from the training "
                f"labels {self.classes_.tolist()}"
            )
        return test_features, codes.astype(np.int64)

    def _design(self, features: np.ndarray) -> np.ndarray:
        standardised = (features - self.mean_) / self.scale_
        if not self.fit_intercept:
            return standardised
        return np.hstack([standardised, np.ones((features.shape[0], 1))])

    def _penalty_mask(self, n_inputs: int, n_classes: int) -> np.ndarray:
        """1 on the penalised entries of theta (every class's feature weights), 0 on the intercepts."""
        mask = np.ones((n_classes, n_inputs))
        if self.fit_intercept:
            mask[:, -1] = 0.0
        return mask.ravel()

    def _solvable(self, hessian: np.ndarray, n_inputs: int, n_classes: int) -> np.ndarray:
        """H plus v v^T on the flat intercept-shift direction (see the class docstring); H itself otherwise."""
        if not self.fit_intercept:
            return hessian
        shift = np.zeros((n_classes, n_inputs))
        shift[:, -1] = 1.0 / np.sqrt(n_classes)
        direction = shift.ravel()
        return hessian + np.outer(direction, direction)

    def _objective(self, inputs: np.ndarray, onehot: np.ndarray, weights: np.ndarray, penalty: np.ndarray) -> float:
        losses = -(log_softmax(inputs @ weights.T, axis=1) * onehot).sum()
        return float(losses + 0.5 / self.C * np.sum(penalty * weights.ravel() ** 2))

    def _newton(self, inputs: np.ndarray, onehot: np.ndarray) -> np.ndarray:
        """The minimiser of J by damped Newton steps (the objective is strictly convex on the solved subspace)."""
        n_classes, n_inputs = onehot.shape[1], inputs.shape[1]
        penalty = self._penalty_mask(n_inputs, n_classes)
        weights = np.zeros((n_classes, n_inputs))
        objective = self._objective(inputs, onehot, weights, penalty)
        self.n_iter_ = 0
        for _ in range(self.max_iter):
            probs = softmax_rows(inputs @ weights.T)
            gradient = ((probs - onehot).T @ inputs).ravel() + penalty * weights.ravel() / self.C
            hessian = loss_hessian(inputs, probs) + np.diag(penalty / self.C)
            if np.abs(gradient).max() <= self.tol * inputs.shape[0]:
                break
            step = cho_solve(cho_factor(self._solvable(hessian, n_inputs, n_classes)), gradient)
            decrement = float(gradient @ step)  # the squared Newton decrement: the predicted decrease, twice
            self.n_iter_ += 1
            size = 1.0
            while True:  # Armijo backtracking: Newton's full step can overshoot far from the optimum
                trial = weights - size * step.reshape(n_classes, n_inputs)
                trial_objective = self._objective(inputs, onehot, trial, penalty)
                if trial_objective <= objective - 0.25 * size * decrement or size < 1e-10:
                    break
                size /= 2
            weights, objective = trial, trial_objective
        self.objective_ = objective
        return weights


def softmax_rows(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def per_item_gradients(inputs: np.ndarray, probs: np.ndarray, onehot: np.ndarray) -> np.ndarray:
    """(items, K * p): row i is :math:`(p_i - e_{y_i}) \\otimes \\tilde x_i`, the gradient of item i's loss."""
    return ((probs - onehot)[:, :, None] * inputs[:, None, :]).reshape(inputs.shape[0], -1)


def loss_hessian(inputs: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """:math:`\\sum_i (\\mathrm{diag}(p_i) - p_i p_i^\\top) \\otimes \\tilde x_i \\tilde x_i^\\top`, (K p) x (K p)."""
    n_items, n_inputs = inputs.shape
    n_classes = probs.shape[1]
    outer = (probs[:, :, None] * inputs[:, None, :]).reshape(n_items, -1)
    hessian = -(outer.T @ outer)
    for k in range(n_classes):  # the block diagonal: one weighted Gram matrix per class
        block = slice(k * n_inputs, (k + 1) * n_inputs)
        hessian[block, block] += (inputs * probs[:, k : k + 1]).T @ inputs
    return hessian


def top_fraction(scores: np.ndarray, fraction: float) -> np.ndarray:
    """The ``round(fraction * n)`` highest scores, ties to the lower index."""
    flagged = np.zeros(scores.shape[0], dtype=bool)
    flagged[np.argsort(-scores, kind="stable")[: round(fraction * scores.shape[0])]] = True
    return flagged
