"""``crowdlab bench``: a regression harness and leaderboard for aggregators (categorical, numeric, pairwise).

    crowdlab bench majority_vote dawid_skene glad 'mypkg.mod:MyVote(n_iter=50)' my_aggregator.yaml
    crowdlab bench majority_vote --save-baseline main          # store this run's scores
    crowdlab bench majority_vote --compare main                # exit 1 if worse than the baseline
    crowdlab bench mean median --suite numeric                 # numeric answers; --suite pairwise for comparisons

An aggregator is a config name of the suite's group (``conf/aggregators/``, ``conf/numeric_aggregators/``,
``conf/pairwise_aggregators/``), an import path ``module:Class`` with optional keyword arguments in brackets, or a YAML
file with a ``_target_``. Each first runs the contract checks of :mod:`strategies.aggregation.checks` for its kind;
a failure is reported, the aggregator is scored all the same, and the run exits 1. An aggregator that raises while
being scored is reported for that scenario (stderr and junit.xml) and the run exits 1, never a crash. Then every
aggregator scores the same answers:

* the standard suite (``--suite standard``, version :data:`SUITE_VERSION`): campaigns simulated from the scenarios
  of :data:`SCENARIOS`, ``--replicates`` each (replicate ``r`` of a scenario is the same campaign for every
  aggregator), with the simulator's ``oracle`` (the Bayes posterior under the true model) as a reference row;
* ``--suite numeric`` and ``--suite pairwise`` (:data:`SUITES`): answers drawn from the generative models of
  :mod:`experiments.suites`, scored on MAE and RMSE, or on Kendall's tau, Spearman's rho and top-10 recall against
  the true scores (the numeric oracle where the answers are Gaussian);
* the real data sets of the suite's kind: every subfolder of ``--data`` that holds ``labels.csv`` and ``gold.csv``
  (the layout of ../shared/datasets beside this checkout, the default when present), scored on their gold tasks
  (integer labels of at most 50 classes are categorical, others numeric; no real pairwise set yet).

Metrics of the standard suite: accuracy, macro-F1, log-loss, Brier score, expected calibration error (10
equal-width bins of the top probability), fit seconds and peak memory of the fit (tracemalloc), each with a 95%
Student-t interval over replicates. Writes ``leaderboard.csv`` (long: one row per aggregator, scenario and metric),
``leaderboard.md`` and ``leaderboard.html`` (the table of the suite's leading metric, the mean rank across
scenarios, one figure per metric, ``METRIC.png``) and ``junit.xml`` (one test case per aggregator for its contract
and per aggregator and scenario: contract failures, crashes and regressions fail) into ``--out``.

Baselines are stored under ``results/baselines/<suite version>/NAME.csv`` (relative to the current folder, or
``--baselines``). ``--compare NAME`` exits 1 when an aggregator's leading metric in a scenario falls outside the
baseline's 95% interval on the worse side, or its fit time exceeds the baseline's by more than ``--time-ratio`` (2);
each regression is printed naming the scenario, the metric and both values. An aggregator absent from the baseline
is compared with the baseline's only aggregator, if it has one. Exit 0 otherwise, 2 on bad input.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import math
import sys
import time
import tracemalloc
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from experiments import suites
from experiments.metrics import numeric_scores, pairwise_scores
from experiments.storage import write_csv, write_text
from sim.validation import ConfigError

SUITE_VERSION = "standard-1"
MAX_CLASSES = 50  # a real set with more distinct labels is numeric, not categorical
DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
BASELINES = Path("results") / "baselines"
METRICS = ("accuracy", "macro_f1", "log_loss", "brier", "ece", "fit_seconds", "peak_mib")
SMALL = ["task.n_items=1500", "raters.n_raters=60", "raters.sessions=1000", "campaign.budget=null",
         "campaign.horizon_hours=null", "task.gold_fraction=0"]  # fmt: skip
# name -> overrides of the default campaign (1,500 items, 60 raters, redundancy 3, 3 classes): one stress each
SCENARIOS: dict[str, list[str]] = {
    "easy": ["raters.ability_mean=3.0", "task.difficulty_sd=0.5", "task.ambiguous_fraction=0"],
    "hard_items": ["task.difficulty_sd=2.0", "task.ambiguous_fraction=0.3"],
    "spammers_30": ["raters.archetypes.spammer=0.3"],
    "adversaries_20": ["raters.archetypes.adversary=0.2"],
    "correlated_errors": ["task.confuser_weight=0.9", "raters.adversary_strategy=confuser"],
    "imbalance_10_1": ["task.n_classes=2", "task.class_priors=[0.909,0.091]"],
    "few_answers_per_rater": ["raters.n_raters=600"],
    "ten_classes": ["task.n_classes=10"],
    "skewed_load": ["raters.speed_sd=1.5"],  # log-normal speeds: a few raters give most answers
    "drifting_raters": ["raters.drift_sd=0.3"],
    "colluders": ["raters.colluder_share=0.3"],
}


@dataclass(frozen=True)
class Suite:
    """A versioned scenario suite: what kind of aggregator it benches, its scenarios, metrics and leading metric."""

    version: str
    kind: str  # categorical | numeric | pairwise
    scenarios: Mapping[str, Any]
    metrics: tuple[str, ...]
    primary: str  # the metric of the rank table, the figure first shown and the baseline comparison
    higher_is_better: bool
    group: str  # the config group of its aggregator names


SUITES: dict[str, Suite] = {
    "standard": Suite(SUITE_VERSION, "categorical", SCENARIOS, METRICS, "accuracy", True, "aggregators"),
    "numeric": Suite("numeric-1", "numeric", suites.NUMERIC, ("mae", "rmse", "fit_seconds", "peak_mib"), "mae",
                     False, "numeric_aggregators"),
    "pairwise": Suite("pairwise-1", "pairwise", suites.PAIRWISE,
                      ("kendall_tau", "spearman", "top10_recall", "fit_seconds", "peak_mib"), "kendall_tau", True,
                      "pairwise_aggregators"),
}  # fmt: skip
METRIC_LABELS = {
    "accuracy": "accuracy", "macro_f1": "macro-F1", "log_loss": "log-loss (lower is better)",
    "brier": "Brier score (lower is better)", "ece": "expected calibration error (lower is better)",
    "fit_seconds": "fit time, seconds", "peak_mib": "peak memory of the fit, MiB",
    "mae": "mean absolute error (lower is better)", "rmse": "root mean squared error (lower is better)",
    "kendall_tau": "Kendall's tau with the true scores",
    "spearman": "Spearman's rho with the true scores", "top10_recall": "share of the true top 10 in the top 10",
}  # fmt: skip


@dataclass(frozen=True)
class Contender:
    """An aggregator to bench: its name in the tables and a factory of fresh, unfitted instances."""

    name: str
    make: Callable[[], Any]


def resolve(spec: str, group: str = "aggregators") -> Contender:
    """A config name, ``module:Class(kw=value, ...)`` or a YAML file -> a :class:`Contender`, or a
    :class:`ConfigError` naming the spec and the accepted forms."""
    from hydra.utils import instantiate

    from experiments.run import CONF, available

    path = Path(spec)
    if spec.endswith((".yaml", ".yml")):
        if not path.is_file():
            raise ConfigError(f"aggregator {spec!r}: no such YAML file")
        node = OmegaConf.load(path)
        if "_target_" not in node:
            raise ConfigError(f"aggregator {spec!r}: the YAML file needs a _target_ (the class to build)")
        return Contender(path.stem, lambda: instantiate(node))
    if ":" in spec:
        module_name, _, rest = spec.partition(":")
        class_name, _, arguments = rest.partition("(")
        kwargs: dict[str, Any] = {}
        if arguments:
            try:
                call = ast.parse(f"f({arguments}", mode="eval").body
                assert isinstance(call, ast.Call) and not call.args
                kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg}
            except (SyntaxError, ValueError, AssertionError):
                raise ConfigError(f"aggregator {spec!r}: arguments must be keyword=literal, e.g. "
                                  "mypkg.mod:MyVote(n_iter=50)") from None  # fmt: skip
        try:
            cls = getattr(importlib.import_module(module_name), class_name.strip())
        except (ImportError, AttributeError) as error:
            raise ConfigError(f"aggregator {spec!r}: cannot import it ({error})") from None
        return Contender(spec, lambda: cls(**kwargs))
    known = available(group)
    if spec not in known:
        raise ConfigError(f"unknown aggregator {spec!r}; accepted values: {', '.join(known)}, an import path "
                          "module:Class, or a YAML file")  # fmt: skip
    node = OmegaConf.load(CONF / group / f"{spec}.yaml")
    return Contender(spec, lambda: instantiate(node))


def contract(contender: Contender, kind: str = "categorical") -> list[str]:
    """The contract checks the aggregator fails, each as 'check: message' (empty when it passes them all)."""
    from strategies.aggregation import checks

    failures = []
    chosen = {"categorical": checks.CATEGORICAL_CHECKS, "numeric": checks.NUMERIC_CHECKS,
              "pairwise": checks.PAIRWISE_CHECKS}[kind]  # fmt: skip
    for check in chosen:
        try:
            check(contender.make, **checks.declared_options(contender.make, check))
        except Exception as error:  # any failure of a user's aggregator is a finding, not a crash
            first = str(error).splitlines()[0] if str(error) else ""
            failures.append(f"{check.__name__}: {type(error).__name__}: {first}")
    return failures


def probability_scores(probas: pd.DataFrame | None, truth: pd.Series) -> dict[str, float]:
    """Log-loss (probabilities clipped at 1e-15), Brier score and expected calibration error of the top class, on the
    tasks of ``truth`` (a task without probabilities: uniform over the classes seen)."""
    if probas is None or probas.empty:
        return {"log_loss": math.nan, "brier": math.nan, "ece": math.nan}
    classes = probas.columns
    aligned = probas.reindex(truth.index).fillna(1.0 / len(classes)).to_numpy(float)
    hit = truth.to_numpy()[:, None] == classes.to_numpy()[None, :]
    p_true = np.where(hit.any(axis=1), (aligned * hit).sum(axis=1), 0.0)
    log_loss = float(-np.log(np.clip(p_true, 1e-15, 1.0)).mean())
    brier = float((((aligned - hit) ** 2).sum(axis=1) + (1 - hit.sum(axis=1))).mean())
    top, chosen = aligned.max(axis=1), classes.to_numpy()[aligned.argmax(axis=1)]
    right = chosen == truth.to_numpy()
    bins = np.minimum((top * 10).astype(int), 9)
    ece = sum(abs(float(right[bins == b].mean()) - float(top[bins == b].mean())) * float((bins == b).mean())
              for b in range(10) if (bins == b).any())  # fmt: skip
    return {"log_loss": log_loss, "brier": brier, "ece": float(ece)}


def score(
    contender: Contender, answers: pd.DataFrame, truth: pd.Series, seed: int, kind: str = "categorical"
) -> dict[str, float]:
    """Fit a fresh instance (its random state, if any, from the run's seed) and score it on ``truth``."""
    from experiments.metrics import macro_f1

    aggregator = contender.make()
    if hasattr(aggregator, "random_state"):
        aggregator.random_state = seed
    tracemalloc.start()
    start = time.perf_counter()
    try:
        labels = aggregator.fit_predict(answers)
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    if kind != "categorical":
        fitted = suites.estimates(aggregator, kind)
        quality = (numeric_scores if kind == "numeric" else pairwise_scores)(
            labels if fitted is None else fitted, truth
        )
        return {**quality, "fit_seconds": seconds, "peak_mib": peak}
    estimate = labels.reindex(truth.index)
    return {
        "accuracy": float((estimate == truth).mean()),
        "macro_f1": macro_f1(estimate, truth),
        **probability_scores(getattr(aggregator, "probas_", None), truth),
        "fit_seconds": seconds,
        "peak_mib": peak,
    }


def simulated_rows(
    contenders: list[Contender], scenarios: Mapping[str, Any], replicates: int, seed: int, suite: Suite | None = None
) -> list[dict[str, Any]]:
    """Every scenario's campaigns (or drawn answers), scored by every contender and by the oracle where there is
    one."""
    suite = suite or SUITES["standard"]
    if suite.kind != "categorical":
        return _drawn_rows(contenders, scenarios, replicates, seed, suite)
    from experiments.checks import compose_job
    from experiments.run import prepare
    from sim import simulate

    rows: list[dict[str, Any]] = []
    for scenario, overrides in scenarios.items():
        lines = [*SMALL, *overrides, "aggregators=[oracle]", f"seed={seed}"]
        job = prepare(compose_job(lines))
        for replicate in range(replicates):
            result = simulate(job.task, job.raters, job.campaign, seed=job.seed, replicate=replicate)
            answers, truth = result.worker_answers(), result.truth
            oracle = job.aggregators["oracle"]
            start = time.perf_counter()
            oracle.fit(answers, log_joint=result.log_joint)
            seconds = time.perf_counter() - start
            accuracy = float((oracle.labels_.reindex(truth.index) == truth).mean())
            reference = {"accuracy": accuracy, **probability_scores(oracle.probas_, truth), "fit_seconds": seconds}
            rows.append({"aggregator": "oracle", "scenario": scenario, "replicate": replicate, **reference})
            for contender in contenders:
                scores = guarded(contender, answers, truth, seed * 1000 + replicate, scenario)
                rows.append({"aggregator": contender.name, "scenario": scenario, "replicate": replicate, **scores})
    return rows


def _drawn_rows(
    contenders: list[Contender], scenarios: Mapping[str, Any], replicates: int, seed: int, suite: Suite
) -> list[dict[str, Any]]:
    """The numeric and pairwise suites: answers drawn from :mod:`experiments.suites`' generative models."""
    draw = suites.draw_numeric if suite.kind == "numeric" else suites.draw_pairwise
    position = {name: i for i, name in enumerate(suite.scenarios)}
    rows: list[dict[str, Any]] = []
    for scenario, spec in scenarios.items():
        for replicate in range(replicates):
            drawn = draw(spec, suites.generator(seed, position[scenario], replicate))
            if drawn.oracle is not None:
                reference = numeric_scores(drawn.oracle, drawn.truth)
                rows.append({"aggregator": "oracle", "scenario": scenario, "replicate": replicate, **reference})
            for contender in contenders:
                scores = guarded(contender, drawn.answers, drawn.truth, seed * 1000 + replicate, scenario, suite.kind)
                rows.append({"aggregator": contender.name, "scenario": scenario, "replicate": replicate, **scores})
    return rows


def guarded(
    contender: Contender, answers: pd.DataFrame, truth: pd.Series, seed: int, scenario: str, kind: str = "categorical"
) -> dict[str, Any]:
    """:func:`score`, or (the aggregator raised) the error on stderr and under ``error``, no scores: a finding that
    fails the run, not a crash."""
    try:
        return score(contender, answers, truth, seed, kind)
    except Exception as error:  # a user's aggregator may fail anywhere
        first = str(error).splitlines()[0] if str(error) else ""
        print(f"bench: {contender.name} failed in {scenario}: {type(error).__name__}: {first}", file=sys.stderr)
        return {"error": f"{type(error).__name__}: {first}"}


def real_sets(data: Path, kind: str = "categorical") -> Iterator[tuple[str, pd.DataFrame, pd.Series]]:
    """(name, answers, gold) of every real data set under ``data`` (a folder with labels.csv and gold.csv) of
    ``kind``: integer labels of at most :data:`MAX_CLASSES` classes are categorical, other labels numeric; no real
    pairwise set is known yet."""
    for folder in sorted(p for p in data.iterdir() if (p / "labels.csv").is_file() and (p / "gold.csv").is_file()):
        answers = pd.read_csv(folder / "labels.csv")
        categorical = pd.api.types.is_integer_dtype(answers["label"]) and answers["label"].nunique() <= MAX_CLASSES
        if kind == "pairwise" or categorical != (kind == "categorical"):
            continue  # e.g. emotion's 0-100 ratings are for the numeric suite only
        yield (
            folder.name,
            answers[["task", "worker", "label"]],
            pd.read_csv(folder / "gold.csv").set_index("task")["label"],
        )


def real_rows(
    contenders: list[Contender], data: Path, seed: int, only: Collection[str] | None = None, kind: str = "categorical"
) -> list[dict[str, Any]]:
    """Every real data set of ``kind`` under ``data`` (those named in ``only``, if given), scored on its gold tasks
    (:func:`real_sets`)."""
    rows: list[dict[str, Any]] = []
    for name, answers, gold in real_sets(data, kind):
        if only is not None and name not in only:
            continue
        for contender in contenders:
            scores = guarded(contender, answers, gold, seed, f"real:{name}", kind)
            rows.append({"aggregator": contender.name, "scenario": f"real:{name}", "replicate": 0, **scores})
    return rows


def summarise(rows: pd.DataFrame, suite: Suite | None = None) -> pd.DataFrame:
    """Long table: per aggregator, scenario and metric, the mean, n and 95% Student-t interval over replicates
    (:func:`experiments.collect.summarise`), with the suite's version."""
    from experiments.collect import summarise as intervals

    suite = suite or SUITES["standard"]
    summary = intervals(rows, by=["aggregator", "scenario"], names=suite.metrics)
    order = {name: i for i, name in enumerate(dict.fromkeys([*rows["aggregator"], *rows["scenario"]]))}
    summary = summary.sort_values(["scenario", "aggregator"], key=lambda column: column.map(order), kind="stable")
    summary.insert(0, "suite", suite.version)
    return summary.reset_index(drop=True)  # in the suite's order of scenarios and the command line's of aggregators


def ranks(summary: pd.DataFrame, suite: Suite | None = None) -> pd.DataFrame:
    """Each aggregator's mean rank by the suite's leading metric across scenarios (1 = best; the oracle apart)."""
    suite = suite or SUITES["standard"]
    leading = summary[(summary["metric"] == suite.primary) & (summary["aggregator"] != "oracle")]
    table = leading.pivot_table(index="aggregator", columns="scenario", values="mean")
    rank = table.rank(ascending=not suite.higher_is_better, method="average").mean(axis=1).rename("mean_rank")
    return rank.sort_values().reset_index()


def load_baseline(folder: Path, name: str, suite: Suite, what: str = "") -> pd.DataFrame:
    """The baseline ``name`` of ``suite``'s version under ``folder``, or a :class:`ConfigError` listing those saved."""
    path = folder / suite.version / f"{name}.csv"
    if not path.is_file():
        saved = sorted(p.stem for p in path.parent.glob("*.csv"))
        raise ConfigError(f"{what}{name}: no such baseline for {suite.version} in {path.parent}; accepted values: "
                          f"{', '.join(saved) or 'none saved yet'} (make one with --save-baseline {name})")  # fmt: skip
    return pd.read_csv(path)


def regressions(
    summary: pd.DataFrame, baseline: pd.DataFrame, time_ratio: float, suite: Suite | None = None
) -> list[str]:
    """Each way an aggregator is worse than the baseline: its leading metric beyond the baseline's 95% interval
    (below it for accuracy, above it for an error), or its time beyond ``time_ratio`` times."""
    suite = suite or SUITES["standard"]
    metric, higher = suite.primary, suite.higher_is_better
    side = "ci95_low" if higher else "ci95_high"

    def figures(table: pd.DataFrame) -> dict[str, tuple[float, float]]:  # metric -> (mean, near end or the mean)
        return {str(r["metric"]): (float(r["mean"]), float(r["mean"] if pd.isna(r[side]) else r[side]))
                for r in table.to_dict("records")}  # fmt: skip

    found = []
    names = set(baseline["aggregator"]) - {"oracle"}  # the reference row is no aggregator to compare with
    for (aggregator, scenario), group in summary.groupby(["aggregator", "scenario"], sort=False):
        if aggregator == "oracle":
            continue
        against = aggregator if aggregator in names else (next(iter(names)) if len(names) == 1 else None)
        if against is None:
            continue
        base = figures(baseline[(baseline["aggregator"] == against) & (baseline["scenario"] == scenario)])
        ours = figures(group)
        if metric in base and metric in ours:
            now, edge = ours[metric][0], base[metric][1]
            worse = now < edge - 1e-12 if higher else now > edge + 1e-12
            if worse:
                found.append(f"{aggregator} in {scenario}: {metric} {now:.4f} is {'below' if higher else 'above'} "
                             f"the baseline's ({against}) 95% interval, from {edge:.4f} (mean "
                             f"{base[metric][0]:.4f})")  # fmt: skip
        if "fit_seconds" in base and "fit_seconds" in ours:
            before, now = base["fit_seconds"][0], ours["fit_seconds"][0]
            if before > 0 and now > time_ratio * before and now > 0.05:  # a few milliseconds are noise
                found.append(f"{aggregator} in {scenario}: fit_seconds {now:.3f} is more than {time_ratio:g} times "
                             f"the baseline's ({against}) {before:.3f}")  # fmt: skip
    return found


def crashes(rows: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(aggregator, scenario, 'NAME in SCENARIO: raised ...') for every aggregator and scenario where a fit raised
    (the first replicate's error)."""
    if "error" not in rows.columns:
        return []
    raised = rows[rows["error"].notna()].drop_duplicates(["aggregator", "scenario"])
    return [(str(r.aggregator), str(r.scenario), f"{r.aggregator} in {r.scenario}: raised {r.error}")
            for r in raised.itertuples()]  # fmt: skip


def junit(contenders: list[Contender], failures: dict[str, list[str]], summary: pd.DataFrame,
          found: list[str], version: str = SUITE_VERSION,
          crashed: list[tuple[str, str, str]] | None = None) -> str:  # fmt: skip
    """A JUnit XML report: a test case per aggregator for its contract, and per aggregator and scenario (a scenario
    where it raised included, even with no scores)."""
    cases = []
    scored = set(summary[["aggregator", "scenario"]].drop_duplicates().itertuples(index=False, name=None))
    found = [*found, *(line for name, where, line in crashed or [] if (name, where) in scored)]
    for name, where, line in crashed or []:
        if (name, where) not in scored:
            cases.append(f"<testcase classname={quoteattr(name)} name={quoteattr(where)}><failure "
                         f"message={quoteattr(line)}>{escape(line)}</failure></testcase>")  # fmt: skip
    for contender in contenders:
        failed = failures.get(contender.name, [])
        body = f"<failure message={quoteattr(failed[0])}>{escape(chr(10).join(failed))}</failure>" if failed else ""
        cases.append(f'<testcase classname="contract" name={quoteattr(contender.name)}>{body}</testcase>')
    for (aggregator, scenario), _ in summary.groupby(["aggregator", "scenario"], sort=False):
        mine = [line for line in found if line.startswith(f"{aggregator} in {scenario}:")]
        body = f"<failure message={quoteattr(mine[0])}>{escape(chr(10).join(mine))}</failure>" if mine else ""
        cases.append(f"<testcase classname={quoteattr(str(aggregator))} name={quoteattr(str(scenario))}>{body}"
                     "</testcase>")  # fmt: skip
    n_failed = sum(1 for case in cases if "<failure" in case)
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<testsuite name="crowdlab bench {version}" '
            f'tests="{len(cases)}" failures="{n_failed}">\n' + "\n".join(cases) + "\n</testsuite>\n")  # fmt: skip


def accuracy_table(summary: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """Scenario x aggregator cells 'mean ± half-width' of ``metric``."""
    accuracy = summary[summary["metric"] == metric]
    cells = accuracy.assign(cell=[f"{m:.4f}" if pd.isna(lo) else f"{m:.4f} ± {(hi - lo) / 2:.3f}"
                                  for m, lo, hi in zip(accuracy["mean"], accuracy["ci95_low"], accuracy["ci95_high"],
                                                       strict=True)])  # fmt: skip
    table = cells.pivot_table(index="scenario", columns="aggregator", values="cell", aggfunc="first", sort=False)
    table.columns.name = None
    return table.reset_index().fillna("–")  # no oracle on a real set, say


def write_outputs(summary: pd.DataFrame, rank: pd.DataFrame, report_xml: str, out: Path,
                  failures: dict[str, list[str]], suite: Suite | None = None) -> list[Path]:  # fmt: skip
    """leaderboard.csv, .md and .html (the leading metric's table, the rank table, one figure per metric) and
    junit.xml; the figures as ``METRIC.png``."""
    from experiments.collect import markdown_table
    from experiments.plots import plot_leaderboard

    suite = suite or SUITES["standard"]
    table = accuracy_table(summary, suite.primary)
    shown = [m for m in suite.metrics if summary.loc[summary["metric"] == m, "mean"].notna().any()]
    figures = [plot_leaderboard(summary, out / f"{m}.png", m, METRIC_LABELS.get(m, m), suite.version) for m in shown]
    contract_lines = "\n".join(f"- {name}: {'; '.join(items)}" for name, items in failures.items() if items)
    contract_text = contract_lines or "every aggregator passes the contract checks"
    contract_html = ("<ul>" + "".join(f"<li>{escape(name)}: {escape('; '.join(items))}</li>"
                                      for name, items in failures.items() if items) + "</ul>"
                     if contract_lines else f"<p>{escape(contract_text)}</p>")  # fmt: skip
    leading = METRIC_LABELS.get(suite.primary, suite.primary)
    images_md = "\n\n".join(f"![{p.stem}]({p.name})" for p in figures)
    images_html = "".join(f"<h3>{escape(METRIC_LABELS.get(p.stem, p.stem))}</h3><p><img src='{p.name}' "
                          "style='max-width:100%'></p>" for p in figures)  # fmt: skip
    real = summary["scenario"].astype(str).str.startswith("real:").any()
    notes = "; real data sets: one fit" if real else ""
    if (summary["aggregator"] == "oracle").any():
        notes += "; oracle: the Bayes posterior under the true model, where the scenario's model has one"
    markdown = (
        f"# Aggregator leaderboard ({suite.version})\n\n{leading.capitalize()} (mean ± half-width of the 95% "
        f"interval over replicates{notes}).\n\n{markdown_table(table)}\n\n## Mean rank across "
        f"scenarios\n\n{markdown_table(rank.round(2))}\n\n## Contract\n\n{contract_text}\n\n## Figures\n\n"
        f"{images_md}\n"
    )
    html = (f"<!doctype html><html><head><meta charset='utf-8'><title>Aggregator leaderboard</title></head><body>"
            f"<h1>Aggregator leaderboard ({suite.version})</h1><p>{escape(leading.capitalize())}</p>"
            f"{table.to_html(index=False)}<h2>Mean rank</h2>{rank.round(2).to_html(index=False)}<h2>Contract</h2>"
            f"{contract_html}<h2>Figures</h2>{images_html}</body></html>\n")  # fmt: skip
    tables = [write_csv(summary, out / "leaderboard.csv"), write_text(markdown, out / "leaderboard.md")]
    return [*tables, write_text(html, out / "leaderboard.html"), write_text(report_xml, out / "junit.xml"), *figures]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crowdlab bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("aggregators", nargs="+", help="config names, module:Class import paths or YAML files")
    parser.add_argument("--suite", default="standard", help=f"the scenario suite ({', '.join(SUITES)})")
    parser.add_argument("--data", help="a folder of real data sets (default: ../shared/datasets when present)")
    parser.add_argument("--no-data", action="store_true", help="only the simulated scenarios")
    parser.add_argument("--replicates", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scenarios", nargs="*", help="a subset of the suite's scenarios")
    parser.add_argument("--out", default=time.strftime("results/bench/%Y-%m-%d/%H-%M-%S"))
    parser.add_argument("--save-baseline", metavar="NAME")
    parser.add_argument("--compare", metavar="NAME")
    parser.add_argument("--time-ratio", type=float, default=2.0)
    parser.add_argument("--baselines", default=str(BASELINES), help="where baselines are kept")
    args = parser.parse_args(argv)
    try:
        if args.suite not in SUITES:
            raise ConfigError(f"--suite must be one of {list(SUITES)}, got {args.suite!r}")
        suite = SUITES[args.suite]
        if args.replicates < 1:
            raise ConfigError(f"--replicates must be an integer >= 1, got {args.replicates}")
        unknown = [s for s in args.scenarios or [] if s not in suite.scenarios]
        if unknown:
            raise ConfigError(f"--scenarios: unknown scenario {unknown[0]!r} of the {args.suite} suite; accepted "
                              f"values: {', '.join(suite.scenarios)}")  # fmt: skip
        baseline_dir = Path(args.baselines) / suite.version
        baseline = load_baseline(Path(args.baselines), args.compare, suite, "--compare ") if args.compare else None
        data = Path(args.data) if args.data else (DATASETS if DATASETS.is_dir() else None)
        if data is not None and not data.is_dir():
            raise ConfigError(f"--data {data}: no such folder")
        contenders = [resolve(spec, suite.group) for spec in args.aggregators]
        if Path(args.out).exists() and not Path(args.out).is_dir():
            raise ConfigError(f"--out {args.out} is a file; accepted values: a folder")
    except ConfigError as error:
        print(f"crowdlab: bench: {error}", file=sys.stderr)
        return 2
    failures = {c.name: contract(c, suite.kind) for c in contenders}
    for name, failed in failures.items():
        for line in failed:
            print(f"bench: contract: {name}: {line}", file=sys.stderr)
    chosen = {k: v for k, v in suite.scenarios.items() if not args.scenarios or k in args.scenarios}
    rows = simulated_rows(contenders, chosen, args.replicates, args.seed, suite)  # contract failures are scored too
    if data is not None and not args.no_data:
        rows += real_rows(contenders, data, args.seed, kind=suite.kind)
    table = pd.DataFrame(rows)
    summary = summarise(table, suite)
    rank = ranks(summary, suite)
    crashed = crashes(table)
    found = regressions(summary, baseline, args.time_ratio, suite) if baseline is not None else []
    out = Path(args.out)
    report = junit(contenders, failures, summary, found, suite.version, crashed)
    paths = write_outputs(summary, rank, report, out, failures, suite)
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(f"{suite.version}: {METRIC_LABELS.get(suite.primary, suite.primary)}")
        print(accuracy_table(summary, suite.primary).to_string(index=False))
        print(rank.round(2).to_string(index=False))
    if args.save_baseline:
        path = write_csv(summary, baseline_dir / f"{args.save_baseline}.csv")
        print(f"baseline -> {path}")
    for line in found:
        print(f"bench: regression: {line}", file=sys.stderr)
    print(f"leaderboard.csv, leaderboard.md, leaderboard.html, junit.xml, {len(paths) - 4} figures: {paths[0].parent}")
    return 1 if found or crashed or any(failures.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
