"""The campaign: SimPy processes for raters arriving, qualifying, training, working in sessions and breaks; the budget.

Each rater is one process (:func:`rater`). When free, it asks for a *page* of up to ``page_size`` items (a "task
suite", as crowdsourcing platforms hand them out) with :meth:`CampaignRun.request_page`, which delivers the answers
that have ended by now to the subscribers (assignment policy, quality control, online aggregator; see
:mod:`sim.store`), asks the assignment policy for items, commits the money and records the page. Every answer in the
page gets its own start and end time, time on task, practice and probabilities from :mod:`sim.response`. Gold
questions are mixed into pages at ``task.gold_fraction``. A request has one of these outcomes: a page (its end time),
``WAIT`` (no work for this rater now, but answers in flight may reopen some: the rater waits on an event that fires
when answers are delivered), or a reason to leave: ``NO_WORK``, ``BUDGET``, ``HORIZON``, ``BLOCKED``.

Labels are drawn from the rater's own stream (its k-th answer uses its k-th uniform, :class:`RaterStreams`), by the
vectorised answer model (:class:`LabelDraws`). When something in the campaign reacts to answers (an adaptive policy,
quality control, colluders), they are drawn just before a delivery would show one not drawn yet, for every page given
since the last draw in one batch; otherwise nothing needs them before the end, and they are drawn for all answers at
once. Either way the labels are the same.

Money is committed before the work it pays for, in exact rational arithmetic, so spend can never exceed the budget:
qualification questions (if paid) and answers when they are handed out, training and calibration (``hourly_wage``)
when they start. The campaign ends when every item has reached its policy's stopping rule (``complete``), the budget
cannot buy another answer (``budget``), the time horizon is reached (``time_horizon``: answers that would end after it
are not given and not paid), or every rater has left with work remaining (``raters_exhausted``).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import enum
import gc
import inspect
import math
import os
import sys
from array import array
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import accumulate
from operator import mul
from typing import Any, Literal

import numpy as np
import pandas as pd
import simpy
from tqdm import tqdm

from sim.features import FeatureSource, ItemFeatures
from sim.kinds import Responses, engine_design, finish_result, pairwise_items, rating_items
from sim.raters import RATER_KIND_SETTINGS, RaterPopulation, Raters, drift_walk, sample_raters
from sim.records import AnswerTimeline, CampaignResult, items_table, raters_table
from sim.response import (
    Situation,
    answer_time_factors,
    copied_p_correct,
    copy_leaders,
    expected_accuracy,
    label_probabilities,
    recovered_time_on_task,
    sample_labels,
)
from sim.store import QUALIFICATION, WORK, AnswerStore, Rows
from sim.streams import stream
from sim.tasks import TaskDesign, sample_groups, sample_items
from sim.validation import ConfigError, check_choice, check_float, check_int, check_kind_settings
from strategies.assignment._pairs import PairPolicy
from strategies.assignment.base import WAIT, AssignmentPolicy
from strategies.assignment.fixed import FixedRedundancy
from strategies.assignment.random_pairs import RandomPairs
from strategies.quality.base import Calibration, Qualification, QualityControl

ARRIVALS: tuple[str, ...] = ("all_at_once", "poisson")
VISIBILITIES: tuple[str, ...] = ("page", "answer")
# An answer whose end lies within this many seconds of now has ended: SimPy reaches an end time as now + (end - now),
# which floating point may round to just below it.
TIME_TOLERANCE = 1e-6
EXPECTED_ACCURACY_ITEMS = 250  # items of each rater's expected accuracy: its sd from the sample is about 1.5%
STOP_REASONS: tuple[str, ...] = ("complete", "budget", "time_horizon", "raters_exhausted")
SPEND_CATEGORIES: tuple[str, ...] = ("answers", "gold", "qualification", "training", "calibration")
KIND_INPUTS: tuple[str, ...] = ("score_gap", "length_gap", "value")  # per-task inputs of sim.kinds' answer models


def money(amount: float) -> Fraction:
    """An amount as the decimal it was written as: ``money(0.05)`` is 1/20, where ``Fraction(0.05)`` is the binary
    float just above it, and a budget of 10 would buy 199 answers at 0.05 rather than 200."""
    return Fraction(repr(float(amount)))


class Outcome(enum.Enum):
    """What a page request gives instead of a page."""

    WAIT = "wait"  # no work for this rater now; answers in flight may reopen some
    NO_WORK = "no_work"  # nothing left for this rater
    BUDGET = "budget"  # the budget cannot buy another answer
    HORIZON = "time_horizon"  # the next answer would end after the time horizon
    BLOCKED = "blocked"  # quality control blocked the rater


# why a rater stopped working (raters table, column ``left_reason``)
LEFT_REASONS: tuple[str, ...] = (
    "shift_over", "quit", "blocked", "failed_qualification", "no_work", "budget", "time_horizon", "not_started",
)  # fmt: skip


@dataclass(frozen=True)
class Campaign:
    """How the work is bought and handed out.

    Attributes:
        redundancy: answers wanted per item under fixed redundancy (``assignment=fixed``), each from a different rater.
        budget: money available; None for no limit. Never exceeded.
        pay_per_answer: money per answer, gold and (paid) qualification answers included.
        hourly_wage: money per hour of paid training and calibration.
        training_minutes: training each rater gets (paid) before the first answer; removes the guidelines'
            comprehension penalty (see :func:`sim.response.comprehension_penalty`).
        horizon_hours: simulated hours after which the campaign stops; None for no limit.
        arrival: ``all_at_once`` (every rater at time 0) or ``poisson`` (exponential gaps at ``arrival_rate_per_hour``).
        arrival_rate_per_hour: mean rater arrivals per hour for Poisson arrivals.
        page_size: items per page (task suite) handed to a rater at once.
        visibility: when an answer becomes visible to the campaign (policy, quality control): ``page``, when the
            rater submits its page, at the end of the page's last answer (as crowdsourcing platforms return a task
            suite), or ``answer``, at the answer's own end time.
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
    visibility: str = "page"

    def __post_init__(self) -> None:
        object.__setattr__(self, "redundancy", check_int("campaign.redundancy", self.redundancy, 1))  # 2e4 -> 20000
        if self.budget is not None:
            check_float("campaign.budget", self.budget, 0.0)
        check_float("campaign.pay_per_answer", self.pay_per_answer, 0.0)
        check_float("campaign.hourly_wage", self.hourly_wage, 0.0)
        check_float("campaign.training_minutes", self.training_minutes, 0.0)
        if self.horizon_hours is not None:
            check_float("campaign.horizon_hours", self.horizon_hours, 0.0, low_open=True)
        check_choice("campaign.arrival", self.arrival, ARRIVALS)
        check_float("campaign.arrival_rate_per_hour", self.arrival_rate_per_hour, 0.0, low_open=True)
        object.__setattr__(self, "page_size", check_int("campaign.page_size", self.page_size, 1))  # 2e4 -> 20000
        check_choice("campaign.visibility", self.visibility, VISIBILITIES)
        if self.horizon_hours is not None and self.training_minutes >= 60.0 * self.horizon_hours:
            raise ConfigError(
                f"campaign.training_minutes = {self.training_minutes} leaves no time for work before "
                f"campaign.horizon_hours = {self.horizon_hours} ({60 * self.horizon_hours:g} minutes); accepted "
                "values: training_minutes below the horizon"
            )
        if self.budget is not None and money(self.budget) < money(self.pay_per_answer) + self.training_cost:
            raise ConfigError(
                f"campaign.budget = {self.budget} is too small to buy one answer: it must be at least "
                f"pay_per_answer ({self.pay_per_answer}) plus one rater's training "
                f"({float(self.training_cost)}), or null for no limit"
            )

    @property
    def training_cost(self) -> Fraction:
        return self.wage_cost(self.training_minutes)

    def wage_cost(self, minutes: float) -> Fraction:
        """Exact cost of ``minutes`` of paid time at the hourly wage."""
        return money(self.hourly_wage) * money(minutes) / 60


