"""``crowdlab plan``: the cheapest campaign design that reaches a quality target, and the front of cost, accuracy and
duration, found by simulation before any money is spent.

    crowdlab plan experiment=plan_example
    crowdlab plan task.n_items=20000 task.n_classes=4 campaign.pay_per_answer=0.08 plan.target_accuracy=0.9 \\
        plan.max_budget=3000 plan.search.campaign.redundancy=[1,3,5,7] plan.search.aggregators=[majority_vote,glad]

It takes the overrides of ``crowdlab run`` (task, raters, campaign, assignment, quality, aggregators) and the
``plan.*`` settings of :class:`PlanSettings` (on the command line or in a preset's ``plan:`` node). Every combination
of the ``plan.search`` values that are not aggregators is a *design*; a design with each aggregator is a *candidate*,
and every aggregator scores the same simulated answers, so the aggregator is chosen per design at no extra
simulation.

The search is a race (after Maron & Moore 1997, "The racing algorithm"): every design runs ``min_replicates``
campaigns, then the replicates double for the designs still in contention, up to ``max_replicates``. Replicate ``r``
of every design uses the same random streams (common random numbers), so designs differ by their design, not their
luck. After each round a candidate is decided when the prediction interval of one campaign's accuracy (Student t
over its replicates, at ``confidence``: ``t * sd * sqrt(1 + 1/n)``) lies above the target and every campaign stayed
within the budget and deadline (it *meets* it), or lies below (it *fails*); a candidate still undecided is dropped
when it is clearly dearer than one that meets the target (its cost interval lies above). What is left races on.
Each candidate is compared with the target on its own (F-Race compares candidates with each other by a Friedman
test), and the repeated looks at 3, 6, 12, 24 replicates are not corrected for. Racing is chosen over a model-based or
multi-objective sampler (Optuna's TPE or NSGA-II) because the candidates are a small given grid whose scores are
noisy: a race reuses every replicate, stops each design as soon as the question about it is answered, gives each
candidate its interval, and is deterministic.

Writes into ``plan.out`` (default ``results/plans/<date>/<time>``): ``plan.json``, ``candidates.csv`` (every
candidate with its estimates, replicates and status), ``pareto.csv`` (the candidates no other beats on cost, accuracy
and duration at once), ``pareto.png`` and ``report.md``; prints a three-line answer.
"""

from __future__ import annotations

import itertools
import math
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf, open_dict
from scipy.special import stdtrit

from experiments.run import Job, prepare, score_replicate
from experiments.storage import write_csv, write_json, write_text
from sim.validation import ConfigError, check_float, check_int

PLAN_KEYS = ("target_accuracy", "confidence", "max_budget", "deadline_hours", "search", "min_replicates",
             "max_replicates", "n_jobs", "out")  # fmt: skip
DESIGN_GROUPS = ("task", "raters", "campaign", "assignment", "quality", "aggregators")
CAPPED = frozenset({"budget", "time_horizon"})  # the stop reasons of a campaign that a budget or deadline cut short
NOT_A_CHOICE = frozenset({"oracle"})  # it reads the truth: a bound on what an aggregator can do, not a choice


