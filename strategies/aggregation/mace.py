"""MACE: each worker either knows the answer or spams from a personal label distribution."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Self

import numpy as np
import pandas as pd
from scipy.special import digamma

from strategies.aggregation._em import answer_matrix
from strategies.aggregation.base import (
    BaseClassificationAggregator,
    EncodedAnswers,
    argmax_rows,
    as_generator,
    encode_answers,
    log_posteriors,
)

MaceMethod = Literal["vb", "em"]
_LOG_FLOOR = float(np.log(1e-300))


@dataclass
class MACE(BaseClassificationAggregator):
    r"""MACE (Multi-Annotator Competence Estimation).

    Task :math:`i` has a true label :math:`T_i` drawn uniformly from the :math:`K` labels. On each task worker
    :math:`j` spams with probability :math:`1 - \theta_j` (:math:`S_{ij} \sim \text{Bernoulli}(1 - \theta_j)`); when
    not spamming the answer is the true label, when spamming it is drawn from the worker's strategy
    :math:`\xi_j` (a distribution over labels):

    .. math::
        P(A_{ij} = a \mid T_i = t) = \theta_j [a = t] + (1 - \theta_j)\, \xi_{ja}.

    ``method="em"`` (the paper's base model) maximises the likelihood by EM, adding ``smoothing`` to the expected
    counts before normalising; ``method="vb"`` (default, as crowd-kit) is the paper's variational-Bayes training with
    priors :math:`\theta_j \sim \text{Beta}(\alpha, \beta)` and :math:`\xi_j \sim \text{Dirichlet}(\gamma)`
    (:math:`\gamma` = ``strategy_prior`` = 10, crowd-kit's constant), whose M-step sets each parameter to
    :math:`\exp(\psi(\text{count} + \text{prior}) - \psi(\text{total} + \text{prior total}))`.
    Each of ``n_restarts`` runs starts from random parameters (drawn from ``random_state``: :math:`\theta_j` and
    :math:`\xi_j` proportional to uniform draws on :math:`[1, 1 + \text{default\_noise}]`) and runs ``n_iter`` EM
    iterations, stopping early when the log marginal likelihood per answer improves by less than ``tol``; the run with
    the best log marginal likelihood is kept.

    Vectorised: with :math:`A` the sparse (task x worker-label) answer count matrix, the E-step is one sparse
    product :math:`A M` where :math:`M_{(j,a),t} = \log((1-\theta_j)\xi_{ja}) + [a = t]\,
    \log(1 + \theta_j / ((1-\theta_j)\xi_{ja}))`; the expected "knowing" counts are
    :math:`r_{ja} \sum_i A_{i,(j,a)} P(T_i = a)` with :math:`r_{ja} = \theta_j / (\theta_j + (1-\theta_j)\xi_{ja})`,
    and the expected spamming counts of label :math:`a` are the rest of worker :math:`j`'s answers :math:`a`.

    Differences from crowd-kit 1.4.2, on purpose: crowd-kit re-seeds every restart with the same ``random_state``, so
    its ten restarts are ten copies of one run; here each restart draws new parameters. Crowd-kit ignores its
    ``smoothing`` field and uses 0.01 / K (MACE's default); here ``smoothing=None`` means 0.01 / K and a number is
    used as given. Crowd-kit's ``thetas_`` holds the strategies and ``spamming_`` the (spam, know) pairs as arrays;
    here, following the paper, ``thetas_`` is :math:`\theta_j` (Series by worker), ``spamming_`` is
    :math:`1-\theta_j` and ``strategy_`` is :math:`\xi` (worker x label DataFrame). In VB the
    :math:`\exp\psi` parameters are sub-normalised; ``thetas_`` and ``strategy_`` report them renormalised.
    Learned: also ``probas_``, ``labels_`` (ties to the lowest label), ``log_marginal_likelihood_`` (of the kept
    run) and ``loss_history_`` (its log marginal likelihood per answer after each E-step).

    D. Hovy, T. Berg-Kirkpatrick, A. Vaswani and E. Hovy. Learning Whom to Trust with MACE. NAACL-HLT 2013,
    1120-1130. https://aclanthology.org/N13-1132
    """

    n_restarts: int = 10
    n_iter: int = 50
    method: MaceMethod = "vb"
    smoothing: float | None = None
    default_noise: float = 0.5
    alpha: float = 0.5
    beta: float = 0.5
    strategy_prior: float = 10.0
    tol: float = 1e-6
    random_state: int | np.random.Generator | None = 0
    verbose: int = 0  # accepted for crowd-kit compatibility; no progress bar is ever shown

    labels_: pd.Series = field(init=False, repr=False)
    probas_: pd.DataFrame = field(init=False, repr=False)
    thetas_: pd.Series = field(init=False, repr=False)
    spamming_: pd.Series = field(init=False, repr=False)
    strategy_: pd.DataFrame = field(init=False, repr=False)
    log_marginal_likelihood_: float = field(init=False, repr=False)
    loss_history_: list[float] = field(init=False, repr=False)

    def fit(self, data: pd.DataFrame) -> Self:
        if self.method not in ("vb", "em"):
            raise ValueError(f"method must be 'vb' or 'em', got {self.method!r}")
        if self.n_restarts < 1 or self.n_iter < 1:
            raise ValueError(f"n_restarts and n_iter must be at least 1, got {self.n_restarts} and {self.n_iter}")
        answers = encode_answers(data)
        model = _MaceModel(answers)
        smoothing = 0.01 / answers.n_labels if self.smoothing is None else self.smoothing
        rng = as_generator(self.random_state)

        best: tuple[float, np.ndarray, np.ndarray, np.ndarray, list[float]] | None = None
        for _ in range(self.n_restarts):
            # log P(knows), log P(spams) and log strategy, from positive draws normalised per worker
            spam_know = rng.uniform(1.0, 1.0 + self.default_noise, size=(answers.n_workers, 2))
            strategy = rng.uniform(1.0, 1.0 + self.default_noise, size=(answers.n_workers, answers.n_labels))
            log_spam_know = np.log(spam_know / spam_know.sum(axis=1, keepdims=True))
            log_strategy = np.log(strategy / strategy.sum(axis=1, keepdims=True))
            history: list[float] = []
            for _ in range(self.n_iter):
                probas, log_likelihood, know_counts, spam_counts = model.e_step(log_spam_know, log_strategy)
                history.append(log_likelihood / answers.n_answers)
                if len(history) > 1 and abs(history[-1] - history[-2]) < self.tol:
                    break
                log_spam_know, log_strategy = self._m_step(know_counts, spam_counts, smoothing)
            else:
                probas, log_likelihood, _, _ = model.e_step(log_spam_know, log_strategy)
                history.append(log_likelihood / answers.n_answers)
            if best is None or log_likelihood > best[0]:
                best = (log_likelihood, probas, log_spam_know, log_strategy, history)

        assert best is not None
        log_likelihood, probas, log_spam_know, log_strategy, history = best
        spam_know = np.exp(log_spam_know)
        thetas = spam_know[:, 1] / spam_know.sum(axis=1)
        strategy = np.exp(log_strategy)
        strategy /= strategy.sum(axis=1, keepdims=True)
        self.thetas_ = answers.worker_series(thetas, name="theta")
        self.spamming_ = answers.worker_series(1.0 - thetas, name="spamming")
        self.strategy_ = pd.DataFrame(strategy, index=answers.workers.rename("worker"),
                                      columns=answers.labels.rename("label"))
        self.log_marginal_likelihood_ = float(log_likelihood)
        self.loss_history_ = history
        self.probas_ = answers.proba_frame(probas)
        self.labels_ = answers.label_series(argmax_rows(probas))
        return self

    def _m_step(self, know_counts: np.ndarray, spam_counts: np.ndarray, smoothing: float) -> tuple[np.ndarray, ...]:
        """Log (spam, know) probabilities per worker and log strategies from the expected counts."""
        spam_know_counts = np.column_stack([spam_counts.sum(axis=1), know_counts])
        if self.method == "em":
            return _log_normalise(spam_know_counts + smoothing), _log_normalise(spam_counts + smoothing)
        priors = np.array([self.beta, self.alpha])  # theta = P(knows) ~ Beta(alpha, beta)
        return _log_digamma_normalise(spam_know_counts + priors), _log_digamma_normalise(
            spam_counts + self.strategy_prior
        )


def _log_normalise(counts: np.ndarray) -> np.ndarray:
    """Log of the rows of ``counts`` normalised; with ``smoothing=0`` a zero count is floored, never ``-inf``."""
    totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_rows = np.where(totals > 0, np.log(counts) - np.log(np.where(totals > 0, totals, 1.0)),
                            -np.log(counts.shape[1]))
    return np.maximum(log_rows, _LOG_FLOOR)


def _log_digamma_normalise(pseudo_counts: np.ndarray) -> np.ndarray:
    """``log exp(psi(c)) / exp(psi(sum c))``: the variational-Bayes (geometric mean) estimate of a Dirichlet row."""
    return digamma(pseudo_counts) - digamma(pseudo_counts.sum(axis=1, keepdims=True))


@dataclass(eq=False)
class _MaceModel:
    """The sparse answer matrix of one fit and the E-step on it."""

    answers: EncodedAnswers

    def __post_init__(self) -> None:
        self.matrix = answer_matrix(self.answers)  # (tasks, workers * K) counts
        self.matrix_t = self.matrix.T.tocsr()
        n_labels = self.answers.n_labels
        self.label_of_column = np.tile(np.arange(n_labels), self.answers.n_workers)
        self.column_counts = np.asarray(self.matrix.sum(axis=0)).reshape(self.answers.n_workers, n_labels)

    def e_step(
        self, log_spam_know: np.ndarray, log_strategy: np.ndarray
    ) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
        """Posteriors, log marginal likelihood, expected knowing counts (W,) and spamming counts (W, K)."""
        n_workers, n_labels = log_strategy.shape
        log_spam_answer = log_spam_know[:, :1] + log_strategy  # log (1-theta_j) xi_ja
        log_know = np.broadcast_to(log_spam_know[:, 1:], log_spam_answer.shape)
        log_either = np.logaddexp(log_spam_answer, log_know)  # log P(answer a | T = a)
        weights = np.zeros((n_workers * n_labels, n_labels))
        weights += log_spam_answer.reshape(-1, 1)
        columns = np.arange(n_workers * n_labels)
        weights[columns, self.label_of_column] = log_either.ravel()
        log_joint = np.asarray(self.matrix @ weights) - np.log(n_labels)
        probas, row_log_likelihood = log_posteriors(log_joint)
        # sum over the answers (j, a) of P(T_i = a), then the share of it explained by knowing
        answered_true = np.asarray(self.matrix_t @ probas)[columns, self.label_of_column].reshape(n_workers, n_labels)
        knowing = np.exp(log_know - log_either) * answered_true
        spam_counts = self.column_counts - knowing
        return probas, float(row_log_likelihood.sum()), knowing.sum(axis=1), np.maximum(spam_counts, 0.0)