class Ledger:
    """The campaign's money, committed before the work it pays for, in exact fractions, by category."""

    def __init__(self, campaign: Campaign) -> None:
        self.budget = None if campaign.budget is None else money(campaign.budget)
        self.pay = money(campaign.pay_per_answer)
        self.fixed_spend = {"training": Fraction(0), "calibration": Fraction(0)}  # paid time
        self.answers = {"answers": 0, "gold": 0, "qualification": 0}  # paid answers
        self.n_answers = 0
        self.exhausted = False
        self.answers_left = self._count_affordable()  # answers the remaining budget can buy (inf without a budget)

    def _count_affordable(self) -> float:
        if self.budget is None or self.pay == 0:
            return math.inf
        return math.floor((self.budget - sum(self.fixed_spend.values())) / self.pay) - self.n_answers

    @property
    def spend(self) -> Fraction:
        return sum(self.fixed_spend.values(), Fraction(0)) + self.pay * self.n_answers

    def spend_by_category(self) -> dict[str, float]:
        spend = {name: float(self.pay * count) for name, count in self.answers.items()}
        spend.update({name: float(amount) for name, amount in self.fixed_spend.items()})
        return {name: spend[name] for name in SPEND_CATEGORIES}

    def commit_time(self, category: str, cost: Fraction) -> bool:
        """Pay for training or calibration time; False (and nothing paid) if the budget cannot."""
        if self.budget is not None and self.spend + cost > self.budget:
            self.exhausted = True
            return False
        self.fixed_spend[category] += cost
        self.answers_left = self._count_affordable()
        return True

    def affordable(self, wanted: int) -> int:
        """How many of ``wanted`` answers the remaining budget can buy."""
        n = int(min(wanted, self.answers_left))
        if n < wanted:
            self.exhausted = True
        return n

    def commit_answers(self, n: int, category: str = "answers") -> None:
        self.answers[category] += n
        self.n_answers += n
        self.answers_left -= n


NOISE_BLOCK = 1024  # answer-time noise and uniforms are drawn per rater in blocks of this many answers


class Draws:
    """A rater's stream of per-answer draws, taken in blocks: the k-th value does not depend on the block sizes."""

    __slots__ = ("_draw", "_next", "_values")

    def __init__(self, draw: Callable[[int], list[float]]) -> None:
        self._draw = draw  # n -> list of the next n values
        self._values: list[float] = []
        self._next = 0

    def take(self, n: int) -> list[float]:
        start, end = self._next, self._next + n
        if end > len(self._values):
            self._values = self._values[start:]
            end -= start
            start = 0
            while end > len(self._values):
                self._values += self._draw(NOISE_BLOCK)
        self._next = end
        return self._values[start:end]


@dataclass(slots=True)
class RaterState:
    """What changes for one rater while it works: practice, fatigue clock, gold cursor, guideline version,
    calibration effects, and its streams of per-answer draws."""

    time_factors: Draws
    gold_order: list[int]
    practice: int = 0
    time_on_task: float = 0.0  # seconds since the last break, after recovery
    gold_seen: int = 0
    gold_credit: float = 0.0
    trained_minutes: float = 0.0
    version: int = 0  # guideline version the rater works by
    ability_offset: float = 0.0  # calibration's ability gain (logits)
    bias_shrink: float = 0.0  # share of the bias replaced by uniform (calibration)
    since_calibration: int = 0  # answers since the last calibration session
    calibrated_at: float = 0.0  # seconds, when the last calibration session (or the start of work) ended
    calibrations: int = 0
    started: bool = False


@dataclass
class RaterRecord:
    """What the raters table reports about each rater's life in the campaign, beyond its true parameters."""

    qualified: np.ndarray
    blocked: np.ndarray
    blocked_at: np.ndarray
    left_at: np.ndarray
    left_reason: np.ndarray
    calibrations: np.ndarray
    trained: np.ndarray

    @classmethod
    def empty(cls, n: int) -> RaterRecord:
        return cls(
            qualified=np.zeros(n, dtype=bool),
            blocked=np.zeros(n, dtype=bool),
            blocked_at=np.full(n, np.nan),
            left_at=np.full(n, np.nan),
            left_reason=np.full(n, "not_started", dtype=object),
            calibrations=np.zeros(n, dtype=np.int64),
            trained=np.zeros(n, dtype=bool),
        )


DrawMode = Literal["auto", "as_given", "at_end"]


