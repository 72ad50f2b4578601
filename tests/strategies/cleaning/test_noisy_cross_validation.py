"""NoisyCrossValidation (INCV) against known injected symmetric noise: the noise-rate estimate, the clean subset it
selects, the paper's estimate and when it holds, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import KNeighborsClassifier

from strategies.aggregation.base import SettingError
from strategies.cleaning.base import DetectionError
from strategies.cleaning.noisy_cross_validation import NoisyCrossValidation, stratified_parts


def symmetric_noise(n: int, n_classes: int, rate: float, seed: int):
    """Unit Gaussian classes with means 4 apart on their own axis (a linear model is ~97-100% accurate on the true
    labels); a share ``rate`` of the labels flipped to a uniformly drawn other class."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(n_classes, size=n)
    dims = max(n_classes, 2)
    X = 4.0 * np.eye(n_classes, dims)[truth] + rng.standard_normal((n, dims))
    flipped = rng.random(n) < rate
    labels = np.where(flipped, (truth + rng.integers(1, n_classes, size=n)) % n_classes, truth)
    return X, labels, flipped


CASES = [(2, 0.2), (2, 0.4), (10, 0.2), (10, 0.4)]


@pytest.mark.parametrize(("n_classes", "rate"), CASES)
def test_noise_rate_within_three_points_of_the_injected_rate(n_classes, rate):
    X, labels, flipped = symmetric_noise(3000, n_classes, rate, seed=1)
    incv = NoisyCrossValidation(n_iter=1, random_state=0).fit(X, labels)  # the estimate precedes the iterations
    error = incv.noise_rate_ - flipped.mean()
    print(f"classes={n_classes} rate={rate}: noise_rate_={incv.noise_rate_:.4f} injected={flipped.mean():.4f} "
          f"error={100 * error:+.2f} points")  # fmt: skip
    assert abs(error) < 0.03
    assert abs(incv.noise_rate_ - rate) < 0.03
    # the relation it solved: acc = a (1 - e) + (1 - a) e / (c - 1)
    a, e = incv.truth_accuracy_, incv.noise_rate_
    assert incv.cv_accuracy_ == pytest.approx(a * (1 - e) + (1 - a) * e / (n_classes - 1))


@pytest.mark.parametrize(("n_classes", "rate"), CASES)
def test_the_papers_quadratic_underestimates_for_a_model_that_ignores_the_noise(n_classes, rate):
    """The paper's Proposition assumes held-out predictions reproduce the noise (a = 1 - e); a regularised logistic
    regression predicts the true class instead, its accuracy on the noisy labels is ~1 - e and the quadratic gives
    much less."""
    X, labels, flipped = symmetric_noise(3000, n_classes, rate, seed=1)
    paper = NoisyCrossValidation(noise_estimate="paper", n_iter=1, random_state=0).fit(X, labels)
    assert paper.noise_rate_ < flipped.mean() - 0.05
    assert paper.cv_accuracy_ == pytest.approx((1 - paper.noise_rate_) ** 2 + paper.noise_rate_**2 / (n_classes - 1))
    assert np.isnan(paper.agreement_)


def test_with_a_model_that_copies_the_noise_the_paper_and_the_agreement_estimates_agree():
    """1-nearest-neighbour predicts its neighbour's (noisy) label: the paper's assumption a = 1 - e holds, and the
    agreement of two such models recovers it."""
    X, labels, flipped = symmetric_noise(3000, 10, 0.2, seed=2)
    nearest = KNeighborsClassifier(n_neighbors=1)
    agreement = NoisyCrossValidation(model=nearest, n_iter=1, random_state=0).fit(X, labels)
    paper = NoisyCrossValidation(model=nearest, noise_estimate="paper", n_iter=1, random_state=0).fit(X, labels)
    assert abs(agreement.noise_rate_ - flipped.mean()) < 0.03
    assert abs(paper.noise_rate_ - flipped.mean()) < 0.03
    assert agreement.truth_accuracy_ == pytest.approx(1 - flipped.mean(), abs=0.03)


@pytest.mark.parametrize("n_classes", [2, 5])
def test_selects_a_clean_subset_and_flags_the_flips(n_classes):
    X, labels, flipped = symmetric_noise(1500, n_classes, 0.3, seed=3)
    incv = NoisyCrossValidation(random_state=0).fit(X, labels)
    assert (~flipped[incv.clean_]).mean() > 0.98  # label precision of the selection
    assert incv.clean_[~flipped].mean() > 0.95  # label recall
    assert roc_auc_score(flipped, incv.scores_) > 0.97
    np.testing.assert_array_equal(incv.issues_, ~incv.clean_)
    assert not (incv.clean_ & incv.removed_).any() and not (incv.clean_ & incv.candidates_).any()
    assert incv.removed_.sum() > 0.5 * flipped.sum()  # with discard, most wrong labels are dropped, not left over
    assert 1 <= incv.n_iter_ <= 4
    assert incv.discard_ratio_ == pytest.approx(incv.noise_rate_ / (1 - incv.noise_rate_))


def test_without_discard_nothing_is_removed_and_the_rest_stays_candidate():
    X, labels, _ = symmetric_noise(600, 3, 0.3, seed=4)
    incv = NoisyCrossValidation(discard=False, n_iter=2, random_state=0).fit(X, labels)
    assert not incv.removed_.any()
    np.testing.assert_array_equal(incv.candidates_, ~incv.clean_)


def test_same_seed_same_result_and_stratified_parts():
    X, labels, _ = symmetric_noise(400, 3, 0.2, seed=5)
    first = NoisyCrossValidation(random_state=7).fit(X, labels)
    again = NoisyCrossValidation(random_state=7).fit(X, labels)
    np.testing.assert_array_equal(first.scores_, again.scores_)
    np.testing.assert_array_equal(first.clean_, again.clean_)
    parts = stratified_parts(np.arange(400), labels, 3, np.random.default_rng(0))
    np.testing.assert_array_equal(np.sort(np.concatenate(parts)), np.arange(400))
    for code in range(3):
        sizes = [int((labels[part] == code).sum()) for part in parts]
        assert max(sizes) - min(sizes) <= 1


def test_bad_input_is_refused_by_name():
    X, labels, _ = symmetric_noise(120, 3, 0.2, seed=6)
    with pytest.raises(DetectionError, match="labels has 119 entries"):
        NoisyCrossValidation().fit(X, labels[:-1])
    with pytest.raises(DetectionError, match="single class"):
        NoisyCrossValidation().fit(X, np.zeros_like(labels))
    broken = X.copy()
    broken[0, 1] = np.inf
    with pytest.raises(DetectionError, match="X has 1 NaN or infinite"):
        NoisyCrossValidation().fit(broken, labels)
    rare = np.zeros_like(labels)
    rare[:2] = 1
    with pytest.raises(DetectionError, match="labels: class 1 has 2 item"):
        NoisyCrossValidation().fit(X, rare)


@pytest.mark.parametrize(
    ("settings", "name"),
    [({"n_iter": 0}, "n_iter"), ({"noise_estimate": "guess"}, "noise_estimate"), ({"discard": "yes"}, "discard")],
)
def test_settings_outside_their_range_are_refused(settings, name):
    with pytest.raises(SettingError, match=name) as caught:
        NoisyCrossValidation(**settings)
    assert caught.value.setting == name
