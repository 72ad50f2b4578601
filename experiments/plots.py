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
    "assignment": "assignment policy",
    "quality": "quality control",
    "campaign.redundancy": "redundancy (answers per item)",
    "campaign.budget": "budget (money)",
    "task.guideline_complexity": "guideline complexity",
    "raters.archetypes.spammer": "share of spammers",
    "raters.accuracy": "rater accuracy",
    "raters.session_minutes": "session length (minutes)",
    "task.confuser_weight": "correlated errors (confuser weight)",
}
# campaign metrics are the same for every aggregator of a run: one line, not one per aggregator
CAMPAIGN_METRICS: frozenset[str] = frozenset({"spend", "duration_hours", "answers_per_item"})


def name(key: str) -> str:
    return NAMES.get(key, key)


def _numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values)


def plot_metric(summary: pd.DataFrame, metric: str, x: str, path: str | Path, panel: str | None = None) -> Path:
    """Plot ``metric`` (mean and 95% interval from :func:`experiments.collect.summarise`) against design column
    ``x``, one line per aggregator (points with error bars when ``x`` is not a number), one panel per value of
    ``panel`` (optional); write a PNG atomically."""
    rows = summary[summary["metric"] == metric]
    if rows.empty:
        raise ValueError(f"metric {metric!r} is not in the summary; it has {sorted(summary['metric'].unique())}")
    if metric in CAMPAIGN_METRICS:
        rows = rows[rows["aggregator"] == sorted(rows["aggregator"].unique())[0]].assign(aggregator="campaign")
    panels = [None] if panel is None else sorted(rows[panel].unique(), key=str)
    numeric = _numeric(rows[x])
    levels = sorted(rows[x].unique(), key=lambda v: (isinstance(v, str), v if not isinstance(v, str) else 0, str(v)))
    span = float(np.ptp(rows[x].astype(float))) if numeric else 0.0
    width = max(4.8 * len(panels), 7.0)  # room for the title when there is one panel
    figure, axes = plt.subplots(1, len(panels), figsize=(width, 3.9), sharey=True, squeeze=False)
    aggregators = sorted(rows["aggregator"].unique())
    for axis, value in zip(axes[0], panels, strict=True):
        shown = rows if value is None else rows[rows[panel] == value]
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
            axis.set_xticks(range(len(levels)), ["none" if v == "null" else str(v) for v in levels], rotation=20)
        elif all(float(v).is_integer() for v in levels):  # redundancy 1, 3, 5: no tick at 1.5
            axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_xlabel(name(x))
        shown_value = "none" if value == "null" else value
        axis.set_title("" if value is None else f"{name(panel or '')} = {shown_value}", fontsize="medium")
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel(name(metric))
    if len(aggregators) > 1:
        axes[0][-1].legend(fontsize="small", title="aggregator")
    figure.suptitle(f"{name(metric).split(' (')[0].capitalize()} by {name(x)} (95% intervals over replicates)")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return atomic_write(path, lambda file: file.write(buffer.getvalue()), binary=True)
