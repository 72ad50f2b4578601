"""Online aggregation: the speed of ``OnlineModel.add`` and the refit schedule's accuracy against batch fits.

    python -m experiments.benchmarks.online [--n-items 200000 --n-raters 1000 --redundancy 5 --n-classes 3
        --seed 0 --growths 0.1 --restarts 0]
    python -m experiments.benchmarks.online --sweep [--growths 0.05 0.1 0.2 --restarts 0 0.1 0.25 0.5 1 inf
        --min-answers 100 --orders 0 --datasets ../shared/datasets]

Default: a simulated campaign (``sim.simulate`` without gold questions and with a long enough shift, so exactly
items x redundancy answers) is fed in submission order, one ``add`` call per answer, to Dawid-Skene's online model
(``DawidSkene().online_model``) with each schedule of ``--growths`` x ``--restarts`` (default: the library's
default), refits included. One line per schedule: ``seconds_per_answer``, ``refits``, ``refit_share`` (the share
of that time spent in refits) and ``accuracy_online`` after the last answer; the header line gives
``accuracy_batch``, that of ``DawidSkene().fit`` on the same answers (accuracy against the simulated truth).

``--sweep``: for each schedule (``--growths`` x ``--restarts`` x ``--min-answers``; restart ``0`` restarts every
refit from the soft majority vote, ``inf`` never after the first) and each of Dawid-Skene and one-coin
Dawid-Skene, the answers of every categorical real data set (shuffled, one stream per ``--orders`` seed) and of
four simulated campaigns (submission order) go through ``add_many`` (the same result as ``add`` answer by
answer). One row per schedule, model and stream: gold accuracy minus that of the batch fit of the same answers,
in points, after the last answer (``gap_final``) and the largest in size after 25, 50 and 75% of them
(``worst_partial``); refits; microseconds per answer. The summary gives, per schedule and model, the worst and
mean size of the gaps over the data the default was tuned on (``TUNING``) and over the held-out rest.
"""

from __future__ import annotations

import argparse
import itertools
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim import Campaign, RaterPopulation, TaskDesign, simulate
from strategies.aggregation import DawidSkene, OneCoinDawidSkene, encode_answers
from strategies.aggregation._online import MIN_ANSWERS, REFIT_GROWTH, RESTART_GROWTH, OnlineConfusionEM
from strategies.aggregation.base import argmax_rows

DATASETS = ("bluebirds", "rte", "product", "zencrowd_all", "dog", "web", "music", "relevance")
TUNING = frozenset({"rte", "dog", "web", "relevance", "sim0", "sim1"})  # held out: the other four and sim2, sim3
DEFAULT_DATASETS = Path(__file__).resolve().parents[3] / "shared" / "datasets"
CHECKPOINTS = (0.25, 0.5, 0.75)
SWEEP_GROWTHS, SWEEP_RESTARTS = (0.05, 0.1, 0.2), (0.0, 0.1, 0.25, 0.5, 1.0, math.inf)


@dataclass(frozen=True)
class Stream:
    name: str
    answers: pd.DataFrame  # in the order they are fed
    gold: pd.Series  # task -> label


def campaign(n_items: int, n_raters: int, redundancy: int, n_classes: int, seed: int) -> Stream:
    """A simulated campaign without gold questions, its answers in submission order."""
    design = TaskDesign(n_items=n_items, n_classes=n_classes, gold_fraction=0.0)
    raters = RaterPopulation(n_raters=n_raters, sessions=10_000)  # a long enough shift for every answer
    result = simulate(design, raters, Campaign(redundancy=redundancy), seed=seed)
    order = np.argsort(result.answers["t_end"].to_numpy(), kind="stable")
    answers = result.answers.iloc[order][["task", "worker", "label"]].reset_index(drop=True)
    return Stream(f"sim{seed}", answers, result.truth)


def real_streams(folder: Path, orders: Sequence[int]) -> Iterator[Stream]:
    for name in DATASETS:
        answers = pd.read_csv(folder / name / "labels.csv")[["task", "worker", "label"]]
        gold = pd.read_csv(folder / name / "gold.csv").set_index("task")["label"]
        for seed in orders:
            yield Stream(name, answers.sample(frac=1.0, random_state=seed).reset_index(drop=True), gold)


def gold_accuracy(codes: np.ndarray, tasks: pd.Index, labels: pd.Index, gold: pd.Series) -> float:
    predicted = pd.Series(labels.to_numpy()[codes], index=tasks)
    return float((predicted.reindex(gold.index) == gold).mean())


def run_online(
    make: Callable[[], DawidSkene], stream: Stream, schedule: dict[str, float], stop: int | None = None
) -> tuple[OnlineConfusionEM, float, pd.Index, pd.Index]:
    """The online model after the first ``stop`` answers of the stream (all by default), and the seconds it took."""
    encoded = encode_answers(stream.answers.iloc[:stop])
    model = make().online_model(encoded.n_tasks, encoded.n_workers, encoded.n_labels, **schedule)  # type: ignore[arg-type]
    start = time.perf_counter()
    model.add_many(encoded.task, encoded.worker, encoded.label)
    return model, time.perf_counter() - start, encoded.tasks, encoded.labels


