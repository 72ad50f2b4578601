"""What the pairwise-comparison aggregators share: the table's columns and its encoding to item codes, the phantom-item
prior, the L-BFGS driver and the scores' Series.

A comparison table has columns ``left`` and ``right`` (the two items) and ``label`` (the winner, equal to one of
them), as in crowd-kit; models of the workers also read ``worker``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit

from strategies.aggregation.base import AnswersError

COMPARISON_COLUMNS: tuple[str, ...] = ("left", "right", "label")
# Every logit the L-BFGS fits learn stays within this bound, so that no trial point of a line search can make a
# probability round to 0 or 1. With a pseudo-count above about 1e-15 the prior keeps the optimum far inside it.
LOGIT_BOUND = 50.0
Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]


def encode_comparisons(data: pd.DataFrame) -> tuple[pd.Index, np.ndarray, np.ndarray, np.ndarray]:
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
        raise AnswersError(
            f"comparisons column 'label' must equal 'left' or 'right' (the winner's id: the value in that row's left "
            f"or right column, as in crowd-kit); got {bad}"
        )
    if (left == right).any():
        bad = data.loc[left == right, ["left", "right"]].head(3).to_dict("records")
        raise AnswersError(f"comparisons compare an item with itself: {bad}")
    return pd.Index(uniques, name="item"), left, right, np.where(left_won, left, right)


def phantom_prior(logits: np.ndarray, pseudo_count: float) -> tuple[float, np.ndarray, np.ndarray]:
    r"""The log-prior :math:`a \sum_k [\ln \sigma(x_k) + \ln \sigma(-x_k)]`, its gradient :math:`-a \tanh(x/2)`
    and minus its second derivatives, :math:`2a\,\sigma(x)\sigma(-x)`.

    It is ``pseudo_count`` :math:`a` virtual wins and :math:`a` virtual losses of every logit :math:`x_k` against a
    phantom at 0: :class:`~strategies.aggregation.BradleyTerry`'s prior written in log-strengths. Concave and
    falling like :math:`-a|x|`, it keeps every maximum finite.
    """
    magnitude = np.abs(logits)
    value = -pseudo_count * float(np.sum(magnitude + 2.0 * np.log1p(np.exp(-magnitude))))
    gradient = -pseudo_count * np.tanh(0.5 * logits)
    curvature = 2.0 * pseudo_count * expit(logits) * expit(-logits)
    return value, gradient, curvature


def one_blas_thread() -> Any:
    """A context in which BLAS runs on one thread. L-BFGS-B's and conjugate gradients' vector steps and the
    objectives' dot products call BLAS on vectors of 1e4 to 1e6 numbers, which OpenBLAS splits across threads; on a
    busy machine (a sweep runs one job per core) the threads spin against each other, and one L-BFGS-B step took
    60 ms instead of under one. Results do not depend on it."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def maximise(
    objective: Objective, start: np.ndarray, n_iter: int, tol: float, curvature: np.ndarray
) -> tuple[np.ndarray, list[float], int]:
    """(argmax, objective at the start and after every iteration, iterations) of a smooth ``objective`` returning
    (value, gradient), by L-BFGS-B (scipy) within :data:`LOGIT_BOUND`.

    ``curvature`` (positive, one per parameter) is a rough guess of minus the objective's second derivatives: L-BFGS
    runs in the variables ``x * sqrt(curvature)``, a diagonal preconditioner that leaves the maximum unchanged. An
    item's score and a worker's parameter see very different numbers of comparisons, and without it L-BFGS took
    three times the iterations (NoisyBradleyTerry, a million comparisons). Stops when an iteration raises the
    objective by less than ``tol`` relative to its size (L-BFGS-B's ``ftol``), when no component of the
    preconditioned gradient exceeds 1e-8 (``gtol``), or after ``n_iter`` iterations.
    """
    from scipy import optimize  # here: importing scipy.optimize costs a tenth of a second at start-up

    scale = np.sqrt(curvature)
    history: list[float] = []

    def negated(scaled: np.ndarray) -> tuple[float, np.ndarray]:
        value, gradient = objective(scaled / scale)
        return -value, -gradient / scale

    def record(intermediate_result: optimize.OptimizeResult) -> None:
        history.append(-float(intermediate_result.fun))

    bounds = optimize.Bounds(-LOGIT_BOUND * scale, LOGIT_BOUND * scale)
    with one_blas_thread():
        history.append(objective(start)[0])
        result = optimize.minimize(negated, start * scale, jac=True, method="L-BFGS-B", bounds=bounds,
                                   callback=record, options={"maxiter": n_iter, "ftol": tol, "gtol": 1e-8})  # fmt: skip
    return result.x / scale, history, int(result.nit)


def item_scores(items: pd.Index, scores: np.ndarray) -> pd.Series:
    """``scores_``: one score per item, an unnamed index and the name ``agg_score`` (crowd-kit's conventions)."""
    return pd.Series(scores, index=items.rename(None), name="agg_score")
