"""Scores of an aggregator's estimates against the hidden truth, and of the campaign that produced the answers.

Metrics see only the estimates (labels and probabilities) and the truth, never the simulator's internals.
"""

from __future__ import annotations

import copy
import inspect
import time
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.raters import UNRELIABLE_ARCHETYPES
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


def group_scores(labels: pd.Series, result: CampaignResult) -> dict[str, float]:
    """Label accuracy on the items of group 0 and of group 1 and the gap between them (group 0 minus group 1), when
    the items have groups (``task.group_share`` > 0); an unlabeled item counts as wrong, as in ``accuracy``."""
    if "group" not in result.items.columns:
        return {}
    items = result.items.set_index("task").loc[result.truth.index]
    correct = labels.reindex(result.truth.index).to_numpy() == result.truth.to_numpy()
    group = items["group"].to_numpy()
    if not ((group == 0).any() and (group == 1).any()):
        return {}
    by_group = [float(correct[group == g].mean()) for g in (0, 1)]
    return {"accuracy_group0": by_group[0], "accuracy_group1": by_group[1], "accuracy_gap": by_group[0] - by_group[1]}


def campaign_scores(result: CampaignResult) -> dict[str, Any]:
    """Cost, duration and redundancy actually achieved by the campaign."""
    ledger = result.ledger
    regular = int((~result.answers["is_gold"]).sum())
    items = result.items[~result.items["is_gold"]]
    labeled = int((items["answers"] > 0).sum())
    return {
        "answers_per_item": regular / max(ledger["n_items"], 1),
        "answers_per_labeled_item": regular / labeled if labeled else 0.0,
        "stopped_share": float(items["done"].mean()) if len(items) else 0.0,
        "spend": ledger["spend"],
        "duration_hours": ledger["duration_hours"],
        "stop_reason": ledger["stop_reason"],
        "n_answers": ledger["n_answers"],
        "n_gold_answers": ledger["n_gold_answers"],
    }


def rater_quality_scores(result: CampaignResult, scores: bool = False) -> dict[str, float | None]:
    """Quality control judged against the true archetypes: precision and recall of the raters quality control
    turned away (blocked, or failed the qualification test) as spammers, lazy raters or adversaries; with
    ``scores``, also of flagging raters after the campaign by their spammer score on its answers (below 0.1 with
    at least 20 answers; :func:`strategies.quality.rater_scores`), which needs no gold. Precision is undefined
    (empty) when no rater was turned away, recall when no rater was bad."""
    from strategies.quality.scores import flag_precision_recall, flag_raters, rater_scores

    raters = result.raters.set_index("worker")
    bad = raters["archetype"].isin(UNRELIABLE_ARCHETYPES)
    turned_away = raters["blocked"] | (raters["left_reason"] == "failed_qualification")
    out: dict[str, float | None] = {}

    def judged(prefix: str, flagged: pd.Series) -> None:
        scores = flag_precision_recall(flagged, bad)  # an empty case is undefined (None) here, not a perfect 1
        out[f"{prefix}_precision"] = scores["precision"] if scores["n_flagged"] else None
        out[f"{prefix}_recall"] = scores["recall"] if scores["n_bad"] else None

    judged("qc", turned_away)
    out["raters_turned_away"] = float(turned_away.sum())
    if scores:
        table = rater_scores(result.worker_answers())
        judged("score", flag_raters(table, "spammer_score", 0.1).reindex(raters.index, fill_value=False))
    return out


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
    gold labels as well; the oracle (``requires_model``) gets the simulator's answer model; the others see only the
    regular answers (without those quality control dropped). Scores cover the regular items only.
    """
    if result.kind != "categorical":
        return kind_evaluate(aggregator, result)
    start = time.perf_counter()
    if result.worker_answers().empty:  # nothing was collected (a deadline too short, a budget too small): no labels
        scores = label_scores(pd.Series(dtype=object), result.truth, None)
        scores["brier"] = 1.0 if len(result.truth) else 0.0  # every item has probability 0 on its class
        campaign = campaign_scores(result)
        return {**scores, **campaign, "cost_per_correct_label": None, "fit_seconds": 0.0}
    if getattr(aggregator, "requires_model", False):  # the oracle: the simulator's own answer model
        aggregator.fit(result.worker_answers(), log_joint=result.log_joint)
    elif needs_gold(aggregator):
        answers = pd.concat([result.worker_answers(), result.gold_answers()], ignore_index=True)
        aggregator.fit(answers, true_labels=result.gold)
    else:
        aggregator.fit(result.worker_answers())
    fit_seconds = time.perf_counter() - start
    scores = label_scores(aggregator.labels_, result.truth, getattr(aggregator, "probas_", None))
    scores.update(group_scores(aggregator.labels_, result))
    campaign = campaign_scores(result)
    correct_labels = scores["accuracy"] * scores["n_items"]
    return {
        **scores,
        **campaign,
        # undefined (an empty cell) when no label is right
        "cost_per_correct_label": campaign["spend"] / correct_labels if correct_labels else None,
        "fit_seconds": fit_seconds,
    }


# Pairwise and rating tasks (sim.kinds): scores of estimated response scores and item values.


def numeric_scores(estimate: pd.Series | None, truth: pd.Series) -> dict[str, float]:
    """MAE and RMSE of the estimates on the truth's tasks (a task without an estimate counts as missing: NaN)."""
    if estimate is None:
        return {"mae": float("nan"), "rmse": float("nan")}
    error = estimate.reindex(truth.index).astype(float) - truth.astype(float)
    return {"mae": float(error.abs().mean()), "rmse": float(np.sqrt((error**2).mean()))}


