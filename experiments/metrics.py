"""Scores of an aggregator's estimates against the hidden truth, and of the campaign that produced the answers.

Metrics see only the estimates (labels and probabilities) and the truth, never the simulator's internals.
"""

from __future__ import annotations

import inspect
import time
from typing import Any

import numpy as np
import pandas as pd

from sim.records import CampaignResult


def label_scores(labels: pd.Series, truth: pd.Series, probas: pd.DataFrame | None = None) -> dict[str, float]:
    """Accuracy, coverage and macro-F1 of ``labels`` on every task of ``truth``; Brier score from ``probas``.

    An item without an estimate (no answers: the budget or the horizon ran out first) counts as wrong in every
    score: ``accuracy`` and ``macro_f1`` are the quality of the whole campaign's output (an unlabeled item is a miss
    of its true class), and in ``brier`` it has probability 0 on every class (squared distance 1).
    ``accuracy_labeled`` alone scores only the items that got a label.
    """
    estimate = labels.reindex(truth.index)
    labeled = estimate.notna().to_numpy()
    correct = (estimate.to_numpy() == truth.to_numpy()) & labeled
    n_items = len(truth)
    scores: dict[str, float] = {
        "accuracy": float(correct.mean()) if n_items else 0.0,
        "coverage": float(labeled.mean()) if n_items else 0.0,
        "accuracy_labeled": float(correct[labeled].mean()) if labeled.any() else 0.0,
        "macro_f1": macro_f1(estimate, truth),
        "n_items": float(n_items),
    }
    if probas is not None and n_items:
        aligned = probas.reindex(truth.index).fillna(0.0)
        classes = aligned.columns.to_numpy()
        one_hot = truth.to_numpy()[:, None] == classes[None, :]
        missing_class_mass = 1.0 - one_hot.sum(axis=1)  # truth outside the aggregator's label set
        scores["brier"] = float((((aligned.to_numpy() - one_hot) ** 2).sum(axis=1) + missing_class_mass).mean())
    return scores


def macro_f1(estimate: pd.Series, truth: pd.Series) -> float:
    """Unweighted mean over the true classes of the per-class F1 score (0 for a class never predicted right)."""
    if len(truth) == 0:
        return 0.0
    est, tru = estimate.to_numpy(), truth.to_numpy()
    f1 = []
    for label in np.unique(tru):  # a loop over classes, not over items
        true_positive = np.sum((est == label) & (tru == label))
        denominator = np.sum(est == label) + np.sum(tru == label)
        f1.append(2 * true_positive / denominator if denominator else 0.0)
    return float(np.mean(f1))


def campaign_scores(result: CampaignResult) -> dict[str, Any]:
    """Cost, duration and redundancy actually achieved by the campaign."""
    ledger = result.ledger
    regular = int((~result.answers["is_gold"]).sum())
    return {
        "answers_per_item": regular / max(ledger["n_items"], 1),
        "spend": ledger["spend"],
        "duration_hours": ledger["duration_hours"],
        "stop_reason": ledger["stop_reason"],
        "n_answers": ledger["n_answers"],
        "n_gold_answers": ledger["n_gold_answers"],
    }


def needs_gold(aggregator: Any) -> bool:
    """True if the aggregator's ``fit`` requires ``true_labels`` (crowd-kit's name for known labels, e.g. gold): the
    parameter has no default (crowd-kit's GoldMajorityVote) or the class says ``requires_gold = True`` (ours)."""
    parameter = inspect.signature(aggregator.fit).parameters.get("true_labels")
    if parameter is None:
        return False
    return parameter.default is inspect.Parameter.empty or bool(getattr(aggregator, "requires_gold", False))


def evaluate(aggregator: Any, result: CampaignResult) -> dict[str, Any]:
    """Fit ``aggregator`` (ours or crowd-kit's) on a campaign's answers and score it against the truth.

    Aggregators that require gold (``fit(data, true_labels)``, e.g. GoldMajorityVote) get the gold answers and the
    gold labels as well; the others see only the regular answers. Scores cover the regular items only.
    """
    start = time.perf_counter()
    if needs_gold(aggregator):
        answers = pd.concat([result.worker_answers(), result.gold_answers()], ignore_index=True)
        aggregator.fit(answers, true_labels=result.gold)
    else:
        aggregator.fit(result.worker_answers())
    fit_seconds = time.perf_counter() - start
    scores = label_scores(aggregator.labels_, result.truth, getattr(aggregator, "probas_", None))
    campaign = campaign_scores(result)
    correct_labels = scores["accuracy"] * scores["n_items"]
    return {
        **scores,
        **campaign,
        # undefined (an empty cell) when no label is right
        "cost_per_correct_label": campaign["spend"] / correct_labels if correct_labels else None,
        "fit_seconds": fit_seconds,
    }