class CampaignRun:
    """The state one run shares between its rater processes: items, raters, policy, quality control, ledger, store."""

    def __init__(
        self,
        design: TaskDesign,
        population: RaterPopulation,
        campaign: Campaign,
        seed: int,
        replicate: int,
        assignment: AssignmentPolicy | None = None,
        quality: Sequence[QualityControl] = (),
        draw: DrawMode = "auto",
        features: FeatureSource | None = None,
    ) -> None:
        if features is not None:
            design = features.adapt(design)  # a data set fixes the number of items and classes
        self.population = population
        self.campaign = campaign
        self.seed = seed
        self.replicate = replicate
        self.quality = [copy.deepcopy(control) for control in quality]
        self.policy: AssignmentPolicy = copy.deepcopy(assignment) if assignment is not None else default_policy(design)
        validate_design(design, population, campaign, self.policy, self.quality, features)
        self.task = design  # as configured; ``design`` is what the engine hands out: pairs, for a pairwise task
        self.design = design = engine_design(design)
        self.qualification = _one_of(self.quality, Qualification)
        self.calibration = _one_of(self.quality, Calibration)
        needs_gold_pool = design.gold_fraction > 0 or self.qualification is not None
        items_rng, pool_rng = stream(seed, replicate, "items"), stream(seed, replicate, "items", 1)
        self.responses: Responses | None = None
        if design.kind == "pairwise":
            self.items, self.responses = pairwise_items(
                self.task, items_rng, needs_gold_pool, stream(seed, replicate, "features", 1)
            )
        elif design.kind == "rating":
            self.items = rating_items(design, items_rng, needs_gold_pool)
        else:
            self.items = sample_items(design, items_rng, gold_pool=needs_gold_pool, extra=pool_rng)
        groups = sample_groups(self.items.n_total, design.group_share, stream(seed, replicate, "groups"))
        if groups is not None:
            self.items = dataclasses.replace(self.items, group=groups)
        if population.accuracy_correlation > 0:  # one draw per item, shared by the raters who answer it
            quantiles = stream(seed, replicate, "competence").random(self.items.n_total)
            self.items = dataclasses.replace(self.items, competence=quantiles)
        self.features: ItemFeatures | None = None
        if features is not None:
            self.items, self.features = features.attach(self.items, design, seed, replicate)
        self.raters: Raters = sample_raters(population, design.n_classes, seed, replicate)
        self.colluding = bool((self.raters.collusion_group >= 0).any())
        reactive = self.policy.needs_labels or any(c.needs_labels for c in self.quality) or self.colluding
        check_choice("draw", draw, ("auto", "as_given", "at_end"))
        if draw == "at_end" and reactive:
            raise ConfigError("draw='at_end' is impossible here: the policy, quality control or colluders need labels")
        self.eager = reactive or draw == "as_given"
        self.ledger = Ledger(campaign)
        self.store = AnswerStore(whole_pages=campaign.visibility == "page")
        self.record = RaterRecord.empty(population.n_raters)
        self._blocked = [False] * population.n_raters
        self._page_size, self._gold_fraction = campaign.page_size, design.gold_fraction
        self._n_raters = population.n_raters
        self._active = population.n_raters  # raters who have not left yet
        self.finished: simpy.Event | None = None
        self.arrival_seconds = self._arrivals()
        self.horizon_seconds = math.inf if campaign.horizon_hours is None else campaign.horizon_hours * 3600.0
        self.version = 0  # guideline version in force
        self._versions = self._version_lists()
        self.is_gold: list[bool] = self.items.is_gold.tolist()
        self._draws = LabelDraws(self)
        self._drifting = population.drift_sd > 0
        self._leaders: dict[tuple[int, int], int] = {}  # colluders: (group, item) -> row of the group's first answer
        self._online: dict[str, Any] = {}
        self._group: list[int] = self.raters.collusion_group.tolist()
        self._waiting: deque[simpy.Event] = deque()
        self._new_work = 0
        self._wake_up_at = math.inf
        self.env: simpy.Environment | None = None
        self.progress: Any = None
        self.policy.start(self)
        for control in self.quality:
            control.start(self)
        if self.eager:  # the policy hears of every answer (and of dropped ones), then quality control
            self.store.draw_labels = self._draws.draw
            self.store.subscribers.append(self.policy)
            self.store.subscribers.extend(control for control in self.quality if control.needs_labels)

    # -- set-up -------------------------------------------------------------------------------------------------

    def _arrivals(self) -> np.ndarray:
        n = self.population.n_raters
        if self.campaign.arrival == "all_at_once":
            return np.zeros(n)
        mean_gap = 3600.0 / self.campaign.arrival_rate_per_hour
        return np.cumsum(stream(self.seed, self.replicate, "arrivals").exponential(mean_gap, n))

    def _version_lists(self) -> list[tuple[list[int], list[int], list[float], list[float]]]:
        """Per guideline version: true labels, confusers, effective difficulty and median seconds, as lists."""
        items = self.items
        if items.version_label is None:
            assert items.version_confuser is None and items.version_difficulty is None
            return [
                (
                    items.true_label.tolist(),
                    items.confuser.tolist(),
                    items.difficulty_effective.tolist(),
                    items.median_seconds.tolist(),
                )
            ]
        assert items.version_confuser is not None and items.version_difficulty is not None
        assert items.version_seconds is not None
        return [
            (
                items.version_label[v].tolist(),
                items.version_confuser[v].tolist(),
                items.version_difficulty[v].tolist(),
                items.version_seconds[v].tolist(),
            )
            for v in (0, 1)
        ]

    def new_rater_state(self, worker: int) -> RaterState:
        gold_pool = self.items.n_total - self.items.n_regular
        seed, replicate = self.seed, self.replicate
        time_rng = stream(seed, replicate, "answers", worker)
        factor, noise_sd = float(self.raters.time_factor[worker]), self.population.answer_time_sd
        state = RaterState(
            time_factors=Draws(lambda n: answer_time_factors(factor, noise_sd, time_rng.standard_normal(n)).tolist()),
            # each rater meets the gold pool in its own fixed order
            gold_order=stream(seed, replicate, "answers", worker, 1).permutation(gold_pool).tolist(),
            version=self.version,
        )
        return state

    # -- the lifecycle ------------------------------------------------------------------------------------------

    def start_work(self, worker: int, now: float, state: RaterState) -> None:
        """The rater begins (or resumes after training) with the guidelines in force."""
        if not state.started:
            state.started = True
            state.calibrated_at = now
        if state.version != self.version:
            state.version, state.trained_minutes = self.version, 0.0

    def train(self, worker: int, state: RaterState) -> bool:
        """Commit one rater's training; False if the budget cannot pay it."""
        if not self.ledger.commit_time("training", self.campaign.training_cost):
            return False
        self.record.trained[worker] = True
        state.version = self.version
        state.trained_minutes = self.campaign.training_minutes
        return True

    def turned_away(self, worker: int) -> bool:
        """Whether the rater failed the qualification test (and so does no work)."""
        return self.qualification is not None and not self.record.qualified[worker]

    def leave(self, worker: int, reason: str, now: float) -> None:
        assert reason in LEFT_REASONS, reason
        self.record.left_reason[worker] = reason
        self.record.left_at[worker] = now
        self._active -= 1
        if self._active == 0 and self.finished is not None and not self.finished.triggered:
            self.finished.succeed()  # nobody works any more: nothing after this (a guideline revision) matters

    def block(self, worker: int, at: float, drop_answers: bool) -> None:
        """Quality control blocks ``worker`` (it gets no more work); optionally its answers stop counting."""
        if not self._blocked[worker]:
            self._blocked[worker] = True
            self.record.blocked[worker] = True
            self.record.blocked_at[worker] = at
        if drop_answers:
            self.store.drop_worker(worker)

    def revise_guidelines(self) -> None:
        self.version = 1

    def truth_now(self) -> list[int]:
        """Every item's true label under the definitions in force now (what gold questions are scored against)."""
        return self._versions[self.version][0]

    def truth_at(self, seconds: float) -> list[int]:
        """Every item's true label under the definitions in force at ``seconds``."""
        revision = self.design.revision_hours
        return self._versions[1 if revision is not None and seconds >= revision * 3600.0 and self.version else 0][0]

    def online_model(self, aggregator: Any, **schedule: Any) -> Any:
        """The run's online model of ``aggregator`` over the regular items (one per aggregator, settings and refit
        ``schedule``, shared by the policy and quality control), fed with every visible regular answer before the
        policy hears of it."""
        bound = inspect.signature(aggregator.online_model).bind(0, 0, 0, **schedule)
        bound.apply_defaults()  # a schedule spelled out with the defaults is the same schedule
        settings = (
            [(f.name, getattr(aggregator, f.name)) for f in dataclasses.fields(aggregator) if f.init]
            if dataclasses.is_dataclass(aggregator)
            else repr(aggregator)
        )
        key = repr((type(aggregator), settings, sorted(bound.arguments.items())))
        if key not in self._online:
            n = (self.design.n_items, self.population.n_raters, self.design.n_classes)
            model = aggregator.online_model(*n, **schedule)
            self._online[key] = model
            self.store.subscribers.insert(0, OnlineFeed(model, self.design.n_items))
        return self._online[key]

    # -- pages --------------------------------------------------------------------------------------------------

    def request_page(self, worker: int, now: float, state: RaterState) -> float | Outcome:
        """Deliver what has ended, then assign, time, pay for and record one page (see the module docstring).

        Gold questions come at the rate ``gold_fraction`` exactly (a credit of ``gold_fraction`` accrues per answer
        and each gold question spends one), at the end of the page. A rater with no regular work left gets no gold.
        """
        store = self.store
        if self.eager and store.pending:
            store.deliver(now + TIME_TOLERANCE)
            self._after_delivery()
        if self._blocked[worker]:
            return Outcome.BLOCKED
        ledger = self.ledger
        wanted = ledger.affordable(self._page_size)
        if wanted == 0:
            return Outcome.BUDGET
        n_gold, credit, gold_fraction = 0, 0.0, self._gold_fraction
        if gold_fraction > 0:
            credit = state.gold_credit + wanted * gold_fraction
            n_gold = min(int(credit), wanted, len(state.gold_order) - state.gold_seen)
        item_ids: list[int] = []
        if wanted > n_gold:
            if self.eager and self.policy.complete:
                return Outcome.NO_WORK
            assigned = self.policy.assign(worker, wanted - n_gold, ledger.answers_left)
            if assigned is WAIT:
                return Outcome.WAIT if store.pending else Outcome.NO_WORK
            assert isinstance(assigned, list)
            item_ids = assigned
        if not item_ids and (n_gold == 0 or self.policy.complete):
            return Outcome.NO_WORK
        if gold_fraction > 0:
            if 0 < len(item_ids) < wanted - n_gold:  # a partial page: gold in proportion to the answers given
                credit = state.gold_credit + len(item_ids) / (1.0 - gold_fraction) * gold_fraction
                n_gold = min(n_gold, int(credit))
            state.gold_credit = credit - n_gold
        if n_gold:
            gold = state.gold_order[state.gold_seen : state.gold_seen + n_gold]
            item_ids += [self.items.n_regular + g for g in gold]
        end = self._give(worker, now, state, item_ids, n_gold)
        return Outcome.HORIZON if end is None else end

    def qualify(self, worker: int, now: float, state: RaterState) -> tuple[float, bool] | Outcome:
        """Give the qualification test (the rater's first gold questions, as one page): (its end, passed), or the
        outcome (``BUDGET``, ``HORIZON``) that prevents it. The rater passes with a share of right answers of at
        least ``pass_mark``, scored against the gold labels in force."""
        test = self.qualification
        assert test is not None
        if test.paid and self.ledger.affordable(test.n_questions) < test.n_questions:
            return Outcome.BUDGET
        gold = state.gold_order[: test.n_questions]
        state.gold_seen = test.n_questions
        items = [self.items.n_regular + g for g in gold]
        first = self.store.n_answers
        end = self._give(worker, now, state, items, 0, QUALIFICATION, paid=test.paid)
        if end is None or self.store.n_answers - first < len(items):  # the horizon cut the test short
            return Outcome.HORIZON
        self._draws.draw()  # the test is scored when it ends: its labels are needed now
        rows = range(first, self.store.n_answers)
        truth = self.truth_now()
        correct = sum(1 for r in rows if self.store.label[r] == truth[self.store.item[r]])
        passed = correct >= test.pass_mark * len(items) - 1e-9
        self.record.qualified[worker] = passed
        return end, passed

    def _give(
        self,
        worker: int,
        now: float,
        state: RaterState,
        item_ids: list[int],
        n_gold: int,
        stage: int = WORK,
        paid: bool = True,
    ) -> float | None:
        """Time, pay for and record the answers to ``item_ids`` (the last ``n_gold`` of them gold questions); draw
        their labels if the campaign reacts to them. Returns the end of the last answer, or None if not even the
        first ends before the horizon."""
        versions = self._versions[state.version]
        n = len(item_ids)
        seconds = map(mul, map(versions[3].__getitem__, item_ids), state.time_factors.take(n))
        ends = list(accumulate(seconds, initial=now))
        del ends[0]
        if ends[-1] > self.horizon_seconds:  # answers that would end after the horizon are never given
            kept = sum(1 for end in ends if end <= self.horizon_seconds)
            if stage == WORK:
                self.policy.release(worker, [item for item in item_ids[kept:] if not self.is_gold[item]])
            if kept == 0:
                return None
            n_gold = max(0, n_gold - (n - kept))
            item_ids, ends, n = item_ids[:kept], ends[:kept], kept
        if paid:
            ledger = self.ledger
            if stage == QUALIFICATION:
                ledger.commit_answers(n, "qualification")
            else:
                if n_gold:
                    ledger.commit_answers(n_gold, "gold")
                    state.gold_seen += n_gold
                ledger.n_answers += n - n_gold  # ledger.commit_answers(n - n_gold), inlined: once per page
                ledger.answers["answers"] += n - n_gold
                ledger.answers_left -= n - n_gold
        page = (
            worker, now, state.time_on_task, state.practice, state.trained_minutes, n, state.version,
            state.ability_offset, state.bias_shrink, stage,
        )  # fmt: skip
        if self.colluding:
            self._record_leaders(worker, item_ids)
        if self.eager and self._drifting:
            self._draws.given(worker, state.practice, n)
        self.store.add_page(page, item_ids, ends)
        t = ends[-1]
        state.practice += n
        state.since_calibration += n
        state.time_on_task += t - now
        if self.progress is not None:
            self.progress.update(n)
        return t

    def _record_leaders(self, worker: int, item_ids: list[int]) -> None:
        """For a colluder, the row of its group's first answer to each item (-1 where this answer is the first)."""
        group, leaders, leader_row = self._group[worker], self._leaders, self.store.leader_row
        first = self.store.n_answers
        if group < 0:
            leader_row.extend([-1] * len(item_ids))
            return
        for offset, item in enumerate(item_ids):
            row = leaders.setdefault((group, item), first + offset)
            leader_row.append(-1 if row == first + offset else row)

    # -- waiting for work ---------------------------------------------------------------------------------------

    def wait_for_work(self, env: simpy.Environment) -> simpy.Event:
        """An event that fires when work may be there for a waiting rater: the policy reopened some, or no answer is
        in flight any more (then the rater learns there is nothing left). Waiters are woken first come, first
        served, as many as answers were reopened."""
        event = env.event()
        self._waiting.append(event)
        self._schedule_wake_up(env)
        return event

    def work_reopened(self, n: int) -> None:
        """The policy's hook: ``n`` more answers are wanted (top-ups became due)."""
        self._new_work += n

    def _after_delivery(self) -> None:
        waiting = self._waiting
        if waiting:
            if self.policy.complete or not self.store.pending:
                wake = len(waiting)
            else:
                wake = min(self._new_work, len(waiting))
            for _ in range(wake):
                event = waiting.popleft()
                if not event.triggered:
                    event.succeed()
            if waiting and self.env is not None:
                self._schedule_wake_up(self.env)
        self._new_work = 0

    def _schedule_wake_up(self, env: simpy.Environment) -> None:
        next_end = self.store.next_end
        if next_end < self._wake_up_at:
            self._wake_up_at = next_end
            env.process(self._wake_up(env, next_end))

    def _wake_up(self, env: simpy.Environment, at: float) -> Generator[simpy.Event, Any, None]:
        yield env.timeout(max(at - env.now, 0.0))
        if self._wake_up_at == at:
            self._wake_up_at = math.inf
        self.store.deliver(max(env.now, at) + TIME_TOLERANCE)
        self._after_delivery()

    # -- calibration --------------------------------------------------------------------------------------------

    def calibration_due(self, now: float, state: RaterState) -> bool:
        calibration = self.calibration
        if calibration is None:
            return False
        if calibration.max_sessions is not None and state.calibrations >= calibration.max_sessions:
            return False
        by_answers = calibration.every_answers is not None and state.since_calibration >= calibration.every_answers
        by_hours = calibration.every_hours is not None and now - state.calibrated_at >= calibration.every_hours * 3600
        return by_answers or by_hours

    def calibrate(self, worker: int, state: RaterState) -> float:
        """Pay for one calibration session and apply its effects; its seconds (0 if the budget cannot pay it)."""
        calibration = self.calibration
        assert calibration is not None
        if not self.ledger.commit_time("calibration", self.campaign.wage_cost(calibration.minutes)):
            return 0.0
        state.ability_offset = calibration.ability_after(state.ability_offset)
        state.bias_shrink = 1.0 - (1.0 - state.bias_shrink) * (1.0 - calibration.bias_shrink)
        if state.version != self.version:  # the session teaches the revised guidelines
            state.version, state.trained_minutes = self.version, calibration.minutes
        state.calibrations += 1
        self.record.calibrations[worker] = state.calibrations
        return calibration.minutes * 60.0

    def calibrated(self, now: float, state: RaterState) -> None:
        state.since_calibration = 0
        state.calibrated_at = now

    # -- the result ---------------------------------------------------------------------------------------------

    def result(self, now: float) -> CampaignResult:
        store = self.store
        if store.subscribers:
            store.deliver(math.inf)
        timeline = AnswerTimeline.from_store(store)
        situation: Situation | None = None
        if self._draws.pages == 0:  # nothing drawn yet: the whole run is one batch, and its situation is needed
            situation = self.situation(timeline)
        self._draws.draw(timeline, situation)
        revised = self.version == 1
        truth = self.items.truth(revised)
        labels, p_correct = self._draws.labels(revised)
        answers = pd.DataFrame(
            {
                "task": timeline.item,
                "worker": timeline.worker,
                "label": labels,
                "is_gold": self.items.is_gold[timeline.item],
                "t_start": timeline.t_start,
                "t_end": timeline.t_end,
                "cost": np.where(self._paid(timeline), float(self.campaign.pay_per_answer), 0.0),
                "p_correct": p_correct,
                "stage": pd.Categorical.from_codes(timeline.stage, categories=pd.Index(["work", "qualification"])),
                "dropped": np.isin(timeline.worker, list(store.dropped_workers)),
            }
        )
        regular = ~self.items.is_gold
        task_ids = np.arange(self.items.n_total)
        answered = np.bincount(timeline.item, minlength=self.items.n_total)[: self.items.n_regular]
        done = self.policy.items_done()
        if self.policy.complete:
            stop_reason = "complete"
        elif self.ledger.exhausted:
            stop_reason = "budget"
        elif now >= self.horizon_seconds or (self.record.left_reason == "time_horizon").any():
            stop_reason = "time_horizon"  # (the last rater may leave before it, its next page not fitting)
        else:
            stop_reason = "raters_exhausted"
        assert stop_reason in STOP_REASONS
        spend = self.ledger.spend_by_category()
        ledger: dict[str, Any] = {
            "stop_reason": stop_reason,
            "budget": None if self.campaign.budget is None else float(self.campaign.budget),
            "spend": float(self.ledger.spend),
            **{f"{name}_spend": value for name, value in spend.items()},
            "n_answers": int(timeline.item.shape[0]),
            "n_gold_answers": int(answers["is_gold"].sum()),
            "n_qualification_answers": int((timeline.stage == QUALIFICATION).sum()),
            "n_dropped_answers": int(answers["dropped"].sum()),
            "n_items": int(self.items.n_regular),
            "items_answered": int((answered > 0).sum()),
            "items_complete": int(done.sum()),
            "n_raters": int(self.raters.n_raters),
            "raters_active": int(np.unique(timeline.worker).shape[0]),
            "raters_trained": int(self.record.trained.sum()),
            "raters_blocked": int(self.record.blocked.sum()),
            "raters_failed_qualification": int((self.record.left_reason == "failed_qualification").sum()),
            "raters_quit": int((self.record.left_reason == "quit").sum()),
            "guidelines_revised": revised,
            "duration_hours": float(timeline.t_end.max()) / 3600.0 if timeline.t_end.size else 0.0,
            "seed": int(self.seed),
            "replicate": int(self.replicate),
        }
        result = CampaignResult(
            answers=answers,
            truth=label_series(task_ids[regular], truth[regular]),
            gold=label_series(task_ids[~regular], truth[~regular]),
            items=items_table(self.items, answers, done, revised),
            raters=raters_table(
                self.raters, answers, self.items, truth, self.record, self.arrival_seconds, self._expected_accuracy()
            ),
            ledger=ledger,
            situation=situation,
            situation_factory=lambda: self.situation(timeline),
            leader_label=self._draws.leader_labels(labels) if self.colluding else None,
            copy_probability=self.population.collusion_copy_probability,
            items_model=self.items,
            revised=revised,
            features=self.features,
        )
        if self.design.kind != "categorical":
            finish_result(result, self.task, self.items, self.responses, self.raters)
        return result

    def _expected_accuracy(self) -> np.ndarray:
        """Each rater's accuracy on (at most 250 of) the regular items at the start of work: the first ones, which are
        exchangeable, or for a pairwise task pairs spread over the pool (whose first pairs share a response)."""
        items = self.items
        n = min(items.n_regular, EXPECTED_ACCURACY_ITEMS)
        sample = np.arange(n)
        if self.design.kind == "pairwise":
            sample = np.linspace(0, items.n_regular - 1, n).astype(np.int64)
        kind_inputs = {name: getattr(items, name)[sample] for name in KIND_INPUTS if getattr(items, name) is not None}
        return expected_accuracy(
            self.raters, self.population, self.design, items.true_label[sample], items.confuser[sample],
            items.difficulty_effective[sample], self.campaign.training_minutes, kind_inputs,
        )  # fmt: skip

    def _paid(self, timeline: AnswerTimeline) -> np.ndarray | bool:
        if self.qualification is None or self.qualification.paid:
            return True
        return timeline.stage != QUALIFICATION

    def situation(self, timeline: AnswerTimeline, first_row: int = 0) -> Situation:
        """The answer model's inputs for the answers of ``timeline`` (rows from ``first_row`` on), as the rater saw
        each item."""
        items, version = self.items, timeline.version
        if items.version_label is not None:
            assert items.version_confuser is not None and items.version_difficulty is not None
            true_label = items.version_label[version, timeline.item]
            confuser = items.version_confuser[version, timeline.item]
            difficulty = items.version_difficulty[version, timeline.item]
        else:
            true_label = items.true_label[timeline.item]
            confuser = items.confuser[timeline.item]
            difficulty = items.difficulty_effective[timeline.item]
        complexity: np.ndarray | None = None
        if self.design.revision_hours is not None:
            complexity = np.asarray(self.design.complexities)[version]
        drift = self._draws.drift(timeline, first_row if self.eager else None)
        offset = timeline.ability_offset + drift if drift is not None else timeline.ability_offset
        return Situation(
            worker=timeline.worker,
            raters=self.raters,
            population=self.population,
            design=self.design,
            true_label=true_label,
            confuser=confuser,
            difficulty=difficulty,
            practice=timeline.practice,
            time_on_task=timeline.time_on_task,
            training_minutes=timeline.training_minutes,
            complexity=complexity,
            ability_offset=offset if np.any(offset) else 0.0,
            bias_shrink=timeline.bias_shrink if np.any(timeline.bias_shrink) else 0.0,
            group=None if items.group is None else items.group[timeline.item],
            competence=None if items.competence is None else items.competence[timeline.item],
            **{name: getattr(items, name)[timeline.item] for name in KIND_INPUTS if getattr(items, name) is not None},
        )


