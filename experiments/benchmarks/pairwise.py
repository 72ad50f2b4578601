"""Benchmarks of pairwise tasks in the simulator: engine speed, and what the active pair policy saves.

    python -m experiments.benchmarks.pairwise                    # both parts
    python -m experiments.benchmarks.pairwise --part engine      # 1,000,000 comparisons, comparisons per second
    python -m experiments.benchmarks.pairwise --part policies    # Kendall's tau against comparisons per response

``engine`` simulates 1,000,000 comparisons (10,000 responses, 200 comparisons each, random pairs) and, as a
baseline in the same process, a categorical campaign of as many answers; it prints comparisons per second and the
ratio. ``policies`` (``--score-sd``, ``--raters honest|default``) runs random, adjacent and active pairs at several
comparisons per response on the same responses and raters (common random numbers), fits Bradley-Terry, and prints
the mean Kendall's tau per design; then, for each adaptive policy, the comparisons per response it needs to reach
the tau random pairs reach at ``--reference`` comparisons (linear interpolation in log comparisons) and the saving.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

from experiments.metrics import pairwise_scores
from sim import Campaign, RaterPopulation, TaskDesign, simulate
from strategies.aggregation import BradleyTerry
from strategies.assignment import ActivePairs, AdjacentPairs, RandomPairs

POLICIES = {"random_pairs": RandomPairs, "adjacent_pairs": AdjacentPairs, "active_pairs": ActivePairs}


def engine(n_items: int = 10_000, per_item: int = 200, n_raters: int = 1000, seed: int = 0) -> pd.DataFrame:
    population = RaterPopulation(n_raters=n_raters, sessions=10_000)
    rows = []
    start = time.perf_counter()
    result = simulate(TaskDesign(kind="pairwise", n_items=n_items, gold_fraction=0.0, candidate_pairs=per_item),
                      population, seed=seed, progress=False,
                      assignment=RandomPairs(comparisons_per_item=per_item))  # fmt: skip
    seconds = time.perf_counter() - start
    rows.append({"task": "pairwise", "answers": len(result.answers), "seconds": seconds})
    n_answers = len(result.answers)
    start = time.perf_counter()
    categorical = simulate(TaskDesign(n_items=n_answers // 3, gold_fraction=0.0), population, Campaign(redundancy=3),
                           seed=seed, progress=False)  # fmt: skip
    rows.append({"task": "categorical", "answers": len(categorical.answers), "seconds": time.perf_counter() - start})
    table = pd.DataFrame(rows)
    table["answers_per_second"] = table["answers"] / table["seconds"]
    table["ratio_to_categorical"] = table["answers_per_second"] / table["answers_per_second"].iloc[-1]
    return table


def policies(
    per_item: Sequence[float] = (4, 6, 8, 12, 16, 24),
    n_items: int = 300,
    score_sd: float = 3.0,
    n_raters: int = 10,
    page_size: int = 5,
    replicates: int = 4,
    seed: int = 0,
    raters: str = "honest",
) -> pd.DataFrame:
    """Mean Kendall's tau of Bradley-Terry scores per policy and comparisons per response; ``raters``: ``honest``
    (the default population's honest raters only) or ``default`` (with its experts, spammers and adversaries)."""
    design = TaskDesign(kind="pairwise", n_items=n_items, score_sd=score_sd, candidate_pairs=n_items - 1,
                        gold_fraction=0.0)  # fmt: skip
    archetypes = {"honest": 1.0} if raters == "honest" else RaterPopulation().archetypes
    population = RaterPopulation(n_raters=n_raters, sessions=10_000, archetypes=archetypes)
    rows = []
    for name, policy in POLICIES.items():
        for comparisons in per_item:
            for replicate in range(replicates):
                result = simulate(design, population, Campaign(page_size=page_size), seed=seed, replicate=replicate,
                                  assignment=policy(comparisons_per_item=comparisons), progress=False)  # fmt: skip
                fitted = BradleyTerry().fit(result.worker_answers())
                tau = pairwise_scores(fitted.scores_, result.truth)["kendall_tau"]
                rows.append({"policy": name, "comparisons_per_item": comparisons, "replicate": replicate, "tau": tau})
    return pd.DataFrame(rows).groupby(["policy", "comparisons_per_item"], as_index=False).agg(tau=("tau", "mean"))


def comparisons_to_reach(curve: pd.DataFrame, tau: float) -> float:
    """Comparisons per response at which a policy's tau curve reaches ``tau`` (log-linear interpolation; NaN if it
    never does within the grid)."""
    x, y = np.log(curve["comparisons_per_item"].to_numpy(float)), curve["tau"].to_numpy(float)
    above = np.flatnonzero(y >= tau)
    if above.size == 0:
        return float("nan")
    first = int(above[0])
    if first == 0:
        return float(np.exp(x[0]))
    share = (tau - y[first - 1]) / (y[first] - y[first - 1])
    return float(np.exp(x[first - 1] + share * (x[first] - x[first - 1])))


def savings(table: pd.DataFrame, reference: float) -> pd.DataFrame:
    """For each adaptive policy: comparisons per response to reach random pairs' tau at ``reference``."""
    random = table[table["policy"] == "random_pairs"]
    target = float(random.loc[random["comparisons_per_item"] == reference, "tau"].iloc[0])
    rows = []
    for name in POLICIES:
        needed = comparisons_to_reach(table[table["policy"] == name], target)
        rows.append({"policy": name, "target_tau": target, "comparisons_needed": needed,
                     "saving": 1.0 - needed / reference})  # fmt: skip
    return pd.DataFrame(rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("engine", "policies", "all"), default="all")
    parser.add_argument("--reference", type=float, default=16.0, help="random pairs' comparisons per response")
    parser.add_argument("--score-sd", type=float, default=3.0, help="spread of the responses' scores (logits)")
    parser.add_argument("--raters", choices=("honest", "default"), default="honest")
    parser.add_argument("--replicates", type=int, default=4)
    args = parser.parse_args(argv)
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        if args.part in ("engine", "all"):
            print(engine().round(3).to_string(index=False))
        if args.part in ("policies", "all"):
            table = policies(score_sd=args.score_sd, replicates=args.replicates, raters=args.raters)
            print(table.pivot(index="comparisons_per_item", columns="policy", values="tau").round(4).to_string())
            print(savings(table, args.reference).round(3).to_string(index=False))


if __name__ == "__main__":
    main()
