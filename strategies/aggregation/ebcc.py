"""Enhanced Bayesian classifier combination (EBCC): IBCC with a mixture of subtypes inside each class."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.special import digamma, gammaln

from strategies.aggregation._em import answer_matrix
from strategies.aggregation.base import (
    BaseClassificationAggregator,
    Setting,
    argmax_rows,
    as_generator,
    diagonal_prior,
    encode_answers,
    log_posteriors,
)


def _dirichlet_kl(posterior: np.ndarray, prior: np.ndarray) -> float:
    """Sum over the last axis' Dirichlets of KL(Dir(posterior) || Dir(prior)), prior broadcast to posterior."""
    prior = np.broadcast_to(prior, posterior.shape)
    total_post, total_prior = posterior.sum(axis=-1), prior.sum(axis=-1)
    expected_log = digamma(posterior) - digamma(total_post)[..., None]
    kl = gammaln(total_post) - gammaln(total_prior) - (gammaln(posterior) - gammaln(prior)).sum(axis=-1)
    return float((kl + ((posterior - prior) * expected_log).sum(axis=-1)).sum())


@dataclass
class _Fit:
    """One variational run: joint posteriors over (class, subtype), the Dirichlet posteriors and the bound."""

    joint: np.ndarray  # (n_tasks, K, M)
    class_counts: np.ndarray  # (K,) Dirichlet parameters of q(tau)
    subtype_counts: np.ndarray  # (K, M) of q(nu_k)
    confusion_counts: np.ndarray  # (W, L, K, M) of q(pi_jkm), indexed [worker, answered label, class, subtype]
    elbo: float
    n_iter: int
    converged: bool


@dataclass(frozen=True, eq=False)
class _Model:
    """What every run shares: the answer matrix both ways and the three priors."""

    matrix: sp.csr_matrix  # (tasks, worker * L + label) answer counts
    matrix_t: sp.csr_matrix
    class_prior: np.ndarray  # (K,)
    subtype_prior: float
    confusion_prior: np.ndarray  # (1, L, K, 1)


