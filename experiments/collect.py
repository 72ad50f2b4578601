"""Turn run or sweep directories into one tidy table: mean and 95% confidence interval per design and aggregator.

    python -m experiments.collect results/multirun/2026-11-28/10-00-00-000000 [--out summary.csv]

Reads every ``metrics.csv`` below the directory (jobs that did not finish have none and are skipped), groups rows by
the config values that vary across them plus the aggregator, and writes ``summary.csv`` (long format: one row per
design, aggregator and metric with mean, standard deviation, n and the t-based 95% interval; the interval is left
empty with fewer than two replicates), prints a wide view of the main metrics, and plots the main measured metrics
against the swept design value (``accuracy.png``, ``spend.png``, ``answers_per_item.png``; for
pairwise and rating tasks ``kendall_tau.png``, ``reward_accuracy.png``, ``mae.png``; quality control's and the
downstream model's where measured: a number if one varies, else an option such as the assignment policy).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import stdtrit

from experiments.storage import write_csv, write_text

METRICS: tuple[str, ...] = (
    "accuracy",
    "accuracy_labeled",
    "coverage",
    "macro_f1",
    "brier",
    "answers_per_item",
    "answers_per_labeled_item",
    "stopped_share",
    "spend",
    "duration_hours",
    "cost_per_correct_label",
    "fit_seconds",
    "qc_precision",
    "qc_recall",
    "score_precision",
    "score_recall",
    "accuracy_group0",
    "accuracy_group1",
    "accuracy_gap",
    "downstream_accuracy",
    "downstream_macro_f1",
    "downstream_ece",
    "downstream_log_loss",
    "downstream_accuracy_group0",
    "downstream_accuracy_group1",
    "downstream_accuracy_gap",
    "downstream_training_items",
    "downstream_accuracy_true_labels",
    # pairwise tasks (task.kind=pairwise)
    "comparisons_per_item",
    "kendall_tau",
    "spearman",
    "top10_recall",
    "pairwise_accuracy",
    "score_rmse",
    "position_bias",
    "reward_accuracy",
    "reward_accuracy_raw",
    "reward_accuracy_true",
    # rating tasks (task.kind=rating)
    "mae",
    "rmse",
)
# metrics that are shares: their intervals are cut at 0 and 1
BOUNDED: frozenset[str] = frozenset({"accuracy", "accuracy_labeled", "coverage", "macro_f1", "stopped_share",
                                      "qc_precision", "qc_recall", "score_precision", "score_recall", "brier", "ece",
                                      "top10_recall", "accuracy_group0", "accuracy_group1", "downstream_accuracy",
                                      "downstream_macro_f1", "downstream_ece", "downstream_accuracy_group0",
                                      "downstream_accuracy_group1", "downstream_accuracy_true_labels",
                                      "pairwise_accuracy", "reward_accuracy", "reward_accuracy_raw",
                                      "reward_accuracy_true"})  # fmt: skip
# their intervals stay at or above 0: errors, counts and money
NONNEGATIVE: frozenset[str] = frozenset({"mae", "rmse", "score_rmse", "spend", "duration_hours", "answers_per_item",
                                         "comparisons_per_item", "fit_seconds", "cost_per_correct_label"})  # fmt: skip
# their intervals stay within [-1, 1]: correlations, and differences of two shares
CORRELATIONS: frozenset[str] = frozenset({"kendall_tau", "spearman", "accuracy_gap", "downstream_accuracy_gap"})
DESIGN_PREFIXES: tuple[str, ...] = ("task.", "raters.", "campaign.", "assignment", "quality", "features", "downstream.")
DESIGN_NAMES: frozenset[str] = frozenset({"downstream"})  # an option's name (downstream_* columns are metrics)
# the noisy-label detectors' scores, one column per detector: auroc_confident_learning, ...
DETECTOR_PREFIXES: tuple[str, ...] = ("auroc_", "average_precision_", "precision_", "recall_", "flagged_")
SHOWN: tuple[str, ...] = ("accuracy", "accuracy_labeled", "coverage", "macro_f1", "spend", "duration_hours")


def load_metrics(directory: str | Path) -> pd.DataFrame:
    """All ``metrics.csv`` tables below ``directory``, concatenated, with the job folder in column ``run_dir``."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory} is not a directory (expected a run or multirun folder under results/)")
    files = sorted(directory.rglob("metrics.csv"))
    if not files:
        raise FileNotFoundError(f"no metrics.csv below {directory}: no finished run there")
    # copy(): a wide table read from CSV is in many blocks, and adding a column to it warns (PerformanceWarning)
    tables = [pd.read_csv(file).copy().assign(run_dir=str(file.parent.relative_to(directory))) for file in files]
    return pd.concat(tables, ignore_index=True)


