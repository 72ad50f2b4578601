"""The plumbing around the engine: a 1,000,000-answer run end to end against the engine alone, and a 40-job sweep of
small runs, serial and on two workers, in one invocation.

    python -m experiments.benchmarks.sweep [--items 200000 --jobs 40 --job-items 2000 --workers 2 --repeats 1]

End to end is the command a user types, timed from outside as a new process (start-up, config, simulation,
aggregation, scoring, writing every table)::

    crowdlab run task.n_items=200000 campaign.redundancy=5 raters.n_raters=1000 raters.sessions=40
        campaign.budget=null aggregators=[majority_vote]

and the engine alone is :func:`sim.simulate` on the same composed config, in this process. The sweep is
``crowdlab run -m task.n_items=2000 seed='range(40)'`` (the default design and aggregators) with
``hydra.launcher.n_jobs=1`` and ``=2``; each job's own work is the same run in this process (``experiments.run.run``
on its composed config, writing its tables), and the per-job overhead is what a sweep spends per job beyond that work
(``sweep_serial_s / jobs - mean work``: start-up shared out, config composition, Hydra's job set-up). For comparison the
line before the last gives the joblib launcher on the same workers. Times are best of ``--repeats``, alternating.
The last line reads ``end_to_end_answers_per_second=E engine_answers_per_second=G sweep_serial_s=S sweep_parallel_s=P
speedup=X per_job_overhead_s=O``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from hydra import compose, initialize_config_dir

from experiments.run import CONF, build_design, run
from sim import simulate


def command() -> list[str]:
    """The installed ``crowdlab`` script, or the same entry point through this interpreter."""
    found = shutil.which("crowdlab")
    return [found] if found else [sys.executable, "-m", "experiments.cli"]


def crowdlab(arguments: list[str]) -> float:
    """Seconds for one ``crowdlab run`` process, which must succeed."""
    start = time.perf_counter()
    done = subprocess.run([*command(), "run", *arguments], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"crowdlab run {' '.join(arguments)} failed:\n{done.stderr}")
    return seconds


def composed(overrides: list[str]):  # type: ignore[no-untyped-def]
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=200_000, help="items of the end-to-end run (5 answers each)")
    parser.add_argument("--raters", type=int, default=1_000)
    parser.add_argument("--jobs", type=int, default=40, help="jobs of the sweep")
    parser.add_argument("--job-items", type=int, default=2_000, help="items of each sweep job")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1, help="alternate runs of each; the best of each is kept")
    parser.add_argument("--no-joblib", action="store_true", help="skip the joblib comparison")
    args = parser.parse_args(argv)

    big = [f"task.n_items={args.items}", "campaign.redundancy=5", f"raters.n_raters={args.raters}",
           "raters.sessions=40", "campaign.budget=null", "aggregators=[majority_vote]"]  # fmt: skip
    sweep = [f"task.n_items={args.job_items}", f"seed=range({args.jobs})"]
    jobs = [[f"task.n_items={args.job_items}", f"seed={seed}"] for seed in range(args.jobs)]
    best: dict[str, float] = {}

    def keep(name: str, seconds: float) -> None:
        best[name] = min(best.get(name, float("inf")), seconds)

    with tempfile.TemporaryDirectory(prefix="crowdlab-sweep-bench-") as scratch:
        root = Path(scratch)
        cfg = composed(big)
        task, raters, campaign, assignment, quality = build_design(cfg)
        answers = 0
        for repeat in range(args.repeats):
            start = time.perf_counter()
            result = simulate(task, raters, campaign, seed=int(cfg.seed), progress=False, assignment=assignment,
                              quality=quality)  # fmt: skip
            keep("engine", time.perf_counter() - start)
            answers = len(result.answers)
            del result
            out = root / f"run-{repeat}"
            keep("end_to_end", crowdlab([*big, f"hydra.run.dir={out}"]))
            written = len(pd.read_parquet(out / "answers.parquet", columns=["task"]))
            if written != answers:  # the same campaign, end to end and alone
                raise SystemExit(f"end to end wrote {written:,} answers, the engine alone gave {answers:,}")
            shutil.rmtree(out)

            work = 0.0
            for number, overrides in enumerate(jobs):
                job_dir = root / f"work-{repeat}" / str(number)
                job_cfg = composed(overrides)
                start = time.perf_counter()
                run(job_cfg, job_dir)
                work += time.perf_counter() - start
            keep("work", work)
            launchers = {
                "serial": ["hydra.launcher.n_jobs=1"],
                "parallel": [f"hydra.launcher.n_jobs={args.workers}"],
                "joblib": ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={args.workers}"],
            }
            if args.no_joblib:
                del launchers["joblib"]
            for name, launcher in launchers.items():
                keep(name, crowdlab(["-m", *sweep, *launcher, f"hydra.sweep.dir={root / f'{name}-{repeat}'}"]))
                finished = len(list((root / f"{name}-{repeat}").glob("*/metrics.csv")))
                if finished != args.jobs:
                    raise SystemExit(f"the {name} sweep finished {finished} of {args.jobs} jobs")

    end_to_end, engine = answers / best["end_to_end"], answers / best["engine"]
    serial, parallel = best["serial"], best["parallel"]
    overhead = serial / args.jobs - best["work"] / args.jobs
    print(f"end to end: {answers:,} answers in {best['end_to_end']:.2f} s; the engine alone: {best['engine']:.2f} s "
          f"(ratio {end_to_end / engine:.3f})")  # fmt: skip
    print(f"sweep of {args.jobs} jobs x {args.job_items:,} items: serial {serial:.2f} s, {args.workers} workers "
          f"{parallel:.2f} s; each job's own work {best['work'] / args.jobs:.3f} s")  # fmt: skip
    if "joblib" in best:
        joblib = best["joblib"]
        print(f"joblib launcher, {args.workers} workers: {joblib:.2f} s (speedup {serial / joblib:.2f})")
    print(
        f"end_to_end_answers_per_second={end_to_end:.0f} engine_answers_per_second={engine:.0f} "
        f"sweep_serial_s={serial:.2f} sweep_parallel_s={parallel:.2f} speedup={serial / parallel:.2f} "
        f"per_job_overhead_s={overhead:.3f}"
    )
    return {"end_to_end": end_to_end, "engine": engine, "serial": serial, "parallel": parallel,
            "speedup": serial / parallel, "overhead": overhead}  # fmt: skip


if __name__ == "__main__":
    main()
