"""The assignment-policy contract: which items a free rater gets next, and when an item is done.

A policy's fields are its settings (as in scikit-learn); :meth:`AssignmentPolicy.start` binds it to one campaign run
and builds its state (the engine works on a copy, so one configured policy can run many replicates). Then the engine
calls, in simulated-time order:

* :meth:`~AssignmentPolicy.assign` each time a rater is free and asks for up to ``n`` items: the policy answers with
  item ids the rater has never been given, :data:`WAIT` (nothing for this rater now, but answers in flight may
  reopen work) or an empty list (nothing left for this rater);
* :meth:`~AssignmentPolicy.observe` when answers become visible (their end time has come), with the rows of the
  run's answer store (:mod:`sim.store`): a policy whose ``needs_labels`` is True reads their labels there and
  decides whether each item is done;
* :meth:`~AssignmentPolicy.discard` when answers stop counting (quality control dropped their rater), and
  :meth:`~AssignmentPolicy.release` when assigned items will not be answered (the time horizon cut the page).

Whether an item is done is the policy's decision (:meth:`~AssignmentPolicy.items_done`); the campaign is complete
when every item is. ``affordable`` (answers the remaining budget can buy, ``inf`` without a budget) lets a policy
spend a tight budget where it helps most.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, Final

import numpy as np

if TYPE_CHECKING:
    from sim.campaign import Campaign, CampaignRun
    from sim.raters import RaterPopulation
    from sim.store import AnswerStore, Rows
    from sim.tasks import TaskDesign


class _Wait:
    """The answer "no work for this rater now, but answers in flight may reopen some"."""

    _instance: _Wait | None = None

    def __new__(cls) -> _Wait:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "WAIT"

    def __reduce__(self) -> str:
        return "WAIT"


WAIT: Final = _Wait()
Assignment = list[int] | _Wait


class AssignmentPolicy(ABC):
    """Hands out items to raters and decides when an item is done; one copy per campaign run holds its state."""

    #: True if the policy reads answer labels (so that the campaign draws them as pages are given)
    needs_labels: ClassVar[bool] = False

    def validate(self, design: TaskDesign, population: RaterPopulation, campaign: Campaign) -> None:  # noqa: B027
        """Raise :class:`sim.validation.ConfigError`, naming the key, for settings this design cannot run."""

    @abstractmethod
    def start(self, run: CampaignRun) -> None:
        """Build the run's state from ``run`` (its design, population and campaign; ``run.online_model`` for an
        online aggregator; a policy that needs randomness takes ``sim.streams.stream(run.seed, run.replicate,
        "assignment")``)."""

    @abstractmethod
    def assign(self, rater: int, n: int, affordable: float) -> Assignment:
        """Up to ``n`` item ids for ``rater``, none of which the rater was given before; or :data:`WAIT`."""

    def observe(self, store: AnswerStore, rows: Rows) -> None:  # noqa: B027
        """Answers in ``rows`` of ``store`` just became visible."""

    def discard(self, store: AnswerStore, rows: Rows, visible: bool) -> None:  # noqa: B027
        """Answers in ``rows`` no longer count (``visible``: they had been observed)."""

    @abstractmethod
    def release(self, rater: int, items: list[int]) -> None:
        """``items`` were assigned to ``rater`` but will not be answered (they would end after the time horizon)."""

    @property
    @abstractmethod
    def complete(self) -> bool:
        """True once every item is done (has reached the policy's stopping rule)."""

    @abstractmethod
    def items_done(self) -> np.ndarray:
        """Boolean per item: the item reached the policy's stopping rule."""

    @abstractmethod
    def answers_assigned(self) -> np.ndarray:
        """Answers handed out so far, per item."""

    def expected_answers(self) -> int:
        """A guess of the answers the campaign will give (for a progress bar)."""
        return 0

    def settings(self) -> dict[str, Any]:
        """The policy's settings (its fields), for tables and logs."""
        return {key: value for key, value in vars(self).items() if not key.startswith("_")}
