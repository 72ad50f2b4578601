"""Benchmark the categorical aggregators on synthetic answers, against crowd-kit's namesakes when it is installed.

    python -m experiments.benchmarks.aggregators [--n-tasks 100000 --answers-per-task 5 --n-workers 2000
        --n-classes 3 --seed 0 --methods DawidSkene GLAD ... --crowdkit-max-tasks 10000 --dawid-skene-10m]
    python -m experiments.benchmarks.aggregators --pairwise [--n-items 1000 --n-comparisons 200000
        --crowdkit-max-comparisons 10000]

The data: each task has a uniform true class and ``answers-per-task`` distinct workers; worker accuracy is uniform
in [0.55, 0.95] and a wrong answer is uniform over the other classes. For each method the script prints the time
of ``fit_predict`` (best of ``--repeats``), the peak memory of one fit as traced by ``tracemalloc`` (Python and
NumPy allocations made during the fit; the input table is not counted) and the accuracy against the truth. When
``crowdkit`` is importable (install the ``compare`` extra: ``pip install -e ".[compare]"``) crowd-kit's
class of the same name runs on the same data in the same invocation (one repeat: it is slow) and the table shows
the speed-up (crowd-kit seconds / ours) and the accuracy difference (ours - crowd-kit, in points). For crowd-kit's
slowest methods (GLAD, MACE, ZeroBasedSkill) ``--crowdkit-max-tasks`` limits the comparison to the first tasks;
ours is then also run on that subsample and the ratios compare like with like.

``--pairwise`` benchmarks the pairwise aggregators instead: ``--n-comparisons`` comparisons of uniformly drawn
distinct pairs of ``--n-items`` items whose log-strengths are normal with s.d. 1.5, the winner drawn from the
Bradley-Terry model (no worker noise, no position bias). Per fit (BradleyTerry with Newman's and with the MM update,
NoisyBradleyTerry, PositionBiasBradleyTerry; crowd-kit's BradleyTerry and NoisyBradleyTerry when installed, the
latter, slow, on the comparisons among the first items only, about ``--crowdkit-max-comparisons`` of them, with
ours beside it on the same subset): seconds, iterations, the plain Bradley-Terry log-likelihood of the data at the
fitted strengths (no prior: higher is a better fit; NoisyBradleyTerry's scores are probabilities, so its strengths
are their logits) and the Spearman correlation of the scores with the true strengths.

The table is printed and written to ``--output`` (CSV, written to a temporary file and moved into place).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import resource
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats

from experiments.storage import write_csv

METHODS: tuple[str, ...] = (
    "MajorityVote", "GoldMajorityVote", "Wawa", "ZeroBasedSkill", "DawidSkene", "OneCoinDawidSkene", "GLAD",
    "MACE", "KOS",
)  # fmt: skip
CROWDKIT_SLOW = frozenset({"GLAD", "MACE", "ZeroBasedSkill"})
BINARY_ONLY = frozenset({"KOS"})
GOLD_SHARE = 0.1  # GoldMajorityVote sees the truth of this share of tasks
DEFAULT_OUTPUT = Path("results/benchmarks/aggregators.csv")


@dataclass(frozen=True)
class Synthetic:
    answers: pd.DataFrame
    truth: pd.Series


def synthetic_answers(
    n_tasks: int, answers_per_task: int, n_workers: int, n_classes: int, rng: np.random.Generator
) -> Synthetic:
    """Answers of distinct workers per task, accuracy U(0.55, 0.95), errors uniform over the other classes."""
    if answers_per_task > n_workers:
        raise ValueError(f"answers_per_task={answers_per_task} > n_workers={n_workers}: workers must be distinct")
    truth = rng.integers(0, n_classes, n_tasks)
    accuracy = rng.uniform(0.55, 0.95, n_workers)
    workers = rng.integers(0, n_workers, (n_tasks, answers_per_task))
    while True:  # redraw the (few) rows where a worker repeats, until every row is distinct
        ordered = np.sort(workers, axis=1)
        repeated = (ordered[:, 1:] == ordered[:, :-1]).any(axis=1)
        if not repeated.any():
            break
        workers[repeated] = rng.integers(0, n_workers, (int(repeated.sum()), answers_per_task))
    task = np.repeat(np.arange(n_tasks), answers_per_task)
    worker = workers.ravel()
    correct = rng.random(task.shape[0]) < accuracy[worker]
    wrong = (truth[task] + rng.integers(1, n_classes, task.shape[0])) % n_classes if n_classes > 1 else truth[task]
    label = np.where(correct, truth[task], wrong)
    answers = pd.DataFrame({"task": task, "worker": worker, "label": label})
    return Synthetic(answers, pd.Series(truth, index=pd.RangeIndex(n_tasks, name="task"), name="label"))


def first_tasks(data: Synthetic, max_tasks: int | None) -> Synthetic:
    if max_tasks is None or max_tasks >= len(data.truth):
        return data
    answers = data.answers[data.answers["task"] < max_tasks].reset_index(drop=True)
    return Synthetic(answers, data.truth.iloc[:max_tasks])


def fit_kwargs(method: str, data: Synthetic) -> dict[str, Any]:
    if method == "GoldMajorityVote":
        n_gold = max(1, int(GOLD_SHARE * len(data.truth)))
        return {"true_labels": data.truth.iloc[:n_gold]}
    return {}


@dataclass(frozen=True)
class Run:
    seconds: float
    accuracy: float
    peak_mb: float | None


def run(make: Callable[[], Any], method: str, data: Synthetic, repeats: int, trace_memory: bool) -> Run:
    """Best-of-``repeats`` fit seconds, accuracy against the truth, and (optionally) tracemalloc's fit peak."""
    kwargs = fit_kwargs(method, data)
    best = np.inf
    labels = None
    for _ in range(repeats):
        aggregator = make()
        gc.collect()
        start = time.perf_counter()
        labels = aggregator.fit_predict(data.answers, **kwargs)  # crowd-kit's Wawa sets labels_ only in predict
        best = min(best, time.perf_counter() - start)
    peak_mb = None
    if trace_memory:
        gc.collect()
        tracemalloc.start()
        make().fit_predict(data.answers, **kwargs)
        peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    assert labels is not None
    accuracy = float((labels.reindex(data.truth.index) == data.truth).mean())
    return Run(seconds=float(best), accuracy=accuracy, peak_mb=peak_mb)