@dataclass(frozen=True)
class PlanSettings:
    """What the plan must reach and where it may look.

    target_accuracy: accuracy on all items (an unlabeled item counts as wrong) the plan must reach at the lower end
        of its interval; confidence: the interval's level (two-sided; default 0.95); max_budget, deadline_hours: the
        campaign may spend and last at most this much (each design's campaign.budget and campaign.horizon_hours are
        capped at them, unless searched); search: config key -> candidate values; min_replicates, max_replicates:
        the race's first and last round; n_jobs: worker processes (-1 = every core); out: the folder to write.
    """

    target_accuracy: float
    search: dict[str, list[Any]]
    confidence: float = 0.95
    max_budget: float | None = None
    deadline_hours: float | None = None
    min_replicates: int = 3
    max_replicates: int = 24
    n_jobs: int = -1
    out: str | None = None

    def __post_init__(self) -> None:
        target = check_float("plan.target_accuracy", self.target_accuracy)
        if not 0 < target < 1:
            raise ConfigError(f"plan.target_accuracy must be in (0, 1), got {self.target_accuracy!r}")
        confidence = check_float("plan.confidence", self.confidence)
        if not 0 < confidence < 1:
            raise ConfigError(f"plan.confidence must be in (0, 1), got {self.confidence!r}")
        for key in ("max_budget", "deadline_hours"):
            value = getattr(self, key)
            if value is not None and check_float(f"plan.{key}", value) <= 0:
                raise ConfigError(f"plan.{key} must be a positive number or null, got {value!r}")
        low = check_int("plan.min_replicates", self.min_replicates, 2)
        high = check_int("plan.max_replicates", self.max_replicates, 2)
        if high < low:
            raise ConfigError(f"plan.max_replicates = {high} is below plan.min_replicates = {low}")
        n_jobs = check_int("plan.n_jobs", self.n_jobs, -1)
        if n_jobs == 0:
            raise ConfigError("plan.n_jobs must be a positive integer or -1 (every core), got 0")
        if not self.search:
            raise ConfigError(
                "plan.search is empty; accepted values: a map from config key to candidate values, e.g. "
                "plan.search.campaign.redundancy=[1,3,5,7] plan.search.aggregators=[majority_vote,dawid_skene]"
            )
        for key, values in self.search.items():
            if not isinstance(values, list) or not values:
                raise ConfigError(f"plan.search.{key} must be a non-empty list of candidate values, got {values!r}")
            if key.split(".")[0] not in DESIGN_GROUPS:
                groups = ", ".join(DESIGN_GROUPS)
                raise ConfigError(f"plan.search.{key}: a plan searches the campaign's design; accepted keys: those "
                                  f"of {groups} (seed and replicates are the race's own)")  # fmt: skip
            texts = [override_text(v) for v in values]
            if len(set(texts)) < len(texts):
                twice = next(t for t in texts if texts.count(t) > 1)
                raise ConfigError(f"plan.search.{key} lists {twice} more than once")
        from experiments.run import available

        known = available("aggregators")
        for name in self.search.get("aggregators", []):
            if str(name) not in known:
                raise ConfigError(f"plan.search.aggregators: unknown aggregator {name!r}; accepted values: "
                                  f"{', '.join(known)}")  # fmt: skip
        object.__setattr__(self, "target_accuracy", target)
        object.__setattr__(self, "confidence", confidence)


def flatten_search(node: Any, prefix: str = "") -> dict[str, list[Any]]:
    """``{campaign: {redundancy: [1, 3]}}`` and ``{campaign.redundancy: [1, 3]}`` alike -> ``{"campaign.redundancy":
    [1, 3]}``: a leaf is a list of candidate values (a single value is a list of one)."""
    if not isinstance(node, dict):
        return {prefix: [node]} if prefix else {}
    flat: dict[str, list[Any]] = {}
    for key, value in node.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_search(value, f"{dotted}."))
        else:
            flat[dotted] = list(value) if isinstance(value, list | tuple) else [value]
    return flat


