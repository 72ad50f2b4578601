"""GLAD: worker ability and task difficulty, fitted by EM with a vectorised Newton M-step."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Self

import numpy as np
import pandas as pd
from scipy.special import expit, log_expit

from strategies.aggregation.base import (
    BaseClassificationAggregator,
    Setting,
    argmax_rows,
    encode_answers,
    log_posteriors,
)

_LOG_SQRT_2PI = 0.5 * float(np.log(2.0 * np.pi))
_MAX_STEP = 1.0


@dataclass
class GLAD(BaseClassificationAggregator):
    r"""GLAD (Generative model of Labels, Abilities, and Difficulties), multi-class form as in crowd-kit.

    Worker :math:`j` has ability :math:`\alpha_j \in \mathbb{R}`, task :math:`i` has inverse difficulty
    :math:`\beta_i = e^{b_i} > 0` and true label :math:`z_i \sim p` (fixed prior, uniform by default). Worker
    :math:`j` answers task :math:`i` correctly with probability :math:`\sigma(\alpha_j\beta_i)`, and otherwise gives
    one of the other :math:`K-1` labels uniformly:

    .. math::
        P(y_{ij} = k \mid z_i = c) = \begin{cases} \sigma(\alpha_j \beta_i) & k = c \\
        \dfrac{1 - \sigma(\alpha_j \beta_i)}{K - 1} & k \ne c \end{cases},
        \qquad \alpha_j \sim \mathcal{N}(\mu_\alpha, 1),\quad b_i = \log\beta_i \sim \mathcal{N}(\mu_b, 1).

    EM maximises the log posterior of :math:`(\alpha, b)`. The E-step computes :math:`P(z_i = c \mid y)` in log space:
    :math:`\log p_c + \sum_{j} \log\sigma(-\alpha_j\beta_i) - \log(K-1) + \sum_{j: y_{ij}=c} (\alpha_j\beta_i +
    \log(K-1))`, since :math:`\log\sigma(x) - \log\sigma(-x) = x` (``log_expit``: no overflow for large
    :math:`\alpha_j\beta_i`). The M-step maximises the expected complete log posterior
    :math:`Q = \sum_{ij} [q_{ij}\log\sigma(\alpha_j\beta_i) + (1-q_{ij})(\log\sigma(-\alpha_j\beta_i) - \log(K-1))]
    + \log\text{priors}`, with :math:`q_{ij} = P(z_i = y_{ij} \mid y)`, by alternating Newton steps: :math:`Q` is
    concave in :math:`\alpha` for fixed :math:`\beta` and its Hessian there is diagonal
    (:math:`-\sum_i \sigma(1-\sigma)\beta_i^2 - 1`), so each worker's step is an exact one-dimensional Newton step;
    for :math:`b` the step uses the expected (Fisher) curvature :math:`\sum_j \sigma(1-\sigma)(\alpha_j\beta_i)^2 + 1`,
    which is always positive. Gradients and curvatures are sums over answers (``np.bincount``), so a step costs a
    few passes over the answer arrays. Crowd-kit runs up to 25 conjugate-gradient iterations over pandas frames
    instead; both maximise the same :math:`Q`, with crowd-kit's defaults (priors, initial :math:`\alpha = b = 1`).

    Stopping: ``loss_history_`` records the log posterior per answer after each E-step (observed-data
    log-likelihood plus the Gaussian log priors, divided by the number of answers; EM never decreases it); EM stops
    when it improves by less than ``tol`` or after ``n_iter`` M-steps. The M-step stops after ``m_step_max_iter``
    Newton rounds or when no parameter moves by more than ``m_step_tol``; each Newton step is clipped to at most 1
    per parameter (a trust region: from the initial point an unclipped step can overshoot and lower the objective).
    ``m_step_max_iter`` defaults to 5 rather than crowd-kit's 25: a partial M-step is still an ascent step
    (generalised EM), the answers are the same, and on relevance the full 25 rounds take 6x longer because the
    alternating rounds zigzag along the :math:`\alpha\beta` scale ridge that only the priors pin down.

    Learned: ``alphas_`` (Series by worker), ``betas_`` (Series by task: :math:`\log\beta_i`, as crowd-kit stores
    it), ``priors_`` (Series by label), ``probas_``, ``labels_`` (ties to the lowest label), ``loss_history_``.

    J. Whitehill, P. Ruvolo, T. Wu, J. Bergsma and J. Movellan. Whose Vote Should Count More: Optimal Integration of
    Labels from Labelers of Unknown Expertise. NIPS 22 (2009), 2035-2043.
    https://proceedings.neurips.cc/paper/2009/hash/f899139df5e1059396431415e770c6dd-Abstract.html
    """

    settings: ClassVar[dict[str, Setting]] = {
        "n_iter": Setting(int, 0),
        "tol": Setting(float, 0.0),
        "m_step_max_iter": Setting(int, 1),
        "m_step_tol": Setting(float, 0.0),
    }

    n_iter: int = 100
    tol: float = 1e-5
    silent: bool = True  # accepted for crowd-kit compatibility; no progress bar is ever shown
    labels_priors: pd.Series | None = None
    alphas_priors_mean: pd.Series | None = None
    betas_priors_mean: pd.Series | None = None
    m_step_max_iter: int = 5
    m_step_tol: float = 1e-2

    labels_: pd.Series = field(init=False, repr=False)
    probas_: pd.DataFrame = field(init=False, repr=False)
    alphas_: pd.Series = field(init=False, repr=False)
    betas_: pd.Series = field(init=False, repr=False)
    priors_: pd.Series = field(init=False, repr=False)
    loss_history_: list[float] = field(init=False, repr=False)

    def fit(self, data: pd.DataFrame) -> Self:
        if self.n_iter < 0:
            raise ValueError(f"n_iter must be at least 0, got {self.n_iter}")
        answers = encode_answers(data)
        n_labels = answers.n_labels
        log_priors = np.log(_aligned(self.labels_priors, answers.labels, "labels_priors", np.full(n_labels, 1.0)))
        log_priors -= np.log(np.exp(log_priors).sum())
        alpha_mean = _aligned(
            self.alphas_priors_mean, answers.workers, "alphas_priors_mean", np.ones(answers.n_workers)
        )
        log_beta_mean = _aligned(self.betas_priors_mean, answers.tasks, "betas_priors_mean", np.ones(answers.n_tasks))
        model = _GladModel(
            answers.task,
            answers.worker,
            answers.label,
            answers.n_tasks,
            answers.n_workers,
            n_labels,
            log_priors,
            alpha_mean,
            log_beta_mean,
        )

        alpha = np.ones(answers.n_workers)
        log_beta = np.ones(answers.n_tasks)
        self.loss_history_ = []
        for iteration in range(self.n_iter + 1):
            probas, objective = model.e_step(alpha, log_beta)
            self.loss_history_.append(objective / answers.n_answers)
            converged = iteration > 0 and self.loss_history_[-1] - self.loss_history_[-2] < self.tol
            if converged or iteration == self.n_iter:
                break
            alpha, log_beta = model.m_step(probas, alpha, log_beta, self.m_step_max_iter, self.m_step_tol)

        self.alphas_ = answers.worker_series(alpha, name="alpha")
        self.betas_ = pd.Series(log_beta, index=answers.tasks.rename("task"), name="beta")
        self.priors_ = pd.Series(np.exp(log_priors), index=answers.labels.rename("label"), name="prior")
        self.probas_ = answers.proba_frame(probas)
        self.labels_ = answers.label_series(argmax_rows(probas))
        return self


def _aligned(values: pd.Series | None, index: pd.Index, name: str, default: np.ndarray) -> np.ndarray:
    """``values`` reindexed to ``index`` as floats, ``default`` when None; every id must be present."""
    if values is None:
        return default
    aligned = values.reindex(index)
    if aligned.isna().any():
        missing = list(index[aligned.isna().to_numpy()][:5])
        raise ValueError(f"{name} has no value for {index.name}(s) {missing}")
    return aligned.to_numpy(dtype=np.float64)


@dataclass(eq=False)
class _GladModel:
    """The answer arrays and priors of one fit; the E-step and the M-step as array functions."""

    task: np.ndarray
    worker: np.ndarray
    label: np.ndarray
    n_tasks: int
    n_workers: int
    n_labels: int
    log_priors: np.ndarray
    alpha_mean: np.ndarray
    log_beta_mean: np.ndarray
    answer_cell: np.ndarray = field(init=False)
    log_wrong_labels: float = field(init=False)

    def __post_init__(self) -> None:
        self.answer_cell = self.task * self.n_labels + self.label
        # log(K-1): a wrong answer is one of K-1 labels; with a single class there is no wrong answer at all
        self.log_wrong_labels = float(np.log(max(self.n_labels - 1, 1)))

    def e_step(self, alpha: np.ndarray, log_beta: np.ndarray) -> tuple[np.ndarray, float]:
        """Posteriors of the true labels and the log posterior of the parameters (up to the label-prior constant)."""
        ability = alpha[self.worker] * np.exp(log_beta)[self.task]
        wrong = log_expit(-ability) - self.log_wrong_labels
        per_task = np.bincount(self.task, weights=wrong, minlength=self.n_tasks)
        # the answered label gets log sigma(x) instead of log sigma(-x) - log(K-1): x + log(K-1) more
        boosts = _cell_sums(self.answer_cell, ability + self.log_wrong_labels, self.n_tasks, self.n_labels)
        log_joint = boosts + per_task[:, None] + self.log_priors
        probas, row_log_likelihood = log_posteriors(log_joint)
        objective = float(row_log_likelihood.sum()) + self._log_prior(alpha, log_beta)
        return probas, objective

    def _log_prior(self, alpha: np.ndarray, log_beta: np.ndarray) -> float:
        gaussian = -0.5 * (np.sum((alpha - self.alpha_mean) ** 2) + np.sum((log_beta - self.log_beta_mean) ** 2))
        return float(gaussian - _LOG_SQRT_2PI * (alpha.size + log_beta.size))

    def m_step(
        self, probas: np.ndarray, alpha: np.ndarray, log_beta: np.ndarray, max_iter: int, tol: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Alternating Newton rounds on ``alpha`` (exact) and ``log_beta`` (Fisher scoring), posteriors fixed."""
        correct = probas.ravel()[self.answer_cell]  # q: posterior probability that the answer is correct
        alpha, log_beta = alpha.copy(), log_beta.copy()
        for _ in range(max_iter):
            beta = np.exp(log_beta)[self.task]
            sigma = expit(alpha[self.worker] * beta)
            residual = correct - sigma
            curvature = sigma * (1.0 - sigma)
            gradient = np.bincount(self.worker, weights=residual * beta, minlength=self.n_workers)
            hessian = np.bincount(self.worker, weights=curvature * beta**2, minlength=self.n_workers) + 1.0
            alpha_step = np.clip((gradient - (alpha - self.alpha_mean)) / hessian, -_MAX_STEP, _MAX_STEP)
            alpha += alpha_step

            ability = alpha[self.worker] * beta
            sigma = expit(ability)
            gradient = np.bincount(self.task, weights=(correct - sigma) * ability, minlength=self.n_tasks)
            fisher = np.bincount(self.task, weights=sigma * (1.0 - sigma) * ability**2, minlength=self.n_tasks) + 1.0
            beta_step = np.clip((gradient - (log_beta - self.log_beta_mean)) / fisher, -_MAX_STEP, _MAX_STEP)
            log_beta += beta_step
            if max(np.abs(alpha_step).max(), np.abs(beta_step).max()) < tol:
                break
        return alpha, log_beta


def _cell_sums(cell: np.ndarray, weights: np.ndarray, n_tasks: int, n_labels: int) -> np.ndarray:
    """(n_tasks, n_labels) sums of ``weights`` by the flat cell ``task * n_labels + label``."""
    return np.bincount(cell, weights=weights, minlength=n_tasks * n_labels).reshape(n_tasks, n_labels)
