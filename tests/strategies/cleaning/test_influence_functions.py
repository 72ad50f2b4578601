"""InfluenceFunctions against leave-one-out retraining, scikit-learn's logistic regression, a brute-force Hessian,
injected flips, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from strategies.aggregation.base import SettingError
from strategies.cleaning.base import DetectionError
from strategies.cleaning.influence_functions import InfluenceFunctions


def blobs(n: int, n_classes: int, n_features: int, noise: float, rng: np.random.Generator):
    """Unit Gaussian classes, means 1.5 apart on their own axis (overlapping: every item has some influence); a
    share ``noise`` of the labels flipped to another class."""
    truth = rng.integers(n_classes, size=n)
    X = 1.5 * np.eye(n_classes, n_features)[truth] + rng.standard_normal((n, n_features))
    flipped = rng.random(n) < noise
    labels = np.where(flipped, (truth + rng.integers(1, n_classes, size=n)) % n_classes, truth)
    return X, labels, flipped


def mean_log_loss(model: LogisticRegression, X: np.ndarray, labels: np.ndarray) -> float:
    return float(-np.log(model.predict_proba(X)[np.arange(labels.shape[0]), labels]).mean())


@pytest.mark.parametrize(("n_classes", "sklearn_C"), [(3, 1.0), (2, 2.0)])
def test_predicted_change_of_test_loss_matches_leave_one_out_retraining(n_classes, sklearn_C):
    """Removing each of 200 training items and retraining (scikit-learn's lbfgs, warm-started, gradient tolerance
    1e-10) changes the mean test loss as test_influence_ predicts. The binary case is the same softmax code; its
    objective is scikit-learn's binary one with C doubled."""
    rng = np.random.default_rng(n_classes)
    X, labels, _ = blobs(200, n_classes, 3, 0.15, rng)
    X_test, labels_test, _ = blobs(200, n_classes, 3, 0.15, rng)
    influence = InfluenceFunctions(C=1.0, standardize=False).fit(X, labels, X_test, labels_test)
    retrained = LogisticRegression(C=sklearn_C, tol=1e-10, max_iter=10_000, warm_start=True).fit(X, labels)
    assert mean_log_loss(retrained, X_test, labels_test) == pytest.approx(influence.test_loss_, abs=1e-7)
    actual = np.empty(labels.shape[0])
    with threadpool_limits(1):  # 400 tiny fits: BLAS threads only contend (20x slower on a loaded machine)
        for left_out in range(labels.shape[0]):  # the reference: one retraining per item
            keep = np.arange(labels.shape[0]) != left_out
            retrained.fit(X[keep], labels[keep])
            actual[left_out] = mean_log_loss(retrained, X_test, labels_test) - influence.test_loss_
    correlation = float(np.corrcoef(influence.test_influence_, actual)[0, 1])
    print(f"classes={n_classes}: Pearson correlation with leave-one-out retraining {correlation:.4f}")
    assert correlation > 0.95
    # same sign and scale, not only correlated: the first-order prediction is within 25% in total size
    assert np.abs(influence.test_influence_ - actual).sum() < 0.25 * np.abs(actual).sum()


@pytest.mark.parametrize(("n_classes", "C", "sklearn_C"), [(3, 0.5, 0.5), (4, 2.0, 2.0), (2, 0.5, 1.0)])
def test_fit_is_scikit_learns_regularised_logistic_regression(n_classes, C, sklearn_C):
    rng = np.random.default_rng(10 + n_classes)
    X, labels, _ = blobs(300, n_classes, 4, 0.1, rng)
    ours = InfluenceFunctions(C=C).fit(X, labels)  # standardised, then mapped back to the original scale
    theirs = LogisticRegression(C=sklearn_C, tol=1e-12, max_iter=10_000).fit((X - X.mean(0)) / X.std(0), labels)
    np.testing.assert_allclose(ours.pred_probs_, theirs.predict_proba((X - X.mean(0)) / X.std(0)), atol=1e-7)
    logits = X @ ours.coef_.T + ours.intercept_
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(ours.pred_probs_, expected / expected.sum(axis=1, keepdims=True), atol=1e-12)
    assert ours.n_iter_ < 30


def brute_force_hessian(inputs: np.ndarray, weights: np.ndarray, C: float, penalised: np.ndarray) -> np.ndarray:
    """The Hessian of sum_i -log softmax(W x_i)_y + |W_penalised|^2 / (2C), entry by entry from its definition."""
    n_classes, n_inputs = weights.shape
    size = n_classes * n_inputs
    hessian = np.diag(penalised / C)
    for x in inputs:
        logits = weights @ x
        p = np.exp(logits - logits.max())
        p /= p.sum()
        for a in range(size):
            for b in range(size):
                k, i, m, j = a // n_inputs, a % n_inputs, b // n_inputs, b % n_inputs
                hessian[a, b] += (p[k] * (k == m) - p[k] * p[m]) * x[i] * x[j]
    return hessian


