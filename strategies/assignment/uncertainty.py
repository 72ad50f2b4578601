"""Uncertainty-driven assignment: a free rater gets the open item with the most to gain from one more answer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from strategies.assignment._sequential import PriorityTopUps
from strategies.assignment.posterior import PosteriorThreshold


def optimistic_gain(posterior: Sequence[float], confusion: Sequence[Sequence[float]]) -> float:
    r"""Optimistic knowledge gradient of one more answer to an item: the largest rise in the probability of its
    most probable label over the answers an average rater could give.

    ``posterior`` is the item's K label probabilities, ``confusion[c][l]`` is P(answer l | true class c). For each
    possible answer :math:`l`, :math:`\pi'_c \propto \pi_c M_{cl}` and the gain is
    :math:`\max_c \pi'_c - \max_c \pi_c`; the optimistic value is the largest gain over :math:`l`. Plain Python:
    it is called for one item at a time, where numpy's per-call cost would dominate.
    """
    best = max(posterior)
    gain = -1.0
    for answer in range(len(posterior)):
        after = [p * row[answer] for p, row in zip(posterior, confusion, strict=True)]
        total = sum(after)
        if total > 0:
            gain = max(gain, max(after) / total - best)
    return gain


@dataclass
class Uncertainty(PosteriorThreshold):
    r"""Give a free rater the open item whose label one more answer could improve most; stop as ``posterior`` does.

    The score is the optimistic knowledge gradient of Chen, Lin and Zhou ("Optimistic Knowledge Gradient Policy for
    Optimal Budget Allocation in Crowdsourcing", ICML 2013): with Beta posteriors of binary items they score an item
    by the largest, over the two possible next labels, rise in the probability of the item's most probable label.
    Here the posterior and the likelihood of the next answer come from the online aggregator (its posterior and
    answer-weighted mean confusion matrix), which extends the rule to K classes and to raters of unequal skill
    (see :func:`optimistic_gain`). Chosen over the lowest posterior margin because it does not spend answers on
    items that one answer cannot move (a hopeless tie among weak raters stays a tie), which is what makes the
    knowledge gradient consistent in their analysis. Under a budget, the first answers of every item still come
    first (see :mod:`strategies.assignment._sequential`).
    """

    key: ClassVar[str] = "assignment"

    _confusion: list[list[float]] | None = field(init=False, repr=False, default=None)
    _confusion_at: int = field(init=False, repr=False, default=-1)

    def top_up_queue(self, n_items: int) -> Any:
        return PriorityTopUps(n_items)

    def priority(self, item: int) -> float:
        if self._confusion is None or self._confusion_at != self._model.refits:  # changes only at refits
            self._confusion, self._confusion_at = self._model.mean_confusion().tolist(), self._model.refits
        return optimistic_gain(self._model.posterior(item), self._confusion)