OPTION_PREFIXES: tuple[str, ...] = ("assignment.", "quality.")


def design_columns(metrics: pd.DataFrame) -> list[str]:
    """Config columns whose values differ between rows: what defines a design in this sweep. A hyperparameter of an
    assignment policy or quality option that is merely absent where another option was chosen is not one (the
    ``assignment`` and ``quality`` columns name the options)."""
    config = [column for column in metrics.columns if column.startswith(DESIGN_PREFIXES) or column in DESIGN_NAMES]
    varying = []
    for column in config:
        values = metrics[column]
        if values.nunique(dropna=False) <= 1:
            continue
        group = column.split(".", 1)[0]
        if column.startswith(OPTION_PREFIXES) and group in metrics.columns:
            # a hyperparameter that only follows the option chosen (assignment=delta_margin has max_answers 15,
            # posterior 7) is not a design of its own: it is one only where it varies under one option
            per_option = metrics.groupby(metrics[group].astype(str))[column].nunique(dropna=False)
            if (per_option <= 1).all():
                continue
        varying.append(column)
    return varying


def independent_columns(metrics: pd.DataFrame, columns: list[str]) -> list[str]:
    """``columns`` without those the others determine: ``assignment.redundancy`` follows ``campaign.redundancy`` (an
    interpolation), so a plot against one, in panels by the other, would show one point per panel."""
    kept = list(columns)
    for column in reversed(columns):
        others = [other for other in kept if other != column]
        if others and (metrics.groupby(others, dropna=False)[column].nunique(dropna=False) <= 1).all():
            kept.remove(column)
    return kept


def summarise(metrics: pd.DataFrame, by: list[str] | None = None, names: tuple[str, ...] = METRICS) -> pd.DataFrame:
    """Long table: per group in ``by`` (default: varying design columns and aggregator) and metric (of ``names``),
    the mean, sd, n and 95% confidence interval (Student t over replicates)."""
    by = [*design_columns(metrics), "aggregator"] if by is None else by
    present = [metric for metric in names if metric in metrics.columns]
    if names is METRICS:  # and every detector's scores (experiments.detection), named after the detector
        present += [column for column in metrics.columns if column.startswith(DETECTOR_PREFIXES)]
    empty = [column for column in by if metrics[column].isna().any()]
    if empty:  # a design whose value is null (no budget, say) is a design too
        metrics = metrics.astype({column: object for column in empty})
        metrics[empty] = metrics[empty].where(metrics[empty].notna(), "null")
    long = metrics.melt(id_vars=by, value_vars=present, var_name="metric", value_name="value").dropna(subset=["value"])
    grouped = long.groupby([*by, "metric"], sort=True, dropna=False)["value"]
    summary = grouped.agg(mean="mean", sd="std", n="count").reset_index()
    n = summary["n"].to_numpy()
    with np.errstate(invalid="ignore"):
        quantile = stdtrit(np.maximum(n - 1, 1), 0.975)  # Student t's 97.5% point
        half_width = np.where(n > 1, quantile * summary["sd"] / np.sqrt(n), np.nan)
    # a share's interval stays within [0, 1]
    bounded = (summary["metric"].isin(BOUNDED) | summary["metric"].str.startswith(DETECTOR_PREFIXES)).to_numpy()
    correlation = summary["metric"].isin(CORRELATIONS).to_numpy()
    nonnegative = bounded | summary["metric"].isin(NONNEGATIVE).to_numpy()
    low, high = summary["mean"] - half_width, summary["mean"] + half_width
    summary["ci95_low"] = np.where(nonnegative, np.maximum(low, 0.0), np.where(correlation, np.maximum(low, -1.0), low))
    summary["ci95_high"] = np.where(bounded | correlation, np.minimum(high, 1.0), high)
    return summary


