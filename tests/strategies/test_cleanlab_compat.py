"""ConfidentLearning and cleanlab's confident learning flag the same items from the same probabilities.

Runs where cleanlab is installed (the ``compare`` extra, in the second environment), skipped elsewhere:
``pip install -e ".[test,compare]" && python -m pytest tests/strategies/test_cleanlab_compat.py``. Both get the same
out-of-sample probabilities; every filter is compared item by item with ``cleanlab.filter.find_label_issues``
(defaults otherwise; ``n_jobs=1`` only spares the process pool, results do not depend on it), the calibrated
confident joint with ``cleanlab.count.compute_confident_joint`` and the joint with ``cleanlab.count.estimate_joint``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict

from strategies.cleaning.confident_learning import FILTERS, ConfidentLearning

cleanlab_filter = pytest.importorskip("cleanlab.filter")
cleanlab_count = pytest.importorskip("cleanlab.count")


def noisy_items(n_items: int, n_classes: int, noise: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Overlapping Gaussian classes (means 2 apart on their own axis), a quarter of the labels flipped: to a uniform
    other class (symmetric) or to the next class (asymmetric)."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(n_classes, size=n_items)
    dims = max(n_classes, 3)
    X = 2.0 * np.eye(n_classes, dims)[truth] + rng.standard_normal((n_items, dims))
    flipped = rng.random(n_items) < 0.25
    shift = np.ones(n_items, dtype=np.int64) if noise == "asymmetric" else rng.integers(1, n_classes, n_items)
    return X, np.where(flipped, (truth + shift) % n_classes, truth)


def cross_validated(X: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return cross_val_predict(LogisticRegression(max_iter=1000), X, labels, cv=5, method="predict_proba")


def cleanlab_issues(labels: np.ndarray, pred_probs: np.ndarray, **kwargs) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cleanlab warns about classes too small to prune
        return cleanlab_filter.find_label_issues(labels, pred_probs, n_jobs=1, **kwargs)


@pytest.mark.parametrize("noise", ["symmetric", "asymmetric"])
@pytest.mark.parametrize("n_classes", [2, 10])
@pytest.mark.parametrize("seed", [0, 1])
def test_same_issues_and_confident_joint_on_noisy_data(n_classes, noise, seed):
    X, labels = noisy_items(3000, n_classes, noise, seed)
    pred_probs = cross_validated(X, labels)
    default = ConfidentLearning().fit(X, labels, pred_probs=pred_probs)
    reference = cleanlab_issues(labels, pred_probs)
    agreement = float((default.issues_ == reference).mean())
    print(f"classes={n_classes} {noise} seed={seed}: agreement {agreement:.4f}, {int(reference.sum())} issues")
    assert agreement == 1.0
    for filter_by in FILTERS:
        ours = ConfidentLearning(filter_by=filter_by).fit(X, labels, pred_probs=pred_probs)
        np.testing.assert_array_equal(ours.issues_, cleanlab_issues(labels, pred_probs, filter_by=filter_by))
    np.testing.assert_array_equal(default.confident_joint_, cleanlab_count.compute_confident_joint(labels, pred_probs))
    joint = cleanlab_count.estimate_joint(labels, pred_probs)
    np.testing.assert_allclose(default.joint_, joint, rtol=0, atol=1e-15)
    assert default.noise_rate_ == pytest.approx(1 - np.trace(joint), abs=1e-12)


def test_same_issues_on_random_probabilities_with_ties_rare_classes_and_many_classes():
    """Arbitrary (not model-made) probabilities: imbalanced classes, up to 25 of them, rounded logits (exact ties),
    and settings away from the defaults."""
    rng = np.random.default_rng(2024)
    compared = 0
    for trial in range(40):
        n_classes = int(rng.choice([2, 3, 5, 10, 25]))
        n_items = int(rng.integers(60, 2000))
        labels = rng.choice(n_classes, size=n_items, p=rng.dirichlet(np.full(n_classes, rng.choice([0.5, 5.0]))))
        if np.unique(labels).shape[0] < n_classes:
            continue
        logits = rng.standard_normal((n_items, n_classes)) * rng.uniform(0.5, 4.0)
        logits[np.arange(n_items), labels] += rng.uniform(0.0, 3.0)
        if trial % 2:
            logits = np.round(logits, 1)
        pred_probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        frac_noise, least = (1.0, 1) if trial % 3 else (0.6, 8)
        for filter_by in ("prune_by_noise_rate", "prune_by_class", "both", "confident_learning"):
            ours = ConfidentLearning(filter_by=filter_by, frac_noise=frac_noise, min_examples_per_class=least)
            ours.fit(np.zeros((n_items, 1)), labels, pred_probs=pred_probs)
            kwargs = {"frac_noise": frac_noise, "min_examples_per_class": least}
            if filter_by == "confident_learning":
                kwargs = {}  # cleanlab warns that the confident_learning filter ignores both
            reference = cleanlab_issues(labels, pred_probs, filter_by=filter_by, **kwargs)
            np.testing.assert_array_equal(ours.issues_, reference)
        np.testing.assert_array_equal(ours.confident_joint_, cleanlab_count.compute_confident_joint(labels, pred_probs))
        compared += 1
    assert compared >= 25
