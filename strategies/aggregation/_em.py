"""The EM driver shared by the confusion-matrix models (Dawid-Skene and one-coin Dawid-Skene).

Both models say that worker ``j`` answers label ``l`` to a task of true class ``c`` with probability
:math:`e^j_{lc}` and differ only in how the M-step turns expected confusion counts into :math:`e^j`. So the
E-step, the priors, the objective, the stopping rule and the gold handling live here once, and each model
supplies its M-step as a function ``expected counts (W, K, K) -> log confusions (W, K, K)``, both indexed
``[worker, answered label, true class]``.

The answers are held as one sparse (task x worker-label) count matrix :math:`A`, built once; with
:math:`L = \\log e` flattened to ``(W K, K)`` the E-step is ``A @ L`` (one sparse-dense product: every class in
one pass over the answers) and the expected confusion counts of the M-step are ``A.T @ posteriors`` (one sparse
product per class, which measures faster than one product with the transposed posteriors): no pandas and no
Python loop over tasks or workers. Duplicate answers of one worker to one task are summed by the sparse matrix
and count as separate votes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from strategies.aggregation.base import EncodedAnswers, log_posteriors_class_major

MStep = Callable[[np.ndarray], np.ndarray]
_LOG_FLOOR = float(np.log(1e-300))


@dataclass(frozen=True, eq=False)
class EMResult:
    """What the driver learned: posteriors ``(n_tasks, K)``, log confusions ``(W, K, K)``, priors ``(K,)``."""

    probas: np.ndarray
    log_confusions: np.ndarray
    priors: np.ndarray
    loss_history: list[float]


def answer_matrix(answers: EncodedAnswers) -> sp.csr_matrix:
    """(n_tasks, n_workers * K) counts of worker ``j``'s answers ``l`` to each task, in column ``j*K + l``."""
    n_labels = answers.n_labels
    n_columns = answers.n_workers * n_labels
    index_dtype = np.int32 if max(n_columns, answers.n_tasks, answers.n_answers) < 2**31 - 1 else np.int64
    columns = (answers.worker * n_labels + answers.label).astype(index_dtype, copy=False)
    rows = answers.task.astype(index_dtype, copy=False)
    ones = np.ones(answers.n_answers, dtype=np.float64)
    matrix = sp.csr_matrix((ones, (rows, columns)), shape=(answers.n_tasks, n_columns))
    matrix.sum_duplicates()
    return matrix


def fixed_posteriors(answers: EncodedAnswers, known: np.ndarray | None) -> tuple[np.ndarray, np.ndarray] | None:
    """Rows and label codes of tasks whose true label is known (``known[task]`` is a label code or -1)."""
    if known is None:
        return None
    rows = np.flatnonzero(known >= 0)
    return rows, known[rows]


def run_confusion_em(
    answers: EncodedAnswers,
    m_step: MStep,
    n_iter: int,
    tol: float,
    smoothing: float,
    known: np.ndarray | None = None,
    warm_start: tuple[np.ndarray, np.ndarray] | None = None,
    initial_counts: np.ndarray | None = None,
    initial_mode: str = "addition",
) -> EMResult:
    r"""Fit a confusion-matrix model by EM, starting from the soft majority vote or from given parameters.

    The objective is the smoothed (maximum a posteriori) observed-data log-likelihood per answer,

    .. math::
        \frac{1}{N}\Big[\sum_i \log \sum_c p_c \prod_{a \in i} e^{w_a}_{y_a c}
        + \alpha \big(\sum_{j,l,c} \log e^j_{lc} + \sum_c \log p_c\big)\Big],

    the quantity that EM with additive smoothing :math:`\alpha` (a Dirichlet(:math:`1+\alpha`) prior) never
    decreases. A task whose label is ``known`` contributes :math:`\log p_{g} \prod_a e^{w_a}_{y_a g}` instead
    and its posterior stays one-hot on :math:`g`. Iteration: E-step (posteriors and objective at the current
    parameters), stop when the objective changed by less than ``tol`` or after ``n_iter`` E-steps, else
    M-step. The returned posteriors are those of the last E-step (with ``n_iter=0``, the soft majority vote); the
    returned confusions and priors are the M-step on them, as crowd-kit reports them.

    ``initial_counts`` (W, K, K), indexed like the confusions, are prior counts of each worker's answers given the
    true class (e.g. from an earlier campaign): the first M-step adds them to the expected counts
    (``initial_mode="addition"``) or uses them instead (``"assign"``; then they may also be probabilities).

    ``warm_start`` = ``(log confusions (W, K, K), log priors (K,))`` replaces the soft majority-vote start: the
    first E-step is taken at these parameters (the online models refit this way from their current estimate).
    Without it the start, and so the result, is the batch one.
    """
    if n_iter < 0 or (n_iter == 0 and warm_start is not None):
        raise ValueError(f"n_iter must be at least {1 if warm_start is not None else 0}, got {n_iter}")
    if smoothing < 0:
        raise ValueError(f"smoothing must be non-negative, got {smoothing}")
    # Posteriors are held class-major, (K, n_tasks): reductions over the K classes are then K - 1 elementwise
    # passes over contiguous rows rather than numpy's slow reduction along a short last axis.
    matrix = answer_matrix(answers)
    matrix_t = matrix.T.tocsr()
    fixed = fixed_posteriors(answers, known)
    sizes = (answers.n_workers, answers.n_labels)

    if warm_start is None:
        answered = np.arange(matrix.shape[1]) % answers.n_labels  # label of each worker-label column
        votes = np.stack([matrix @ (answered == code).astype(np.float64) for code in range(answers.n_labels)])
        probas = votes / votes.sum(axis=0)
        if fixed is not None:
            _fix_columns(probas, *fixed)
        log_confusions, log_priors = _m_step(matrix_t, probas, m_step, smoothing, sizes, initial_counts, initial_mode)
    else:
        log_confusions, log_priors = warm_start
        expected = (*sizes, answers.n_labels)
        if log_confusions.shape != expected or log_priors.shape != (answers.n_labels,):
            raise ValueError(
                f"warm_start needs log confusions of shape {expected} and log priors of shape "
                f"{(answers.n_labels,)}, got {log_confusions.shape} and {log_priors.shape}"
            )

    loss_history: list[float] = []
    for _ in range(n_iter):
        probas, log_likelihood = _e_step(matrix, log_confusions, log_priors, fixed)
        penalty = smoothing * (log_confusions.sum() + log_priors.sum()) if smoothing > 0 else 0.0
        loss_history.append(float((log_likelihood + penalty) / answers.n_answers))
        log_confusions, log_priors = _m_step(matrix_t, probas, m_step, smoothing, sizes)
        if len(loss_history) > 1 and abs(loss_history[-1] - loss_history[-2]) < tol:
            break
    return EMResult(np.ascontiguousarray(probas.T), log_confusions, np.exp(log_priors), loss_history)