def crowdkit_module() -> Any | None:
    try:
        return importlib.import_module("crowdkit.aggregation")
    except ImportError:
        return None


def benchmark(
    data: Synthetic,
    methods: Sequence[str],
    repeats: int,
    n_classes: int,
    crowdkit_max_tasks: int | None,
    trace_memory: bool = True,
) -> pd.DataFrame:
    """One row per method: ours, and crowd-kit's namesake where importable."""
    ours_module = importlib.import_module("strategies.aggregation")
    crowdkit = crowdkit_module()
    records = []
    for method in methods:
        record: dict[str, Any] = {"method": method, "n_answers": len(data.answers)}
        ours = getattr(ours_module, method, None)
        if ours is None:
            print(f"skipping {method}: not in strategies.aggregation yet", flush=True)
            continue
        if method in BINARY_ONLY and n_classes != 2:
            print(f"skipping {method}: binary only (run with --n-classes 2)", flush=True)
            continue
        result = run(ours, method, data, repeats, trace_memory)
        record.update(seconds=result.seconds, peak_mb=result.peak_mb, accuracy=result.accuracy)
        print(f"{method}: {result.seconds:.3f} s, accuracy {result.accuracy:.4f}", flush=True)
        theirs = getattr(crowdkit, method, None) if crowdkit is not None else None
        if theirs is not None:
            subset = first_tasks(data, crowdkit_max_tasks if method in CROWDKIT_SLOW else None)
            mine = result if subset is data else run(ours, method, subset, repeats, trace_memory=False)
            try:
                reference = run(theirs, method, subset, repeats=1, trace_memory=False)
            except Exception as error:  # crowd-kit's own failures are reported, not fatal
                print(f"crowd-kit {method} failed: {type(error).__name__}: {error}", flush=True)
            else:
                record.update(
                    ck_n_answers=len(subset.answers),
                    ck_seconds=reference.seconds,
                    ck_accuracy=reference.accuracy,
                    ours_on_ck_data_seconds=mine.seconds,
                    speedup=reference.seconds / mine.seconds,
                    accuracy_diff_points=100 * (mine.accuracy - reference.accuracy),
                )
                print(f"  crowd-kit {method}: {reference.seconds:.3f} s on {len(subset.answers)} answers", flush=True)
        records.append(record)
    table = pd.DataFrame.from_records(records)
    if "ck_n_answers" in table:
        table["ck_n_answers"] = table["ck_n_answers"].astype("Int64")
    return table


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def dawid_skene_10m(seed: int, n_workers: int, n_classes: int) -> pd.DataFrame:
    """Fit DawidSkene on 10,000,000 answers (2,000,000 tasks x 5) and report the process's peak RSS."""
    dawid_skene = importlib.import_module("strategies.aggregation").DawidSkene
    data = synthetic_answers(2_000_000, 5, n_workers, n_classes, np.random.default_rng(seed))
    gc.collect()
    before = peak_rss_mb()
    start = time.perf_counter()
    labels = dawid_skene().fit(data.answers).labels_
    seconds = time.perf_counter() - start
    accuracy = float((labels.reindex(data.truth.index) == data.truth).mean())
    return pd.DataFrame(
        [
            {
                "method": "DawidSkene",
                "n_answers": len(data.answers),
                "seconds": seconds,
                "accuracy": accuracy,
                "peak_rss_mb_before_fit": before,
                "peak_rss_mb": peak_rss_mb(),
            }
        ]
    )


