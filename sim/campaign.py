"""The campaign: SimPy processes for raters arriving, training, working in sessions and breaks; the budget.

Each rater is one process (``rater(env, worker, run)``). When free, it asks the assignment policy for a *page* of up
to ``page_size`` items (a "task suite", as crowdsourcing platforms hand them out), answers them one after another and
yields one timeout for the page; every answer in the page gets its own start and end time, time on task, practice
and probabilities from :mod:`sim.response`. Gold questions are mixed into pages at ``task.gold_fraction``.

Money is committed before work is handed out, in exact rational arithmetic, so spend can never exceed the budget:
training is paid (``hourly_wage`` x ``training_minutes``) when a rater starts it, answers when a page is assigned.
The campaign ends when every item has its answers (``complete``), the budget cannot buy another answer
(``budget``), the time horizon is reached (``time_horizon``: answers that would end after it are not given and not
paid), or every rater's shift is over with work left (``raters_exhausted``).
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Generator
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import accumulate
from operator import mul
from typing import Any

import numpy as np
import pandas as pd
import simpy
from tqdm import tqdm

from sim.raters import RaterPopulation, Raters, sample_raters
from sim.records import AnswerLog, AnswerTimeline, CampaignResult, items_table, raters_table
from sim.response import (
    Situation,
    answer_time_factors,
    label_probabilities,
    recovered_time_on_task,
    sample_labels,
)
from sim.streams import stream
from sim.tasks import Items, TaskDesign, sample_items
from sim.validation import ConfigError, check_choice, check_float, check_int
from strategies.assignment import POLICIES, AssignmentPolicy

ARRIVALS: tuple[str, ...] = ("all_at_once", "poisson")
STOP_REASONS: tuple[str, ...] = ("complete", "budget", "time_horizon", "raters_exhausted")


@dataclass(frozen=True)
class Campaign:
    """How the work is bought and handed out.

    Attributes:
        redundancy: answers wanted per item (fixed-redundancy policy), each from a different rater.
        budget: money available; None for no limit. Never exceeded.
        pay_per_answer: money per answer, gold answers included.
        hourly_wage: money per hour of paid training.
        training_minutes: training each rater gets (paid) before the first answer; removes the guidelines'
            comprehension penalty (see :func:`sim.response.comprehension_penalty`).
        horizon_hours: simulated hours after which the campaign stops; None for no limit.
        arrival: ``all_at_once`` (every rater at time 0) or ``poisson`` (exponential gaps at ``arrival_rate_per_hour``).
        arrival_rate_per_hour: mean rater arrivals per hour for Poisson arrivals.
        page_size: items per page (task suite) handed to a rater at once.
        assignment: assignment policy name, one of :data:`strategies.assignment.POLICIES`.
    """

    redundancy: int = 3
    budget: float | None = None
    pay_per_answer: float = 0.05
    hourly_wage: float = 12.0
    training_minutes: float = 0.0
    horizon_hours: float | None = None
    arrival: str = "all_at_once"
    arrival_rate_per_hour: float = 60.0
    page_size: int = 10
    assignment: str = "fixed"

    def __post_init__(self) -> None:
        check_int("campaign.redundancy", self.redundancy, 1)
        if self.budget is not None:
            check_float("campaign.budget", self.budget, 0.0)
        check_float("campaign.pay_per_answer", self.pay_per_answer, 0.0)
        check_float("campaign.hourly_wage", self.hourly_wage, 0.0)
        check_float("campaign.training_minutes", self.training_minutes, 0.0)
        if self.horizon_hours is not None:
            check_float("campaign.horizon_hours", self.horizon_hours, 0.0, low_open=True)
        check_choice("campaign.arrival", self.arrival, ARRIVALS)
        check_float("campaign.arrival_rate_per_hour", self.arrival_rate_per_hour, 0.0, low_open=True)
        check_int("campaign.page_size", self.page_size, 1)
        check_choice("campaign.assignment", self.assignment, list(POLICIES))
        if self.budget is not None and Fraction(self.budget) < Fraction(self.pay_per_answer) + self.training_cost:
            raise ConfigError(
                f"campaign.budget = {self.budget} is too small to buy one answer: it must be at least "
                f"pay_per_answer ({self.pay_per_answer}) plus one rater's training "
                f"({float(self.training_cost)}), or null for no limit"
            )

    @property
    def training_cost(self) -> Fraction:
        return Fraction(self.hourly_wage) * Fraction(self.training_minutes) / 60


class Ledger:
    """The campaign's money, committed before the work it pays for, in exact fractions."""

    def __init__(self, campaign: Campaign) -> None:
        self.budget = None if campaign.budget is None else Fraction(campaign.budget)
        self.pay = Fraction(campaign.pay_per_answer)
        self.training_cost = campaign.training_cost
        self.training_spend = Fraction(0)
        self.n_answers = 0
        self.exhausted = False
        self._affordable = self._count_affordable()

    def _count_affordable(self) -> float:
        if self.budget is None or self.pay == 0:
            return math.inf
        return math.floor((self.budget - self.training_spend) / self.pay) - self.n_answers

    @property
    def spend(self) -> Fraction:
        return self.training_spend + self.pay * self.n_answers

    def commit_training(self) -> bool:
        if self.budget is not None and self.spend + self.training_cost > self.budget:
            self.exhausted = True
            return False
        self.training_spend += self.training_cost
        self._affordable = self._count_affordable()
        return True

    def affordable(self, wanted: int) -> int:
        """How many of ``wanted`` answers the remaining budget can buy."""
        n = int(min(wanted, self._affordable))
        if n < wanted:
            self.exhausted = True
        return n

    def commit_answers(self, n: int) -> None:
        self.n_answers += n
        self._affordable -= n