def wide_view(summary: pd.DataFrame, metrics: tuple[str, ...] = SHOWN) -> pd.DataFrame:
    """One row per design and aggregator, one column per metric, 'mean ± half-width' where an interval exists."""
    by = [column for column in summary.columns if column not in {"metric", "mean", "sd", "n", "ci95_low", "ci95_high"}]
    shown = summary[summary["metric"].isin(metrics)].copy()
    # the wider side: an interval cut at 0 or 1 (a share's) keeps its half-width on the other side
    half = np.asarray(np.fmax(shown["ci95_high"] - shown["mean"], shown["mean"] - shown["ci95_low"]))
    shown["cell"] = [
        f"{mean:.4g}" if np.isnan(h) else f"{mean:.4g} ± {h:.2g}" for mean, h in zip(shown["mean"], half, strict=True)
    ]
    table = shown.pivot_table(index=by, columns="metric", values="cell", aggfunc="first")
    table = table[[metric for metric in metrics if metric in table.columns]].reset_index()
    table.columns.name = None  # the pivot's "metric" axis name would print as an empty column
    return table


def expected_jobs(directory: Path) -> int | None:
    """How many jobs the sweep in ``directory`` launches (the product of its swept values' counts, from Hydra's
    ``multirun.yaml``), or None for a single run or a folder Hydra did not write."""
    record = directory / "multirun.yaml"
    if not record.is_file():
        return None
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    hydra_config = OmegaConf.load(record).hydra
    swept = {str(key): f"{key}={value}" for key, value in (hydra_config.sweeper.get("params") or {}).items()}
    for override in hydra_config.overrides.task:  # the command line takes precedence over the preset's sweep
        swept[str(override).split("=", 1)[0].lstrip("+~")] = str(override)
    jobs = 1
    for parsed in OverridesParser.create().parse_overrides(list(swept.values())):
        if parsed.is_sweep_override():
            jobs *= len(list(parsed.sweep_string_iterator()))
    return jobs


def missing_jobs(directory: Path, metrics: pd.DataFrame) -> list[str]:
    """Job folders of the sweep with no finished results (started and stopped, or never started)."""
    expected = expected_jobs(directory)
    if expected is None:
        return []
    finished = set(metrics["run_dir"].astype(str))
    return [str(job) for job in range(expected) if str(job) not in finished]


def markdown_table(table: pd.DataFrame) -> str:
    header = "| " + " | ".join(map(str, table.columns)) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    rows = ["| " + " | ".join(map(str, row)) + " |" for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *rows])