def _fix_columns(probas: np.ndarray, tasks: np.ndarray, codes: np.ndarray) -> None:
    probas[:, tasks] = 0.0
    probas[codes, tasks] = 1.0


def _m_step(
    matrix_t: sp.csr_matrix,
    probas: np.ndarray,
    m_step: MStep,
    smoothing: float,
    sizes: tuple[int, int],
    initial_counts: np.ndarray | None = None,
    initial_mode: str = "addition",
) -> tuple[np.ndarray, np.ndarray]:
    """Log confusions from the expected counts ``A.T @ probas`` (plus or replaced by ``initial_counts``), and
    smoothed log priors."""
    n_workers, n_labels = sizes
    counts = np.empty((n_workers * n_labels, n_labels))
    for code in range(n_labels):
        counts[:, code] = matrix_t @ probas[code]
    if initial_counts is not None:
        flat = initial_counts.reshape(n_workers * n_labels, n_labels)
        counts = counts + flat if initial_mode == "addition" else flat.astype(np.float64, copy=True)
    # the floor keeps an impossible event finite when smoothing is 0, so that no task's classes are all -inf
    log_confusions = np.maximum(m_step(counts.reshape(n_workers, n_labels, n_labels)), _LOG_FLOOR)
    class_mass = probas.sum(axis=1) + smoothing
    with np.errstate(divide="ignore"):
        log_priors = np.maximum(np.log(class_mass) - np.log(class_mass.sum()), _LOG_FLOOR)
    return log_confusions, log_priors


def _e_step(
    matrix: sp.csr_matrix,
    log_confusions: np.ndarray,
    log_priors: np.ndarray,
    fixed: tuple[np.ndarray, np.ndarray] | None,
) -> tuple[np.ndarray, float]:
    """Class-major posteriors (columns sum to one) and the log-likelihood (joint with the known labels)."""
    n_labels = log_priors.shape[0]
    # one sparse-dense product over all classes (a single pass over the answers), then class-major
    joint = np.ascontiguousarray((matrix @ log_confusions.reshape(-1, n_labels)).T)
    joint += log_priors[:, None]
    probas, task_log_likelihood = log_posteriors_class_major(joint)
    if fixed is not None:
        tasks, codes = fixed
        # log p(answers, z = known) = log p(answers) + log posterior(known)
        with np.errstate(divide="ignore"):
            task_log_likelihood[tasks] += np.maximum(np.log(probas[codes, tasks]), _LOG_FLOOR)
        _fix_columns(probas, tasks, codes)
    return probas, float(task_log_likelihood.sum())


def normalised_log_counts(counts: np.ndarray, smoothing: float) -> np.ndarray:
    """``log((counts + smoothing) / total)`` over axis 1 (answered label); zero-mass columns uniform."""
    smoothed = counts + smoothing
    totals = smoothed.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_confusions = np.where(
            totals > 0, np.log(smoothed) - np.log(np.where(totals > 0, totals, 1.0)), -np.log(counts.shape[1])
        )
    return log_confusions