def pairwise_scores(estimate: pd.Series | None, truth: pd.Series, top: int = 10) -> dict[str, float]:
    """Kendall's tau and Spearman's rho of the estimated scores against the true ones, and the share of the true top
    ``top`` among the estimated top ``top`` (an item without a score ranks last)."""
    if estimate is None:
        return {"kendall_tau": float("nan"), "spearman": float("nan"), "top10_recall": float("nan")}
    aligned = estimate.reindex(truth.index).astype(float).fillna(-np.inf).to_numpy()
    true = truth.to_numpy(dtype=float)
    ranks = stats.rankdata(aligned)
    best_true = set(np.argsort(-true)[:top])
    best_estimated = set(np.argsort(-aligned, kind="stable")[:top])
    return {
        "kendall_tau": float(stats.kendalltau(ranks, true)[0]),
        "spearman": float(stats.spearmanr(ranks, true)[0]),
        "top10_recall": len(best_true & best_estimated) / top,
    }


def ordering_accuracy(estimate: pd.Series, truth: pd.Series) -> float:
    """Share of all pairs of items that the estimated scores order as the true ones do (a tie in the estimates
    counts half): ``(1 + tau_a) / 2``, the accuracy of the estimates as preferences between any two items."""
    aligned = estimate.reindex(truth.index).astype(float).fillna(-np.inf).to_numpy()
    true = truth.to_numpy(dtype=float)
    n = true.shape[0]
    if n < 2:
        return float("nan")
    tau_b = stats.kendalltau(aligned, true)[0]
    _, counts = np.unique(aligned, return_counts=True)
    pairs = n * (n - 1) / 2
    tied = float((counts * (counts - 1) / 2).sum())
    _, true_counts = np.unique(true, return_counts=True)
    true_tied = float((true_counts * (true_counts - 1) / 2).sum())
    if not np.isfinite(tau_b):  # every estimate equal: half right
        return 0.5
    concordant_minus_discordant = tau_b * np.sqrt((pairs - tied) * (pairs - true_tied))
    return float((1.0 + concordant_minus_discordant / pairs) / 2.0)


