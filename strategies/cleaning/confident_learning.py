"""Confident learning: count, calibrate and prune the (given label, true label) joint of out-of-sample predictions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self, get_args

import numpy as np

from strategies.aggregation.base import Setting
from strategies.cleaning.base import BaseDetector, check_probabilities, out_of_sample_probabilities

FilterBy = Literal["prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given"]
FILTERS: tuple[str, ...] = get_args(FilterBy)

# Tolerances of cleanlab (2.x), kept so that the same probabilities give the same flags: a probability counts as
# reaching its class threshold within this much, and a given label within this much of the top probability counts as
# the prediction.
_FUZZ = 1e-6
# Thresholds are kept above the fuzz, so that a class whose items all have probability ~0 does not make every item
# "confident" in it.
_THRESHOLD_FLOOR = 2 * _FUZZ


@dataclass
class ConfidentLearning(BaseDetector):
    r"""Confident learning (CL): find the items whose given label disagrees confidently with the model.

    Input: out-of-sample predicted probabilities :math:`\hat p_{ik} = \hat P(\tilde y = k \mid x_i)` (given as
    ``pred_probs``, else ``n_folds``-fold cross-validated probabilities of ``model``, by default the project's
    standardised L2 logistic regression) and the given labels :math:`\tilde y_i`, :math:`n_i` items labeled
    :math:`i`. The algorithm, in the paper's notation:

    1. Per-class thresholds, the mean self-confidence of the items labeled :math:`j`:
       :math:`t_j = \frac{1}{n_j} \sum_{x: \tilde y = j} \hat p_j(x)` (kept above 2e-6).
    2. The confident joint. Item :math:`x` with label :math:`i` is "confidently" of true class :math:`j` when
       :math:`\hat p_j(x) \ge t_j`; counting those, :math:`C_{\tilde y, y^*}[i][j] = |\hat X_{\tilde y = i,
       y^* = j}|`. An item above one threshold goes to that class; above several, to its most probable class
       :math:`\arg\max_k \hat p_k(x)` (as cleanlab does; the paper's Eq. 1 takes the argmax among the classes above
       threshold: the two differ only when the top class is below its own threshold); above none, nowhere. A
       probability within 1e-6 of a threshold counts as reaching it. Empty diagonal cells are set to 1.
    3. Calibration to the label counts (the paper's Eq. 2), then to :math:`n` in all, rounded to integers keeping
       each row's total (largest remainders):
       :math:`\tilde C[i][j] = \frac{C[i][j]}{\sum_{j'} C[i][j']} n_i` and the estimated joint of given and true
       labels :math:`\hat Q_{\tilde y, y^*}[i][j] = \tilde C[i][j] / \sum_{i', j'} \tilde C[i'][j']` (Eq. 3).
       ``confident_joint_`` is :math:`\tilde C` (integers, rows summing to :math:`n_i`), ``joint_`` is
       :math:`\hat Q` and ``noise_rate_`` the estimated share of wrong labels :math:`1 - \mathrm{tr}\,\hat Q`.
    4. Pruning, by ``filter_by`` (the paper's Section 3.2 methods):

       * ``"prune_by_noise_rate"`` (default, as cleanlab's ``find_label_issues``): for every off-diagonal cell
         :math:`(i, j)`, the :math:`n \hat Q[i][j]` (:math:`= \tilde C[i][j]`) items labeled :math:`i` with the
         largest margin :math:`\hat p_j(x) - \hat p_i(x)`;
       * ``"prune_by_class"``: for every class :math:`i`, the :math:`n \sum_{j \ne i} \hat Q[i][j]` items labeled
         :math:`i` with the lowest self-confidence :math:`\hat p_i(x)`;
       * ``"both"``: items flagged by both of the above;
       * ``"confident_learning"``: the items counted off the diagonal of :math:`C` (confidently of a class other
         than their label);
       * ``"predicted_neq_given"``: the baseline :math:`\arg\max_k \hat p_k(x) \ne \tilde y` (the paper's
         :math:`C_{\text{confusion}}`).

       The prune counts are first adjusted as cleanlab does: every class keeps at least ``min_examples_per_class``
       items (its diagonal count is raised to that, the excess taken evenly from the nonzero off-diagonal counts of
       its column) and only a share ``frac_noise`` of the off-diagonal counts is pruned, fractions dropped. A
       class with at most ``min_examples_per_class`` items (or one) is never pruned. Ties of the ranking at the cut
       are broken by ``np.argsort``, as in cleanlab.

    ``issues_`` is the pruned set, less (for every ``filter_by``) the items whose given label is the most probable
    class within 1e-6: a label the model predicts is never flagged. With the same ``pred_probs`` and default
    settings, ``issues_`` equals cleanlab's ``cleanlab.filter.find_label_issues(labels, pred_probs)`` (checked on
    noisy data sets of 2 and 10 classes by ``tests/strategies/test_cleanlab_compat.py``), and ``confident_joint_``
    equals ``cleanlab.count.compute_confident_joint``.

    ``scores_`` is :math:`1 - \hat p_{\tilde y_i}(x_i)`, one minus the self-confidence (``label_quality_``), the
    paper's and cleanlab's default ranking of label issues. Also learned: ``pred_probs_`` (the probabilities used),
    ``thresholds_`` (:math:`t_j`), ``raw_confident_joint_`` (:math:`C` before calibration, diagonal floored at 1),
    ``prune_counts_`` (the adjusted counts to prune, rows the given label and columns the true label) and
    ``classes_``.

    C. G. Northcutt, L. Jiang and I. L. Chuang. Confident Learning: Estimating Uncertainty in Dataset Labels.
    Journal of Artificial Intelligence Research 70 (2021), 1373-1411. https://doi.org/10.1613/jair.1.12125
    """

    model: Any = None
    n_folds: int = 5
    filter_by: FilterBy = "prune_by_noise_rate"
    min_examples_per_class: int = 1
    frac_noise: float = 1.0
    random_state: int | None = None

    settings: ClassVar[dict[str, Setting]] = {
        "n_folds": Setting(int, 2),
        "filter_by": Setting(choices=FILTERS),
        "min_examples_per_class": Setting(int, 0),
        "frac_noise": Setting(float, 0.0, 1.0),
    }

    def fit(self, X: Any, labels: Any, pred_probs: Any = None) -> Self:
        """Learn the confident joint and the label issues of ``labels`` given features ``X``.

        ``pred_probs`` (items x classes, classes in sorted label order) are used as given when supplied; they must
        be out-of-sample (e.g. cross-validated), as the method assumes.
        """
        features, codes = self._inputs(X, labels)
        n_classes = self.classes_.shape[0]
        if pred_probs is None:
            probs = out_of_sample_probabilities(
                self._model(), features, codes, n_classes, self.n_folds, self._rng(), self.classes_
            )
        else:
            probs = check_probabilities(pred_probs, features.shape[0], n_classes)
        self.pred_probs_ = probs
        items = np.arange(codes.shape[0])
        self.label_quality_ = probs[items, codes]
        self.scores_ = 1.0 - self.label_quality_

        label_counts = np.bincount(codes, minlength=n_classes)
        self.thresholds_ = confident_thresholds(probs, codes, n_classes)
        counted, guess = confident_guesses(probs, self.thresholds_)
        # counted as (true, given) and transposed: the memory layout of cleanlab's confusion matrix, so that the
        # calibration below sums in the same order and a remainder tie at a half rounds the same way
        raw = np.bincount(guess[counted] * n_classes + codes[counted], minlength=n_classes * n_classes)
        raw = raw.reshape(n_classes, n_classes).T
        # a class with no confident item keeps a count of 1 on its diagonal, so that its row can be calibrated
        np.fill_diagonal(raw, np.maximum(raw.diagonal(), 1))
        self.raw_confident_joint_ = raw
        self.confident_joint_ = calibrate_joint(raw, label_counts)
        self.joint_ = self.confident_joint_ / self.confident_joint_.sum()
        self.noise_rate_ = float(1.0 - np.trace(self.joint_))
        self.prune_counts_ = prune_counts(self.confident_joint_, self.min_examples_per_class, self.frac_noise)

        if self.filter_by == "confident_learning":
            issues = counted & (guess != codes)
        elif self.filter_by == "predicted_neq_given":
            issues = probs.argmax(axis=1) != codes
        else:
            issues = np.ones(codes.shape[0], dtype=bool)
            if self.filter_by in ("prune_by_class", "both"):
                issues &= self._prune_by_class(probs, codes, label_counts)
            if self.filter_by in ("prune_by_noise_rate", "both"):
                issues &= self._prune_by_noise_rate(probs, codes)
        self.issues_ = issues & ~predicted_given(probs, codes)
        return self

    def _prunable(self, count: int) -> bool:
        return count > max(self.min_examples_per_class, 1)

    def _prune_by_class(self, probs: np.ndarray, codes: np.ndarray, label_counts: np.ndarray) -> np.ndarray:
        """Per class i, the n_i - (kept count of i) items labeled i least confident in i."""
        flagged = np.zeros(codes.shape[0], dtype=bool)
        for given in range(probs.shape[1]):  # over classes; a class's items are ranked in one sort
            members = np.flatnonzero(codes == given)
            n_prune = int(label_counts[given] - self.prune_counts_[given, given])
            if self._prunable(members.shape[0]) and n_prune >= 1:
                flagged[members[np.argsort(probs[members, given])[:n_prune]]] = True
        return flagged

    def _prune_by_noise_rate(self, probs: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """Per off-diagonal cell (i, j), the prune count of items labeled i with the largest margin p_j - p_i."""
        flagged = np.zeros(codes.shape[0], dtype=bool)
        n_classes = probs.shape[1]
        for given in range(n_classes):
            members = np.flatnonzero(codes == given)
            if not self._prunable(members.shape[0]):
                continue
            for true in range(n_classes):
                n_prune = int(self.prune_counts_[given, true])
                if true == given or n_prune <= 0:
                    continue
                margin = probs[members, true] - probs[members, given]
                flagged[members[np.argsort(-margin)[:n_prune]]] = True
        return flagged


def confident_thresholds(probs: np.ndarray, codes: np.ndarray, n_classes: int) -> np.ndarray:
    """:math:`t_j`: the mean probability of class j over the items labeled j (every class has items here)."""
    means = np.array([probs[codes == k, k].mean() for k in range(n_classes)])  # a loop over classes
    return np.maximum(means, _THRESHOLD_FLOOR)


def confident_guesses(probs: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(counted, guess): whether an item reaches at least one class threshold, and the true class it is counted in
    (the single class it reaches, or its most probable class when it reaches several)."""
    confident = probs >= thresholds[None, :] - _FUZZ
    n_confident = confident.sum(axis=1)
    guess = np.where(n_confident > 1, probs.argmax(axis=1), confident.argmax(axis=1))
    return n_confident > 0, guess


def predicted_given(probs: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Items whose given label is the most probable class, within the fuzz (those are never flagged)."""
    items = np.arange(codes.shape[0])
    nudged = probs.copy()
    nudged[items, codes] += _FUZZ
    return nudged.argmax(axis=1) == codes


def round_keeping_row_totals(matrix: np.ndarray) -> np.ndarray:
    """Round each row to integers whose sum is the row's rounded sum (largest remainder method).

    Entries are rounded half to even; a row that then sums short (over) gains (loses) one unit in the entries with
    the largest (smallest) remainders ``value - rounded``. Ties in the remainders are broken by ``np.argsort``, so
    that equal rows round alike and as in cleanlab.
    """
    values = np.asarray(matrix, dtype=float)
    rounded = np.round(values)
    for row in range(values.shape[0]):  # a loop over classes (rows), not items
        shortfall = int(np.round(np.round(values[row].sum()) - rounded[row].sum()))
        if shortfall == 0:
            continue
        order = np.argsort(values[row] - rounded[row])
        chosen = order[::-1][:shortfall] if shortfall > 0 else order[:-shortfall]
        rounded[row, chosen] += np.sign(shortfall)
    # row-major, as cleanlab's result: the prune counts sum its transpose column-wise and then floor, so a sum that
    # is an integer up to rounding floors the same way only if added in the same order
    return np.ascontiguousarray(rounded, dtype=np.int64)


def calibrate_joint(raw: np.ndarray, label_counts: np.ndarray) -> np.ndarray:
    """The paper's Eq. (2): rows scaled to the label counts, the whole to the number of items, rounded by row."""
    # built through the transpose, in cleanlab's order of operations, so that equal inputs round alike at halves
    calibrated = (raw.T / raw.sum(axis=1) * label_counts).T
    calibrated = calibrated / calibrated.sum() * int(label_counts.sum())
    return round_keeping_row_totals(calibrated)


def prune_counts(joint: np.ndarray, min_per_class: int, frac_noise: float) -> np.ndarray:
    """How many items of each (given, true) cell to prune, from the calibrated confident joint.

    Worked on the transpose (rows the true class, columns the given label), as cleanlab does: a given label keeps at
    least ``min_per_class`` items on the diagonal, the increase taken evenly from the column's nonzero off-diagonal
    counts (floored at 0); off-diagonal counts are scaled by ``frac_noise`` and the difference returned to the
    diagonal; the fractions these leave are dropped (floored). Returned as (given, true).
    """
    counts = joint.T.astype(float)
    diagonal = counts.diagonal().copy()
    raised = np.maximum(diagonal, min_per_class)
    off_diagonal_cells = np.maximum(np.count_nonzero(counts, axis=0) - 1.0, 1.0)
    counts = np.maximum(counts - (raised - diagonal) / off_diagonal_cells, 0.0)
    np.fill_diagonal(counts, raised)
    reduced = counts * frac_noise
    np.fill_diagonal(reduced, raised)
    np.fill_diagonal(reduced, raised + (counts - reduced).sum(axis=0))
    return np.floor(reduced).astype(np.int64).T