NOISE_BLOCK = 256  # answer-time noise is drawn per rater in blocks of this many answers


@dataclass(slots=True)
class RaterState:
    """What changes for one rater while it works: practice, fatigue clock, gold cursor, pre-drawn time noise."""

    rng: np.random.Generator
    time_factor: float
    noise_sd: float
    gold_order: list[int]
    practice: int = 0
    time_on_task: float = 0.0  # seconds since the last break, after recovery
    gold_seen: int = 0
    gold_credit: float = 0.0
    trained_minutes: float = 0.0
    time_factors: list[float] = field(default_factory=list)
    next_factor: int = 0

    def take_time_factors(self, n: int) -> list[float]:
        """The next ``n`` per-answer time factors; blocks are drawn as needed, so the sequence does not depend on
        the page sizes."""
        start = self.next_factor
        end = start + n
        if end > len(self.time_factors):
            while end > len(self.time_factors):
                block = answer_time_factors(self.time_factor, self.noise_sd, self.rng.standard_normal(NOISE_BLOCK))
                self.time_factors = self.time_factors[start:] + block.tolist()
                end -= start
                start = 0
        self.next_factor = end
        return self.time_factors[start:end]


class CampaignRun:
    """The state one run shares between its rater processes: items, raters, policy, ledger and the answer log."""

    def __init__(
        self, design: TaskDesign, population: RaterPopulation, campaign: Campaign, seed: int, replicate: int
    ) -> None:
        if campaign.redundancy > population.n_raters:
            raise ConfigError(
                f"campaign.redundancy = {campaign.redundancy} exceeds the rater pool: it must be at most "
                f"raters.n_raters = {population.n_raters} (no rater labels an item twice)"
            )
        self.design = design
        self.population = population
        self.campaign = campaign
        self.seed = seed
        self.replicate = replicate
        self.items: Items = sample_items(design, stream(seed, replicate, "items"))
        self.raters: Raters = sample_raters(population, design.n_classes, seed, replicate)
        self.policy: AssignmentPolicy = POLICIES[campaign.assignment](
            design.n_items, population.n_raters, campaign.redundancy
        )
        self.ledger = Ledger(campaign)
        self.log = AnswerLog()
        self.trained = np.zeros(population.n_raters, dtype=bool)
        self.arrival_seconds = self._arrivals()
        self.horizon_seconds = math.inf if campaign.horizon_hours is None else campaign.horizon_hours * 3600.0
        self._median_seconds: list[float] = self.items.median_seconds.tolist()
        self.progress: Any = None

    def _arrivals(self) -> np.ndarray:
        n = self.population.n_raters
        if self.campaign.arrival == "all_at_once":
            return np.zeros(n)
        mean_gap = 3600.0 / self.campaign.arrival_rate_per_hour
        return np.cumsum(stream(self.seed, self.replicate, "arrivals").exponential(mean_gap, n))

    def new_rater_state(self, worker: int) -> RaterState:
        gold_pool = self.items.n_total - self.items.n_regular
        return RaterState(
            rng=stream(self.seed, self.replicate, "answers", worker),
            time_factor=float(self.raters.time_factor[worker]),
            noise_sd=self.population.answer_time_sd,
            # each rater meets the gold pool in its own fixed order
            gold_order=stream(self.seed, self.replicate, "answers", worker, 1).permutation(gold_pool).tolist(),
        )

    def page(self, worker: int, now: float, state: RaterState) -> float | None:
        """Assign, time and pay for one page of answers; returns its end time, or None if the rater gets no more work.

        Gold questions come at the rate ``gold_fraction`` exactly (a credit of ``gold_fraction`` accrues per answer
        and each gold question spends one), at the end of the page. A rater with no regular work left gets no gold.
        """
        wanted = self.ledger.affordable(self.campaign.page_size)
        if wanted == 0:
            return None
        n_gold = 0
        if self.design.gold_fraction > 0:
            state.gold_credit += wanted * self.design.gold_fraction
            n_gold = min(int(state.gold_credit), wanted, len(state.gold_order) - state.gold_seen)
        item_ids = self.policy.assign(worker, wanted - n_gold) if wanted > n_gold else []
        if not item_ids and (n_gold == 0 or self.policy.complete):
            return None
        state.gold_credit -= n_gold
        if n_gold:
            gold = state.gold_order[state.gold_seen : state.gold_seen + n_gold]
            item_ids += [self.items.n_regular + g for g in gold]
        seconds = map(mul, map(self._median_seconds.__getitem__, item_ids), state.take_time_factors(len(item_ids)))
        ends = list(accumulate(seconds, initial=now))[1:]
        t = ends[-1]
        if t > self.horizon_seconds:  # answers that would end after the horizon are never given
            kept = sum(1 for end in ends if end <= self.horizon_seconds)
            if kept == 0:
                return None
            item_ids, ends = item_ids[:kept], ends[:kept]
            t = ends[-1]
        n = len(item_ids)
        if n_gold:
            state.gold_seen += sum(1 for item in item_ids if item >= self.items.n_regular)
        self.ledger.commit_answers(n)
        log = self.log
        log.pages.append((worker, now, state.time_on_task, state.practice, state.trained_minutes, n))
        log.items.extend(item_ids)
        log.t_end.extend(ends)
        state.practice += n
        state.time_on_task += t - now
        if self.progress is not None:
            self.progress.update(n)
        return t

    def result(self, now: float) -> CampaignResult:
        timeline = AnswerTimeline.from_log(self.log)
        labels, p_correct = draw_answers(timeline, self)
        answers = pd.DataFrame(
            {
                "task": timeline.item,
                "worker": timeline.worker,
                "label": labels,
                "is_gold": self.items.is_gold[timeline.item],
                "t_start": timeline.t_start,
                "t_end": timeline.t_end,
                "cost": np.full(timeline.item.shape[0], float(self.campaign.pay_per_answer)),
                "p_correct": p_correct,
            }
        )
        regular = ~self.items.is_gold
        task_ids = np.arange(self.items.n_total)
        answered = np.bincount(timeline.item, minlength=self.items.n_total)[: self.items.n_regular]
        if self.policy.complete and (answered >= self.campaign.redundancy).all():
            stop_reason = "complete"
        elif self.ledger.exhausted:
            stop_reason = "budget"
        elif now >= self.horizon_seconds:
            stop_reason = "time_horizon"
        else:
            stop_reason = "raters_exhausted"
        ledger: dict[str, Any] = {
            "stop_reason": stop_reason,
            "budget": None if self.campaign.budget is None else float(self.campaign.budget),
            "spend": float(self.ledger.spend),
            "answer_spend": float(self.ledger.pay * self.ledger.n_answers),
            "training_spend": float(self.ledger.training_spend),
            "n_answers": int(timeline.item.shape[0]),
            "n_gold_answers": int(answers["is_gold"].sum()),
            "n_items": int(self.items.n_regular),
            "items_complete": int((answered >= self.campaign.redundancy).sum()),
            "n_raters": int(self.raters.n_raters),
            "raters_active": int(np.unique(timeline.worker).shape[0]),
            "raters_trained": int(self.trained.sum()),
            "duration_hours": float(timeline.t_end.max()) / 3600.0 if timeline.t_end.size else 0.0,
            "seed": int(self.seed),
            "replicate": int(self.replicate),
        }
        return CampaignResult(
            answers=answers,
            truth=label_series(task_ids[regular], self.items.true_label[regular]),
            gold=label_series(task_ids[~regular], self.items.true_label[~regular]),
            items=items_table(self.items, answers),
            raters=raters_table(self.raters, answers, self.items, self.trained, self.arrival_seconds),
            ledger=ledger,
        )