def read_command_line(arguments: list[str]) -> tuple[list[str], dict[str, Any]]:
    """Split the command line into ``run`` overrides and ``plan.*`` settings (values read with Hydra's grammar; a
    sweep such as ``1,3,5`` or ``range(1,26)`` is a list of candidates)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    parser = OverridesParser.create()
    overrides, settings = [], {}
    for argument in arguments:
        if not argument.lstrip("+").startswith("plan."):
            overrides.append(argument)
            continue
        try:
            parsed = parser.parse_override(argument.lstrip("+"))
        except HydraException as error:
            raise ConfigError(f"cannot read {argument}: {str(error).splitlines()[0]}") from None
        key = parsed.key_or_group.removeprefix("plan.")
        value: Any = list(parsed.sweep_iterator()) if parsed.is_sweep_override() else parsed.value()
        if key.split(".")[0] not in PLAN_KEYS:
            raise ConfigError(f"unknown key 'plan.{key}'; accepted keys: {', '.join(f'plan.{k}' for k in PLAN_KEYS)}")
        settings[key] = value
    return overrides, settings


def plan_settings(node: Any, command_line: dict[str, Any]) -> PlanSettings:
    """The plan's settings: a preset's ``plan:`` node, then the command line's ``plan.*`` (which wins)."""
    base = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node or {})
    assert isinstance(base, dict)
    unknown = [str(k) for k in base if k not in PLAN_KEYS]
    if unknown:
        accepted = ", ".join(f"plan.{k}" for k in PLAN_KEYS)
        raise ConfigError(f"unknown key 'plan.{unknown[0]}'; accepted keys: {accepted}")
    search = flatten_search(base.pop("search", None) or {})
    for key, value in command_line.items():
        if key == "search" and value is not None and not isinstance(value, dict):
            raise ConfigError(f"plan.search must be a map from config key to candidate values, got {value!r}; e.g. "
                              "plan.search.campaign.redundancy=[1,3,5]")  # fmt: skip
        if key == "search":
            search = flatten_search(value or {})
        elif key.startswith("search."):
            search[key.removeprefix("search.")] = list(value) if isinstance(value, list | tuple) else [value]
        else:
            base[key] = value
    if base.get("target_accuracy") is None:
        raise ConfigError("plan.target_accuracy is required: the accuracy to reach on all items, e.g. "
                          "plan.target_accuracy=0.9")  # fmt: skip
    return PlanSettings(search=search, **{k: v for k, v in base.items() if k in {f.name for f in fields(PlanSettings)}})


def override_text(value: Any) -> str:
    """A Python value as a Hydra override value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ",".join(override_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {override_text(v)}" for k, v in value.items()) + "}"
    return str(value)


@dataclass
class Design:
    """One combination of the searched values (aggregators apart), its config and the replicates run so far."""

    values: dict[str, Any]
    config: str  # the composed config, as YAML (what a worker process needs)
    replicates: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)


def build_designs(overrides: list[str], settings: PlanSettings, base: DictConfig) -> tuple[list[Design], list[str]]:
    """Every design of the search, composed and checked (an unknown key or a bad value names the key), and the
    aggregators every design is scored with."""
    from experiments.checks import compose_job

    search = dict(settings.search)
    aggregators = [str(a) for a in search.pop("aggregators", list(base.aggregators))]
    named = [a for a in aggregators if a in NOT_A_CHOICE]
    if named and "aggregators" in settings.search:
        raise ConfigError(f"plan.search.aggregators: {named[0]} reads the truth; it is a bound, not a choice: leave it "
                          "out")  # fmt: skip
    aggregators = [a for a in aggregators if a not in NOT_A_CHOICE]
    if not aggregators:
        raise ConfigError(
            "plan: no aggregator to choose from; e.g. plan.search.aggregators=[majority_vote,dawid_skene]"
        )
    caps = []
    if settings.max_budget is not None and "campaign.budget" not in search:
        caps.append(f"campaign.budget={settings.max_budget}")
    if settings.deadline_hours is not None and "campaign.horizon_hours" not in search:
        caps.append(f"campaign.horizon_hours={settings.deadline_hours}")
    designs = []
    keys = list(search)
    for combination in itertools.product(*(search[key] for key in keys)):
        values = dict(zip(keys, combination, strict=True))
        lines = [*overrides, *(f"{k}={override_text(v)}" for k, v in values.items()), *caps,
                 f"aggregators=[{','.join(aggregators)}]"]  # fmt: skip
        try:
            cfg = compose_job(lines)
        except ConfigError as error:
            raise ConfigError(f"plan.search: {error}") from None
        with open_dict(cfg):
            cfg.pop("plan", None)
            cfg.n_replicates = settings.max_replicates
        kind = OmegaConf.select(cfg, "task.kind", default="categorical")
        if kind != "categorical":
            raise ConfigError(
                f"crowdlab plan searches for the cheapest design that reaches a label accuracy, and task.kind = "
                f"{kind} has no labels to be accurate on; accepted values: task.kind=categorical (for pairwise and "
                "rating tasks, sweep the designs with crowdlab run -m and compare them with crowdlab collect)"
            )
        try:
            prepare(cfg)
        except ConfigError as error:
            shown = " ".join(f"{k}={override_text(v)}" for k, v in values.items())
            raise ConfigError(f"{error} (in the design {shown})") from None
        designs.append(Design(values, OmegaConf.to_yaml(cfg, resolve=True)))
    return designs, aggregators


_JOBS: dict[str, Job] = {}  # per worker process: the prepared run of each design's config


def _simulate(task: tuple[str, int]) -> list[dict[str, Any]]:
    """One campaign of one design: every aggregator's metrics (run in a worker process)."""
    config, replicate = task
    job = _JOBS.get(config)
    if job is None:
        cfg = OmegaConf.create(config)
        assert isinstance(cfg, DictConfig)
        with open_dict(cfg):
            cfg.progress = False
        job = _JOBS[config] = prepare(cfg)
    _, rows = score_replicate(job, replicate)
    keep = ("aggregator", "replicate", "accuracy", "accuracy_labeled", "coverage", "spend", "duration_hours",
            "answers_per_item", "stop_reason")  # fmt: skip
    return [{key: row.get(key) for key in keep} for row in rows]


