"""Gold-based blocking: block a rater as soon as its gold answers make low accuracy likely."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from scipy.special import betainc

from sim.validation import ConfigError, check_float, check_int, check_probability
from strategies.quality.base import QualityControl

if TYPE_CHECKING:
    from sim.campaign import Campaign, CampaignRun
    from sim.raters import RaterPopulation
    from sim.store import AnswerStore, Rows
    from sim.tasks import TaskDesign


def probability_below(
    threshold: float, correct: float, wrong: float, prior_correct: float, prior_wrong: float
) -> float:
    """P(accuracy < threshold | gold answers) under the Beta(prior_correct + correct, prior_wrong + wrong) posterior
    (the regularised incomplete beta function, the Beta CDF)."""
    return float(betainc(prior_correct + correct, prior_wrong + wrong, threshold))


@dataclass
class GoldBlocking(QualityControl):
    r"""Block a rater when :math:`P(\text{accuracy} < \text{threshold} \mid \text{gold answers}) > \text{confidence}`.

    A rater's accuracy on gold questions has the conjugate posterior
    :math:`\text{Beta}(\alpha_0 + \text{right}, \beta_0 + \text{wrong})` (prior ``prior_correct``, ``prior_wrong``);
    the rule is checked after each of its gold answers (from ``min_answers`` on), when the answer becomes visible.
    A blocked rater gets no more work; with ``drop_answers`` its answers (given and in flight) stop counting: the
    aggregators do not see them and the assignment policy reopens their items. A qualification test's answers are
    gold answers too and count as evidence, but a rater who failed the test has left and is not blocked as well.

    Defaults follow Toloka's documented control-task rule (block below 60% right after at least 3 control answers;
    Toloka documentation, "Control tasks") with a uniform prior and 95% confidence.
    """

    threshold: float = 0.6
    confidence: float = 0.95
    min_answers: int = 3
    prior_correct: float = 1.0
    prior_wrong: float = 1.0
    drop_answers: bool = False

    key: ClassVar[str] = "quality.gold_blocking"
    needs_labels: ClassVar[bool] = True

    _run: CampaignRun | None = field(init=False, repr=False, default=None)
    _right: list[int] = field(init=False, repr=False, default_factory=list)
    _wrong: list[int] = field(init=False, repr=False, default_factory=list)

    def validate(self, design: TaskDesign, population: RaterPopulation, campaign: Campaign) -> None:
        check_probability(f"{self.key}.threshold", self.threshold)
        check_float(f"{self.key}.confidence", self.confidence, 0.0, 1.0, low_open=True, high_open=True)
        self.min_answers = check_int(f"{self.key}.min_answers", self.min_answers, 1)
        if not isinstance(self.drop_answers, bool):
            raise ConfigError(f"{self.key}.drop_answers must be true or false, got {self.drop_answers!r}")
        check_float(f"{self.key}.prior_correct", self.prior_correct, 0.0, low_open=True)
        check_float(f"{self.key}.prior_wrong", self.prior_wrong, 0.0, low_open=True)
        if design.n_gold < self.min_answers:
            raise ConfigError(
                f"{self.key}.min_answers = {self.min_answers} gold answers can never come from task.n_gold = "
                f"{design.n_gold} gold items (a rater answers each once); accepted values: min_answers <= task.n_gold"
            )
        if design.gold_fraction == 0:
            raise ConfigError(
                f"{self.key} learns from gold answers, but task.gold_fraction is 0; accepted values: "
                "task.gold_fraction in (0, 1], e.g. task.gold_fraction=0.05"
            )

    def start(self, run: CampaignRun) -> None:
        self._run = run
        self._right = [0] * run.population.n_raters
        self._wrong = [0] * run.population.n_raters

    def observe(self, store: AnswerStore, rows: Rows) -> None:
        run = self._run
        assert run is not None
        is_gold = run.is_gold
        for row in rows:
            item = store.item[row]
            if not is_gold[item]:
                continue
            worker = store.worker[row]
            if store.label[row] == run.truth_at(store.t_end[row])[item]:  # the gold label when it was answered
                self._right[worker] += 1
            else:
                self._wrong[worker] += 1
            right, wrong = self._right[worker], self._wrong[worker]
            if right + wrong < self.min_answers or run.record.blocked[worker] or run.turned_away(worker):
                continue
            if probability_below(self.threshold, right, wrong, self.prior_correct, self.prior_wrong) > self.confidence:
                run.block(worker, store.t_end[row], self.drop_answers)