class OnlineFeed:
    """A store subscriber that adds each visible answer to a regular item to an online aggregator, and removes the
    answers of raters whose answers stop counting."""

    def __init__(self, model: Any, n_items: int) -> None:
        self.model = model
        self.n_items = n_items

    def observe(self, store: AnswerStore, rows: Rows) -> None:
        add, n_items = self.model.add, self.n_items
        item, worker, label = store.item, store.worker, store.label
        for row in rows:
            if item[row] < n_items:
                add(item[row], worker[row], label[row])

    def discard(self, store: AnswerStore, rows: Rows, visible: bool) -> None:
        if visible:  # a dropped rater's answers: all of them go
            for worker in {store.worker[row] for row in rows}:
                self.model.drop_worker(worker)


def validate_design(
    design: TaskDesign,
    population: RaterPopulation,
    campaign: Campaign,
    assignment: AssignmentPolicy | None = None,
    quality: Sequence[QualityControl] = (),
    features: FeatureSource | None = None,
) -> None:
    """Every check of a campaign that needs no simulation (the policy's and each quality control's against the task,
    the pool and the campaign): a design's errors come before any money is spent. Raises :class:`ConfigError`.
    ``design`` is the task as configured, as the policy and quality control see it too (a pairwise task's
    ``n_items`` counts responses; :func:`sim.kinds.engine_design` gives the engine's pairs)."""
    if design.kind != "categorical" and features is not None:
        raise ConfigError(
            f"features give categorical items features, and task.kind = {design.kind} (a pairwise task's responses "
            "have features of their own: task.n_features); accepted values: features=none, or task.kind=categorical"
        )
    check_kind_settings(population, "raters", RATER_KIND_SETTINGS, design.kind)
    _one_of(quality, Qualification)
    _one_of(quality, Calibration)
    if population.group_bias > 0 and population.group_bias_label >= design.n_classes:
        raise ConfigError(
            f"raters.group_bias_label = {population.group_bias_label} is not a label of task.n_classes = "
            f"{design.n_classes}; accepted values: 0..{design.n_classes - 1}"
        )
    if design.group_share == 0 and (population.group_gap or population.group_gap_sd or population.group_bias):
        raise ConfigError(
            "raters.group_gap, group_gap_sd and group_bias act on items of group 1, and there are none "
            "(task.group_share = 0); accepted values: task.group_share in (0, 1], e.g. 0.3"
        )
    for control in quality:
        control.validate(design, population, campaign)
    policy = assignment if assignment is not None else default_policy(design)
    if design.kind == "pairwise" and not isinstance(policy, PairPolicy):
        raise ConfigError(
            f"task.kind=pairwise compares pairs of responses that a pair policy chooses, and the assignment is "
            f"{type(policy).__name__}; accepted values: assignment=random_pairs, adjacent_pairs or active_pairs"
        )
    policy.validate(design, population, campaign)


