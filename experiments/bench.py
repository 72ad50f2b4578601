"""``crowdlab bench``: a regression harness and leaderboard for categorical aggregators.

    crowdlab bench majority_vote dawid_skene glad 'mypkg.mod:MyVote(n_iter=50)' my_aggregator.yaml
    crowdlab bench majority_vote --save-baseline main          # store this run's scores
    crowdlab bench majority_vote --compare main                # exit 1 if worse than the baseline

An aggregator is a config name of ``conf/aggregators/``, an import path ``module:Class`` with optional keyword
arguments in brackets, or a YAML file with a ``_target_``. Each first runs the contract checks of
:mod:`strategies.aggregation.checks` (a failure is reported and the aggregator is left out of the scores, never a
crash; it is scored all the same, and the run exits 1). Then every aggregator scores the same answers:

* the scenario suite (``--suite standard``, version :data:`SUITE_VERSION`): campaigns simulated from the scenarios of
  :data:`SCENARIOS`, ``--replicates`` each (replicate ``r`` of a scenario is the same campaign for every aggregator),
  with the simulator's ``oracle`` (the Bayes posterior under the true model) as a reference row;
* the real data sets: every subfolder of ``--data`` that holds ``labels.csv`` and ``gold.csv`` (the layout of
  ../shared/datasets, the default when present), scored on their gold tasks.

Metrics: accuracy, macro-F1, log-loss, Brier score, expected calibration error (10 equal-width bins of the top
probability), fit seconds and peak memory of the fit (tracemalloc), each with a 95% Student-t interval over
replicates. Writes ``leaderboard.csv`` (long: one row per aggregator, scenario and metric), ``leaderboard.md`` and
``leaderboard.html`` (the accuracy table, the mean rank across scenarios, a figure) and ``junit.xml`` (one test case
per aggregator and scenario: contract failures and regressions fail) into ``--out``.

Baselines are stored under ``results/baselines/<suite version>/NAME.csv``. ``--compare NAME`` exits 1 when an
aggregator's accuracy in a scenario falls below the baseline's 95% interval, or its fit time exceeds the baseline's
by more than ``--time-ratio`` (2); each regression is printed naming the scenario, the metric and both values. An
aggregator absent from the baseline is compared with the baseline's only aggregator, if it has one. Exit 0 otherwise,
2 on bad input.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import math
import sys
import time
import tracemalloc
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

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
class Contender:
    """An aggregator to bench: its name in the tables and a factory of fresh, unfitted instances."""

    name: str
    make: Callable[[], Any]


def resolve(spec: str) -> Contender:
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
    known = available("aggregators")
    if spec not in known:
        raise ConfigError(f"unknown aggregator {spec!r}; accepted values: {', '.join(known)}, an import path "
                          "module:Class, or a YAML file")  # fmt: skip
    node = OmegaConf.load(CONF / "aggregators" / f"{spec}.yaml")
    return Contender(spec, lambda: instantiate(node))


def contract(contender: Contender) -> list[str]:
    """The contract checks the aggregator fails, each as 'check: message' (empty when it passes them all)."""
    from strategies.aggregation import checks

    failures = []
    for check in checks.CATEGORICAL_CHECKS:
        try:
            check(contender.make)
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


def score(contender: Contender, answers: pd.DataFrame, truth: pd.Series, seed: int) -> dict[str, float]:
    """Fit a fresh instance (its random state, if any, from the run's seed) and score it on ``truth``."""
    from experiments.metrics import macro_f1

    aggregator = contender.make()
    if hasattr(aggregator, "random_state"):
        aggregator.random_state = seed
    tracemalloc.start()
    start = time.perf_counter()
    labels = aggregator.fit_predict(answers)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    estimate = labels.reindex(truth.index)
    return {
        "accuracy": float((estimate == truth).mean()),
        "macro_f1": macro_f1(estimate, truth),
        **probability_scores(getattr(aggregator, "probas_", None), truth),
        "fit_seconds": seconds,
        "peak_mib": peak,
    }


def simulated_rows(
    contenders: list[Contender], scenarios: dict[str, list[str]], replicates: int, seed: int
) -> list[dict[str, Any]]:
    """Every scenario's campaigns, scored by every contender and by the oracle."""
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


def guarded(contender: Contender, answers: pd.DataFrame, truth: pd.Series, seed: int, scenario: str) -> dict[str, Any]:
    """:func:`score`, or (the aggregator raised) the error on stderr and no scores: a finding, not a crash."""
    try:
        return score(contender, answers, truth, seed)
    except Exception as error:  # a user's aggregator may fail anywhere
        print(f"bench: {contender.name} failed in {scenario}: {type(error).__name__}: {error}", file=sys.stderr)
        return {}


def real_rows(
    contenders: list[Contender], data: Path, seed: int, only: Collection[str] | None = None
) -> list[dict[str, Any]]:
    """Every real data set under ``data`` (a folder with labels.csv and gold.csv; those named in ``only``, if
    given), scored on its gold tasks."""
    rows: list[dict[str, Any]] = []
    for folder in sorted(p for p in data.iterdir() if (p / "labels.csv").is_file() and (p / "gold.csv").is_file()):
        if only is not None and folder.name not in only:
            continue
        answers = pd.read_csv(folder / "labels.csv")
        gold = pd.read_csv(folder / "gold.csv").set_index("task")["label"]
        if not pd.api.types.is_integer_dtype(answers["label"]) or answers["label"].nunique() > MAX_CLASSES:
            continue  # numeric answers (emotion's 0-100 scale): not for categorical methods
        for contender in contenders:
            scores = guarded(contender, answers[["task", "worker", "label"]], gold, seed, f"real:{folder.name}")
            rows.append({"aggregator": contender.name, "scenario": f"real:{folder.name}", "replicate": 0, **scores})
    return rows


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Long table: per aggregator, scenario and metric, the mean, n and 95% Student-t interval over replicates
    (:func:`experiments.collect.summarise`), with the suite's version."""
    from experiments.collect import summarise as intervals

    summary = intervals(rows, by=["aggregator", "scenario"], names=METRICS)
    order = {name: i for i, name in enumerate(dict.fromkeys([*rows["aggregator"], *rows["scenario"]]))}
    summary = summary.sort_values(["scenario", "aggregator"], key=lambda column: column.map(order), kind="stable")
    summary.insert(0, "suite", SUITE_VERSION)
    return summary.reset_index(drop=True)  # in the suite's order of scenarios and the command line's of aggregators


def ranks(summary: pd.DataFrame) -> pd.DataFrame:
    """Each aggregator's mean rank by accuracy across scenarios (1 = best; the oracle apart)."""
    accuracy = summary[(summary["metric"] == "accuracy") & (summary["aggregator"] != "oracle")]
    table = accuracy.pivot_table(index="aggregator", columns="scenario", values="mean")
    rank = table.rank(ascending=False, method="average").mean(axis=1).rename("mean_rank")
    return rank.sort_values().reset_index()


def regressions(summary: pd.DataFrame, baseline: pd.DataFrame, time_ratio: float) -> list[str]:
    """Each way an aggregator is worse than the baseline: accuracy below its 95% interval, or time beyond
    ``time_ratio`` times."""

    def figures(table: pd.DataFrame) -> dict[str, tuple[float, float]]:  # metric -> (mean, lower end or the mean)
        return {str(r["metric"]): (float(r["mean"]), float(r["mean"] if pd.isna(r["ci95_low"]) else r["ci95_low"]))
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
        if "accuracy" in base and "accuracy" in ours and ours["accuracy"][0] < base["accuracy"][1] - 1e-12:
            found.append(f"{aggregator} in {scenario}: accuracy {ours['accuracy'][0]:.4f} is below the baseline's "
                         f"({against}) 95% interval, from {base['accuracy'][1]:.4f} (mean "
                         f"{base['accuracy'][0]:.4f})")  # fmt: skip
        if "fit_seconds" in base and "fit_seconds" in ours:
            before, now = base["fit_seconds"][0], ours["fit_seconds"][0]
            if before > 0 and now > time_ratio * before and now > 0.05:  # a few milliseconds are noise
                found.append(f"{aggregator} in {scenario}: fit_seconds {now:.3f} is more than {time_ratio:g} times "
                             f"the baseline's ({against}) {before:.3f}")  # fmt: skip
    return found


def junit(contenders: list[Contender], failures: dict[str, list[str]], summary: pd.DataFrame,
          found: list[str]) -> str:  # fmt: skip
    """A JUnit XML report: a test case per aggregator for its contract, and per aggregator and scenario."""
    cases = []
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
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<testsuite name="crowdlab bench {SUITE_VERSION}" '
            f'tests="{len(cases)}" failures="{n_failed}">\n' + "\n".join(cases) + "\n</testsuite>\n")  # fmt: skip


def accuracy_table(summary: pd.DataFrame) -> pd.DataFrame:
    accuracy = summary[summary["metric"] == "accuracy"]
    cells = accuracy.assign(cell=[f"{m:.4f}" if pd.isna(lo) else f"{m:.4f} ± {(hi - lo) / 2:.3f}"
                                  for m, lo, hi in zip(accuracy["mean"], accuracy["ci95_low"], accuracy["ci95_high"],
                                                       strict=True)])  # fmt: skip
    table = cells.pivot_table(index="scenario", columns="aggregator", values="cell", aggfunc="first", sort=False)
    table.columns.name = None
    return table.reset_index()


def write_outputs(summary: pd.DataFrame, rank: pd.DataFrame, report_xml: str, out: Path,
                  failures: dict[str, list[str]]) -> list[Path]:  # fmt: skip
    from experiments.collect import markdown_table
    from experiments.plots import plot_leaderboard

    table = accuracy_table(summary)
    figure = plot_leaderboard(summary, out / "accuracy.png")
    contract_lines = "\n".join(f"- {name}: {'; '.join(items)}" for name, items in failures.items() if items)
    contract_text = contract_lines or "every aggregator passes the contract checks"
    markdown = (
        f"# Aggregator leaderboard ({SUITE_VERSION})\n\nAccuracy (mean ± half-width of the 95% interval over "
        f"replicates; real data sets: one fit).\n\n{markdown_table(table)}\n\n## Mean rank across scenarios\n\n"
        f"{markdown_table(rank.round(2))}\n\n## Contract\n\n{contract_text}\n\n![accuracy](accuracy.png)\n"
    )
    html = (f"<!doctype html><html><head><meta charset='utf-8'><title>Aggregator leaderboard</title></head><body>"
            f"<h1>Aggregator leaderboard ({SUITE_VERSION})</h1>{table.to_html(index=False)}<h2>Mean rank</h2>"
            f"{rank.round(2).to_html(index=False)}<p><img src='accuracy.png' style='max-width:100%'></p>"
            "</body></html>\n")  # fmt: skip
    return [write_csv(summary, out / "leaderboard.csv"), write_text(markdown, out / "leaderboard.md"),
            write_text(html, out / "leaderboard.html"), write_text(report_xml, out / "junit.xml"), figure]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crowdlab bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("aggregators", nargs="+", help="config names, module:Class import paths or YAML files")
    parser.add_argument("--suite", default="standard", help="the scenario suite (standard)")
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
        if args.suite != "standard":
            raise ConfigError(f"--suite must be one of ['standard'], got {args.suite!r}")
        if args.replicates < 1:
            raise ConfigError(f"--replicates must be an integer >= 1, got {args.replicates}")
        unknown = [s for s in args.scenarios or [] if s not in SCENARIOS]
        if unknown:
            raise ConfigError(f"--scenarios: unknown scenario {unknown[0]!r}; accepted values: {', '.join(SCENARIOS)}")
        baseline_dir = Path(args.baselines) / SUITE_VERSION
        baseline = None
        if args.compare:
            path = baseline_dir / f"{args.compare}.csv"
            if not path.is_file():
                saved = sorted(p.stem for p in baseline_dir.glob("*.csv"))
                raise ConfigError(f"--compare {args.compare}: no such baseline for {SUITE_VERSION}; accepted values: "
                                  f"{', '.join(saved) or 'none saved yet (--save-baseline NAME)'}")  # fmt: skip
            baseline = pd.read_csv(path)
        data = Path(args.data) if args.data else (DATASETS if DATASETS.is_dir() else None)
        if data is not None and not data.is_dir():
            raise ConfigError(f"--data {data}: no such folder")
        contenders = [resolve(spec) for spec in args.aggregators]
        if Path(args.out).exists() and not Path(args.out).is_dir():
            raise ConfigError(f"--out {args.out} is a file; accepted values: a folder")
    except ConfigError as error:
        print(f"crowdlab: bench: {error}", file=sys.stderr)
        return 2
    failures = {c.name: contract(c) for c in contenders}
    for name, failed in failures.items():
        for line in failed:
            print(f"bench: contract: {name}: {line}", file=sys.stderr)
    chosen = {k: v for k, v in SCENARIOS.items() if not args.scenarios or k in args.scenarios}
    rows = simulated_rows(contenders, chosen, args.replicates, args.seed)  # contract failures are scored too
    if data is not None and not args.no_data:
        rows += real_rows(contenders, data, args.seed)
    summary = summarise(pd.DataFrame(rows))
    rank = ranks(summary)
    found = regressions(summary, baseline, args.time_ratio) if baseline is not None else []
    out = Path(args.out)
    paths = write_outputs(summary, rank, junit(contenders, failures, summary, found), out, failures)
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(accuracy_table(summary).to_string(index=False))
        print(rank.round(2).to_string(index=False))
    if args.save_baseline:
        path = write_csv(summary, baseline_dir / f"{args.save_baseline}.csv")
        print(f"baseline -> {path}")
    for line in found:
        print(f"bench: regression: {line}", file=sys.stderr)
    print(f"leaderboard.csv, leaderboard.md, leaderboard.html, junit.xml: {paths[0].parent}")
    return 1 if found or any(failures.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
