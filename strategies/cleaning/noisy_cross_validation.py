"""Iterative noisy cross-validation (INCV): grow a clean subset from held-out predictions that match the label."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self

import numpy as np

from strategies.aggregation.base import Setting
from strategies.cleaning.base import BaseDetector, check_folds, fitted_probabilities

NoiseEstimate = Literal["agreement", "paper"]
_AGREEMENT_FOLDS = 3


@dataclass
class NoisyCrossValidation(BaseDetector):
    r"""INCV: select the items whose label a model trained without them predicts, iterating on the rest.

    The algorithm (the paper's Algorithm 1). Start with no selected items :math:`S` and every item a candidate
    :math:`C`. Each of ``n_iter`` iterations splits the candidates at random into halves :math:`C_1, C_2`
    (stratified by label here, so that each half has every class), trains ``model`` on :math:`S \cup C_1` and
    selects the items of :math:`C_2` whose most probable class is their label, then the same with the halves
    swapped (both trained on the :math:`S` of the start of the iteration). With ``discard`` (the paper's procedure
    for symmetric noise), each half also drops the :math:`\lfloor r |S_h| \rfloor` unselected items of highest
    cross-entropy :math:`-\log \hat p_{\tilde y}(x)` (:math:`|S_h|` the items selected in that half), the removal
    ratio :math:`r = \min(2, \hat\varepsilon / (1 - \hat\varepsilon))` from the estimated noise rate: about as many
    as the half's wrong labels. Selected and dropped items leave the candidates.

    The noise-rate estimate. Under symmetric noise of rate :math:`\varepsilon` over :math:`c` classes (a wrong label
    uniform over the other :math:`c - 1`), a held-out prediction :math:`f(x)` is independent of the item's label
    noise given its true class :math:`y`, so its accuracy on the noisy labels is

    .. math:: \text{acc} = a (1 - \varepsilon) + (1 - a) \frac{\varepsilon}{c - 1}, \qquad a = P(f(x) = y),

    :math:`a` the model's held-out accuracy on the true labels. The paper's Proposition (test accuracy
    :math:`(1 - \varepsilon)^2 + \varepsilon^2 / (c - 1)`) is the case :math:`a = 1 - \varepsilon`: it assumes the
    network fits the noisy training set, so that its predictions reproduce the noise (confusion matrix against the
    true labels equal to the noise transition matrix), which is what the paper shows for deep networks trained to
    convergence. ``noise_estimate="paper"`` solves that quadratic for the noise rate from the accuracy of the first
    half of the first iteration (as the authors' code does):
    :math:`\hat\varepsilon = \frac{c-1}{c} \left(1 - \sqrt{1 - \frac{c}{c-1}(1 - \text{acc})}\right)`.
    A model that does not reproduce the noise has :math:`a > 1 - \varepsilon` and the quadratic then underestimates
    the rate: a regularised logistic regression on separable classes predicts the true class (:math:`a \approx 1`,
    :math:`\text{acc} \approx 1 - \varepsilon`), and the quadratic gives 0.11 for a rate of 0.2 on 2 classes. The
    linear reading :math:`\hat\varepsilon = 1 - \text{acc}` (the case :math:`a = 1`) is in turn biased upwards by
    :math:`(1 - a)(1 - \varepsilon c / (c - 1))` when :math:`a < 1`. Neither assumption holds for every model.

    ``noise_estimate="agreement"`` (default) estimates :math:`a` instead of assuming it. The items are split into
    three stratified random thirds and one model is trained on each; every item then has two predictions, from the
    models trained on the other thirds. If their errors are independent given the true class and uniform over the
    wrong classes, they agree with probability :math:`g = a^2 + (1 - a)^2 / (c - 1)`, so
    :math:`\hat a = \left(1 + \sqrt{1 - c + c (c - 1) g}\right) / c` (the root in :math:`[1/c, 1]`), and the
    relation above solved for the rate gives :math:`\hat\varepsilon = (c - 1)(\hat a - \text{acc}) / (c \hat a - 1)`,
    clipped to :math:`[0, (c-1)/c]`, with acc the accuracy of the same held-out predictions. For a model that
    reproduces the noise (errors independent: each copies its own training labels) this recovers the paper's
    quadratic; for one that predicts the true class it recovers :math:`1 - \text{acc}`; in between, correlated
    errors of the two models (both wrong on the same hard items) make :math:`\hat a` too high, and the rate is
    then overestimated by at most the linear reading's bias. Measured (3,000 items, class-conditional unit Gaussians
    with means 4 apart on their own axis, the default model; estimate minus the injected share of wrong labels, in
    points, mean over 10 seeds, largest size in brackets): 2 classes, rate 0.2: +0.1 [0.3] (paper: -8.7); 0.4:
    0.0 [0.4] (paper: -12.4); 10 classes, 0.2: +1.0 [1.4] (paper: -8.3); 0.4: +0.7 [1.0] (paper: -16.0). The
    10-class overestimate is the correlated-error bias (there :math:`a \approx 0.97` and :math:`\hat a` exceeds
    it). With 1-nearest-neighbour, which copies the noise, both estimates are within 3 points
    (``tests/strategies/cleaning/test_noisy_cross_validation.py``). On overlapping classes the bias grows with the
    Bayes error, whose items both models get wrong together: the benchmark's data (5 classes, means 3 apart,
    :math:`a = 0.945`, :math:`\hat a = 0.988`, rate 0.197) give +3.5 points (paper: -6.8, linear: +4.3). No
    estimate from held-out accuracy alone is unbiased for every model: under symmetric noise the accuracy depends
    on :math:`\varepsilon` and :math:`a` together. The cost: three more fits on a third of the items each.

    Learned: ``noise_rate_`` (:math:`\hat\varepsilon`), ``cv_accuracy_`` (the held-out accuracy on the given labels
    it was solved from), ``truth_accuracy_`` (:math:`\hat a`; :math:`1 - \hat\varepsilon` under the paper's
    assumption), ``agreement_`` (:math:`g`; NaN with ``"paper"``), ``discard_ratio_`` (:math:`r`), ``clean_``
    (bool per item: selected), ``removed_`` (bool: dropped), ``candidates_`` (bool: still undecided after the last
    iteration), ``n_iter_`` (iterations run; fewer than ``n_iter`` when the candidates run out) and ``classes_``.
    ``issues_`` is ``~clean_``: every item not selected as clean, dropped or undecided. ``scores_`` is one minus
    the item's held-out probability of its given label, averaged over the iterations in which it was held out (at
    least the first; an item selected early is scored by fewer, less clean-trained models).

    P. Chen, B. Liao, G. Chen and S. Zhang. Understanding and Utilizing Deep Neural Networks Trained with Noisy
    Labels. Proceedings of the 36th International Conference on Machine Learning (ICML 2019), PMLR 97, 1062-1070.
    https://proceedings.mlr.press/v97/chen19g.html
    """

    model: Any = None
    n_iter: int = 4
    noise_estimate: NoiseEstimate = "agreement"
    discard: bool = True
    random_state: int | None = None

    settings: ClassVar[dict[str, Setting]] = {
        "n_iter": Setting(int, 1),
        "noise_estimate": Setting(choices=("agreement", "paper")),
        "discard": Setting(choices=(True, False)),
    }

    def fit(self, X: Any, labels: Any) -> Self:
        """Select the clean subset of ``labels`` given features ``X`` and estimate the noise rate."""
        features, codes = self._inputs(X, labels)
        n_items, n_classes = codes.shape[0], self.classes_.shape[0]
        check_folds(codes, _AGREEMENT_FOLDS if self.noise_estimate == "agreement" else 2, classes=self.classes_)
        rng = self._rng()
        model = self._model()
        self.agreement_ = float("nan")
        estimated = self.noise_estimate == "agreement"
        if estimated:
            self._estimate_by_agreement(model, features, codes, n_classes, rng)

        held_sum = np.zeros(n_items)
        held_count = np.zeros(n_items)
        clean = np.zeros(n_items, dtype=bool)
        removed = np.zeros(n_items, dtype=bool)
        candidates = np.ones(n_items, dtype=bool)
        self.n_iter_ = 0
        for _ in range(self.n_iter):
            pool = np.flatnonzero(candidates)
            if pool.shape[0] < 2:
                break
            self.n_iter_ += 1
            first, second = stratified_parts(pool, codes, 2, rng)
            start = np.flatnonzero(clean)  # both halves train on the selection as it was when the iteration began
            chosen, dropped = [], []
            for train, test in ((first, second), (second, first)):
                if test.shape[0] == 0:  # a handful of candidates may all fall in one half
                    continue
                fit_on = np.concatenate([start, train])
                probs = fitted_probabilities(model, features[fit_on], codes[fit_on], n_classes, features[test])
                given = probs[np.arange(test.shape[0]), codes[test]]
                held_sum[test] += given
                held_count[test] += 1
                hit = probs.argmax(axis=1) == codes[test]
                if not estimated:  # the paper's estimate: from the first held-out half
                    self._set_noise_rate(float(hit.mean()), n_classes, truth_accuracy=None)
                    estimated = True
                chosen.append(test[hit])
                if self.discard:
                    missed = test[~hit]
                    n_drop = min(int(self.discard_ratio_ * hit.sum()), missed.shape[0])
                    # highest cross-entropy first = lowest probability of the given label
                    dropped.append(missed[np.argsort(given[~hit], kind="stable")[:n_drop]])
            clean[np.concatenate(chosen)] = True
            if dropped:
                removed[np.concatenate(dropped)] = True
            candidates &= ~(clean | removed)

        self.scores_ = 1.0 - held_sum / np.maximum(held_count, 1)
        self.clean_ = clean
        self.removed_ = removed
        self.candidates_ = candidates
        self.issues_ = ~clean
        return self

    def _estimate_by_agreement(
        self, model: Any, features: np.ndarray, codes: np.ndarray, n_classes: int, rng: np.random.Generator
    ) -> None:
        """Three models on three thirds; each item's two held-out predictions give acc and the agreement g."""
        parts = stratified_parts(np.arange(codes.shape[0]), codes, _AGREEMENT_FOLDS, rng)
        predictions = np.full((_AGREEMENT_FOLDS, codes.shape[0]), -1, dtype=np.int64)
        for index, part in enumerate(parts):
            outside = np.setdiff1d(np.arange(codes.shape[0]), part, assume_unique=True)
            probs = fitted_probabilities(model, features[part], codes[part], n_classes, features[outside])
            predictions[index, outside] = probs.argmax(axis=1)
        # each item is predicted by exactly the two models that did not see it: its row of two predictions
        pair = predictions.T[predictions.T >= 0].reshape(-1, 2)
        accuracy = float((pair == codes[:, None]).mean())
        agreement = float((pair[:, 0] == pair[:, 1]).mean())
        discriminant = max(0.0, 1.0 - n_classes + n_classes * (n_classes - 1) * agreement)
        truth_accuracy = float(np.clip((1.0 + np.sqrt(discriminant)) / n_classes, 1.0 / n_classes, 1.0))
        self.agreement_ = agreement
        self._set_noise_rate(accuracy, n_classes, truth_accuracy)

    def _set_noise_rate(self, accuracy: float, n_classes: int, truth_accuracy: float | None) -> None:
        """Solve acc = a (1 - e) + (1 - a) e / (c - 1) for e; a = 1 - e (the paper's quadratic) when not given."""
        top = (n_classes - 1) / n_classes
        if truth_accuracy is None:
            root = np.sqrt(max(0.0, 1.0 - (1.0 - accuracy) / top))
            rate = top * (1.0 - root)
            truth_accuracy = 1.0 - rate
        else:
            denominator = n_classes * truth_accuracy - 1.0
            # a model no better than chance (a = 1/c) says nothing about the noise: call it the maximal rate
            rate = top if denominator <= 1e-12 else (n_classes - 1) * (truth_accuracy - accuracy) / denominator
        self.noise_rate_ = float(np.clip(rate, 0.0, top))
        self.cv_accuracy_ = accuracy
        self.truth_accuracy_ = float(truth_accuracy)
        self.discard_ratio_ = min(2.0, self.noise_rate_ / (1.0 - self.noise_rate_))  # the rate is below (c-1)/c < 1


def stratified_parts(items: np.ndarray, codes: np.ndarray, n_parts: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``items`` split at random into ``n_parts`` parts of (nearly) equal size within every class.

    Items are shuffled, grouped by class (stable), and dealt round-robin from a random starting part per class.
    """
    shuffled = rng.permutation(items)
    ordered = shuffled[np.argsort(codes[shuffled], kind="stable")]
    classes = codes[ordered]
    first_of_class = np.searchsorted(classes, classes, side="left")
    rank = np.arange(ordered.shape[0]) - first_of_class
    offset = rng.integers(n_parts, size=int(codes.max()) + 1)[classes]
    part = (rank + offset) % n_parts
    return [ordered[part == index] for index in range(n_parts)]
