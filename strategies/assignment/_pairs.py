r"""The shared core of the pair policies of a pairwise task: which pairs of responses raters compare.

A pairwise task (``task.kind=pairwise``, :mod:`sim.kinds`) has a pool of candidate pairs, the engine's tasks. A
pair policy hands out ``comparisons_per_item * n_items / 2`` comparisons in all (each response takes part in
``comparisons_per_item`` of them on average), a pair at most ``max_per_pair`` times and never twice to one rater,
in the order its :meth:`PairPolicy.order` gives, taken in batches of ``batch`` comparisons. Between batches the
adaptive policies refit their current scores on the comparisons visible by then: a Bradley-Terry posterior mode
with a Normal(0, ``prior_sd``\ :sup:`2`) prior on each log-strength, found by damped diagonal Newton steps from the
previous scores (warm starts: a few steps suffice), and its Laplace variances :math:`\sigma_i^2 = 1 /
(\sum_j n_{ij} p_{ij} (1 - p_{ij}) + 1/\text{prior\_sd}^2)`. Ties count half a win for each side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from scipy.special import expit

from sim.kinds import n_pool_pairs
from sim.streams import stream
from sim.validation import ConfigError, check_float, check_int
from strategies.assignment.base import Assignment, AssignmentPolicy

if TYPE_CHECKING:
    from sim.campaign import Campaign, CampaignRun
    from sim.raters import RaterPopulation
    from sim.store import AnswerStore, Rows
    from sim.tasks import TaskDesign


def bradley_terry_mode(
    left: np.ndarray, right: np.ndarray, wins: np.ndarray, n_items: int, start: np.ndarray, prior_sd: float,
    steps: int = 10,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Posterior mode of Bradley-Terry log-strengths (Normal(0, prior_sd^2) prior) and their Laplace variances.

    ``wins[p]`` holds the wins of ``left[p]`` and of ``right[p]`` over each other (an (n_pairs, 2) array). Damped
    diagonal Newton steps from ``start``; each step is a few ``np.bincount`` passes over the pairs.
    """
    theta = start.astype(np.float64, copy=True)
    games = wins.sum(axis=1)
    precision = 1.0 / prior_sd**2
    asked = games > 0
    left, right, wins, games = left[asked], right[asked], wins[asked], games[asked]
    for _ in range(steps):
        p = expit(theta[left] - theta[right])
        residual = wins[:, 0] - games * p  # d log-likelihood / d theta_left
        gradient = np.bincount(left, residual, n_items) - np.bincount(right, residual, n_items) - precision * theta
        information = games * p * (1.0 - p)
        curvature = np.bincount(left, information, n_items) + np.bincount(right, information, n_items) + precision
        step = gradient / curvature
        theta += np.clip(step, -1.0, 1.0)  # damped: a diagonal step can overshoot where neighbours move too
        if np.abs(step).max() < 1e-6:
            break
    p = expit(theta[left] - theta[right])
    information = games * p * (1.0 - p)
    curvature = np.bincount(left, information, n_items) + np.bincount(right, information, n_items) + precision
    return theta, 1.0 / curvature