def default_policy(design: TaskDesign) -> AssignmentPolicy:
    """The assignment when none is given: fixed redundancy, or random pairs for a pairwise task."""
    return RandomPairs() if design.kind == "pairwise" else FixedRedundancy()


def _one_of(controls: Sequence[QualityControl], kind: type[QualityControl]) -> Any:
    found = [control for control in controls if isinstance(control, kind)]
    if len(found) > 1:
        raise ConfigError(f"quality: at most one {kind.__name__} option, got {len(found)}")
    return found[0] if found else None


def label_series(tasks: np.ndarray, labels: np.ndarray) -> pd.Series:
    return pd.Series(labels, index=pd.Index(tasks, name="task"), name="label")


class RaterStreams:
    """Each rater's stream of U(0, 1) values (``stream(seed, replicate, "answers", rater, key)``), read by (rater,
    index) in one vectorised gather: ``take(worker, index)[a]`` is value ``index[a]`` of rater ``worker[a]``'s
    stream, whatever the batches and their order. Values are drawn in blocks of :data:`NOISE_BLOCK` per rater, into
    one pool, as the indices reach them."""

    def __init__(self, seed: int, replicate: int, key: int, n_raters: int) -> None:
        self._seed, self._replicate, self._key = seed, replicate, key
        self._rngs: dict[int, np.random.Generator] = {}
        self._blocks = np.zeros((n_raters, 1), dtype=np.int64)  # [rater, k]: the pool row of its k-th block
        self._n_blocks = np.zeros(n_raters, dtype=np.int64)
        self._pool = np.empty((max(16, n_raters), NOISE_BLOCK))
        self._used = 0  # pool rows drawn

    def take(self, worker: np.ndarray, index: np.ndarray) -> np.ndarray:
        if worker.shape[0] == 0:
            return np.empty(0)
        block = index // NOISE_BLOCK
        needed = np.zeros(self._n_blocks.shape[0], dtype=np.int64)
        np.maximum.at(needed, worker, block + 1)
        for rater in np.flatnonzero(needed > self._n_blocks).tolist():
            self._draw_blocks(rater, int(needed[rater]))
        return self._pool[self._blocks[worker, block], index % NOISE_BLOCK]

    def _draw_blocks(self, rater: int, n_blocks: int) -> None:
        rng = self._rngs.get(rater)
        if rng is None:
            rng = self._rngs[rater] = stream(self._seed, self._replicate, "answers", rater, self._key)
        have = int(self._n_blocks[rater])
        if n_blocks > self._blocks.shape[1]:
            wider = np.zeros((self._blocks.shape[0], max(n_blocks, 2 * self._blocks.shape[1])), dtype=np.int64)
            wider[:, : self._blocks.shape[1]] = self._blocks
            self._blocks = wider
        if self._used + n_blocks - have > self._pool.shape[0]:
            grown = np.empty((max(self._used + n_blocks - have, 2 * self._pool.shape[0]), NOISE_BLOCK))
            grown[: self._used] = self._pool[: self._used]
            self._pool = grown
        for k in range(have, n_blocks):
            self._pool[self._used] = rng.random(NOISE_BLOCK)
            self._blocks[rater, k] = self._used
            self._used += 1
        self._n_blocks[rater] = n_blocks