def sweep(streams: list[Stream], growths: Sequence[float], restarts: Sequence[float], minimums: Sequence[int]) -> None:
    rows = []
    for make, stream in itertools.product((DawidSkene, OneCoinDawidSkene), streams):
        n = len(stream.answers)
        stops = [max(1, int(share * n)) for share in CHECKPOINTS] + [n]
        batch = {}
        for stop in stops:
            fitted = make().fit(stream.answers.iloc[:stop])
            batch[stop] = float((fitted.labels_.reindex(stream.gold.index) == stream.gold).mean())
        for growth, restart, minimum in itertools.product(growths, restarts, minimums):
            schedule = {"refit_growth": growth, "restart_growth": restart, "min_answers": minimum}
            gaps = []
            for stop in stops:
                model, seconds, tasks, labels = run_online(make, stream, schedule, stop)
                online = gold_accuracy(argmax_rows(model.probas()), tasks, labels, stream.gold)
                gaps.append(100 * (online - batch[stop]))
            rows.append(
                {
                    "model": make.__name__, "data": stream.name, "growth": growth, "restart": restart,
                    "min_answers": minimum, "gap_final": gaps[-1], "worst_partial": max(gaps[:-1], key=abs),
                    "refits": model.refits,
                    "us_per_answer": 1e6 * seconds / n,
                }
            )  # fmt: skip
            print(pd.DataFrame(rows[-1:]).to_string(index=False, header=len(rows) == 1, float_format="%.3f"))
    table = pd.DataFrame(rows)
    table["group"] = np.where(table["data"].isin(TUNING), "tuning", "held_out")
    table["abs_final"] = table["gap_final"].abs()
    table["abs_partial"] = table["worst_partial"].abs()
    summary = table.groupby(["growth", "restart", "min_answers", "model", "group"]).agg(
        worst_final=("abs_final", "max"), mean_final=("abs_final", "mean"), worst_partial=("abs_partial", "max"),
        us_per_answer=("us_per_answer", "mean"),
    )  # fmt: skip
    print()
    print(summary.to_string(float_format="%.3f"))


def benchmark(
    n_items: int, n_raters: int, redundancy: int, n_classes: int, seed: int, schedules: list[dict[str, float]]
) -> None:
    stream = campaign(n_items, n_raters, redundancy, n_classes, seed)
    encoded = encode_answers(stream.answers)
    tasks, workers, labels = encoded.task.tolist(), encoded.worker.tolist(), encoded.label.tolist()
    batch = float((DawidSkene().fit_predict(stream.answers).reindex(stream.gold.index) == stream.gold).mean())
    print(
        f"answers={encoded.n_answers} tasks={encoded.n_tasks} workers={encoded.n_workers} labels={encoded.n_labels} "
        f"accuracy_batch={batch:.4f}"
    )
    for schedule in schedules:
        model = DawidSkene().online_model(encoded.n_tasks, encoded.n_workers, encoded.n_labels, **schedule)  # type: ignore[arg-type]
        refit_seconds = 0.0
        refit = model.refit

        def timed_refit(restart: bool | None = None, refit: Callable[..., None] = refit) -> None:
            nonlocal refit_seconds
            start = time.perf_counter()
            refit(restart)
            refit_seconds += time.perf_counter() - start

        model.refit = timed_refit  # type: ignore[method-assign]
        add = model.add
        start = time.perf_counter()
        for task, worker, label in zip(tasks, workers, labels, strict=True):
            add(task, worker, label)
        seconds = time.perf_counter() - start
        online = gold_accuracy(argmax_rows(model.probas()), encoded.tasks, encoded.labels, stream.gold)
        settings = " ".join(f"{key}={value:g}" for key, value in schedule.items())
        print(
            f"{settings} seconds_per_answer={seconds / encoded.n_answers:.3g} refits={model.refits} "
            f"refit_share={refit_seconds / seconds:.3f} accuracy_online={online:.4f}"
        )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument("--n-items", type=int, default=200_000)
    parser.add_argument("--n-raters", type=int, default=1_000)
    parser.add_argument("--redundancy", type=int, default=5)
    parser.add_argument("--n-classes", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--growths", type=float, nargs="+", default=None)
    parser.add_argument("--restarts", type=float, nargs="+", default=None)
    parser.add_argument("--min-answers", type=int, nargs="+", default=None)
    parser.add_argument("--orders", type=int, nargs="+", default=[0])
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    args = parser.parse_args(argv)
    growths: Sequence[float] = args.growths or (SWEEP_GROWTHS if args.sweep else (REFIT_GROWTH,))
    restarts: Sequence[float] = args.restarts or (SWEEP_RESTARTS if args.sweep else (RESTART_GROWTH,))
    minimums: Sequence[int] = args.min_answers or (MIN_ANSWERS,)
    if args.sweep:
        streams = list(real_streams(args.datasets, args.orders))
        streams += [campaign(3000, 100, 5, 3, seed) for seed in range(4)]
        sweep(streams, growths, restarts, minimums)
    else:
        schedules = [
            {"refit_growth": growth, "restart_growth": restart, "min_answers": minimum}
            for growth, restart, minimum in itertools.product(growths, restarts, minimums)
        ]
        benchmark(args.n_items, args.n_raters, args.redundancy, args.n_classes, args.seed, schedules)


if __name__ == "__main__":
    main()