@dataclass
class PairPolicy(AssignmentPolicy):
    """Hands out comparisons of pairs from the pool in the order of :meth:`order` (see the module docstring).

    ``comparisons_per_item``: comparisons each response takes part in, on average; ``max_per_pair``: answers one pair
    may get (from different raters); ``batch``: comparisons handed out between two refits of the current scores
    (None: half the number of responses, so each response is compared about once per batch); ``prior_sd``: the
    score prior of the refits (logits).
    """

    comparisons_per_item: float = 10.0
    max_per_pair: int = 1
    batch: int | None = None
    prior_sd: float = 2.0

    #: True when :meth:`order` reads the current scores (then the policy reads labels and refits)
    needs_labels: ClassVar[bool] = False
    #: the option's name in conf/assignment/
    name: ClassVar[str] = "random_pairs"

    _left: np.ndarray = field(init=False, repr=False)
    _right: np.ndarray = field(init=False, repr=False)
    _n_items: int = field(init=False, repr=False, default=0)
    _target: int = field(init=False, repr=False, default=0)
    _assigned: int = field(init=False, repr=False, default=0)
    _asked: list[int] = field(init=False, repr=False)
    _given: dict[int, set[int]] = field(init=False, repr=False)
    _queue: list[int] = field(init=False, repr=False)  # the pairs to hand out next, from _cursor on
    _cursor: int = field(init=False, repr=False, default=0)
    _wins: np.ndarray = field(init=False, repr=False)
    _scores: np.ndarray = field(init=False, repr=False)
    _variances: np.ndarray = field(init=False, repr=False)
    _seen_since_refit: int = field(init=False, repr=False, default=0)
    _rng: np.random.Generator = field(init=False, repr=False)
    refits: int = field(init=False, repr=False, default=0)

    def validate(self, design: TaskDesign, population: RaterPopulation, campaign: Campaign) -> None:
        if design.kind != "pairwise":
            raise ConfigError(
                f"assignment={self.name} chooses pairs of responses, and task.kind = {design.kind}; accepted values: "
                "task.kind=pairwise, or an assignment for labels (fixed, best_of, delta_margin, posterior, "
                "uncertainty, relabel)"
            )
        check_float("assignment.comparisons_per_item", self.comparisons_per_item, 0.0, low_open=True)
        check_int("assignment.max_per_pair", self.max_per_pair, 1, population.n_raters)
        if self.batch is not None:
            check_int("assignment.batch", self.batch, 1)
        check_float("assignment.prior_sd", self.prior_sd, 0.0, low_open=True)
        target, pairs = round(self.comparisons_per_item * design.n_items / 2), n_pool_pairs(design)
        if target > pairs * self.max_per_pair:
            raise ConfigError(
                f"assignment.comparisons_per_item = {self.comparisons_per_item:g} asks for {target} comparisons, and "
                f"the pool of {pairs} pairs allows {pairs * self.max_per_pair} (assignment.max_per_pair = "
                f"{self.max_per_pair}); accepted values: assignment.comparisons_per_item <= "
                f"{2 * pairs * self.max_per_pair / design.n_items:g}, "
                + ("a larger task.candidate_pairs, " if design.n_items - 1 > design.candidate_pairs else "")
                + "or a larger assignment.max_per_pair"
            )

    def start(self, run: CampaignRun) -> None:
        responses = run.responses
        assert responses is not None
        pairs = responses.n_regular_pairs
        self._left, self._right = responses.left[:pairs], responses.right[:pairs]
        self._n_items = n = responses.n_responses
        self._target = round(self.comparisons_per_item * n / 2)
        self.batch = max(1, n // 2) if self.batch is None else self.batch
        self._assigned = 0
        self._asked = [0] * pairs
        self._given = {}
        self._wins = np.zeros((pairs, 2))
        self._scores, self._variances = np.zeros(n), np.full(n, self.prior_sd**2)
        self._seen_since_refit = 0
        self._rng = stream(run.seed, run.replicate, "assignment")
        self._queue, self._cursor = [], 0

    # -- what a subclass decides --------------------------------------------------------------------------------

    def order(self, open_pairs: np.ndarray) -> np.ndarray:
        """The next batch: pairs of ``open_pairs`` (those that may still be asked) in the order to hand them out."""
        return self._rng.permutation(open_pairs)

    # -- the contract -------------------------------------------------------------------------------------------

    def _refill(self) -> None:
        self._queue, self._cursor = self._fresh_pairs(set()), 0

    def assign(self, rater: int, n: int, affordable: float) -> Assignment:
        n = int(min(n, self._target - self._assigned, affordable))
        if n <= 0:
            return []
        if self._cursor >= len(self._queue):
            self._refill()
        queue, cursor, asked = self._queue, self._cursor, self._asked
        chunk = queue[cursor : cursor + n]
        if self.max_per_pair == 1 and len(chunk) == n:  # each pair once: no rater can be given one twice
            self._cursor = cursor + n
            for pair in chunk:
                asked[pair] += 1
            self._assigned += n
            return chunk
        given = self._given.setdefault(rater, set())
        if len(chunk) == n and given.isdisjoint(chunk):  # the common case: the next pairs, none seen by this rater
            # a pair is queued once per refill, when it could still be asked: these may all be taken
            self._cursor = cursor + n
            for pair in chunk:
                asked[pair] += 1
            given.update(chunk)
            self._assigned += n
            return chunk
        return self._assign_slowly(given, n)

    def _assign_slowly(self, given: set[int], n: int) -> list[int]:
        """Take the next pairs this rater has not seen (they stay in the queue for others), refilling once."""
        taken: list[int] = []
        skipped: list[int] = []
        refilled = False
        asked, limit = self._asked, self.max_per_pair
        while len(taken) < n:
            if self._cursor >= len(self._queue):
                if refilled:
                    break
                # a new order, after what this rater skipped (those stay first for the others)
                self._queue = skipped + self._fresh_pairs(set(skipped))
                self._cursor, skipped = 0, []
                refilled = True
                continue
            pair = self._queue[self._cursor]
            self._cursor += 1
            if asked[pair] >= limit:
                continue
            if pair in given:
                skipped.append(pair)
                continue
            taken.append(pair)
            asked[pair] += 1
            given.add(pair)
        if skipped:  # back in front of the queue, in order
            self._cursor -= len(skipped)
            self._queue[self._cursor : self._cursor + len(skipped)] = skipped
        self._assigned += len(taken)
        return taken

    def _fresh_pairs(self, queued: set[int]) -> list[int]:
        """The pairs that may still be asked, in :meth:`order`, but for those in ``queued``."""
        open_pairs = np.flatnonzero(np.asarray(self._asked) < self.max_per_pair)
        if not open_pairs.size:
            return []
        ordered = self.order(open_pairs).tolist()
        return [pair for pair in ordered if pair not in queued] if queued else ordered

    def observe(self, store: AnswerStore, rows: Rows) -> None:
        if not self.needs_labels:
            return
        self._count(store, rows, 1.0)
        self._seen_since_refit += len(rows)
        if self._seen_since_refit >= (self.batch or 1):
            self._refit()

    def discard(self, store: AnswerStore, rows: Rows, visible: bool) -> None:
        """Answers that stop counting (quality control dropped their rater) are bought again: their pairs may be
        asked once more (of other raters), and the comparison target counts them no longer."""
        if self.needs_labels and visible:
            self._count(store, rows, -1.0)
        n_pairs, asked = len(self._asked), self._asked
        for row in rows:
            pair = store.item[row]
            if pair < n_pairs:  # not a gold pair
                asked[pair] -= 1
                self._assigned -= 1
        self._cursor = len(self._queue)  # the next request builds a queue that holds the reopened pairs

    def _count(self, store: AnswerStore, rows: Rows, sign: float) -> None:
        n_pairs, wins = len(self._asked), self._wins
        item, label = store.item, store.label
        for row in rows:
            pair = item[row]
            if pair < n_pairs:  # not a gold pair
                choice = label[row]
                if choice < 2:
                    wins[pair, choice] += sign
                else:  # a tie: half a win each
                    wins[pair] += 0.5 * sign

    def _refit(self) -> None:
        self._scores, self._variances = bradley_terry_mode(
            self._left, self._right, self._wins, self._n_items, self._scores, self.prior_sd
        )
        self._seen_since_refit = 0
        self.refits += 1
        self._queue, self._cursor = [], 0  # the next pages follow the new scores

    def release(self, rater: int, items: list[int]) -> None:
        for pair in items:  # the horizon cut them: they may go to someone else
            self._asked[pair] -= 1
            self._given.get(rater, set()).discard(pair)
        self._assigned -= len(items)

    @property
    def complete(self) -> bool:
        return self._assigned >= self._target

    def items_done(self) -> np.ndarray:
        """A pair is done once it has been asked (the stopping rule is the total number of comparisons)."""
        return np.asarray(self._asked) > 0

    def answers_assigned(self) -> np.ndarray:
        return np.asarray(self._asked)

    def expected_answers(self) -> int:
        return self._target

    def batch_of(self, open_pairs: np.ndarray, priority: np.ndarray) -> np.ndarray:
        """``open_pairs`` in the order to hand them out: first a batch of ``batch`` high-``priority`` pairs, each
        response in at most ``ceil(2 batch / n) + 1`` of them (so that one batch does not spend itself on one
        uncertain response), greedy in priority order; then every other open pair by priority, so that raters never
        run out of pairs before the next refit."""
        batch = self.batch or 1
        cap = math.ceil(2 * batch / self._n_items) + 1
        ranked = open_pairs[np.argsort(-priority, kind="stable")]
        chosen: list[int] = []
        count = [0] * self._n_items
        left, right = self._left, self._right
        for pair in ranked[: 20 * batch].tolist():
            a, b = int(left[pair]), int(right[pair])
            if count[a] < cap and count[b] < cap:
                chosen.append(pair)
                count[a] += 1
                count[b] += 1
                if len(chosen) == batch:
                    break
        first = np.asarray(chosen, dtype=np.int64)
        return np.concatenate([first, ranked[~np.isin(ranked, first)]])