class LabelDraws:
    """Labels drawn just in time, vectorised, by the answer model, from each rater's own streams.

    A page's labels are a function of what was fixed when it was given (the page record) and of its rater's next
    uniforms: the k-th answer of rater j uses the k-th U(0, 1) of j's label stream, its k-th ability-drift step and,
    for a colluder, its k-th copy draw. So they can be drawn any time before someone looks: :meth:`draw` draws every
    page given so far in one vectorised pass, and runs when a delivery would show an answer not drawn yet (then
    the pages given since the last pass, typically every page in flight, form one batch), before a qualification test
    is scored and at the end. Whatever the batches, the labels are the same as one pass at the end would give.
    """

    def __init__(self, run: CampaignRun) -> None:
        self.run = run
        self.pages = 0  # pages drawn
        self.rows = 0  # rows drawn
        n_raters = run.population.n_raters
        self._uniforms = RaterStreams(run.seed, run.replicate, 2, n_raters)
        self._copies = RaterStreams(run.seed, run.replicate, 3, n_raters)
        self._drift: dict[int, list[float]] = {}  # rater -> drift (logits) before its k-th answer
        self._labels: list[np.ndarray] = []
        self._p_correct: list[list[np.ndarray]] = [[], []]  # under the original and the revised definitions
        self._copied: list[np.ndarray] = []
        # while a campaign reacts to answers and raters drift, each page takes its rater's drift when it is given, so
        # that a batch reads it as one slice (no loop over raters per batch)
        self._row_drift = array("d")

    def given(self, worker: int, practice: int, n: int) -> None:
        """A page of ``n`` answers by ``worker``, whose first has practice ``practice``, was just given (called only
        when raters drift)."""
        self._row_drift.extend(self._drift_prefix(worker, practice + n)[practice : practice + n])

    def draw(self, everything: AnswerTimeline | None = None, situation: Situation | None = None) -> None:
        """Draw the labels of every page given and not drawn yet; ``everything`` (with its ``situation``) is the
        timeline of all pages, which the end of a run has anyway: when nothing was drawn before, it is the batch."""
        run, store = self.run, self.run.store
        if self.pages == store.n_pages:
            return
        if everything is not None and situation is not None and self.pages == 0:
            timeline = everything
        else:
            timeline = AnswerTimeline.from_store(store, self.pages, store.n_pages, self.rows)
            situation = run.situation(timeline, self.rows)
        probabilities = label_probabilities(situation)
        labels = sample_labels(probabilities, self._uniforms.take(timeline.worker, timeline.practice))
        rows = np.arange(labels.shape[0])
        items = run.items
        truths = [items.true_label] if items.version_label is None else [items.version_label[0], items.version_label[1]]
        p_correct = [probabilities[rows, truth[timeline.item]] for truth in truths]
        if run.colluding:
            labels = self._copy(timeline, labels, p_correct, truths)
        self._labels.append(labels)
        for kept, p in zip(self._p_correct, p_correct, strict=False):
            kept.append(p)
        if store.subscribers:
            store.label.extend(labels.tolist())
        self.pages, self.rows = store.n_pages, self.rows + labels.shape[0]

    def _copy(
        self, timeline: AnswerTimeline, labels: np.ndarray, p_correct: list[np.ndarray], truths: list[np.ndarray]
    ) -> np.ndarray:
        """Colluders copy their group's first answer to the item with the configured probability."""
        run = self.run
        leader = np.asarray(run.store.leader_row[self.rows : self.rows + labels.shape[0]], dtype=np.int64)
        follows = leader >= 0
        copy_draws = np.ones(labels.shape[0])  # only answers with a leader read (and so draw) their copy draw
        copy_draws[follows] = self._copies.take(timeline.worker[follows], timeline.practice[follows])
        leader_label = np.full(labels.shape[0], -1, dtype=np.int64)
        in_batch = follows & (leader >= self.rows)
        leader_label[in_batch] = labels[leader[in_batch] - self.rows]  # a leader never copies: its own label
        before = np.flatnonzero(follows & ~in_batch)
        if before.size:  # leaders drawn in earlier batches (colluders make the campaign react: the store has them)
            leader_label[before] = [run.store.label[row] for row in leader[before].tolist()]
        kappa = run.population.collusion_copy_probability
        for p, truth in zip(p_correct, truths, strict=True):
            p[:] = copied_p_correct(p, leader_label, truth[timeline.item], kappa)
        self._copied.append(leader_label)
        return copy_leaders(labels, leader_label, copy_draws, kappa)

    def _drift_prefix(self, worker: int, needed: int) -> list[float]:
        """Rater ``worker``'s drift before each of its first ``needed`` answers (at least), grown by doubling."""
        prefix = self._drift.get(worker)
        if prefix is None or len(prefix) < needed:
            run = self.run
            size = max(needed, 2 * len(prefix or ()), 1024)
            prefix = self._drift[worker] = drift_walk(run.population, run.seed, run.replicate, worker, size).tolist()
        return prefix

    def drift(self, timeline: AnswerTimeline, first_row: int | None = None) -> np.ndarray | None:
        """Each answer's ability drift (logits): the sum of its rater's drift steps before it; None when off.
        ``first_row``: the timeline's rows start there in a run whose pages recorded their drift when given."""
        run = self.run
        if run.population.drift_sd == 0:
            return None
        if first_row is not None:
            return np.array(self._row_drift[first_row : first_row + timeline.item.shape[0]])
        offsets = np.empty(timeline.worker.shape[0])
        order = np.argsort(timeline.worker, kind="stable")
        counts = np.bincount(timeline.worker)
        start = 0
        for j in np.flatnonzero(counts).tolist():
            rows = order[start : start + counts[j]]
            start += counts[j]
            prefix = self._drift_prefix(j, int(timeline.practice[rows].max()) + 1)
            offsets[rows] = np.asarray(prefix)[timeline.practice[rows]]
        return offsets

    def labels(self, revised: bool) -> tuple[np.ndarray, np.ndarray]:
        """Every answer's label and P(correct) under the definitions in force at the end."""
        p_correct = self._p_correct[1] if revised else self._p_correct[0]
        if not self._labels:
            return np.empty(0, dtype=np.int64), np.empty(0)
        return np.concatenate(self._labels), np.concatenate(p_correct)

    def leader_labels(self, labels: np.ndarray) -> np.ndarray:
        """Per answer, the label of the colluding group's first answer it could copy (-1 if none)."""
        return np.concatenate(self._copied) if self._copied else np.full(labels.shape[0], -1)