def write_report(directory: Path, table: pd.DataFrame, plots: list[Path], missing: list[str]) -> list[Path]:
    """``report.md`` and ``report.html``: the summary table (mean ± 95% half-width) and the figures."""
    note = f"\n\n**Unfinished jobs** (not in the table): {', '.join(missing)}" if missing else ""
    figures = "\n\n".join(f"![{path.stem}]({path.name})" for path in plots)
    intro = f"Sweep `{directory}`: one row per design and aggregator; mean ± half-width of the 95% interval."
    markdown = f"# Sweep report\n\n{intro}{note}\n\n{markdown_table(table)}\n\n{figures}\n"
    images = "".join(f'<p><img src="{path.name}" alt="{path.stem}" style="max-width:100%"></p>' for path in plots)
    warning = f"<p><strong>Unfinished jobs</strong> (not in the table): {', '.join(missing)}</p>" if missing else ""
    html = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Sweep report</title></head><body>"
        f"<h1>Sweep report</h1><p>{intro}</p>{warning}{table.to_html(index=False)}{images}</body></html>\n"
    )
    return [write_text(markdown, directory / "report.md"), write_text(html, directory / "report.html")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", help="a run or multirun directory (searched recursively for metrics.csv)")
    parser.add_argument("--out", help="where to write the tidy summary (default: DIRECTORY/summary.csv)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when jobs of the sweep have no results")
    args = parser.parse_args(argv)
    try:
        metrics = load_metrics(args.directory)
    except FileNotFoundError as error:
        print(f"collect: {error}", file=sys.stderr)
        return 2
    missing = missing_jobs(Path(args.directory), metrics)
    if missing:
        print(f"collect: warning: {len(missing)} job(s) of the sweep have no results: {', '.join(missing)} "
              "(rerun the sweep's command to finish them)", file=sys.stderr)  # fmt: skip
    summary = summarise(metrics)
    out = Path(args.out) if args.out else Path(args.directory) / "summary.csv"
    write_csv(summary, out)
    measured = set(summary["metric"])
    shown = SHOWN + tuple(m for m in ("answers_per_item", "qc_precision", "qc_recall", *EXTRA_SHOWN) if m in measured)
    designs = design_columns(metrics)
    kept = independent_columns(metrics, designs)  # assignment.redundancy follows campaign.redundancy: shown once
    table = wide_view(summary, shown).drop(columns=[c for c in designs if c not in kept])
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(table.to_string(index=False))
    print(f"\n{len(metrics)} rows from {metrics['run_dir'].nunique()} runs -> {out}")
    plots = plot_sweep(summary, independent_columns(metrics, design_columns(metrics)), out.parent)
    for path in plots:
        print(f"plot -> {path}")
    for path in write_report(out.parent, table, plots, missing):
        print(f"report -> {path}")
    return 1 if missing and args.strict else 0


PLOTTED: tuple[str, ...] = ("accuracy", "spend", "answers_per_item", "qc_precision", "qc_recall",
                            "downstream_accuracy", "accuracy_gap", "kendall_tau", "reward_accuracy", "mae")  # fmt: skip
# shown where measured: the downstream model, the gap between the groups (group 0 minus group 1), pairwise and
# rating tasks' scores
EXTRA_SHOWN: tuple[str, ...] = ("accuracy_gap", "downstream_accuracy", "downstream_accuracy_true_labels",
                                "downstream_accuracy_gap", "comparisons_per_item", "kendall_tau", "top10_recall",
                                "position_bias", "reward_accuracy", "reward_accuracy_true", "mae", "rmse",
                                "spearman")  # fmt: skip


def plot_sweep(summary: pd.DataFrame, varying: list[str], folder: Path) -> list[Path]:
    """Accuracy, spend, answers per item (and quality control's precision and recall, where measured) against the
    design value with the most levels (a number if one varies, else an option such as the assignment policy), in
    panels by a second design value and in rows by a third; nothing when no design value varies, and a warning
    naming them when more than three vary (plot a slice: ``collect`` on the jobs of one value)."""
    if not varying:
        return []
    numeric = [c for c in varying if pd.api.types.is_numeric_dtype(summary[c])]
    x = max(numeric or varying, key=lambda column: summary[column].nunique())
    others = sorted((c for c in varying if c != x), key=lambda column: summary[column].nunique())
    if len(others) > 2:
        print(f"collect: warning: no plots: {len(varying)} design values vary ({', '.join(varying)}); a plot shows "
              "at most three (x, panels, rows)", file=sys.stderr)  # fmt: skip
        return []
    panel = others[-1] if others else None
    row = others[0] if len(others) == 2 else None
    metrics = [m for m in PLOTTED if m in set(summary["metric"])]
    from experiments.plots import plot_metric  # matplotlib loads only when a sweep is plotted

    return [plot_metric(summary, metric, x, folder / f"{metric}.png", panel, row) for metric in metrics]


if __name__ == "__main__":
    raise SystemExit(main())
