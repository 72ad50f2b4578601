"""The ``crowdlab`` command: one entry point for the suite's subcommands.

    crowdlab run [OVERRIDE ...]        simulate a campaign design and score aggregators (Hydra overrides, -m to sweep)
    crowdlab collect DIRECTORY         a sweep's tidy table with 95% intervals, plots
    crowdlab plan [OVERRIDE ...]       the cheapest design that reaches an accuracy target (plan.* settings)
    crowdlab calibrate ANSWERS ...     the rater and task model of a pilot's real answers, and predictions
    crowdlab bench AGGREGATOR ...      a seeded leaderboard of aggregators, with baselines
    crowdlab lesson NAME [--small]     a wisdom-of-crowds lesson: its figure, claim and page (--list lists them)

Each subcommand is a module with its own entry point (``experiments.run``, ``experiments.collect``, ...), so that
``python -m experiments.run`` keeps working; a new subcommand is one more line in
:data:`COMMANDS`.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

# subcommand -> (module, function taking the remaining arguments and returning an exit status, one-line summary)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "run": ("experiments.run", "cli", "simulate a campaign design and score aggregators; -m sweeps (Hydra overrides)"),
    "collect": ("experiments.collect", "main", "turn run or sweep folders into one tidy table with intervals, plots"),
    "plan": ("experiments.plan", "main", "the cheapest design that reaches a quality target, and the cost front"),
    "calibrate": ("experiments.calibrate", "main", "fit the rater and task model to a pilot's real answers; predict"),
    "bench": ("experiments.bench", "main", "a seeded leaderboard of aggregators on scenarios and real data; baselines"),
    "lesson": ("experiments.lessons.page", "main", "a wisdom-of-crowds lesson: simulate, draw, write its page; --list"),
}

RUN_HELP = """usage: crowdlab run [-m] [KEY=VALUE ...]

Simulate one campaign design n_replicates times and score every chosen aggregator; print a table and write the
tables under results/runs/<date>/<time>/ (with -m: one job per combination, under results/multirun/...).

  crowdlab run campaign.redundancy=5 aggregators=[majority_vote,dawid_skene,oracle]
  crowdlab run assignment=posterior quality=[qualification,gold_blocking] raters.archetypes.spammer=0.3
  crowdlab run -m experiment=adaptive_redundancy          # a preset sweep
  crowdlab run --cfg job                                  # print the whole composed config
  crowdlab run --info defaults                            # where each config group's option comes from

Config groups: task, raters, campaign, assignment, quality, aggregators, features, downstream, detectors,
experiment (README.md lists the keys).
"""


def usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = [f"  {name:<{width}}  {summary}" for name, (_, _, summary) in COMMANDS.items()]
    return (
        "usage: crowdlab COMMAND [ARGUMENTS]\n\ncommands:\n"
        + "\n".join(lines)
        + "\n\n"
        + ("crowdlab COMMAND --help describes one.\n")
    )


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    if not arguments or arguments[0] in ("-h", "--help", "help"):
        print(usage(), end="")
        return 0
    command, rest = arguments[0], arguments[1:]
    if command not in COMMANDS:
        print(f"crowdlab: unknown command {command!r}; accepted values: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    if command == "run" and rest[:1] in (["-h"], ["--help"]):
        print(RUN_HELP, end="")
        return 0
    module, function, _ = COMMANDS[command]
    entry: Callable[[list[str]], int | None] = getattr(importlib.import_module(module), function)
    sys.argv = [f"crowdlab {command}", *rest]
    status = entry(rest)
    return int(status or 0)


if __name__ == "__main__":
    sys.exit(main())
