import time

import numpy as np
import pytest
from scipy.special import softmax
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.metrics import roc_auc_score
from sklearn.neural_network import MLPClassifier

from strategies.aggregation.base import SettingError
from strategies.cleaning._dynamics import (
    TrainingDynamicsDetector,
    default_dynamics_model,
    given_label_probabilities,
    log_margins,
    predicted_correctly,
    record_training_dynamics,
    standardise,
)
from strategies.cleaning.base import DetectionError
from strategies.cleaning.forgetting_events import ForgettingEvents, forgetting_counts


def noisy_gaussians(seed, n_items=300, n_classes=3, n_features=10, separation=2.5, noise=0.2):
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


def test_record_shape_dtype_and_probabilities():
    X, labels, _ = noisy_gaussians(0)
    record = record_training_dynamics(default_dynamics_model(), X, labels, 3, 4, 64, np.random.default_rng(0))
    assert record.shape == (4, 300, 3) and record.dtype == np.float32
    assert np.allclose(record.sum(axis=2), 1.0, atol=1e-5)
    # training moves the model: the last epoch fits the labels better than the first
    assert predicted_correctly(record, labels)[-1].mean() >= predicted_correctly(record, labels)[0].mean()


def test_same_seed_same_record_and_other_seed_differs():
    X, labels, _ = noisy_gaussians(1)
    first = record_training_dynamics(default_dynamics_model(), X, labels, 3, 3, 64, np.random.default_rng(5))
    again = record_training_dynamics(default_dynamics_model(), X, labels, 3, 3, 64, np.random.default_rng(5))
    other = record_training_dynamics(default_dynamics_model(), X, labels, 3, 3, 64, np.random.default_rng(6))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_a_class_without_items_gets_a_zero_free_column_and_model_is_not_changed():
    """The AUM run trains on K + 1 classes; a class code absent from a batch is still a column of the record."""
    X, labels, _ = noisy_gaussians(2)
    model = SGDClassifier(loss="log_loss", random_state=0)
    record = record_training_dynamics(model, X, labels, 4, 2, 100, np.random.default_rng(0))
    assert record.shape == (2, 300, 4)
    assert not hasattr(model, "classes_")  # a clone was trained


@pytest.mark.parametrize("model", [LogisticRegression(), SGDClassifier(loss="hinge")])
def test_model_without_partial_fit_or_predict_proba_is_refused(model):
    X, labels, _ = noisy_gaussians(0, n_items=40)
    missing = "partial_fit" if isinstance(model, LogisticRegression) else "predict_proba"
    with pytest.raises(DetectionError, match=f"model .*lacks {missing}"):
        ForgettingEvents(model=model, n_epochs=2).fit(X, labels)


def test_standardise_leaves_a_constant_column_at_zero():
    features = np.array([[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]])
    scaled = standardise(features)
    np.testing.assert_allclose(scaled[:, 0], [-np.sqrt(1.5), 0.0, np.sqrt(1.5)])
    np.testing.assert_array_equal(scaled[:, 1], 0.0)


def test_statistics_of_a_hand_made_record():
    # 2 epochs, 2 items, 3 classes
    record = np.array(
        [
            [[0.7, 0.2, 0.1], [0.3, 0.3, 0.4]],
            [[0.2, 0.5, 0.3], [0.1, 0.1, 0.8]],
        ]
    )
    codes = np.array([0, 2])
    np.testing.assert_array_equal(predicted_correctly(record, codes), [[True, True], [False, True]])
    np.testing.assert_allclose(given_label_probabilities(record, codes), [[0.7, 0.4], [0.2, 0.8]])
    expected = np.log([[0.7 / 0.2, 0.4 / 0.3], [0.2 / 0.5, 0.8 / 0.1]])
    np.testing.assert_allclose(log_margins(record, codes), expected)


def test_log_margin_is_the_logit_margin_of_a_softmax_output():
    logits = np.random.default_rng(0).normal(scale=3.0, size=(5, 7, 4))
    codes = np.array([0, 1, 2, 3, 0, 1, 2])
    items = np.arange(7)
    others = logits.copy()
    others[:, items, codes] = -np.inf
    expected = logits[:, items, codes] - others.max(axis=2)
    np.testing.assert_allclose(log_margins(softmax(logits, axis=2), codes), expected, rtol=1e-10, atol=1e-10)


