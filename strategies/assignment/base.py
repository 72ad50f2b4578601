"""The assignment-policy contract: which items a free rater gets next.

The campaign engine calls :meth:`AssignmentPolicy.assign` each time a rater is free and asks for a page of up to ``n``
items; the policy answers with item ids the rater has never been given, or an empty list when it has nothing for
that rater.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class AssignmentPolicy(ABC):
    """Hands out items to raters; one instance per campaign run (it holds the run's state).

    Subclasses are built as ``Policy(n_items, n_raters, redundancy)``.
    """

    @abstractmethod
    def __init__(self, n_items: int, n_raters: int, redundancy: int) -> None: ...

    @abstractmethod
    def assign(self, rater: int, n: int) -> list[int]:
        """Up to ``n`` item ids for ``rater``, none of which the rater was given before."""

    @property
    @abstractmethod
    def complete(self) -> bool:
        """True once every item has all the answers the policy wants."""

    @abstractmethod
    def answers_assigned(self) -> np.ndarray:
        """Answers handed out so far, per item."""
