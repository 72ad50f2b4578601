"""Noisy Bradley-Terry: item scores from pairwise comparisons, with a reliability and a left-right bias per worker."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Self

import numpy as np
import pandas as pd
from scipy.special import expit

from strategies.aggregation._pairwise import (
    COMPARISON_COLUMNS,
    encode_comparisons,
    item_scores,
    maximise,
    phantom_prior,
)
from strategies.aggregation.base import BasePairwiseAggregator, Setting, _codes, check_answers

# Every worker starts as following the model three times in four: the likelihood is flat in a worker's skill
# while all scores are equal, so the start decides how much the first steps trust each worker.
SKILL_START = float(np.log(3.0))


@dataclass
class NoisyBradleyTerry(BasePairwiseAggregator):
    r"""Bradley-Terry with worker skills and biases, crowd-kit's ``NoisyBradleyTerry`` (the NoisyBT model of
    Bugakova, Fedorova, Gusev and Drutsa, "Aggregation of pairwise comparisons with reduction of biases",
    arXiv:1906.03711, 2019), fitted by maximum a posteriori with L-BFGS.

    Each row of ``data`` is one comparison by one worker: columns ``worker``, ``left``, ``right`` and ``label``, the
    winner (equal to ``left`` or to ``right``), as in crowd-kit. Item :math:`i` has a score :math:`s_i`, worker
    :math:`w` a skill :math:`\gamma_w` and a bias :math:`q_w` (all logits). With probability :math:`\sigma(\gamma_w)`
    the worker answers by the Bradley-Terry model, otherwise picks the left item with probability
    :math:`\sigma(q_w)` whatever the items; with :math:`y = +1` when the left item :math:`l` wins over the right
    :math:`r` and :math:`y = -1` when it loses,

    .. math::

        P(y \mid l, r, w) = \sigma(\gamma_w)\, \sigma\big(y (s_l - s_r)\big) + \big(1 - \sigma(\gamma_w)\big)\,
        \sigma(y\, q_w),

    the parametrisation of crowd-kit 1.4.2's ``_compute_log_likelihood``. The maximised objective is the
    log-likelihood plus :func:`~strategies.aggregation._pairwise.phantom_prior` on every logit: for a score,
    ``pseudo_count`` :math:`a` virtual wins and losses against a phantom item of score 0 (the prior of our
    :class:`~strategies.aggregation.BradleyTerry`); for a skill or a bias, :math:`a` virtual answers each way. It
    keeps every estimate finite (an item that never loses, a worker who always picks the left item) and pins the
    scores' location, which the likelihood leaves free. crowd-kit's prior is a phantom item of free score with
    weight ``regularization_ratio`` (1e-5), and it enters crowd-kit's objective with the sign that rewards
    spreading the scores, while its gradient has the penalising sign; that gradient also assigns, rather than adds,
    each row's skill and bias derivatives, one slot off, so crowd-kit's L-BFGS stops early, short of the maximum.

    The objective is not concave (a mixture), so the start matters: scores and biases at 0, skills at
    :data:`SKILL_START`; no randomness (crowd-kit draws a random start). L-BFGS-B (``n_iter`` iterations at most,
    ``tol`` its relative ``ftol``) gets the exact gradient, computed for all rows at once on the distinct
    (worker, left, right, winner) rows with their counts.

    Learned attributes, on crowd-kit's scales: ``scores_`` (:math:`\sigma(s_i)`, the probability of beating the
    phantom; an unnamed index and the name ``agg_score``, our conventions), ``skills_`` (:math:`\sigma(\gamma_w)`,
    the share of the worker's answers that follow the model; a worker who reverses the model is no better than one
    who guesses, and gets a skill near 0) and ``biases_`` (:math:`\sigma(q_w)`, the probability of picking the left
    item when guessing), indexed by worker; ``loss_history_``, the objective at the start and after every
    iteration (non-decreasing; a log-posterior to maximise); ``n_iter_``, the iterations run. Bad input (an empty
    table, a missing column, NaN, a ``label`` that is neither ``left`` nor ``right``, an item compared with
    itself) raises :class:`AnswersError`.
    """

    settings: ClassVar[dict[str, Setting]] = {
        "n_iter": Setting(int, 1),
        "tol": Setting(float, 0.0),
        "pseudo_count": Setting(float, 0.0, low_open=True),
    }

    n_iter: int = 500
    tol: float = 1e-7
    pseudo_count: float = 0.1

    scores_: pd.Series = field(init=False, repr=False)
    skills_: pd.Series = field(init=False, repr=False)
    biases_: pd.Series = field(init=False, repr=False)
    loss_history_: list[float] = field(init=False, repr=False)
    n_iter_: int = field(init=False, repr=False)

    def fit(self, data: pd.DataFrame) -> Self:
        check_answers(data, ("worker", *COMPARISON_COLUMNS), name="comparisons")
        items, left, right, winner = encode_comparisons(data)
        worker, workers = _codes(data["worker"], "worker")
        posterior = _NoisyPosterior(left, right, winner, worker, len(items), len(workers), self.pseudo_count)
        start = np.concatenate([np.zeros(len(items)), np.full(len(workers), SKILL_START), np.zeros(len(workers))])
        logits, self.loss_history_, self.n_iter_ = maximise(
            posterior, start, self.n_iter, self.tol, posterior.curvature()
        )
        scores, skills, biases = posterior.split(logits)
        self.scores_ = item_scores(items, expit(scores))
        self.skills_ = pd.Series(expit(skills), index=workers.rename("worker"), name="skill")
        self.biases_ = pd.Series(expit(biases), index=workers.rename("worker"), name="bias")
        return self


class _NoisyPosterior:
    """The objective of :class:`NoisyBradleyTerry` and its gradient, on the distinct rows with their counts.

    A row's worker and side enter only through its *cell* ``2 * worker + left_won``: the per-worker factors are
    computed once per cell and gathered, and the worker gradients are sums over cells. The rows are sorted by cell,
    so those sums are ``np.add.reduceat`` over contiguous runs (``np.bincount`` into a few hundred bins is four
    times slower: every addition waits for the previous one to the same bin). The arithmetic on rows writes into
    five preallocated buffers, which halves the time of an evaluation on a million rows.
    """

    def __init__(
        self,
        left: np.ndarray,
        right: np.ndarray,
        winner: np.ndarray,
        worker: np.ndarray,
        n_items: int,
        n_workers: int,
        pseudo_count: float,
    ) -> None:
        left_won = (winner == left).astype(np.int64)
        loser = left + right - winner
        cell = 2 * worker + left_won
        if n_workers * n_items * n_items * 2 < 2**63:  # one int64 key per row: np.unique sorts and counts at once
            keys, count = np.unique((cell * n_items + winner) * n_items + loser, return_counts=True)
            cell, pair = np.divmod(keys, n_items * n_items)
            winner, loser = np.divmod(pair, n_items)
        else:
            rows, count = np.unique(np.column_stack([cell, winner, loser]), axis=0, return_counts=True)
            cell, winner, loser = (np.ascontiguousarray(column) for column in rows.T)
        self.cell, self.winner, self.loser, self.count = cell, winner, loser, count.astype(np.float64)
        self.cells, self.cell_starts = np.unique(cell, return_index=True)  # the cells with rows, where each begins
        self.side = np.tile([-1.0, 1.0], n_workers)  # y of each cell: -1 when the right item won, +1 when the left
        self.n_items, self.n_workers, self.pseudo_count = n_items, n_workers, pseudo_count
        self._buffers = np.empty((5, cell.size))

    def split(self, logits: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(scores, skills, biases) from the parameter vector."""
        n, w = self.n_items, self.n_workers
        return logits[:n], logits[n : n + w], logits[n + w :]

    def curvature(self) -> np.ndarray:
        """Rough minus second derivatives for :func:`maximise`'s preconditioner: 1/4 per comparison of an item,
        1/10 per answer of a worker (about what a skill and a bias see at typical fits), plus the prior's."""
        comparisons = np.bincount(self.winner, self.count, self.n_items) + np.bincount(
            self.loser, self.count, self.n_items
        )
        answers = np.bincount(self.cell // 2, self.count, self.n_workers)
        return np.concatenate([0.25 * comparisons, 0.1 * answers, 0.1 * answers]) + 0.5 * self.pseudo_count

    def _per_cell(self, values: np.ndarray) -> np.ndarray:
        total = np.zeros(2 * self.n_workers)
        total[self.cells] = np.add.reduceat(values, self.cell_starts)
        return total

    def __call__(self, logits: np.ndarray) -> tuple[float, np.ndarray]:
        scores, skills, biases = self.split(logits)
        follows, guesses = expit(skills), expit(-skills)
        coin = expit(self.side * np.repeat(biases, 2))  # sigma(y q) per cell
        odds_against, bradley_terry, model_weight, probability, work = self._buffers
        # sigma(z) as 1 / (1 + e^-z), twice as fast as expit; |z| <= 2 LOGIT_BOUND, so e^-z cannot overflow
        scores.take(self.loser, out=odds_against, mode="clip")  # "clip": take with out= buffers under "raise"
        odds_against -= scores.take(self.winner, out=work, mode="clip")
        np.exp(odds_against, out=odds_against)
        np.reciprocal(np.add(odds_against, 1.0, out=bradley_terry), out=bradley_terry)
        np.repeat(follows, 2).take(self.cell, out=model_weight, mode="clip")
        np.multiply(model_weight, bradley_terry, out=probability)
        probability += (np.repeat(guesses, 2) * coin).take(self.cell, out=work, mode="clip")
        value = float(self.count @ np.log(probability, out=work))
        weight = np.divide(self.count, probability, out=probability)
        model_share = np.multiply(bradley_terry, weight, out=work)
        per_cell, per_cell_model = self._per_cell(weight), self._per_cell(model_share)
        slope = np.multiply(odds_against, bradley_terry, out=odds_against)  # d value / d (s_winner - s_loser)
        slope *= model_weight
        slope *= model_share
        score_gradient = np.bincount(self.winner, slope, minlength=self.n_items) - np.bincount(
            self.loser, slope, minlength=self.n_items
        )
        skill_gradient = follows * guesses * (per_cell_model - coin * per_cell).reshape(-1, 2).sum(axis=1)
        bias_gradient = guesses * (self.side * coin * (1.0 - coin) * per_cell).reshape(-1, 2).sum(axis=1)
        prior, prior_gradient, _ = phantom_prior(logits, self.pseudo_count)
        gradient = np.concatenate([score_gradient, skill_gradient, bias_gradient]) + prior_gradient
        return value + prior, gradient
