"""Delta margin: stop an item when its leading label leads the runner-up by delta votes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from sim.validation import check_int
from strategies.assignment._sequential import SequentialPolicy

if TYPE_CHECKING:
    from sim.campaign import Campaign, CampaignRun
    from sim.raters import RaterPopulation
    from sim.tasks import TaskDesign


@dataclass
class DeltaMargin(SequentialPolicy):
    r"""Stop an item when the leading label has ``delta`` more votes than the runner-up, or at ``max_answers``.

    Each item starts with ``delta`` answers; then it gets ``delta`` minus the current lead more (one answer raises
    the lead by at most one, so the rule cannot stop it sooner). This is the stopping rule of Abraham, Alonso,
    Kandylas and Slivkins ("Adaptive Crowdsourcing Algorithms for the Bandit Survey Problem", COLT 2013) with a
    constant margin.

    Closed form (binary labels, raters right with constant probability :math:`p`, :math:`q = 1 - p`, no cap): the
    lead of the true label is a random walk on the integers that steps :math:`+1` with probability :math:`p` and
    :math:`-1` with :math:`q`, starting at 0 and absorbed at :math:`\pm\delta`. Gambler's ruin (Feller, *An
    Introduction to Probability Theory and Its Applications* I, ch. XIV) with start :math:`\delta` between barriers
    0 and :math:`2\delta` and :math:`r = q/p` gives

    .. math::
        P(\text{right}) = \frac{1 - r^{\delta}}{1 - r^{2\delta}} = \frac{p^\delta}{p^\delta + q^\delta},
        \qquad
        E[\text{answers}] = \frac{\delta}{p - q}\,\frac{p^\delta - q^\delta}{p^\delta + q^\delta}
        \quad (\delta^2 \text{ at } p = 1/2).

    The second follows from :math:`D_k = \frac{k}{q-p} - \frac{N}{q-p}\frac{1 - r^k}{1 - r^N}`, the expected
    duration from :math:`k` with barriers 0 and :math:`N`, at :math:`k = \delta, N = 2\delta`. With a cap the walk
    is stopped at ``max_answers`` and the leader wins (ties to the lowest label); :func:`capped_walk` computes that
    case exactly.
    """

    delta: int = 2
    max_answers: int = 15

    key: ClassVar[str] = "assignment"

    def validate(self, design: TaskDesign, population: RaterPopulation, campaign: Campaign) -> None:
        self.delta = check_int(f"{self.key}.delta", self.delta, 1)
        self.check_cap(self.max_answers, population, self.delta, f"delta = {self.delta}")
        self.max_answers = int(self.max_answers)

    def start(self, run: CampaignRun) -> None:
        self.first_answers, self.cap = self.delta, self.max_answers
        super().start(run)

    def needed(self, item: int) -> int:
        k = self._n_classes
        if k == 2:
            lead = abs(self._votes[2 * item] - self._votes[2 * item + 1])
        else:
            votes = self._votes[item * k : item * k + k]
            votes.sort()
            lead = votes[-1] - votes[-2]
        return self.delta - lead if lead < self.delta else 0


def gamblers_ruin(p: float, delta: int) -> tuple[float, float]:
    """(P(right), E[answers]) of the uncapped delta-margin rule on binary raters of accuracy ``p``."""
    q = 1.0 - p
    right = p**delta / (p**delta + q**delta)
    if abs(p - q) < 1e-12:
        return right, float(delta * delta)
    return right, delta / (p - q) * (p**delta - q**delta) / (p**delta + q**delta)


def capped_walk(p: float, delta: int, max_answers: int) -> tuple[float, float]:
    """(P(right), E[answers]) of the delta-margin rule capped at ``max_answers`` on binary raters of accuracy ``p``,
    by dynamic programming over the lead; at the cap the leader wins and a tie is a coin flip (half credit: the
    lowest label is the true one half of the time when classes are balanced)."""
    q = 1.0 - p
    lead = {0: 1.0}  # distribution of the true label's lead among walks still running
    right = expected = 0.0
    for t in range(1, max_answers + 1):
        moved: dict[int, float] = {}
        for value, mass in lead.items():
            for step, chance in ((1, p), (-1, q)):
                moved[value + step] = moved.get(value + step, 0.0) + mass * chance
        lead = {}
        for value, mass in moved.items():
            if abs(value) >= delta:
                right += mass if value > 0 else 0.0
                expected += t * mass
            else:
                lead[value] = mass
    for value, mass in lead.items():  # stopped by the cap
        right += mass * (1.0 if value > 0 else 0.5 if value == 0 else 0.0)
        expected += max_answers * mass
    return right, expected
