import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from strategies.aggregation.base import SettingError
from strategies.cleaning.base import DetectionError
from strategies.cleaning.data_maps import REGIONS, DataMaps, data_map_coordinates, data_map_regions


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


def test_hand_computed_coordinates():
    # 4 epochs, 2 items (labels 1 and 0), 2 classes; given-label probabilities item 0: .2 .4 .6 .8, item 1: .9 x4
    given = np.array([[0.2, 0.9], [0.4, 0.9], [0.6, 0.9], [0.8, 0.9]])
    record = np.empty((4, 2, 2))
    record[:, 0, 1], record[:, 0, 0] = given[:, 0], 1 - given[:, 0]
    record[:, 1, 0], record[:, 1, 1] = given[:, 1], 1 - given[:, 1]
    confidence, variability, correctness = data_map_coordinates(record, np.array([1, 0]))
    np.testing.assert_allclose(confidence, [0.5, 0.9])
    # population standard deviation: sqrt(((.3)^2 + (.1)^2 + (.1)^2 + (.3)^2) / 4) = sqrt(0.05)
    np.testing.assert_allclose(variability, [np.sqrt(0.05), 0.0], atol=1e-12)
    np.testing.assert_allclose(correctness, [0.5, 1.0])  # item 0 right in epochs 3 and 4


def test_region_rule():
    confidence = np.array([0.9, 0.7, 0.3, 0.2])
    variability = np.array([0.05, 0.3, 0.3, 0.05])
    regions = data_map_regions(confidence, variability, threshold=0.5, variability_threshold=0.2)
    assert list(regions) == ["easy-to-learn", "ambiguous", "hard-to-learn", "hard-to-learn"]


def test_flipped_labels_are_hard_to_learn():
    """AUROC of 1 - confidence against the injected flips: 0.969 measured (600 items, 20% flips)."""
    X, labels, flipped = noisy_gaussians(0)
    detector = DataMaps(random_state=0).fit(X, labels)
    assert roc_auc_score(flipped, detector.scores_) > 0.9
    np.testing.assert_allclose(detector.scores_, 1 - detector.confidence_)
    assert ((detector.correctness_ >= 0) & (detector.correctness_ <= 1)).all()
    assert set(detector.regions_) <= set(REGIONS)
    np.testing.assert_array_equal(detector.issues_, detector.confidence_ < 0.5)
    np.testing.assert_array_equal(detector.issues_, detector.regions_ == "hard-to-learn")
    assert detector.variability_threshold_ == pytest.approx(np.quantile(detector.variability_, 2 / 3))
    assert flipped[detector.issues_].mean() > 3 * flipped[~detector.issues_].mean()


def test_fixed_variability_threshold_and_same_random_state():
    X, labels, _ = noisy_gaussians(1, n_items=200)
    first = DataMaps(n_epochs=5, variability_threshold=0.0, random_state=2).fit(X, labels)
    again = DataMaps(n_epochs=5, variability_threshold=0.0, random_state=2).fit(X, labels)
    np.testing.assert_array_equal(first.scores_, again.scores_)
    assert first.variability_threshold_ == 0.0
    assert set(first.regions_) <= {"ambiguous", "hard-to-learn"}  # every variability is >= 0


def test_bad_input_names_the_argument():
    X, labels, _ = noisy_gaussians(0, n_items=50)
    detector = DataMaps(n_epochs=2)
    with pytest.raises(DetectionError, match="labels has 10 entries but X has 50"):
        detector.fit(X, labels[:10])
    with pytest.raises(DetectionError, match="single class"):
        detector.fit(X, ["a"] * 50)
    with pytest.raises(DetectionError, match="X has 2 NaN"):
        detector.fit(np.where(np.eye(50, 10, dtype=bool) & (np.arange(50) < 2)[:, None], np.nan, X), labels)


@pytest.mark.parametrize(
    ("setting", "value"), [("threshold", 1.5), ("threshold", -0.1), ("variability_threshold", 0.7)]
)
def test_thresholds_outside_their_range(setting, value):
    with pytest.raises(SettingError, match=setting):
        DataMaps(**{setting: value})