def label_series(tasks: np.ndarray, labels: np.ndarray) -> pd.Series:
    return pd.Series(labels, index=pd.Index(tasks, name="task"), name="label")


def draw_answers(timeline: AnswerTimeline, run: CampaignRun) -> tuple[np.ndarray, np.ndarray]:
    """Labels and P(correct) of every answer in one vectorised pass of the answer model.

    The k-th answer of rater j uses the k-th U(0, 1) of rater j's own label stream, so a rater's labels do not
    depend on what other raters did or on the order the log holds them in.
    """
    items = run.items
    situation = Situation(
        worker=timeline.worker,
        raters=run.raters,
        population=run.population,
        design=run.design,
        true_label=items.true_label[timeline.item],
        confuser=items.confuser[timeline.item],
        difficulty=items.difficulty_effective[timeline.item],
        practice=timeline.practice,
        time_on_task=timeline.time_on_task,
        training_minutes=timeline.training_minutes,
    )
    probabilities = label_probabilities(situation)
    order = np.argsort(timeline.worker, kind="stable")
    counts = np.bincount(timeline.worker, minlength=run.raters.n_raters)
    uniforms = np.empty(timeline.worker.shape[0])
    uniforms[order] = np.concatenate(
        [stream(run.seed, run.replicate, "answers", j, 2).random(n) for j, n in enumerate(counts.tolist()) if n]
        or [np.empty(0)]
    )
    labels = sample_labels(probabilities, uniforms)
    p_correct = probabilities[np.arange(labels.shape[0]), situation.true_label]
    return labels, p_correct