def interval(values: np.ndarray, confidence: float, one_campaign: bool = False) -> tuple[float, float, float]:
    """Mean and Student-t interval at ``confidence`` over replicates: of the mean, or with ``one_campaign`` the
    prediction interval of a single campaign's value (half-width ``t * sd * sqrt(1 + 1/n)``)."""
    n = len(values)
    mean = float(np.mean(values))
    if n < 2:
        return mean, -math.inf, math.inf
    spread = math.sqrt(1 + n) if one_campaign else 1.0  # sqrt(1 + 1/n) * sqrt(n)
    half = float(stdtrit(n - 1, 0.5 + confidence / 2) * np.std(values, ddof=1) * spread / math.sqrt(n))
    return mean, mean - half, mean + half


def candidate_table(designs: list[Design], settings: PlanSettings) -> pd.DataFrame:
    """One row per design and aggregator: accuracy with its interval, cost and duration with theirs, replicates."""
    records = []
    for index, design in enumerate(designs):
        rows = pd.DataFrame(design.rows)
        for aggregator, group in rows.groupby("aggregator", sort=False):
            accuracy = interval(group["accuracy"].to_numpy(float), settings.confidence, one_campaign=True)
            cost = interval(group["spend"].to_numpy(float), settings.confidence)
            duration = interval(group["duration_hours"].to_numpy(float), settings.confidence)
            records.append({
                "design": index, **design.values, "aggregator": aggregator, "replicates": len(group),
                "accuracy": accuracy[0], "lower_bound": max(accuracy[1], 0.0), "upper_bound": min(accuracy[2], 1.0),
                "coverage": float(group["coverage"].mean()), "cost": cost[0], "cost_low": cost[1],
                "cost_high": cost[2], "cost_max": float(group["spend"].max()), "duration_hours": duration[0],
                "duration_low": duration[1], "duration_high": duration[2],
                "duration_max": float(group["duration_hours"].max()),
                "answers_per_item": float(group["answers_per_item"].mean()),
            })  # fmt: skip
    table = pd.DataFrame(records)
    return classify(table, settings)


def classify(table: pd.DataFrame, settings: PlanSettings) -> pd.DataFrame:
    """Each candidate's status: ``meets`` the target (lower bound above it, every campaign within budget and
    deadline), ``fails``
    (upper bound below), ``over budget`` or ``over deadline`` (clearly), ``dearer`` (undecided, but clearly dearer
    than a candidate that meets the target) or ``undecided``."""
    budget = math.inf if settings.max_budget is None else settings.max_budget
    deadline = math.inf if settings.deadline_hours is None else settings.deadline_hours
    tolerance = 1e-9
    status = np.full(len(table), "undecided", dtype=object)
    status[table["upper_bound"] < settings.target_accuracy] = "fails"
    meets = (
        (table["lower_bound"] >= settings.target_accuracy)
        & (table["cost_high"] <= budget * (1 + tolerance))
        & (table["duration_high"] <= deadline * (1 + tolerance))
    )
    status[meets.to_numpy()] = "meets"
    status[(table["duration_low"] > deadline * (1 + tolerance)).to_numpy()] = "over deadline"
    status[(table["cost_low"] > budget * (1 + tolerance)).to_numpy()] = "over budget"
    table = table.assign(status=status)
    best = cheapest(table)
    if best is not None:
        dearer = (table["status"] == "undecided") & (table["cost_low"] > best["cost_high"] * (1 + tolerance))
        table.loc[dearer, "status"] = "dearer"
    return table


