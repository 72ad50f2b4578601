"""Bradley-Terry: item scores from pairwise comparisons, fitted by Hunter's MM algorithm."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Self

import numpy as np
import pandas as pd

from strategies.aggregation.base import AnswersError, check_answers

COMPARISON_COLUMNS: tuple[str, ...] = ("left", "right", "label")


@dataclass
class BradleyTerry:
    r"""Bradley-Terry model for pairwise comparisons (Bradley and Terry, Biometrika 39:324-345, 1952), fitted
    by the MM algorithm of Hunter ("MM algorithms for generalized Bradley-Terry models", Ann. Statist.
    32(1):384-406, 2004, doi:10.1214/aos/1079120141).

    Each row of ``data`` is one comparison: columns ``left`` and ``right`` name the two items, ``label`` the
    winner (equal to ``left`` or to ``right``), as in crowd-kit's ``BradleyTerry``; a ``worker`` column may be
    present and is ignored (crowd-kit ignores it too). Item :math:`i` has a score :math:`p_i > 0` and
    :math:`P(i \text{ beats } j) = p_i / (p_i + p_j)`. With :math:`w_i` the wins of item :math:`i` and
    :math:`n_{ij}` the comparisons of :math:`i` and :math:`j`, the maximised objective is

    .. math::

        \ell(p) = \sum_i (w_i + a) \ln p_i - \sum_{i<j} n_{ij} \ln (p_i + p_j) - 2a \sum_i \ln (1 + p_i)

    i.e. the log-likelihood plus, for every item, ``pseudo_count`` :math:`a` virtual wins and :math:`a`
    virtual losses against a phantom item of fixed score 1. The MM update, which never decreases :math:`\ell`,
    is

    .. math:: p_i \leftarrow \frac{w_i + a}{\sum_{j} n_{ij} / (p_i + p_j) + 2a / (p_i + 1)}

    computed for all items at once with ``np.bincount`` over the distinct compared pairs.

    Why the pseudo-count: the maximum-likelihood estimate exists only if the comparison graph is strongly
    connected (Hunter's Assumption 1); an item that never wins has MLE score 0 and one that never loses an
    infinite score. The phantom games keep every score finite and positive and pin the overall scale, and they
    connect a disconnected comparison graph through the phantom: scores within a component are driven by the
    data, while the relative level of two components that were never compared only reflects the (weak) prior,
    so compare such items with care. The objective is then the log-posterior under this prior; the estimate
    approaches the MLE as :math:`a \to 0`. ``pseudo_count=0`` gives the plain MLE and requires every item to
    win at least once (else ``ValueError``); the scale is then fixed by scaling the scores to sum to one after
    every step, which leaves :math:`\ell` unchanged.

    Stopping rule: stop after the first iteration in which no score changes by more than ``tol`` relative to
    its previous value, :math:`\max_i |p_i^{new} - p_i| / p_i < \mathrm{tol}`, or after ``n_iter`` iterations.

    Learned attributes: ``scores_``, a Series item -> score (scaled to sum to one, crowd-kit's convention,
    name ``agg_score``); ``loss_history_``, the objective :math:`\ell` above at the start and after every
    iteration (non-decreasing, the MM property; it is a log-likelihood to maximise, despite crowd-kit's
    attribute name); ``n_iter_``, the iterations run. Degenerate input: an empty table, a missing column or
    NaN raises :class:`AnswersError`; so do a ``label`` that is neither ``left`` nor ``right`` (a tie or a
    typo: ties are not part of the model, crowd-kit silently drops such rows) and an item compared with
    itself. Two items that won equally often against each other get equal scores.
    """

    n_iter: int = 100
    tol: float = 1e-5
    pseudo_count: float = 0.1

    scores_: pd.Series = field(init=False, repr=False)
    loss_history_: list[float] = field(init=False, repr=False)
    n_iter_: int = field(init=False, repr=False)

    def fit(self, data: pd.DataFrame) -> Self:
        if self.pseudo_count < 0 or self.n_iter < 0:
            raise ValueError(
                f"need pseudo_count >= 0 and n_iter >= 0, got {self.pseudo_count}, {self.n_iter}"
            )
        check_answers(data, COMPARISON_COLUMNS, name="comparisons")
        items, left, right, winner = _encode_comparisons(data)
        n_items = len(items)
        wins = np.bincount(winner, minlength=n_items).astype(np.float64) + self.pseudo_count
        if self.pseudo_count == 0 and (wins == 0).any():
            never = list(items[wins == 0][:5])
            raise ValueError(f"items {never} never win, so their MLE score is 0; use pseudo_count > 0")
        low, high = np.minimum(left, right), np.maximum(left, right)
        pairs, pair_counts = np.unique(low * n_items + high, return_counts=True)
        first, second = pairs // n_items, pairs % n_items
        n_compared = pair_counts.astype(np.float64)  # float for a BLAS dot product

        def objective(scores: np.ndarray) -> float:
            value = wins @ np.log(scores) - n_compared @ np.log(scores[first] + scores[second])
            return float(value - 2.0 * self.pseudo_count * np.log1p(scores).sum())

        scores = np.ones(n_items) if self.pseudo_count > 0 else np.full(n_items, 1.0 / n_items)
        self.loss_history_ = [objective(scores)]
        self.n_iter_ = 0
        for _ in range(self.n_iter):
            rate = n_compared / (scores[first] + scores[second])
            denominator = (
                np.bincount(first, weights=rate, minlength=n_items)
                + np.bincount(second, weights=rate, minlength=n_items)
                + 2.0 * self.pseudo_count / (scores + 1.0)
            )
            updated = wins / denominator
            if self.pseudo_count == 0:
                updated /= updated.sum()
            change = np.max(np.abs(updated - scores) / scores)
            scores = updated
            self.n_iter_ += 1
            self.loss_history_.append(objective(scores))
            if change < self.tol:
                break
        self.scores_ = pd.Series(scores / scores.sum(), index=items.rename("item"), name="agg_score")
        return self

    def fit_predict(self, data: pd.DataFrame) -> pd.Series:
        return self.fit(data).scores_


def _encode_comparisons(data: pd.DataFrame) -> tuple[pd.Index, np.ndarray, np.ndarray, np.ndarray]:
    """(sorted item index, left codes, right codes, winner codes); raises AnswersError on a bad ``label``."""
    n_rows = len(data)
    both = pd.concat([data["left"], data["right"]], ignore_index=True)
    try:
        codes, uniques = pd.factorize(both, sort=True)
    except TypeError as error:
        raise AnswersError("columns 'left' and 'right' mix item ids that cannot be ordered") from error
    left, right = codes[:n_rows].astype(np.int64), codes[n_rows:].astype(np.int64)
    label = data["label"].to_numpy()
    left_won = label == data["left"].to_numpy()
    right_won = label == data["right"].to_numpy()
    if not (left_won | right_won).all():
        bad = data.loc[~(left_won | right_won), ["left", "right", "label"]].head(3).to_dict("records")
        raise AnswersError(f"comparisons column 'label' must equal 'left' or 'right' (the winner); got {bad}")
    if (left == right).any():
        bad = data.loc[left == right, ["left", "right"]].head(3).to_dict("records")
        raise AnswersError(f"comparisons compare an item with itself: {bad}")
    return pd.Index(uniques, name="item"), left, right, np.where(left_won, left, right)
