"""ConfidentLearning against a confident joint counted by hand, injected flips on separable classes, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from strategies.aggregation.base import SettingError
from strategies.cleaning.base import DetectionError
from strategies.cleaning.confident_learning import ConfidentLearning, round_keeping_row_totals

# Six items, two classes. Thresholds: t0 = mean(0.9, 0.8, 0.2) = 0.633, t1 = mean(0.9, 0.7, 0.4) = 0.667.
# Items 0, 1 (label 0) reach t0 only; item 2 (label 0) reaches t1 only; items 3, 4 (label 1) reach t1 only; item 5
# (label 1, p = 0.6 / 0.4) reaches neither. Confident joint C = [[2, 1], [0, 2]]; calibrated to the label counts
# (3, 3): row 0 stays [2, 1], row 1 becomes [0, 3]; Q = C~ / 6 and the noise rate 1 - 5/6.
TINY_LABELS = np.array([0, 0, 0, 1, 1, 1])
TINY_PROBS = np.array([[0.9, 0.1], [0.8, 0.2], [0.2, 0.8], [0.1, 0.9], [0.3, 0.7], [0.6, 0.4]])
TINY_X = np.arange(6.0)[:, None]


def separable(n: int = 900, n_classes: int = 3, noise: float = 0.2, seed: int = 0):
    """Unit Gaussian classes with means 4 apart on their own axis; a share ``noise`` of labels flipped uniformly."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(n_classes, size=n)
    X = 4.0 * np.eye(n_classes, max(n_classes, 2))[truth] + rng.standard_normal((n, max(n_classes, 2)))
    flipped = rng.random(n) < noise
    labels = np.where(flipped, (truth + rng.integers(1, n_classes, size=n)) % n_classes, truth)
    return X, labels, flipped


def test_tiny_confident_joint_by_hand():
    cl = ConfidentLearning().fit(TINY_X, TINY_LABELS, pred_probs=TINY_PROBS)
    np.testing.assert_allclose(cl.thresholds_, [1.9 / 3, 2.0 / 3])
    np.testing.assert_array_equal(cl.raw_confident_joint_, [[2, 1], [0, 2]])
    np.testing.assert_array_equal(cl.confident_joint_, [[2, 1], [0, 3]])
    np.testing.assert_allclose(cl.joint_, np.array([[2, 1], [0, 3]]) / 6)
    assert cl.noise_rate_ == pytest.approx(1 / 6)
    np.testing.assert_allclose(cl.scores_, 1 - np.array([0.9, 0.8, 0.2, 0.9, 0.7, 0.4]))
    np.testing.assert_allclose(cl.label_quality_, [0.9, 0.8, 0.2, 0.9, 0.7, 0.4])
    # cell (given 0, true 1) prunes one item: the largest margin p1 - p0 among label 0 is item 2's
    np.testing.assert_array_equal(cl.issues_, [False, False, True, False, False, False])


@pytest.mark.parametrize(
    ("filter_by", "flagged"),
    [
        ("prune_by_class", [2]),  # class 0 prunes 3 - 2 = 1 (lowest p0: item 2); class 1 prunes 3 - 3 = 0
        ("both", [2]),
        ("confident_learning", [2]),  # the only item counted off the diagonal
        ("predicted_neq_given", [2, 5]),  # item 5's most probable class is 0, not its label 1
    ],
)
def test_tiny_filters_by_hand(filter_by, flagged):
    cl = ConfidentLearning(filter_by=filter_by).fit(TINY_X, TINY_LABELS, pred_probs=TINY_PROBS)
    np.testing.assert_array_equal(np.flatnonzero(cl.issues_), flagged)


def test_a_label_the_model_predicts_is_never_flagged():
    # item 2 gets its label's probability back: it is then the prediction, whatever the prune counts say
    probs = TINY_PROBS.copy()
    probs[2] = [0.5, 0.5]
    for filter_by in ("prune_by_noise_rate", "prune_by_class", "confident_learning"):
        cl = ConfidentLearning(filter_by=filter_by).fit(TINY_X, TINY_LABELS, pred_probs=probs)
        assert not cl.issues_[2]