def rater(env: simpy.Environment, worker: int, run: CampaignRun) -> Generator[simpy.Event, Any, None]:
    """One rater's working life: arrive, qualify, train (paid), then sessions of pages separated by breaks, with
    calibration sessions when due; leave when the shift is over, it quits, is blocked, or no work is left."""
    population = run.population
    if run.arrival_seconds[worker] > 0:
        yield env.timeout(run.arrival_seconds[worker])
    if run.policy.complete:
        return run.leave(worker, "no_work", env.now)
    state = run.new_rater_state(worker)
    run.start_work(worker, env.now, state)
    if run.qualification is not None:
        test = run.qualify(worker, env.now, state)
        if isinstance(test, Outcome):
            return run.leave(worker, test.value, env.now)
        end, passed = test
        yield env.timeout(end - env.now)
        if not passed:
            return run.leave(worker, "failed_qualification", env.now)
    if run.campaign.training_minutes > 0:
        if not run.train(worker, state):
            return run.leave(worker, "budget", env.now)
        yield env.timeout(run.campaign.training_minutes * 60.0)
    run.start_work(worker, env.now, state)
    session_seconds = population.session_minutes * 60.0
    break_seconds = population.break_minutes * 60.0
    request, calibration, timeout = run.request_page, run.calibration, env.timeout
    for _session in range(int(run.raters.sessions[worker])):
        session_end = env.now + session_seconds
        while env.now < session_end:
            outcome = request(worker, env.now, state)
            if isinstance(outcome, float):
                yield timeout(outcome - env.now)
            elif outcome is Outcome.WAIT:
                yield run.wait_for_work(env) | timeout(session_end - env.now)
                continue
            else:
                assert isinstance(outcome, Outcome)
                return run.leave(worker, outcome.value, env.now)
            if calibration is not None and run.calibration_due(env.now, state):
                seconds = run.calibrate(worker, state)
                if seconds:
                    yield timeout(seconds)
                run.calibrated(env.now, state)
        yield env.timeout(break_seconds)
        state.time_on_task = recovered_time_on_task(state.time_on_task, break_seconds, population)
    run.leave(worker, "quit" if run.raters.quits[worker] else "shift_over", env.now)


