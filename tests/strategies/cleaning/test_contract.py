"""One contract for every noisy-label detector in conf/detectors/ (the registry): fit returns self; one score and
one flag per item; labels may be renamed; same seed, same scores; injected label flips rank high; bad input is
refused with an error naming the argument."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf
from sklearn.metrics import roc_auc_score

from strategies.cleaning.base import DetectionError

CONF = Path(__file__).resolve().parents[3] / "conf" / "detectors"
NAMES = sorted(path.stem for path in CONF.glob("*.yaml"))


def build(name: str, random_state: int = 0):
    node = OmegaConf.load(CONF / f"{name}.yaml")
    detector = instantiate(node)
    if hasattr(detector, "random_state"):
        detector.random_state = random_state
    return detector


def noisy_blobs(n: int = 600, n_classes: int = 3, noise: float = 0.2, seed: int = 0):
    """Well separated Gaussian classes, a share ``noise`` of the labels flipped to another class, and three
    answers per item from raters who are right 80% of the time about the true label."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(n_classes, size=n)
    means = 4.0 * np.eye(n_classes, 5)
    X = means[truth] + rng.standard_normal((n, 5))
    flipped = rng.random(n) < noise
    labels = np.where(flipped, (truth + rng.integers(1, n_classes, size=n)) % n_classes, truth)
    tasks = np.repeat(np.arange(n), 3)
    right = rng.random(tasks.size) < 0.8
    answer = np.where(right, truth[tasks], (truth[tasks] + rng.integers(1, n_classes, tasks.size)) % n_classes)
    answers = pd.DataFrame({"task": tasks, "worker": rng.integers(20, size=tasks.size), "label": answer})
    return X, labels, flipped, answers


def fit(detector, X, labels, answers):
    if "answers" in inspect.signature(detector.fit).parameters:
        return detector.fit(X, labels, answers=answers)
    return detector.fit(X, labels)


def test_the_registry_holds_every_detector():
    assert len(NAMES) >= 7, NAMES


@pytest.mark.parametrize("name", NAMES)
def test_fit_returns_self_with_a_score_and_a_flag_per_item(name):
    X, labels, flipped, answers = noisy_blobs()
    detector = build(name)
    assert fit(detector, X, labels, answers) is detector
    assert detector.scores_.shape == (len(labels),) and np.isfinite(detector.scores_).all()
    assert detector.issues_.shape == (len(labels),) and detector.issues_.dtype == bool
    assert list(detector.classes_) == [0, 1, 2]
    assert roc_auc_score(flipped, detector.scores_) > 0.75, name
    assert 0 < detector.issues_.sum() < len(labels)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_scores_and_renamed_labels_change_nothing(name):
    X, labels, _, answers = noisy_blobs(n=300)
    first = fit(build(name), X, labels, answers).scores_
    np.testing.assert_array_equal(first, fit(build(name), X, labels, answers).scores_)
    names = np.array(["ant", "bee", "cat"])
    renamed = answers.assign(label=names[answers["label"]])
    detector = fit(build(name), X, names[labels], renamed)
    np.testing.assert_allclose(detector.scores_, first, rtol=1e-9, atol=1e-12)
    assert list(detector.classes_) == list(names)


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_is_refused_by_name(name):
    X, labels, _, answers = noisy_blobs(n=120)
    with pytest.raises(DetectionError, match="labels"):
        fit(build(name), X, labels[:-1], answers)
    with pytest.raises(DetectionError, match="single class"):
        fit(build(name), X, np.zeros_like(labels), answers)
    broken = X.copy()
    broken[3, 1] = np.nan
    with pytest.raises(DetectionError, match="NaN"):
        fit(build(name), broken, labels, answers)