@dataclass
class EBCC(BaseClassificationAggregator):
    r"""EBCC: the IBCC model in which the items of each class fall into ``n_subtypes`` latent subtypes and every
    worker has one confusion vector per (class, subtype), so that workers who err on the same items share a
    subtype: the mixture induces the correlation between workers that IBCC and Dawid-Skene leave out.

    Generative model, with :math:`K` classes and :math:`M` subtypes:

    .. math::
        \tau \sim \mathrm{Dir}(\alpha), \quad \nu_k \sim \mathrm{Dir}(a_\pi / M), \quad
        \pi^j_{km} \sim \mathrm{Dir}(\beta_k), \quad
        z_i \sim \tau, \quad g_i \mid z_i = k \sim \nu_k, \quad y_{ij} \mid z_i = k, g_i = m \sim \pi^j_{km},

    with :math:`\beta_{kl} = ` ``prior_diagonal`` for :math:`l = k` and ``prior_off_diagonal`` otherwise. The
    small subtype concentration (``subtype_prior`` :math:`= a_\pi`) leaves most subtypes empty, a truncated
    Dirichlet process. Mean-field variational Bayes with :math:`q(z, g) q(\tau) q(\nu) q(\pi)` alternates

    .. math::
        q(z_i = k, g_i = m) \propto \exp\Big(\mathbb{E}\log\tau_k + \mathbb{E}\log\nu_{km}
        + \sum_{j \in W_i} \mathbb{E}\log \pi^j_{km, y_{ij}}\Big)

    with the conjugate Dirichlet updates (prior plus expected counts; :math:`\mathbb{E}\log` of a Dirichlet is
    :math:`\psi(a) - \psi(\sum a)`). A run starts from the vote shares, each split over the subtypes by a random
    Dirichlet(1) draw (from ``random_state``), and stops when no class posterior moves by more than ``tol``, at
    most ``n_iter`` iterations. The bound has many optima (the subtypes can be permuted and split in many ways), so
    ``n_restarts`` runs of ``restart_iter`` iterations each are started and the one with the highest evidence
    lower bound is run on to convergence. ``empirical_prior`` adds the vote-share class counts to :math:`\alpha` =
    ``class_prior`` (the authors set :math:`\alpha` to the counts alone, undefined for a class nobody chose).

    Y. Li, B. I. P. Rubinstein and T. Cohn, "Exploiting Worker Correlation for Label Aggregation in
    Crowdsourcing", *Proceedings of the 36th International Conference on Machine Learning (ICML)*, PMLR 97,
    3886-3895, 2019. https://proceedings.mlr.press/v97/li19i.html. The model's defaults (:math:`M = 10`,
    :math:`a_\pi = 0.1`, :math:`\beta` 4 right and 1 wrong, 500 iterations, tolerance 1e-3) are those of the
    authors' released ``ebcc_vb``; the empirical class prior and the 40 restarts kept by the bound are the protocol
    their published results use. One difference: the authors run every restart to convergence, here the restarts
    are compared after ``restart_iter`` iterations, which takes a quarter of the time (the real-data tests hold it
    to the published accuracies).

    Learned attributes: ``labels_``, ``probas_`` (the class marginals of :math:`q(z, g)`), ``subtypes_`` (a
    DataFrame task x (class, subtype) of the joint posteriors), ``priors_`` (the posterior mean of :math:`\tau`),
    ``skills_`` (each worker's expected share of right answers under the posterior means, weighted by the
    posterior class and subtype mass of the tasks), ``elbo_`` (the evidence lower bound of the kept run) and
    ``n_iter_`` (its iterations).
    """

    # the random subtype split is drawn per task code, which renaming reorders (labels must still agree)
    check_options: ClassVar[dict[str, dict[str, float]]] = {"check_renaming_invariance": {"probas_atol": 1e-3}}
    settings: ClassVar[dict[str, Setting]] = {
        "n_subtypes": Setting(int, 1),
        "subtype_prior": Setting(float, 0.0, low_open=True),
        "class_prior": Setting(float, 0.0, low_open=True),
        "prior_diagonal": Setting(float, 0.0, low_open=True),
        "prior_off_diagonal": Setting(float, 0.0, low_open=True),
        "n_iter": Setting(int, 1),
        "tol": Setting(float, 0.0),
        "n_restarts": Setting(int, 1),
        "restart_iter": Setting(int, 1),
        "empirical_prior": Setting(choices=(True, False)),
    }

    n_subtypes: int = 10
    subtype_prior: float = 0.1
    class_prior: float = 1.0
    prior_diagonal: float = 4.0
    prior_off_diagonal: float = 1.0
    n_iter: int = 500
    tol: float = 1e-3
    n_restarts: int = 40
    restart_iter: int = 50
    empirical_prior: bool = True
    random_state: int | np.random.Generator | None = 0

    probas_: pd.DataFrame = field(init=False, repr=False)
    subtypes_: pd.DataFrame = field(init=False, repr=False)
    priors_: pd.Series = field(init=False, repr=False)
    skills_: pd.Series = field(init=False, repr=False)
    elbo_: float = field(init=False, repr=False)
    n_iter_: int = field(init=False, repr=False)

    def fit(self, data: pd.DataFrame) -> Self:
        answers = encode_answers(data)
        n_tasks, n_workers, n_labels = answers.n_tasks, answers.n_workers, answers.n_labels
        counts = np.zeros((n_tasks, n_labels))
        np.add.at(counts, (answers.task, answers.label), 1.0)
        shares = counts / counts.sum(axis=1, keepdims=True)
        matrix = answer_matrix(answers)
        model = _Model(
            matrix,
            matrix.T.tocsr(),
            np.full(n_labels, self.class_prior) + (shares.sum(axis=0) if self.empirical_prior else 0.0),
            self.subtype_prior / self.n_subtypes,
            self._prior(n_labels)[None, :, :, None],
        )
        rng = as_generator(self.random_state)
        first = min(self.restart_iter, self.n_iter) if self.n_restarts > 1 else self.n_iter
        best: _Fit | None = None
        for _ in range(self.n_restarts):
            split = rng.dirichlet(np.ones(self.n_subtypes), size=(n_tasks, n_labels))
            run = self._variational_bayes(model, shares[:, :, None] * split, 0, first)
            if best is None or run.elbo > best.elbo:
                best = run
        assert best is not None
        if not best.converged and best.n_iter < self.n_iter:
            best = self._variational_bayes(model, best.joint, best.n_iter, self.n_iter - best.n_iter)

        probas = best.joint.sum(axis=2)
        self.probas_ = answers.proba_frame(probas)
        self.labels_ = answers.label_series(argmax_rows(probas))
        columns = pd.MultiIndex.from_product([answers.labels, range(self.n_subtypes)], names=["label", "subtype"])
        self.subtypes_ = pd.DataFrame(best.joint.reshape(n_tasks, -1), index=answers.tasks.rename("task"),
                                      columns=columns)  # fmt: skip
        self.priors_ = pd.Series(best.class_counts / best.class_counts.sum(), index=answers.labels.rename("label"),
                                 name="prior")  # fmt: skip
        confusion = best.confusion_counts / best.confusion_counts.sum(axis=1, keepdims=True)  # E[pi], (W, L, K, M)
        answered = (best.confusion_counts - self._prior(n_labels)[None, :, :, None]).sum(axis=1)  # (W, K, M)
        right = (answered * np.einsum("wkkm->wkm", confusion)).sum(axis=(1, 2))
        total = answered.sum(axis=(1, 2))
        self.skills_ = answers.worker_series(np.divide(right, total, out=np.zeros(n_workers), where=total > 0))
        self.elbo_ = best.elbo
        self.n_iter_ = best.n_iter
        return self

    def _prior(self, n_labels: int) -> np.ndarray:
        """:math:`\\beta` as ``[answered label, class]``."""
        return diagonal_prior(n_labels, self.prior_diagonal, self.prior_off_diagonal)

    def _variational_bayes(self, model: _Model, joint: np.ndarray, done: int, n_steps: int) -> _Fit:
        """At most ``n_steps`` more iterations from ``joint`` (``done`` so far), fewer once converged."""
        n_tasks, n_labels, n_sub = joint.shape
        n_workers = model.matrix_t.shape[0] // n_labels
        probas = joint.sum(axis=2)
        converged = False
        for step in range(n_steps):  # noqa: B007 - the count is reported
            class_counts = model.class_prior + probas.sum(axis=0)
            subtype_counts = model.subtype_prior + joint.sum(axis=0)
            flat = joint.reshape(n_tasks, n_labels * n_sub)
            expected = np.asarray(model.matrix_t @ flat).reshape(n_workers, n_labels, n_labels, n_sub)
            confusion_counts = model.confusion_prior + expected
            log_confusion = digamma(confusion_counts) - digamma(confusion_counts.sum(axis=1, keepdims=True))
            log_class = digamma(class_counts) - digamma(class_counts.sum())
            log_subtype = digamma(subtype_counts) - digamma(subtype_counts.sum(axis=1, keepdims=True))
            log_joint = np.asarray(model.matrix @ log_confusion.reshape(n_workers * n_labels, n_labels * n_sub))
            log_joint += (log_class[:, None] + log_subtype).ravel()
            posteriors, log_norm = log_posteriors(log_joint)
            joint = posteriors.reshape(n_tasks, n_labels, n_sub)
            previous, probas = probas, joint.sum(axis=2)
            if np.max(np.abs(probas - previous)) <= self.tol:
                converged = True
                break
        # the bound at q(z, g) optimal for the parameters' q: sum of log normalisers minus the KL of each Dirichlet
        elbo = float(log_norm.sum()) - _dirichlet_kl(class_counts, model.class_prior)
        elbo -= _dirichlet_kl(subtype_counts, np.asarray(model.subtype_prior))
        elbo -= _dirichlet_kl(np.moveaxis(confusion_counts, 1, -1), np.moveaxis(model.confusion_prior, 1, -1))
        return _Fit(joint, class_counts, subtype_counts, confusion_counts, elbo, done + step + 1, converged)

    def fit_predict(self, data: pd.DataFrame) -> pd.Series:
        return self.fit(data).labels_

    def fit_predict_proba(self, data: pd.DataFrame) -> pd.DataFrame:
        return self.fit(data).probas_