def cheapest(table: pd.DataFrame) -> pd.Series | None:
    """The cheapest candidate that meets the target (the more accurate one where two cost the same), or None."""
    meeting = table[table["status"] == "meets"]
    if meeting.empty:
        return None
    return meeting.sort_values(["cost", "accuracy"], ascending=[True, False], kind="stable").iloc[0]


def pareto_front(table: pd.DataFrame) -> np.ndarray:
    """Whether each candidate is on the front: no other is at least as cheap, as accurate and as fast, and better in
    one of them (means)."""
    cost, accuracy, duration = (table[c].to_numpy(float) for c in ("cost", "accuracy", "duration_hours"))
    on_front = np.ones(len(table), dtype=bool)
    for i in range(len(table)):
        no_worse = (cost <= cost[i]) & (accuracy >= accuracy[i]) & (duration <= duration[i])
        better = (cost < cost[i]) | (accuracy > accuracy[i]) | (duration < duration[i])
        on_front[i] = not np.any(no_worse & better)
    return on_front & np.isfinite(cost) & np.isfinite(accuracy) & np.isfinite(duration)


def race(designs: list[Design], settings: PlanSettings, progress: bool) -> pd.DataFrame:
    """Run the race (see the module's docstring); returns the final candidate table."""
    from hydra_plugins.crowdlab.pool_launcher import usable_cores

    workers = min(usable_cores() if settings.n_jobs == -1 else settings.n_jobs, len(designs) * settings.min_replicates)
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method)) if workers > 1 else None
    live = list(range(len(designs)))
    target = settings.min_replicates
    try:
        while live:
            tasks = [(d, r) for d in live for r in range(designs[d].replicates, target)]
            work = [(designs[d].config, r) for d, r in tasks]
            results = pool.map(_simulate, work, chunksize=1) if pool else map(_simulate, work)
            if progress:
                from tqdm import tqdm

                results = tqdm(results, total=len(work), desc=f"race: {len(live)} designs to {target} replicates",
                               file=sys.stderr)  # fmt: skip
            for (d, _), rows in zip(tasks, results, strict=True):
                designs[d].rows.extend(rows)
            for d in live:  # (a design reused from an earlier race may hold more already)
                designs[d].replicates = max(designs[d].replicates, target)
            table = candidate_table(designs, settings)
            if target >= settings.max_replicates:
                break
            contention = table[table["status"] == "undecided"]
            live = sorted(set(contention["design"]))
            target = min(2 * target, settings.max_replicates)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return table


@dataclass
class Plan:
    """A finished race: its candidate table (with ``on_front``), the aggregators, how many designs and campaigns, and
    the race without budget and deadline when nothing met the target under them."""

    settings: PlanSettings
    table: pd.DataFrame
    aggregators: list[str]
    n_designs: int
    simulated: int
    uncapped: pd.DataFrame | None = None  # when nothing met the target under the caps: the race without them

    @property
    def best(self) -> pd.Series | None:
        return cheapest(self.table)

    @property
    def grid(self) -> int:
        """Campaigns a full grid would simulate at max_replicates (for each race run: two when nothing met the target
        under a budget or deadline)."""
        return self.n_designs * self.settings.max_replicates * (1 if self.uncapped is None else 2)


def design_text(row: pd.Series, keys: list[str]) -> str:
    return " ".join(f"{key}={override_text(row[key])}" for key in keys) + f" with {row['aggregator']}"


def closest(table: pd.DataFrame) -> pd.Series:
    """The candidate nearest the target: the most accurate one within budget and deadline (else the most accurate)."""
    allowed = table[~table["status"].isin(["over budget", "over deadline"])]
    pool = allowed if not allowed.empty else table
    return pool.sort_values(["accuracy", "cost"], ascending=[False, True], kind="stable").iloc[0]