def synthetic_comparisons(
    n_items: int, n_comparisons: int, rng: np.random.Generator
) -> tuple[pd.DataFrame, np.ndarray]:
    """(comparisons with columns worker, left, right, label; true log-strengths by item code)."""
    strength = rng.normal(0.0, 1.5, n_items)
    left = rng.integers(n_items, size=n_comparisons)
    right = (left + rng.integers(1, n_items, size=n_comparisons)) % n_items
    left_wins = rng.random(n_comparisons) < 1.0 / (1.0 + np.exp(strength[right] - strength[left]))
    frame = pd.DataFrame({"worker": rng.integers(100, size=n_comparisons), "left": left, "right": right,
                          "label": np.where(left_wins, left, right)})  # fmt: skip
    return frame, strength


@dataclass(frozen=True)
class PairwiseCandidate:
    name: str
    make: Callable[[], Any]
    runs: int
    log_strengths: Callable[[np.ndarray], np.ndarray]  # scores_ -> log-strengths (Bradley-Terry logits)
    subset: bool = False  # fitted on the comparisons among the first items only (crowd-kit's slow NoisyBT)


def first_items(comparisons: pd.DataFrame, n_items: int, max_comparisons: int) -> tuple[pd.DataFrame, int]:
    """(the comparisons among the first k items, k): k is the largest keeping about ``max_comparisons`` of them."""
    share = min(1.0, np.sqrt(max_comparisons / len(comparisons)))
    k = max(2, int(n_items * share))
    inside = (comparisons["left"] < k) & (comparisons["right"] < k)
    return comparisons[inside].reset_index(drop=True), k


