"""Scores of a campaign's labels, checked on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from experiments.metrics import label_scores


def test_unlabeled_items_count_as_misses_in_every_score():
    """Four items, truth a a b b; labels for items 0 (a, right) and 2 (a, wrong) only.

    accuracy 1/4, coverage 1/2, accuracy_labeled 1/2; F1(a) = 2*1/(2+2) = 1/2, F1(b) = 0: macro-F1 1/4 (scored on the
    labeled items alone it would be 1/3). Brier: item 0 probas (1, 0) -> 0; item 2 (1, 0) vs (0, 1) -> 2; items 1 and 3
    have no probas -> 1 each: mean 1.
    """
    truth = pd.Series(["a", "a", "b", "b"], index=[0, 1, 2, 3])
    labels = pd.Series(["a", "a"], index=[0, 2])
    probas = pd.DataFrame({"a": [1.0, 1.0], "b": [0.0, 0.0]}, index=[0, 2])
    scores = label_scores(labels, truth, probas)
    assert scores["accuracy"] == pytest.approx(0.25)
    assert scores["coverage"] == pytest.approx(0.5)
    assert scores["accuracy_labeled"] == pytest.approx(0.5)
    assert scores["macro_f1"] == pytest.approx(0.25)
    assert scores["brier"] == pytest.approx(1.0)


def test_perfect_labels_score_one_and_brier_zero():
    truth = pd.Series([0, 1, 2], index=["x", "y", "z"])
    probas = pd.DataFrame(np.eye(3), index=truth.index, columns=[0, 1, 2])
    scores = label_scores(truth.copy(), truth, probas)
    assert (scores["accuracy"], scores["macro_f1"], scores["brier"]) == (1.0, 1.0, 0.0)