def answer(plan: Plan, keys: list[str]) -> list[str]:
    """Three lines a person can act on."""
    s, table, best = plan.settings, plan.table, plan.best
    n_aggregators = len(plan.aggregators)
    effort = (f"{len(table)} candidates ({plan.n_designs} design{'s' * (plan.n_designs != 1)} x {n_aggregators} "
              f"aggregator{'s' * (n_aggregators != 1)}), "
              f"{plan.simulated} campaigns simulated of the {plan.grid} a full grid of {s.max_replicates} replicates "
              "would take")  # fmt: skip
    if best is not None:
        return [
            f"Plan: {design_text(best, keys)}: accuracy {best['accuracy']:.3f} (one campaign, {s.confidence:.0%}: "
            f"{best['lower_bound']:.3f} to {best['upper_bound']:.3f}), cost {best['cost']:,.2f}, "
            f"{best['duration_hours']:.1f} hours.",
            f"It meets the target {s.target_accuracy:g} at the lower bound and is the cheapest that does; {effort}.",
            f"Pareto front of cost, accuracy and duration: {int(table['on_front'].sum())} candidates (pareto.csv).",
        ]
    near = closest(table)
    lines = [
        f"No design meets the target {s.target_accuracy:g} at the lower bound of its {s.confidence:.0%} interval; "
        f"the closest is {design_text(near, keys)}: accuracy {near['accuracy']:.3f} ({near['lower_bound']:.3f} to "
        f"{near['upper_bound']:.3f}), cost {near['cost']:,.2f}, {near['duration_hours']:.1f} hours.",
    ]
    lines.append(f"What it would take: {what_it_would_take(plan, keys)}.")
    lines.append(f"Searched {effort}.")
    return lines


def what_it_would_take(plan: Plan, keys: list[str]) -> str:
    s = plan.settings
    if plan.uncapped is not None:
        found = cheapest(plan.uncapped)
        if found is not None:
            needs = []
            if s.max_budget is not None and found["cost"] > s.max_budget:
                needs.append(f"a budget of about {found['cost']:,.0f} instead of {s.max_budget:,.0f}")
            if s.deadline_hours is not None and found["duration_hours"] > s.deadline_hours:
                needs.append(f"about {found['duration_hours']:.0f} hours instead of {s.deadline_hours:g}")
            return (" and ".join(needs) or "the budget and time given, at more replicates") + (
                f" ({design_text(found, keys)} reaches {found['accuracy']:.3f}, lower bound {found['lower_bound']:.3f})"
            )
    table = plan.uncapped if plan.uncapped is not None else plan.table  # without caps, where they were raced
    top = table.sort_values("accuracy", ascending=False).iloc[0]
    return (f"better raters (training, qualification) or more answers per item than searched: even "
            f"{design_text(top, keys)} reaches only {top['accuracy']:.3f}")  # fmt: skip


def make_plan(overrides: list[str], settings: PlanSettings, base: DictConfig, progress: bool = False) -> Plan:
    """Compose the designs, race them, and (when nothing meets the target under a budget or deadline) race the same
    designs without those caps to say what it would take."""
    designs, aggregators = build_designs(overrides, settings, base)
    table = race(designs, settings, progress)
    simulated = sum(d.replicates for d in designs)
    plan = Plan(settings, table, aggregators, len(designs), simulated)
    capped = settings.max_budget is not None or settings.deadline_hours is not None
    if plan.best is None and capped:
        free = PlanSettings(**{**settings.__dict__, "max_budget": None, "deadline_hours": None})
        free_designs, _ = build_designs(overrides, free, base)
        for capped_design, free_design in zip(designs, free_designs, strict=True):
            # a campaign the caps did not stop is the same campaign without them (the same random streams)
            if not any(row["stop_reason"] in CAPPED for row in capped_design.rows):
                free_design.rows, free_design.replicates = list(capped_design.rows), capped_design.replicates
        reused = sum(d.replicates for d in free_designs)
        plan.uncapped = race(free_designs, free, progress)
        plan.simulated += sum(d.replicates for d in free_designs) - reused
    plan.table = table.assign(on_front=pareto_front(table))
    return plan


