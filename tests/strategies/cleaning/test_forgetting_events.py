import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from strategies.aggregation.base import SettingError
from strategies.cleaning.base import DetectionError
from strategies.cleaning.forgetting_events import ForgettingEvents, forgetting_counts


def noisy_gaussians(seed, n_items=600, n_classes=3, n_features=10, separation=2.5, noise=0.2):
    """Class-conditional unit Gaussians, class k's mean ``separation`` along feature k; a share ``noise`` of the
    labels flipped uniformly to another class. Returns (X, labels, flipped)."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(n_classes, size=n_items)
    means = np.zeros((n_classes, n_features))
    means[np.arange(n_classes), np.arange(n_classes)] = separation
    X = rng.normal(size=(n_items, n_features)) + means[truth]
    flipped = rng.random(n_items) < noise
    labels = truth.copy()
    labels[flipped] = (truth[flipped] + rng.integers(1, n_classes, size=flipped.sum())) % n_classes
    return X, labels, flipped


def test_hand_counted_forgetting_events():
    # rows: epochs; columns: items
    correct = np.array(
        [
            [1, 0, 1, 0, 1],
            [0, 1, 1, 0, 1],
            [1, 0, 1, 0, 0],
            [0, 1, 1, 0, 1],
            [1, 1, 0, 0, 1],
        ],
        dtype=bool,
    )
    # item 0: 1->0 at steps 1 and 3; item 1: 1->0 at step 2; item 2: at step 4; item 3 never learned (= 5 epochs);
    # item 4: at step 2
    np.testing.assert_array_equal(forgetting_counts(correct), [2, 1, 1, 5, 1])


def test_learning_late_is_not_forgetting():
    correct = np.array([[0, 0], [0, 1], [1, 1]], dtype=bool)
    np.testing.assert_array_equal(forgetting_counts(correct), [0, 0])


def test_no_forgetting_on_a_separable_noise_free_set():
    rng = np.random.default_rng(0)
    truth = rng.integers(3, size=300)
    means = np.zeros((3, 5))
    means[np.arange(3), np.arange(3)] = 10.0
    X = rng.normal(size=(300, 5)) + means[truth]
    detector = ForgettingEvents(random_state=0).fit(X, truth)
    np.testing.assert_array_equal(detector.forgetting_counts_, 0)
    assert not detector.never_learned_.any() and not detector.issues_.any()


def test_flipped_labels_are_forgotten_more():
    """AUROC of the forgetting counts against the injected flips: 0.922 measured (600 items, 20% flips)."""
    X, labels, flipped = noisy_gaussians(0)
    detector = ForgettingEvents(random_state=0).fit(X, labels)
    assert roc_auc_score(flipped, detector.scores_) > 0.85
    assert detector.scores_.dtype == float and detector.forgetting_counts_.max() <= detector.n_epochs
    np.testing.assert_array_equal(detector.issues_, detector.forgetting_counts_ >= detector.threshold)
    np.testing.assert_array_equal(detector.never_learned_, detector.forgetting_counts_ == detector.n_epochs)
    assert detector.fit_predict(X, labels).sum() == detector.issues_.sum()


def test_same_random_state_same_scores_and_string_labels():
    X, labels, _ = noisy_gaussians(1, n_items=200)
    names = np.array(["cat", "dog", "emu"])[labels]
    first = ForgettingEvents(n_epochs=5, random_state=3).fit(X, names)
    again = ForgettingEvents(n_epochs=5, random_state=3).fit(X, names)
    np.testing.assert_array_equal(first.scores_, again.scores_)
    assert list(first.classes_) == ["cat", "dog", "emu"]


def test_bad_input_names_the_argument():
    X, labels, _ = noisy_gaussians(0, n_items=50)
    detector = ForgettingEvents(n_epochs=2)
    with pytest.raises(DetectionError, match="labels has 49 entries but X has 50"):
        detector.fit(X, labels[:-1])
    with pytest.raises(DetectionError, match="single class"):
        detector.fit(X, np.zeros(50, dtype=int))
    X_nan = X.copy()
    X_nan[3, 1] = np.nan
    with pytest.raises(DetectionError, match="X has 1 NaN"):
        detector.fit(X_nan, labels)


@pytest.mark.parametrize(("threshold", "n_epochs"), [(0, 30), (31, 30), (1.5, 30)])
def test_threshold_outside_its_range(threshold, n_epochs):
    with pytest.raises(SettingError, match="threshold"):
        ForgettingEvents(threshold=threshold, n_epochs=n_epochs)
