"""Plots of a collected sweep: a metric against one design value, one line per aggregator, 95% intervals as bands."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no screen needed, and CI has none

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from experiments.storage import atomic_write


def plot_metric(summary: pd.DataFrame, metric: str, x: str, path: str | Path, panel: str | None = None) -> Path:
    """Plot ``metric`` (mean and 95% interval from :func:`experiments.collect.summarise`) against design column
    ``x``, one line per aggregator, one panel per value of ``panel`` (optional); write a PNG atomically."""
    rows = summary[summary["metric"] == metric]
    if rows.empty:
        raise ValueError(f"metric {metric!r} is not in the summary; it has {sorted(summary['metric'].unique())}")
    panels = [None] if panel is None else sorted(rows[panel].unique())
    figure, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.6), sharey=True, squeeze=False)
    for axis, value in zip(axes[0], panels, strict=True):
        shown = rows if value is None else rows[rows[panel] == value]
        for aggregator, line in shown.groupby("aggregator", sort=True):
            line = line.sort_values(x)
            axis.plot(line[x], line["mean"], marker="o", label=aggregator)
            if np.isfinite(line["ci95_low"]).any():
                axis.fill_between(line[x], line["ci95_low"], line["ci95_high"], alpha=0.2)
        axis.set_xlabel(x)
        axis.set_title("" if value is None else f"{panel} = {value}")
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel(metric)
    axes[0][-1].legend(fontsize="small")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return atomic_write(path, lambda file: file.write(buffer.getvalue()), binary=True)