def rater(env: simpy.Environment, worker: int, run: CampaignRun) -> Generator[simpy.Event, Any, None]:
    """One rater's working life: arrive, train (paid), then sessions of pages separated by breaks."""
    population = run.population
    if run.arrival_seconds[worker] > 0:
        yield env.timeout(run.arrival_seconds[worker])
    if run.policy.complete:
        return
    state = run.new_rater_state(worker)
    if run.campaign.training_minutes > 0:
        if not run.ledger.commit_training():
            return
        run.trained[worker] = True
        state.trained_minutes = run.campaign.training_minutes
        yield env.timeout(run.campaign.training_minutes * 60.0)
    session_seconds = population.session_minutes * 60.0
    break_seconds = population.break_minutes * 60.0
    for _session in range(population.sessions):
        session_end = env.now + session_seconds
        while env.now < session_end:
            page_end = run.page(worker, env.now, state)
            if page_end is None:
                return
            yield env.timeout(page_end - env.now)
        yield env.timeout(break_seconds)
        state.time_on_task = recovered_time_on_task(state.time_on_task, break_seconds, population)


def interactive_terminal() -> bool:
    """Whether progress bars should show by default: stderr is a terminal and ``CI`` is not set."""
    return sys.stderr.isatty() and not os.environ.get("CI")


def simulate(
    task: TaskDesign | None = None,
    raters: RaterPopulation | None = None,
    campaign: Campaign | None = None,
    seed: int = 0,
    replicate: int = 0,
    progress: bool | None = None,
) -> CampaignResult:
    """Run one campaign and return its tables. Same arguments, bit-identical tables.

    ``progress``: show a progress bar of answers (default: only on an interactive terminal, never when ``CI`` is set).
    """
    run = CampaignRun(task or TaskDesign(), raters or RaterPopulation(), campaign or Campaign(), seed, replicate)
    env = simpy.Environment()
    for worker in range(run.population.n_raters):
        env.process(rater(env, worker, run))
    if progress is None:
        progress = interactive_terminal()
    wanted = run.design.n_items * run.campaign.redundancy
    with tqdm(total=wanted, unit="answer", disable=not progress, leave=False) as bar:
        run.progress = bar if progress else None
        env.run(until=None if math.isinf(run.horizon_seconds) else run.horizon_seconds)
    return run.result(env.now)
