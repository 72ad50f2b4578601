import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from strategies.aggregation.base import SettingError
from strategies.cleaning.area_under_margin import AreaUnderMargin, area_under_margin, threshold_sample_sets
from strategies.cleaning.base import DetectionError


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


@pytest.fixture(scope="module")
def fitted():
    X, labels, flipped = noisy_gaussians(0)
    return AreaUnderMargin(random_state=0).fit(X, labels), flipped


def test_hand_computed_area_under_margin():
    # 3 epochs, 2 items, 3 classes; item 0 labeled 0, item 1 labeled 1
    record = np.array(
        [
            [[0.5, 0.25, 0.25], [0.5, 0.25, 0.25]],
            [[0.8, 0.1, 0.1], [0.4, 0.4, 0.2]],
            [[0.2, 0.4, 0.4], [0.1, 0.8, 0.1]],
        ]
    )
    # margins item 0: log 2, log 8, log 0.5; item 1: log 0.5, log 1, log 8
    expected = [np.log(2 * 8 * 0.5) / 3, np.log(0.5 * 1 * 8) / 3]
    np.testing.assert_allclose(area_under_margin(record, np.array([0, 1])), expected)


def test_threshold_sample_sets_are_disjoint_and_of_size_n_over_k_plus_one():
    runs = threshold_sample_sets(103, 3, np.random.default_rng(0))
    assert runs.shape == (2, 25)
    assert len(np.union1d(runs[0], runs[1])) == 50


def test_flipped_labels_have_low_aum(fitted):
    """AUROC of -AUM against the injected flips: 0.970 measured (600 items, 20% flips)."""
    detector, flipped = fitted
    assert roc_auc_score(flipped, detector.scores_) > 0.9
    np.testing.assert_array_equal(detector.scores_, -detector.aum_)
    assert np.isfinite(detector.aum_).all()


def test_threshold_samples_rank_low(fitted):
    """The fake-class items' AUM sits below the correctly labeled items': AUROC 0.935 measured."""
    detector, flipped = fitted
    fake = detector.threshold_aum_.ravel()
    clean = detector.aum_[~flipped]
    is_fake = np.r_[np.ones(fake.size), np.zeros(clean.size)]
    assert roc_auc_score(is_fake, -np.r_[fake, clean]) > 0.85
    assert np.median(fake) < np.median(clean)


def test_threshold_is_the_percentile_of_the_threshold_samples(fitted):
    detector, _ = fitted
    assert detector.threshold_samples_.shape == detector.threshold_aum_.shape == (2, 600 // 4)
    assert detector.threshold_ == pytest.approx(np.percentile(detector.threshold_aum_, 99))
    np.testing.assert_array_equal(detector.issues_, detector.aum_ < detector.threshold_)


def test_same_random_state_same_scores():
    X, labels, _ = noisy_gaussians(1, n_items=200)
    first = AreaUnderMargin(n_epochs=4, random_state=7).fit(X, labels)
    again = AreaUnderMargin(n_epochs=4, random_state=7).fit(X, labels)
    np.testing.assert_array_equal(first.scores_, again.scores_)
    np.testing.assert_array_equal(first.threshold_samples_, again.threshold_samples_)


def test_binary_labels_two_thirds_are_threshold_samples_once():
    X, labels, _ = noisy_gaussians(2, n_items=100, n_classes=2)
    detector = AreaUnderMargin(n_epochs=3, random_state=0).fit(X, labels)
    assert len(np.unique(detector.threshold_samples_)) == 2 * (100 // 3)
    assert np.isfinite(detector.aum_).all()


def test_bad_input_names_the_argument():
    X, labels, _ = noisy_gaussians(0, n_items=50)
    detector = AreaUnderMargin(n_epochs=2)
    with pytest.raises(DetectionError, match="labels has 51 entries but X has 50"):
        detector.fit(X, np.r_[labels, 0])
    with pytest.raises(DetectionError, match="single class"):
        detector.fit(X, np.ones(50))
    X_nan = X.copy()
    X_nan[7, 2] = np.nan
    with pytest.raises(DetectionError, match="X has 1 NaN"):
        detector.fit(X_nan, labels)
    with pytest.raises(DetectionError, match="at least classes \\+ 1 = 4 items"):
        detector.fit(X[:3], [0, 1, 2])


@pytest.mark.parametrize("percentile", [-1.0, 100.5, float("nan")])
def test_percentile_outside_its_range(percentile):
    with pytest.raises(SettingError, match="percentile"):
        AreaUnderMargin(percentile=percentile)