def write_plan(plan: Plan, keys: list[str], folder: Path, lines: list[str]) -> list[Path]:
    s, table, best = plan.settings, plan.table, plan.best
    chosen = best if best is not None else closest(table)
    record = {
        "design": {**{k: _plain(chosen[k]) for k in keys}, "aggregators": [chosen["aggregator"]]},
        "predicted_accuracy": float(chosen["accuracy"]),
        "lower_bound": float(chosen["lower_bound"]),
        "upper_bound": float(chosen["upper_bound"]),
        "cost": float(chosen["cost"]),
        "duration_hours": float(chosen["duration_hours"]),
        "meets_target": best is not None,
        "n_simulated_campaigns": plan.simulated,
        "n_grid_campaigns": plan.grid,
        "n_candidates": len(table),
        "target_accuracy": s.target_accuracy,
        "confidence": s.confidence,
        "max_budget": s.max_budget,
        "deadline_hours": s.deadline_hours,
        "answer": lines,
    }
    paths = [write_json(record, folder / "plan.json"), write_csv(table, folder / "candidates.csv"),
             write_csv(table[table["on_front"]].sort_values("cost"), folder / "pareto.csv")]  # fmt: skip
    from experiments.plots import plot_pareto  # matplotlib loads only here

    figure = plot_pareto(table, s.target_accuracy, chosen, folder / "pareto.png", s.confidence, s.max_budget)
    paths.append(figure)
    paths.append(write_text(report(plan, keys, lines), folder / "report.md"))
    return paths


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def report(plan: Plan, keys: list[str], lines: list[str]) -> str:
    from experiments.collect import markdown_table

    s, table = plan.settings, plan.table
    shown = table.sort_values("cost")[[*keys, "aggregator", "replicates", "accuracy", "lower_bound", "upper_bound",
                                       "cost", "duration_hours", "status", "on_front"]]  # fmt: skip
    shown = shown.round({"accuracy": 4, "lower_bound": 4, "upper_bound": 4, "cost": 2, "duration_hours": 2})
    limits = ", ".join(f"{name} {value:g}" for name, value in (("budget", s.max_budget), ("deadline (hours)",
                       s.deadline_hours)) if value is not None) or "no budget or deadline"  # fmt: skip
    return (
        f"# Campaign plan\n\nTarget: accuracy {s.target_accuracy:g} on all items (an unlabeled item counts as wrong) "
        f"at the lower bound of a {s.confidence:.0%} interval; {limits}.\n\n"
        + "\n".join(f"- {line}" for line in lines)
        + "\n\nRace: every design ran "
        + f"{s.min_replicates} campaigns, then the replicates doubled (to at most "
        f"{s.max_replicates}) for the designs still undecided; a candidate is dropped when its interval lies above or "
        "below the target, or it is clearly dearer than one that meets it. Intervals are prediction intervals of one "
        "campaign's accuracy. All aggregators score the same campaigns."
        f"\n\n![cost against accuracy](pareto.png)\n\n## Every candidate\n\n{markdown_table(shown)}\n"
    )


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments[:1] in (["-h"], ["--help"]):
        print(__doc__)
        return 0
    try:
        from experiments.checks import check_list_groups, compose_checked, full_mix

        overrides, command_line = read_command_line(arguments)
        overrides = [full_mix(o) for o in overrides]
        check_list_groups(overrides, multirun=False)
        base = compose_checked(overrides)
        settings = plan_settings(base.get("plan"), command_line)
        folder = Path(settings.out or time.strftime("results/plans/%Y-%m-%d/%H-%M-%S"))
        if folder.exists() and not folder.is_dir():
            raise ConfigError(f"plan.out={folder} is a file; accepted values: a folder (new or existing)")
        keys = [k for k in settings.search if k != "aggregators"]
        started = time.perf_counter()
        from sim.campaign import interactive_terminal

        plan = make_plan(overrides, settings, base, progress=interactive_terminal())
    except ConfigError as error:
        print(f"crowdlab: configuration error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("crowdlab: plan interrupted; nothing written", file=sys.stderr)
        return 130
    lines = answer(plan, keys)
    write_plan(plan, keys, folder, lines)
    print("\n".join(lines))
    print(f"({time.perf_counter() - started:.0f} s) plan.json, candidates.csv, pareto.csv, pareto.png, report.md: "
          f"{folder}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