def score_error(estimate: pd.Series, truth: pd.Series) -> float:
    """RMSE of centred estimated log-strengths against the centred true scores, over the items with an estimate (a
    response never compared has none): how far Bradley-Terry strengths (positive, compared on the log scale) are
    from the simulated scores. NaN for estimates that are not positive strengths. Shrinkage lowers it (a prior
    that pulls scores together trades bias for variance), so compare aggregators by rank correlation first."""
    aligned = estimate.reindex(truth.index).astype(float).to_numpy()
    known = np.isfinite(aligned)
    if known.sum() < 2 or not (aligned[known] > 0).all():
        return float("nan")
    logs, true = np.log(aligned[known]), truth.to_numpy(dtype=float)[known]
    error = (logs - logs.mean()) - (true - true.mean())
    return float(np.sqrt(np.mean(error**2)))


def kind_evaluate(aggregator: Any, result: CampaignResult) -> dict[str, Any]:
    """Fit ``aggregator`` on a pairwise or rating campaign's answers and score it against the true scores or values.

    Pairwise: Kendall's tau, Spearman's rho, the share of the true top 10 found (``top10_recall``), the share of
    all pairs ordered right (``pairwise_accuracy``), the error of the log-strengths (``score_rmse``, for aggregators
    with positive Bradley-Terry strengths) and, for models with one, the estimated position bias with its interval.
    Rating: MAE, RMSE, Spearman's rho, and the share of items whose rounded estimate is the level nearest the true
    value (``accuracy``). An item without an estimate ranks last (pairwise) or is left out of the errors (rating).
    """
    answers = result.worker_answers()
    campaign = campaign_scores(result)
    n_items = len(result.truth)
    if result.kind == "pairwise":  # every comparison that counts, ties too (the aggregators see no ties)
        counted = int(result._regular_rows().sum())
        campaign["comparisons_per_item"] = 2.0 * counted / max(n_items, 1)
        for per_item in ("answers_per_item", "answers_per_labeled_item"):  # comparisons per response say it
            campaign.pop(per_item)
    elif getattr(aggregator, "scale_levels", False) and getattr(aggregator, "n_levels", 0) is None:
        aggregator = copy.copy(aggregator)  # a rating model learns the scale from the design, not the answers seen
        aggregator.n_levels = result.ledger["n_levels"]
    if answers.empty:
        empty = pairwise_scores(None, result.truth) if result.kind == "pairwise" else numeric_scores(None, result.truth)
        return {**empty, **campaign, "n_items": float(n_items), "fit_seconds": 0.0}
    start = time.perf_counter()
    aggregator.fit(answers)
    fit_seconds = time.perf_counter() - start
    if result.kind == "pairwise":
        estimate = aggregator.scores_
        scores: dict[str, Any] = pairwise_scores(estimate, result.truth)
        scores["pairwise_accuracy"] = ordering_accuracy(estimate, result.truth)
        scores["score_rmse"] = score_error(estimate, result.truth)
        if hasattr(aggregator, "position_bias_"):
            scores["position_bias"] = float(aggregator.position_bias_)
            low, high = getattr(aggregator, "position_bias_interval_", (np.nan, np.nan))
            scores["position_bias_low"], scores["position_bias_high"] = float(low), float(high)
    else:
        estimate = aggregator.labels_
        scores = numeric_scores(estimate, result.truth)
        aligned = estimate.reindex(result.truth.index).astype(float)
        scores["spearman"] = float(stats.spearmanr(aligned, result.truth, nan_policy="omit")[0])
        level = result.items.set_index("task")["level"].reindex(result.truth.index).to_numpy()
        rounded = np.clip(np.rint(aligned.to_numpy()), 1, result.ledger["n_levels"])
        scores["accuracy"] = float(np.mean(rounded == level)) if n_items else 0.0
    return {**scores, **campaign, "n_items": float(n_items), "fit_seconds": fit_seconds}
