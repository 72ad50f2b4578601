"""Plots of a collected sweep: a metric against one design value, one line (or, for a design value that is not a
number, one row of points) per aggregator, with 95% intervals over replicates."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no screen needed, and CI has none

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from experiments.storage import atomic_write

# axis names in words; a key without one is shown as it is
NAMES: dict[str, str] = {
    "accuracy": "accuracy (share of items right)",
    "macro_f1": "macro-F1",
    "brier": "Brier score",
    "spend": "spend (money)",
    "duration_hours": "campaign duration (hours)",
    "answers_per_item": "answers per item",
    "qc_precision": "raters turned away who were bad (precision)",
    "qc_recall": "bad raters turned away (recall)",
    "downstream_accuracy": "test accuracy of the model trained on the labels",
    "accuracy_gap": "label accuracy, group 0 minus group 1",
    "downstream_accuracy_gap": "model test accuracy, group 0 minus group 1",
    "raters.group_gap": "raters' accuracy loss on group 1 (logits)",
    "kendall_tau": "Kendall's tau with the true scores",
    "reward_accuracy": "reward model accuracy on held-out preferences",
    "mae": "mean absolute error of the ratings (scale points)",
    "assignment.comparisons_per_item": "comparisons per response",
    "raters.position_bias": "raters' position bias (logits)",
    "raters.verbosity_bias": "raters' verbosity bias (logits per sd of length)",
    "raters.severity_sd": "spread of rater severity (scale points)",
    "raters.scale_use_sd": "spread of raters' scale use (log slope)",
    "raters.accuracy_correlation": "correlation of raters' errors",
    "assignment.selection": "items sent back for more answers",
    "assignment.share": "share of items sent back",
    "downstream.target": "what the model is trained on",
    "assignment": "assignment policy",
    "quality": "quality control",
    "campaign.redundancy": "redundancy (answers per item)",
    "campaign.budget": "budget (money)",
    "task.guideline_complexity": "guideline complexity",
    "raters.archetypes.spammer": "share of spammers",
    "raters.accuracy": "rater accuracy",
    "raters.session_minutes": "session length (minutes)",
    "task.confuser_weight": "correlated errors (confuser weight)",
    "task.n_classes": "number of classes",
    "task.n_items": "number of items",
    "task.gold_fraction": "share of gold questions",
    "task.difficulty_sd": "spread of item difficulty",
    "raters.n_raters": "number of raters",
    "raters.sessions": "sessions per rater",
    "raters.archetypes.adversary": "share of adversaries",
    "raters.archetypes.expert": "share of experts",
    "raters.archetypes.lazy": "share of lazy raters",
    "raters.break_minutes": "break length (minutes)",
    "raters.fatigue_max": "fatigue (logits lost at most)",
    "raters.ability_mean": "rater ability (logits)",
    "task.ambiguous_fraction": "share of ambiguous items",
    "campaign.training_minutes": "training (minutes)",
    "campaign.horizon_hours": "time horizon (hours)",
    "seed": "seed",
}
# campaign metrics are the same for every aggregator of a run: one line, not one per aggregator
CAMPAIGN_METRICS: frozenset[str] = frozenset({"spend", "duration_hours", "answers_per_item"})


def name(key: str) -> str:
    """A key's name in words: its own entry, else the last part of the dotted key with spaces."""
    return NAMES.get(key, key.rsplit(".", 1)[-1].replace("_", " "))


def short(key: str) -> str:
    """A key's name without the explanation in brackets, for titles."""
    return name(key).split(" (")[0]


def level_text(value: object) -> str:
    """A design value as a panel title or tick shows it: ``none`` for null, 2.0 as 2."""
    if value is None or value == "null" or (isinstance(value, float) and np.isnan(value)):
        return "none"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def level_order(values: object) -> list[object]:
    """The levels of a design value in reading order: none first, numbers by size, then the rest by name."""

    def key(value: object) -> tuple[int, float, str]:
        if level_text(value) == "none":
            return (0, 0.0, "")
        if isinstance(value, int | float | np.number) and not isinstance(value, bool):
            return (1, float(value), "")  # type: ignore[arg-type]
        return (2, 0.0, str(value))

    return sorted(pd.unique(pd.Series(values)), key=key)  # type: ignore[arg-type]