def guideline_revision(
    env: simpy.Environment, run: CampaignRun, at_seconds: float
) -> Generator[simpy.Event, Any, None]:
    """The guidelines change at ``at_seconds``: raters learn the new version from training or calibration."""
    yield env.timeout(at_seconds)
    run.revise_guidelines()


def interactive_terminal() -> bool:
    """Whether progress bars should show by default: stderr is a terminal and ``CI`` is not set."""
    return sys.stderr.isatty() and not os.environ.get("CI")


# answers simulated under a paused collector since its last full collection (see cyclic_gc_paused)
_uncollected_answers = [0]
COLLECT_AFTER_ANSWERS = 200_000


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a campaign runs. The loop allocates small containers at a high
    rate and keeps large, long-lived ones (the store's columns, the policy's per-item state), so each full collection
    walks them all for no garbage: about a tenth of an adaptive campaign's time. Reference counting frees nearly
    everything as it goes. What it cannot free is a finished run once its tables are dropped (the run, its policy
    and its rater processes refer to each other), so once runs of :data:`COLLECT_AFTER_ANSWERS` answers in all have
    run paused, the next one starts with a full collection (about 70 ms on a loaded process; a run that size takes
    seconds): runs in one process, as in a sweep or a benchmark, do not pile up."""
    if not gc.isenabled():
        yield
        return
    if _uncollected_answers[0] >= COLLECT_AFTER_ANSWERS:
        gc.collect()
        _uncollected_answers[0] = 0
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def simulate(
    task: TaskDesign | None = None,
    raters: RaterPopulation | None = None,
    campaign: Campaign | None = None,
    seed: int = 0,
    replicate: int = 0,
    progress: bool | None = None,
    assignment: AssignmentPolicy | None = None,
    quality: Sequence[QualityControl] = (),
    draw: DrawMode = "auto",
    features: FeatureSource | None = None,
) -> CampaignResult:
    """Run one campaign and return its tables. Same arguments, bit-identical tables.

    ``assignment``: the assignment policy (default fixed redundancy at ``campaign.redundancy``); ``quality``: quality
    control and rater lifecycle options (:mod:`strategies.quality`). Neither object is changed: each run works on
    its own copy. ``draw``: when labels are drawn; ``auto`` draws each page's labels as it is given only when
    something reacts to them (``as_given`` forces it, ``at_end`` refuses a campaign that needs them). ``progress``:
    a progress bar of answers (default: only on an interactive terminal, never when ``CI`` is set). ``features``:
    where the items' features come from (:mod:`sim.features`; a data set also sets the items' labels and
    difficulty), for a downstream model and the noisy-label detectors; None: items without features.
    """
    with cyclic_gc_paused():
        result = _run(task, raters, campaign, seed, replicate, progress, assignment, quality, draw, features)
    _uncollected_answers[0] += result.ledger["n_answers"]
    return result


def _run(
    task: TaskDesign | None,
    raters: RaterPopulation | None,
    campaign: Campaign | None,
    seed: int,
    replicate: int,
    progress: bool | None,
    assignment: AssignmentPolicy | None,
    quality: Sequence[QualityControl],
    draw: DrawMode,
    features: FeatureSource | None,
) -> CampaignResult:
    run = CampaignRun(
        task or TaskDesign(), raters or RaterPopulation(), campaign or Campaign(), seed, replicate, assignment,
        quality, draw, features,
    )  # fmt: skip
    env = simpy.Environment()
    run.env = env
    run.finished = env.event()
    for worker in range(run.population.n_raters):
        env.process(rater(env, worker, run))
    if run.design.revision_hours is not None:
        env.process(guideline_revision(env, run, run.design.revision_hours * 3600.0))
    if progress is None:
        progress = interactive_terminal()
    with tqdm(total=run.policy.expected_answers(), unit="answer", disable=not progress, leave=False) as bar:
        run.progress = bar if progress else None
        stop: simpy.Event = run.finished
        if not math.isinf(run.horizon_seconds):
            stop = env.any_of([run.finished, env.timeout(run.horizon_seconds)])
        env.run(until=stop)
    return run.result(env.now)
