"""The quality-control contract, and the two rater-lifecycle steps the engine runs itself (qualification and
calibration).

A quality-control option is a dataclass of settings. The campaign works on its own copy: :meth:`QualityControl.start`
binds it to the run, and an option whose ``needs_labels`` is True subscribes to the run's answer store
(:mod:`sim.store`): it is told of every answer when it becomes visible (``observe``) and may block the rater
(``run.block(worker, at, drop_answers)``). Options combine:
``simulate(..., quality=[Qualification(), GoldBlocking()])``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from sim.validation import ConfigError, check_float, check_int, check_probability

if TYPE_CHECKING:
    from sim.campaign import Campaign, CampaignRun
    from sim.raters import RaterPopulation
    from sim.store import AnswerStore, Rows
    from sim.tasks import TaskDesign


class QualityControl:
    """Base of the quality-control options; the hooks do nothing unless an option overrides them."""

    #: True if the option reads answers while the campaign runs (so that labels are drawn as pages are given)
    needs_labels: ClassVar[bool] = False
    #: the option's name in ``conf/quality/`` (and in error messages)
    key: ClassVar[str] = "quality"

    def validate(self, design: TaskDesign, population: RaterPopulation, campaign: Campaign) -> None:
        """Raise :class:`sim.validation.ConfigError`, naming the key, for settings this design cannot run."""

    def start(self, run: CampaignRun) -> None:
        """Bind to one campaign run (build per-run state)."""

    def observe(self, store: AnswerStore, rows: Rows) -> None:
        """Answers in ``rows`` just became visible."""

    def discard(self, store: AnswerStore, rows: Rows, visible: bool) -> None:
        """Answers in ``rows`` no longer count."""


@dataclass
class Qualification(QualityControl):
    """A qualification test before any work: ``n_questions`` gold questions (the first of the rater's own order
    through the gold pool), passed with a share of right answers of at least ``pass_mark``; raters who fail leave.

    ``paid``: the test's answers are paid at ``campaign.pay_per_answer`` (ledger category ``qualification``).
    Platforms use such tests routinely (Toloka's exams pass at a skill of 80; Le et al., "Ensuring quality in
    crowdsourced search relevance evaluation: the effects of training question distribution", SIGIR 2010 workshop
    on crowdsourcing for search evaluation, screen every task with gold questions). With ``n`` questions a rater of
    accuracy ``p`` passes with probability ``P(Binomial(n, p) >= ceil(pass_mark n))``.
    """

    n_questions: int = 10
    pass_mark: float = 0.7
    paid: bool = True

    key: ClassVar[str] = "quality.qualification"
    needs_labels: ClassVar[bool] = True

    def validate(self, design: TaskDesign, population: RaterPopulation, campaign: Campaign) -> None:
        self.n_questions = check_int(f"{self.key}.n_questions", self.n_questions, 1)
        check_probability(f"{self.key}.pass_mark", self.pass_mark)
        if not isinstance(self.paid, bool):
            raise ConfigError(f"{self.key}.paid must be true or false, got {self.paid!r}")
        if design.n_gold < self.n_questions:
            raise ConfigError(
                f"{self.key}.n_questions = {self.n_questions} needs that many gold items, but task.n_gold = "
                f"{design.n_gold}; accepted values: task.n_gold >= {self.n_questions}"
            )


@dataclass
class Calibration(QualityControl):
    """Periodic calibration and feedback sessions: every ``every_answers`` answers or ``every_hours`` hours of a
    rater's work (whichever comes first; None turns a trigger off), a session of ``minutes`` paid at
    ``campaign.hourly_wage`` (ledger category ``calibration``). Each session

    * raises the rater's ability by closing a share ``ability_gain / ability_ceiling`` of the gap to
      ``ability_ceiling`` logits (so the first session gives ``ability_gain``, later ones less);
    * replaces a further share ``bias_shrink`` of the rater's label bias by the uniform distribution;
    * teaches the revised guidelines, if they changed (see :mod:`sim.tasks`).

    Defaults: training raises crowd workers' accuracy by up to 5 percentage points (Gadiraju, Fetahu & Kawase,
    "Training Workers for Improving Performance in Crowdsourcing Microtasks", EC-TEL 2015), which is +0.25 logits at
    75% accuracy: the first session gives 0.2 logits and sessions add at most 0.5 in all. Feedback and
    self-assessment improve work over time (Dow, Kulkarni, Klemmer & Hartmann, "Shepherding the crowd yields better
    work", CSCW 2012). No source gives a number for the bias; 0.25 per session is this project's assumption.
    A session lasts ``minutes`` and is skipped when the budget cannot pay it. ``max_sessions`` caps them (None: no
    cap).
    """

    every_answers: int | None = 200
    every_hours: float | None = None
    minutes: float = 10.0
    ability_gain: float = 0.2
    ability_ceiling: float = 0.5
    bias_shrink: float = 0.25
    max_sessions: int | None = None

    key: ClassVar[str] = "quality.calibration"

    def validate(self, design: TaskDesign, population: RaterPopulation, campaign: Campaign) -> None:
        if self.every_answers is None and self.every_hours is None:
            raise ConfigError(f"{self.key} needs every_answers or every_hours (or both); both are null")
        if self.every_answers is not None:
            self.every_answers = check_int(f"{self.key}.every_answers", self.every_answers, 1)
        if self.every_hours is not None:
            check_float(f"{self.key}.every_hours", self.every_hours, 0.0, low_open=True)
        check_float(f"{self.key}.minutes", self.minutes, 0.0, low_open=True)
        check_float(f"{self.key}.ability_ceiling", self.ability_ceiling, 0.0)
        check_float(f"{self.key}.ability_gain", self.ability_gain, 0.0, self.ability_ceiling)
        check_probability(f"{self.key}.bias_shrink", self.bias_shrink)
        if self.max_sessions is not None:
            self.max_sessions = check_int(f"{self.key}.max_sessions", self.max_sessions, 0)

    def ability_after(self, offset: float) -> float:
        """The ability offset after one more session."""
        if self.ability_ceiling == 0:
            return offset
        share = self.ability_gain / self.ability_ceiling
        return offset + share * (self.ability_ceiling - offset)
