"""Best of n: stop an item as soon as one label has a majority of the n answers it could get, or at n answers."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from sim.validation import ConfigError, check_int
from strategies.assignment._sequential import SequentialPolicy

if TYPE_CHECKING:
    from sim.campaign import Campaign, CampaignRun
    from sim.raters import RaterPopulation
    from sim.tasks import TaskDesign


@dataclass
class BestOf(SequentialPolicy):
    r"""Best of ``n``: an item is done when one label has :math:`m = \lfloor n/2 \rfloor + 1` votes, or at ``n``.

    Each item starts with :math:`m` answers; while none has :math:`m` votes it gets the fewest more that could
    give one :math:`m` (:math:`m` minus the leader's votes), at most up to ``n``. ``n = 3`` is "ask two, add a third
    on disagreement" (Sheng, Provost & Ipeirotis, "Get another label?", KDD 2008, on repeated labeling). With
    binary raters of constant accuracy :math:`p` (:math:`q = 1 - p`) the label is the majority of ``n`` answers,
    so its accuracy is :math:`P(\mathrm{Binomial}(n, p) \ge m)` (for ``n = 3``: :math:`p^2(3 - 2p)`), at
    :math:`E[\text{answers}] = \sum_{t=m}^{n} t\,[\binom{t-1}{m-1}(p^m q^{t-m} + q^m p^{t-m})]` for odd ``n``
    (for ``n = 3``: :math:`2 + 2pq`): the item stops at the :math:`t`-th answer when it gives one label its
    :math:`m`-th vote.
    """

    n: int = 3

    key: ClassVar[str] = "assignment"

    def validate(self, design: TaskDesign, population: RaterPopulation, campaign: Campaign) -> None:
        self.n = check_int(f"{self.key}.n", self.n, 1)
        if self.n > population.n_raters:
            raise ConfigError(
                f"{self.key}.n = {self.n} exceeds the rater pool: it must be at most raters.n_raters = "
                f"{population.n_raters} (no rater labels an item twice)"
            )

    @property
    def majority(self) -> int:
        return self.n // 2 + 1

    def start(self, run: CampaignRun) -> None:
        self.first_answers, self.cap = self.majority, self.n
        super().start(run)

    def needed(self, item: int) -> int:
        k = self._n_classes
        votes = self._votes[item * k : item * k + k]
        top, given = max(votes), sum(votes)
        if top >= self.majority:
            return 0
        return min(self.majority - top, self.n - given)


def best_of_closed_form(p: float, n: int) -> tuple[float, float]:
    r"""(P(right), E[answers]) of best-of-``n`` on binary raters of accuracy ``p``, exactly.

    The item stops at the :math:`t`-th answer when one label gets its :math:`m`-th vote there, with probability
    :math:`\binom{t-1}{m-1}(p^m q^{t-m} + q^m p^{t-m})` for :math:`m \le t \le n`; for even ``n`` the rest stops at
    ``n`` on a tie (half credit: ties go to the lowest label, the true one half of the time with balanced classes).
    """
    q = 1.0 - p
    m = n // 2 + 1
    right = expected = stopped = 0.0
    for t in range(m, n + 1):
        ways = math.comb(t - 1, m - 1)
        wins, losses = ways * p**m * q ** (t - m), ways * q**m * p ** (t - m)
        right += wins
        expected += t * (wins + losses)
        stopped += wins + losses
    tie = 1.0 - stopped
    return right + 0.5 * tie, expected + n * tie