def test_rounding_keeps_row_totals_by_largest_remainder():
    rounded = round_keeping_row_totals(np.array([[1.4, 1.3, 1.3], [0.5, 1.5, 1.0], [2.6, 0.7, 0.7]]))
    # row 0 rounds to 3 < 4: the largest remainder (0.4) gains one; row 1 rounds half to even and already sums to
    # 3; row 2 rounds to 5 > 4: the smallest remainder (-0.4) loses one
    np.testing.assert_array_equal(rounded, [[2, 1, 1], [0, 2, 1], [2, 1, 1]])


@pytest.mark.parametrize("n_classes", [2, 3])
def test_finds_injected_flips_and_their_rate_on_separable_classes(n_classes):
    X, labels, flipped = separable(n_classes=n_classes)
    cl = ConfidentLearning(random_state=0).fit(X, labels)
    assert roc_auc_score(flipped, cl.scores_) > 0.97
    assert cl.issues_[flipped].mean() > 0.9  # recall of the flips
    assert flipped[cl.issues_].mean() > 0.9  # precision
    assert abs(cl.noise_rate_ - flipped.mean()) < 0.03
    assert cl.confident_joint_.sum() == len(labels)
    np.testing.assert_array_equal(cl.confident_joint_.sum(axis=1), np.bincount(labels))
    np.testing.assert_allclose(cl.pred_probs_.sum(axis=1), 1.0)


def test_given_probabilities_are_used_as_given_and_folds_are_seeded():
    X, labels, _ = separable(n=300)
    first = ConfidentLearning(random_state=3).fit(X, labels)
    again = ConfidentLearning(random_state=3).fit(X, labels)
    np.testing.assert_array_equal(first.pred_probs_, again.pred_probs_)
    reused = ConfidentLearning().fit(X, labels, pred_probs=first.pred_probs_)
    np.testing.assert_array_equal(reused.issues_, first.issues_)
    np.testing.assert_array_equal(reused.scores_, first.scores_)


def test_string_labels_give_the_same_issues():
    X, labels, _ = separable(n=300)
    names = np.array(["ant", "bee", "cat"])
    coded = ConfidentLearning(random_state=1).fit(X, labels)
    named = ConfidentLearning(random_state=1).fit(X, names[labels])
    np.testing.assert_array_equal(coded.issues_, named.issues_)
    assert list(named.classes_) == ["ant", "bee", "cat"]


def test_frac_noise_prunes_a_share_of_the_counts():
    X, labels, _ = separable(n=600)
    full = ConfidentLearning(random_state=0).fit(X, labels)
    half = ConfidentLearning(random_state=0, frac_noise=0.5).fit(X, labels)
    assert half.issues_.sum() < full.issues_.sum()
    assert not (half.issues_ & ~full.issues_).any()  # the top of the same rankings


def test_bad_input_is_refused_by_name():
    X, labels, _ = separable(n=120)
    with pytest.raises(DetectionError, match="labels has 119 entries"):
        ConfidentLearning().fit(X, labels[:-1])
    with pytest.raises(DetectionError, match="single class"):
        ConfidentLearning().fit(X, np.zeros_like(labels))
    broken = X.copy()
    broken[5, 0] = np.nan
    with pytest.raises(DetectionError, match="X has 1 NaN"):
        ConfidentLearning().fit(broken, labels)
    with pytest.raises(DetectionError, match="pred_probs must have shape"):
        ConfidentLearning().fit(X, labels, pred_probs=np.full((120, 2), 0.5))
    with pytest.raises(DetectionError, match="pred_probs rows must be probabilities"):
        ConfidentLearning().fit(X, labels, pred_probs=np.full((120, 3), 0.5))
    rare = labels.copy()
    rare[:] = 0
    rare[:2] = 1
    with pytest.raises(DetectionError, match="n_folds"):
        ConfidentLearning(n_folds=5).fit(X, rare)


@pytest.mark.parametrize(
    ("settings", "name"),
    [
        ({"filter_by": "prune_by_magic"}, "filter_by"),
        ({"n_folds": 1}, "n_folds"),
        ({"frac_noise": 1.5}, "frac_noise"),
        ({"min_examples_per_class": -1}, "min_examples_per_class"),
    ],
)
def test_settings_outside_their_range_are_refused(settings, name):
    with pytest.raises(SettingError, match=name) as caught:
        ConfidentLearning(**settings)
    assert caught.value.setting == name