def pairwise_benchmark(
    n_items: int, n_comparisons: int, seed: int, repeats: int, crowdkit_max_comparisons: int = 10_000
) -> pd.DataFrame:
    """Each pairwise aggregator, and crowd-kit's where importable: seconds, iterations, fit and rank quality.

    crowd-kit's NoisyBradleyTerry computes its gradient in a Python loop over rows (about 2.5 ms per row for a
    whole fit), so it runs on the comparisons among the first items only, about ``crowdkit_max_comparisons`` of
    them, and ours runs on the same subset beside it."""
    comparisons, strength = synthetic_comparisons(n_items, n_comparisons, np.random.default_rng(seed))
    subset, subset_items = first_items(comparisons, n_items, crowdkit_max_comparisons)
    ours = importlib.import_module("strategies.aggregation")
    crowdkit = crowdkit_module()
    log, logit = np.log, special.logit
    candidates = [
        PairwiseCandidate("BradleyTerry(method='newman')", lambda: ours.BradleyTerry(), repeats, log),
        PairwiseCandidate("BradleyTerry(method='mm')", lambda: ours.BradleyTerry(method="mm", n_iter=100_000), 1, log),
        PairwiseCandidate("NoisyBradleyTerry()", lambda: ours.NoisyBradleyTerry(), repeats, logit),
        PairwiseCandidate("PositionBiasBradleyTerry()", lambda: ours.PositionBiasBradleyTerry(), repeats, log),
    ]
    if crowdkit is not None:
        candidates += [
            PairwiseCandidate("crowd-kit BradleyTerry(n_iter=100)", lambda: crowdkit.BradleyTerry(n_iter=100), 1, log),
            PairwiseCandidate("NoisyBradleyTerry() [subset]", lambda: ours.NoisyBradleyTerry(), repeats, logit, True),
            PairwiseCandidate("crowd-kit NoisyBradleyTerry() [subset]", lambda: crowdkit.NoisyBradleyTerry(), 1, logit,
                              True),
        ]  # fmt: skip
    records = []
    for candidate in candidates:
        data, items = (subset, subset_items) if candidate.subset else (comparisons, n_items)
        best, model = np.inf, None
        for _ in range(candidate.runs):
            model = candidate.make()
            gc.collect()
            start = time.perf_counter()
            model.fit(data)
            best = min(best, time.perf_counter() - start)
        assert model is not None
        with np.errstate(divide="ignore", invalid="ignore"):  # crowd-kit's BradleyTerry may give a score of 0
            logits = candidate.log_strengths(model.scores_.reindex(range(items)).to_numpy(dtype=np.float64))
        winner = data["label"].to_numpy()
        loser = np.where(winner == data["left"].to_numpy(), data["right"], data["left"])
        with np.errstate(invalid="ignore"):
            log_likelihood = float(-np.logaddexp(0.0, logits[loser] - logits[winner]).sum())
        records.append({"method": candidate.name, "n_items": items, "n_comparisons": len(data), "seconds": best,
                        "iterations": getattr(model, "n_iter_", None), "log_likelihood": log_likelihood,
                        "spearman": float(stats.spearmanr(logits, strength[:items])[0])})  # fmt: skip
        print(f"{candidate.name}: {best:.3f} s on {len(data):,} comparisons", flush=True)
    table = pd.DataFrame.from_records(records)
    table["iterations"] = table["iterations"].astype("Int64")
    return table


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-tasks", type=int, default=100_000)
    parser.add_argument("--answers-per-task", type=int, default=5)
    parser.add_argument("--n-workers", type=int, default=2_000)
    parser.add_argument("--n-classes", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="fit repeats for ours; the best time is kept")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), help="class names in strategies.aggregation")
    parser.add_argument(
        "--crowdkit-max-tasks",
        type=int,
        default=None,
        help=f"compare {sorted(CROWDKIT_SLOW)} with crowd-kit on the first N tasks only (both run on them)",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc run (it slows the fit)")
    parser.add_argument("--dawid-skene-10m", action="store_true", help="also fit DawidSkene on 10M answers")
    parser.add_argument("--pairwise", action="store_true", help="benchmark the pairwise aggregators instead")
    parser.add_argument("--n-items", type=int, default=1_000, help="with --pairwise")
    parser.add_argument("--n-comparisons", type=int, default=200_000, help="with --pairwise")
    parser.add_argument(
        "--crowdkit-max-comparisons",
        type=int,
        default=10_000,
        help="with --pairwise: crowd-kit's NoisyBradleyTerry (and ours beside it) on about this many comparisons",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> pd.DataFrame:
    args = parse_args(argv)
    if args.pairwise:
        table = pairwise_benchmark(
            args.n_items, args.n_comparisons, args.seed, args.repeats, args.crowdkit_max_comparisons
        )
        with pd.option_context("display.width", 200):
            print(table.to_string(index=False, float_format=lambda value: f"{value:.6g}"))
        output = args.output.with_name("bradley_terry.csv") if args.output == DEFAULT_OUTPUT else args.output
        write_csv(table, output)
        print(f"written to {output}")
        return table
    data = synthetic_answers(
        args.n_tasks, args.answers_per_task, args.n_workers, args.n_classes, np.random.default_rng(args.seed)
    )
    print(
        f"{len(data.answers):,} answers: {args.n_tasks:,} tasks x {args.answers_per_task}, {args.n_workers:,} "
        f"workers, {args.n_classes} classes, seed {args.seed}; crowd-kit "
        f"{'found' if crowdkit_module() is not None else 'not installed'}",
        flush=True,
    )
    table = benchmark(
        data, args.methods, args.repeats, args.n_classes, args.crowdkit_max_tasks, trace_memory=not args.no_memory
    )
    if args.dawid_skene_10m:
        del data
        table = pd.concat([table, dawid_skene_10m(args.seed, args.n_workers, args.n_classes)], ignore_index=True)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string(index=False, float_format=lambda value: f"{value:.4g}"))
    print("peak_mb: tracemalloc peak of one fit (Python + NumPy allocations); peak_rss_mb: the process's peak RSS")
    write_csv(table, args.output)
    print(f"written to {args.output}")
    return table


if __name__ == "__main__":
    main()