def _numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values)


def plot_metric(
    summary: pd.DataFrame, metric: str, x: str, path: str | Path, panel: str | None = None, row: str | None = None
) -> Path:
    """Plot ``metric`` (mean and 95% interval from :func:`experiments.collect.summarise`) against design column
    ``x``, one line per aggregator (points with error bars when ``x`` is not a number), one panel per value of
    ``panel`` (optional; more than three wrap into rows of two) or a grid of ``row`` by ``panel``; write a PNG
    atomically."""
    rows = summary[summary["metric"] == metric]
    if rows.empty:
        raise ValueError(f"metric {metric!r} is not in the summary; it has {sorted(summary['metric'].unique())}")
    if metric in CAMPAIGN_METRICS:
        label = "the campaign (the same for every aggregator)"
        rows = rows[rows["aggregator"] == sorted(rows["aggregator"].unique())[0]].assign(aggregator=label)
    columns = [None] if panel is None else level_order(rows[panel])
    lines = [None] if row is None else level_order(rows[row])
    cells = [(r, c) for r in lines for c in columns]
    n_columns = len(columns) if row is not None or len(columns) <= 3 else 2
    n_rows = -(-len(cells) // n_columns)
    numeric = _numeric(rows[x])
    levels = level_order(rows[x])
    span = float(np.ptp(rows[x].astype(float))) if numeric else 0.0
    figure, axes = plt.subplots(n_rows, n_columns, figsize=(max(4.8 * n_columns, 7.0), 0.4 + 3.5 * n_rows),
                                sharey=True, squeeze=False)  # fmt: skip
    aggregators = sorted(rows["aggregator"].unique())
    replicated = bool((rows["n"] > 1).any())
    for index, axis in enumerate(axes.flat):
        if index >= len(cells):
            axis.set_visible(False)
            continue
        row_value, column_value = cells[index]
        shown = rows
        if row is not None:
            shown = shown[shown[row].map(level_text) == level_text(row_value)]
        if panel is not None:
            shown = shown[shown[panel].map(level_text) == level_text(column_value)]
        for offset, aggregator in enumerate(aggregators):
            line = shown[shown["aggregator"] == aggregator]
            line = line.sort_values(x) if numeric else line
            error = np.nan_to_num(np.vstack([line["mean"] - line["ci95_low"], line["ci95_high"] - line["mean"]]))
            if numeric:  # dodged by a hair so that the intervals of aggregators at one value do not hide each other
                dodge = 0.012 * span * (offset - (len(aggregators) - 1) / 2)
                axis.errorbar(line[x] + dodge, line["mean"], yerr=error, fmt="-o", capsize=3, label=aggregator)
            else:
                position = np.array([levels.index(v) for v in line[x]]) + 0.12 * (offset - (len(aggregators) - 1) / 2)
                axis.errorbar(position, line["mean"], yerr=error, fmt="o", capsize=3, label=aggregator)
        if not numeric:
            axis.set_xticks(range(len(levels)), [level_text(v) for v in levels], rotation=20)
        elif len(levels) <= 8:  # a tick at each value swept, written as typed
            axis.set_xticks([float(v) for v in levels], [level_text(v) for v in levels])  # type: ignore[arg-type]
        elif all(float(v).is_integer() for v in levels):  # type: ignore[arg-type]
            axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_xlabel(name(x))
        title = [f"{short(key)} = {level_text(value)}" for key, value in ((row, row_value), (panel, column_value))
                 if key is not None]  # fmt: skip
        axis.set_title(", ".join(title), fontsize="medium")
        axis.grid(alpha=0.3)
        if index % n_columns == 0:
            axis.set_ylabel(name(metric))
    campaign = metric in CAMPAIGN_METRICS
    axes.flat[min(len(cells), n_columns) - 1].legend(fontsize="small", title=None if campaign else "aggregator")
    intervals = " (95% intervals over replicates)" if replicated else " (one replicate: no intervals)"
    figure.suptitle(f"{short(metric).capitalize()} by {short(x)}{intervals}")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return atomic_write(path, lambda file: file.write(buffer.getvalue()), binary=True)


def plot_pareto(
    table: pd.DataFrame, target: float, chosen: pd.Series, path: str | Path, confidence: float = 0.95,
    max_budget: float | None = None,
) -> Path:  # fmt: skip
    """A plan's candidates: cost against accuracy with their intervals, the Pareto front highlighted, the target and
    the budget drawn, the plan (or the closest candidate) marked; write a PNG atomically."""
    figure, axis = plt.subplots(figsize=(9.0, 6.0))
    finite = lambda values: np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)  # noqa: E731
    error = finite(np.vstack([table["accuracy"] - table["lower_bound"], table["upper_bound"] - table["accuracy"]]))
    axis.errorbar(table["cost"], table["accuracy"], yerr=error, fmt="o", color="0.65", markersize=4, capsize=2,
                  label=f"candidate ({confidence:.0%} prediction interval of one campaign)", zorder=1)  # fmt: skip
    front = table[table["on_front"]].sort_values("cost")
    axis.plot(front["cost"], front["accuracy"], "o", color="tab:blue", markersize=6, zorder=2,
              label="Pareto front (no candidate beats it on cost, accuracy and duration at once)")  # fmt: skip
    axis.axhline(target, color="tab:red", linestyle="--", linewidth=1, label=f"target {target:g}")
    if max_budget is not None:
        axis.axvline(max_budget, color="tab:orange", linestyle=":", linewidth=1.2, label=f"budget {max_budget:g}")
    meets = chosen["status"] == "meets"
    label = "plan: cheapest meeting the target" if meets else "closest (none meets the target)"
    axis.plot(chosen["cost"], chosen["accuracy"], "*", color="tab:green" if meets else "tab:purple", markersize=16,
              label=label, zorder=3)  # fmt: skip
    axis.set_xlabel("cost (money spent by the campaign)")
    axis.set_ylabel("accuracy on all items (unlabeled count as wrong)")
    axis.set_title("Campaign designs: cost against accuracy")
    axis.grid(alpha=0.3)
    axis.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, frameon=False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return atomic_write(path, lambda file: file.write(buffer.getvalue()), binary=True)