def test_self_influence_is_the_pseudo_inverse_form_on_a_brute_force_hessian():
    rng = np.random.default_rng(5)
    X, labels, _ = blobs(30, 3, 2, 0.2, rng)
    influence = InfluenceFunctions(C=0.8, standardize=False).fit(X, labels)
    inputs = np.hstack([X, np.ones((30, 1))])
    weights = np.hstack([influence.coef_, influence.intercept_[:, None]])
    penalised = np.tile([1.0, 1.0, 0.0], 3)
    hessian = brute_force_hessian(inputs, weights, 0.8, penalised)
    np.testing.assert_allclose(influence.hessian_, hessian, atol=1e-10)
    assert np.linalg.matrix_rank(hessian) == 8  # the intercepts' common shift is flat (9 parameters)
    probs = influence.pred_probs_
    gradients = np.stack([np.kron(probs[i] - np.eye(3)[labels[i]], inputs[i]) for i in range(30)])
    expected = np.einsum("ij,jk,ik->i", gradients, np.linalg.pinv(hessian), gradients)
    np.testing.assert_allclose(influence.self_influence_, expected, rtol=1e-8)
    assert (influence.self_influence_ > 0).all()
    # at the optimum the gradient of the objective vanishes
    total = gradients.sum(axis=0) + penalised * weights.ravel() / 0.8
    assert np.abs(total).max() < 1e-8


def test_without_intercept_the_hessian_is_positive_definite():
    rng = np.random.default_rng(6)
    X, labels, _ = blobs(40, 3, 2, 0.2, rng)
    influence = InfluenceFunctions(C=1.0, fit_intercept=False).fit(X, labels)
    assert np.linalg.eigvalsh(influence.hessian_).min() > 0.5  # the penalty's 1/C, at least, on the redundancy
    np.testing.assert_allclose(influence.intercept_, -influence.coef_ @ X.mean(axis=0))


def test_flipped_labels_have_high_self_influence_and_harm_the_test_loss():
    rng = np.random.default_rng(7)
    X, labels, flipped = blobs(1000, 3, 5, 0.1, rng)
    X_test, labels_test, _ = blobs(1000, 3, 5, 0.0, rng)
    influence = InfluenceFunctions(fraction=0.1).fit(X, labels, X_test, labels_test)
    assert roc_auc_score(flipped, influence.scores_) > 0.9
    np.testing.assert_array_equal(influence.scores_, influence.self_influence_)
    assert influence.issues_.sum() == 100
    assert influence.scores_[influence.issues_].min() >= influence.scores_[~influence.issues_].max()
    # removing a wrong label lowers the clean test loss; removing a right one raises it
    assert np.median(influence.test_influence_[flipped]) < 0 < np.median(influence.test_influence_[~flipped])
    harmful = InfluenceFunctions(score="test_influence").fit(X, labels, X_test, labels_test)
    np.testing.assert_array_equal(harmful.scores_, -influence.test_influence_)
    assert roc_auc_score(flipped, harmful.scores_) > 0.8


def test_string_labels_and_test_labels_map_to_the_same_classes():
    rng = np.random.default_rng(8)
    X, labels, _ = blobs(200, 3, 3, 0.1, rng)
    names = np.array(["ant", "bee", "cat"])
    coded = InfluenceFunctions().fit(X, labels, X[:50], labels[:50])
    named = InfluenceFunctions().fit(X, names[labels], X[:50], names[labels[:50]])
    np.testing.assert_allclose(named.test_influence_, coded.test_influence_, rtol=1e-9, atol=1e-14)
    assert np.isnan(InfluenceFunctions().fit(X, labels).test_influence_).all()


def test_bad_input_is_refused_by_name():
    rng = np.random.default_rng(9)
    X, labels, _ = blobs(120, 3, 3, 0.1, rng)
    with pytest.raises(DetectionError, match="labels has 119 entries"):
        InfluenceFunctions().fit(X, labels[:-1])
    with pytest.raises(DetectionError, match="single class"):
        InfluenceFunctions().fit(X, np.zeros_like(labels))
    broken = X.copy()
    broken[2, 2] = np.nan
    with pytest.raises(DetectionError, match="X has 1 NaN"):
        InfluenceFunctions().fit(broken, labels)
    with pytest.raises(DetectionError, match="X_test has 1 NaN"):
        InfluenceFunctions().fit(X, labels, broken, labels)
    with pytest.raises(DetectionError, match="X_test and labels_test must be given together"):
        InfluenceFunctions().fit(X, labels, X_test=X)
    with pytest.raises(DetectionError, match="X_test has 2 features but X has 3"):
        InfluenceFunctions().fit(X, labels, X[:, :2], labels)
    with pytest.raises(DetectionError, match="labels_test must be one label per test item"):
        InfluenceFunctions().fit(X, labels, X, labels[:-1])
    with pytest.raises(DetectionError, match=r"labels_test holds label\(s\) \[7\]"):
        InfluenceFunctions().fit(X, labels, X[:3], np.array([0, 1, 7]))
    with pytest.raises(DetectionError, match="X_test and labels_test are needed"):
        InfluenceFunctions(score="test_influence").fit(X, labels)


@pytest.mark.parametrize(
    ("settings", "name"),
    [
        ({"fraction": 1.5}, "fraction"),
        ({"fraction": -0.1}, "fraction"),
        ({"C": 0.0}, "C"),
        ({"score": "loss"}, "score"),
        ({"max_iter": 0}, "max_iter"),
        ({"tol": 0.0}, "tol"),
    ],
)
def test_settings_outside_their_range_are_refused(settings, name):
    with pytest.raises(SettingError, match=rf"{name} must be") as caught:
        InfluenceFunctions(**settings)
    assert caught.value.setting == name


@pytest.mark.slow
def test_ten_thousand_points_twenty_features_give_finite_influences():
    """The benchmark's size (its time is printed by ``python -m experiments.benchmarks.cleaning``, not asserted)."""
    rng = np.random.default_rng(11)
    X, labels, _ = blobs(10_000, 5, 20, 0.1, rng)
    influence = InfluenceFunctions().fit(X, labels, X[:2000], labels[:2000])
    assert np.isfinite(influence.self_influence_).all() and np.isfinite(influence.test_influence_).all()
