"""Noisy-label detectors measured against the truth: which aggregated labels are wrong is known in a simulation.

With ``detectors=[confident_learning, noisy_cross_validation, ...]`` (``conf/detectors/``) and items with features,
every detector is fitted on the items' features and each aggregator's labels (the multi-annotator score also on the
raw answers), and scored against "the aggregated label is wrong":

* ``auroc``: the area under the ROC curve of ``scores_`` (0.5 is chance; ties count half);
* ``average_precision``: the area under the precision-recall curve (its chance level is the share of wrong labels);
* ``precision``, ``recall``: of the items the detector flags (``issues_``), and ``flagged`` (their share).

Each metrics row (one per aggregator) gains these as ``<score>_<detector>`` columns (``auroc_confident_learning``,
...) and ``fit_seconds_<detector>``. A detector that cannot run on an aggregator's labels (they hold a single class,
say) gets empty scores and a logged warning.
"""

from __future__ import annotations

import inspect
import logging
import time
from typing import Any

import numpy as np
import pandas as pd

from sim.records import CampaignResult

log = logging.getLogger(__name__)
SCORES: tuple[str, ...] = ("auroc", "average_precision", "precision", "recall", "flagged", "wrong_share")


def wrong_labels(labels: pd.Series, truth: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The labeled items (task ids) and whether each one's label is wrong."""
    labeled = labels.reindex(truth.index).dropna()
    tasks = labeled.index.to_numpy(dtype=np.int64)
    return tasks, labeled.to_numpy() != truth.loc[labeled.index].to_numpy()


def detection_scores(scores: np.ndarray, issues: np.ndarray, wrong: np.ndarray) -> dict[str, float | None]:
    """AUROC and average precision of ``scores`` against ``wrong``, precision and recall of ``issues``; the
    ranking scores are undefined (None) when every label is right or every label is wrong."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    both = bool(wrong.any() and (~wrong).any())
    n_flagged = int(issues.sum())
    return {
        "auroc": float(roc_auc_score(wrong, scores)) if both else None,
        "average_precision": float(average_precision_score(wrong, scores)) if both else None,
        "precision": float((issues & wrong).sum() / n_flagged) if n_flagged else None,
        "recall": float((issues & wrong).sum() / wrong.sum()) if wrong.any() else None,
        "flagged": float(issues.mean()),
        "wrong_share": float(wrong.mean()),
    }


def detector_columns(name: str, detector: Any, result: CampaignResult, labels: pd.Series) -> dict[str, Any]:
    """:func:`run_detector`'s scores as ``<score>_<name>`` columns (empty when the detector refuses the input)."""
    from strategies.cleaning.base import DetectionError

    try:
        scores = run_detector(detector, result, labels)
    except DetectionError as error:
        log.warning("detector %s cannot run on these labels: %s", name, error)
        scores = dict.fromkeys((*SCORES, "fit_seconds"))
    return {f"{score}_{name}": value for score, value in scores.items() if score != "wrong_share"}


def run_detector(detector: Any, result: CampaignResult, labels: pd.Series) -> dict[str, Any]:
    """Fit ``detector`` on the labeled items' features and ``labels`` and score it against the truth."""
    assert result.features is not None
    tasks, wrong = wrong_labels(labels, result.truth)
    X, given = result.features.X[tasks], labels.loc[tasks].to_numpy()
    extra: dict[str, Any] = {}
    if "answers" in inspect.signature(detector.fit).parameters:  # a multi-annotator score also reads the answers
        extra = {"answers": result.worker_answers(), "tasks": tasks}
    from strategies.cleaning.base import single_threaded

    start = time.perf_counter()
    with single_threaded():
        detector.fit(X, given, **extra)
    seconds = time.perf_counter() - start
    scores = detection_scores(np.asarray(detector.scores_, dtype=float), np.asarray(detector.issues_, bool), wrong)
    return {**scores, "fit_seconds": seconds}
