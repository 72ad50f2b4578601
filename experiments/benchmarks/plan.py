"""The planner's cost: a plan over 72 candidates (24 designs x 3 aggregators) at 20,000 items, timed, with the number
of campaigns its race simulates against the full grid at the same replicates.

    python -m experiments.benchmarks.plan [--items 20000 --budget 6000 --workers 2]

The question is the ``plan_example`` preset's (4 classes, 0.08 an answer, raters about 70% accurate, target 0.8)
with a budget that can buy it (``--budget``; the preset's 3,000 cannot, and then the plan races a second time without
the cap to say what it would take). The last line reads ``candidates=C designs=D simulated_campaigns=S
grid_campaigns=G share_of_grid=R plan_seconds=T``. Targets (issue 9): C at least 60, R at most 1/3, T under 180.
"""

from __future__ import annotations

import argparse
import time

from experiments.checks import compose_checked
from experiments.plan import design_text, make_plan, plan_settings, read_command_line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=20000)
    parser.add_argument("--budget", type=float, default=6000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    overrides, command_line = read_command_line([
        "experiment=plan_example", f"task.n_items={args.items}", f"plan.max_budget={args.budget}",
        f"plan.n_jobs={args.workers}",
    ])  # fmt: skip
    base = compose_checked(overrides)
    settings = plan_settings(base.get("plan"), command_line)
    started = time.perf_counter()
    plan = make_plan(overrides, settings, base)
    seconds = time.perf_counter() - started
    best = plan.best
    keys = [key for key in settings.search if key != "aggregators"]
    print(f"plan: {'none meets the target' if best is None else design_text(best, keys)}")
    print(
        f"candidates={len(plan.table)} designs={plan.n_designs} simulated_campaigns={plan.simulated} "
        f"grid_campaigns={plan.grid} share_of_grid={plan.simulated / plan.grid:.3f} plan_seconds={seconds:.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