def test_a_probability_of_zero_gives_a_finite_margin():
    record = np.array([[[1.0, 0.0], [0.0, 1.0]]], dtype=np.float32)
    margins = log_margins(record, np.array([0, 0]))
    assert np.isfinite(margins).all() and margins[0, 0] > 80 and margins[0, 1] < -80


@pytest.mark.parametrize(("setting", "value"), [("n_epochs", 1), ("n_epochs", 2.5), ("batch_size", 0)])
def test_loop_settings_are_checked(setting, value):
    with pytest.raises(SettingError, match=setting):
        TrainingDynamicsDetector(**{setting: value})


def _forgetting_scores(record, codes):
    return forgetting_counts(predicted_correctly(record, codes)).astype(float)


@pytest.mark.slow
def test_default_model_measurement():
    """The measurement behind the default model (printed with ``-s``; the table is in ``_dynamics``' docstring).

    Three data sets x 3 seeds, 2,000 items, 20 features, 3 classes, 20% flipped labels: Gaussians with means 1.5 and
    2.5 apart (the Bayes boundary is linear) and 3 Gaussian clusters per class in 2 of the features (it is not).
    AUROC of each statistic of the record (forgetting counts, -AUM without threshold samples, 1 - confidence)
    against the flips, and seconds per 30-epoch record.
    """

    def clusters(seed, n_items=2000, n_features=20, n_classes=3, per_class=3):
        rng = np.random.default_rng(seed)
        centres = rng.uniform(-3, 3, size=(n_classes * per_class, 2))
        cluster = rng.integers(n_classes * per_class, size=n_items)
        truth = cluster % n_classes
        X = rng.normal(size=(n_items, n_features))
        X[:, :2] = centres[cluster] + 0.6 * rng.normal(size=(n_items, 2))
        flipped = rng.random(n_items) < 0.2
        labels = truth.copy()
        labels[flipped] = (truth[flipped] + rng.integers(1, n_classes, size=flipped.sum())) % n_classes
        return X, labels, flipped

    data_sets = {
        "gaussians 1.5": lambda seed: noisy_gaussians(seed, 2000, 3, 20, 1.5),
        "gaussians 2.5": lambda seed: noisy_gaussians(seed, 2000, 3, 20, 2.5),
        "clusters": clusters,
    }
    models = {
        'SGD(log_loss, "optimal" rate)': SGDClassifier(loss="log_loss"),
        "SGD(log_loss, constant 0.01)": SGDClassifier(loss="log_loss", learning_rate="constant", eta0=0.01),
        "MLP(64)": MLPClassifier(hidden_layer_sizes=(64,)),
        "MLP(128) (default)": default_dynamics_model(),
        "MLP(256)": MLPClassifier(hidden_layer_sizes=(256,)),
    }
    results = {}
    for model_name, model in models.items():
        for set_name, make in data_sets.items():
            rows = []
            for seed in range(3):
                X, labels, flipped = make(seed)
                start = time.perf_counter()
                record = record_training_dynamics(model, X, labels, 3, 30, 128, np.random.default_rng(seed))
                seconds = time.perf_counter() - start
                rows.append(
                    [
                        roc_auc_score(flipped, _forgetting_scores(record, labels)),
                        roc_auc_score(flipped, -log_margins(record, labels).mean(axis=0)),
                        roc_auc_score(flipped, 1 - given_label_probabilities(record, labels).mean(axis=0)),
                        seconds,
                    ]
                )
            results[model_name, set_name] = np.mean(rows, axis=0)
            forgetting, aum, confidence, seconds = results[model_name, set_name]
            print(f"{model_name:30s} {set_name:14s} {forgetting:.3f} {aum:.3f} {confidence:.3f} {seconds:.1f}s")
    for model_name in models:
        mean = np.mean([results[model_name, set_name][:3] for set_name in data_sets], axis=0)
        print(f"{model_name:30s} mean of the sets: {mean.round(3)}, overall {mean.mean():.3f}")
    default = np.mean([results["MLP(128) (default)", set_name][:3] for set_name in data_sets])
    assert default > 0.8
