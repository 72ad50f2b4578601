"""Engine speed: a 1,000,000-answer campaign against a bare SimPy loop in the same process.

    python -m experiments.benchmarks.engine [--items 200000 --redundancy 5 --raters 1000 --seed 0]

The campaign has fatigue and learning on (the default honest/expert/spammer/adversary mix, no gold so that it is
exactly items x redundancy answers). The baseline is the cheapest SimPy program that produces the same number of
answer events: one process per rater, one ``timeout`` per answer with durations drawn beforehand. The last line reads
``answers_per_second=N bare_simpy_per_second=M ratio=R peak_mib=P`` (ratio = ours / bare, best of ``--repeats``
alternating runs each; peak_mib is the process's peak resident memory, which includes building the result tables).
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from sim import Campaign, RaterPopulation, TaskDesign, simulate


def bare_simpy(n_answers: int, n_raters: int, seed: int) -> float:
    """Seconds for a bare SimPy loop: n_raters processes, one timeout per answer, pre-drawn durations."""
    durations = np.random.default_rng(seed).lognormal(3.0, 0.5, n_answers).reshape(n_raters, -1).tolist()

    def worker(env: simpy.Environment, seconds: list[float]) -> Generator[simpy.Event, Any, None]:
        for duration in seconds:
            yield env.timeout(duration)

    env = simpy.Environment()
    start = time.perf_counter()
    for seconds in durations:
        env.process(worker(env, seconds))
    env.run()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--redundancy", type=int, default=5)
    parser.add_argument("--raters", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="alternate runs of both; the best of each is kept")
    args = parser.parse_args(argv)
    n_answers = args.items * args.redundancy

    task = TaskDesign(n_items=args.items, gold_fraction=0.0)
    # enough shift for every answer: sessions are never the binding limit here
    raters = RaterPopulation(n_raters=args.raters, sessions=10_000, learning_curve="power", fatigue_max=1.0)
    campaign = Campaign(redundancy=args.redundancy)
    ours = bare = float("inf")
    for _ in range(args.repeats):  # alternating, so that a burst of load on the machine hits both alike
        start = time.perf_counter()
        result = simulate(task, raters, campaign, seed=args.seed, progress=False)
        ours = min(ours, time.perf_counter() - start)
        assert len(result.answers) == n_answers, (len(result.answers), result.ledger)
        del result
        bare = min(bare, bare_simpy(n_answers, args.raters, args.seed))
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ours_rate, bare_rate = n_answers / ours, n_answers / bare
    print(f"campaign: {n_answers:,} answers, {args.raters:,} raters, best of {args.repeats}: {ours:.2f} s")
    print(f"bare SimPy loop: {n_answers:,} timeouts, best of {args.repeats}: {bare:.2f} s")
    print(
        f"answers_per_second={ours_rate:.0f} bare_simpy_per_second={bare_rate:.0f} "
        f"ratio={ours_rate / bare_rate:.3f} peak_mib={peak_mib:.0f}"
    )


if __name__ == "__main__":
    main()