def plot_leaderboard(
    summary: pd.DataFrame,
    path: str | Path,
    metric: str = "accuracy",
    label: str = "accuracy",
    suite: str = "",
) -> Path:
    """``metric`` per scenario (rows) for each aggregator (markers, 95% intervals over replicates), the oracle as the
    reference where there is one; write a PNG atomically."""
    rows = summary[summary["metric"] == metric]
    scenarios = list(dict.fromkeys(rows["scenario"]))
    aggregators = [a for a in dict.fromkeys(rows["aggregator"]) if a != "oracle"]
    figure, axis = plt.subplots(figsize=(8.0, 0.9 + 0.42 * len(scenarios)))
    position = {scenario: i for i, scenario in enumerate(scenarios)}
    oracle = rows[rows["aggregator"] == "oracle"]
    if not oracle.empty:
        axis.scatter(oracle["mean"], [position[s] for s in oracle["scenario"]], marker="|", s=250, color="black",
                     label="oracle (Bayes posterior under the true model)", zorder=3)  # fmt: skip
    for offset, aggregator in enumerate(aggregators):
        mine = rows[rows["aggregator"] == aggregator]
        y = np.array([position[s] for s in mine["scenario"]]) + 0.5 * (offset - (len(aggregators) - 1) / 2) / max(
            len(aggregators), 1
        )
        error = np.nan_to_num(np.vstack([mine["mean"] - mine["ci95_low"], mine["ci95_high"] - mine["mean"]]))
        axis.errorbar(mine["mean"], y, xerr=error, fmt="o", markersize=4, capsize=2, label=aggregator)
    axis.set_yticks(range(len(scenarios)), scenarios)
    axis.invert_yaxis()
    axis.set_xlabel(f"{label} (95% interval over replicates)")
    axis.set_ylabel("scenario (simulated) or real data set")
    axis.set_title(f"Aggregator leaderboard{f' ({suite})' if suite else ''}: {label.split(' (')[0]} by scenario")
    axis.grid(alpha=0.3, axis="x")
    axis.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")  # room for the legend beside the axes
    plt.close(figure)
    return atomic_write(path, lambda file: file.write(buffer.getvalue()), binary=True)
