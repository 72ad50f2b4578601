"""Bayesian weighted average (BWA): a weighted vote whose weights are each worker's estimated precision."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp

from strategies.aggregation.base import (
    BaseClassificationAggregator,
    Setting,
    argmax_rows,
    encode_answers,
)


@dataclass
class BWA(BaseClassificationAggregator):
    r"""BWA: for each class :math:`k` in turn, the one-hot answers :math:`y_{ij} = [\text{label} = k]` are noisy
    readings of the task's score :math:`z_i`, Gaussian with the worker's precision :math:`v_j`, which has a
    Gamma(:math:`a`, :math:`b`) prior; the scores have a Gaussian prior of precision :math:`\lambda` around their
    mean. Coordinate ascent alternates

    .. math::
        v_j = \frac{a + N_j}{b + \sum_{i \in T_j} (z_i - y_{ij})^2},
        \qquad
        z_i = \frac{\lambda \bar z + \sum_{j \in W_i} v_j\, y_{ij}}{\lambda + \sum_{j \in W_i} v_j},

    from the share of votes, until no score moves by more than a relative ``rtol``, at most ``n_iter`` times. The
    rate is set from the data: :math:`b = a \sum_i n_i z_i (1 - z_i) / N`, times :math:`4 (1 - 1/K)` with
    ``prior_correction`` (:math:`n_i` the answers to task :math:`i`, :math:`N` all answers, :math:`z` the vote
    shares). The label is the class of the highest score; ``probas_`` are the scores normalised over classes.
    A worker's repeated answers to one task count once per label given.

    Y. Li, B. I. P. Rubinstein and T. Cohn, "Exploiting Worker Correlation for Label Aggregation in
    Crowdsourcing", *Proceedings of the 36th International Conference on Machine Learning (ICML)*, PMLR 97,
    3886-3895, 2019, where BWA is their baseline (defaults: :math:`a = 15`, :math:`\lambda = 1`).
    https://proceedings.mlr.press/v97/li19i.html

    Learned attributes: ``labels_``, ``probas_``, ``skills_`` (DataFrame worker x label of the precisions).
    """

    settings: ClassVar[dict[str, Setting]] = {
        "a": Setting(float, 0.0, low_open=True),
        "lambda_": Setting(float, 0.0),
        "n_iter": Setting(int, 1),
        "rtol": Setting(float, 0.0),
        "prior_correction": Setting(choices=(True, False)),
    }

    a: float = 15.0
    lambda_: float = 1.0
    n_iter: int = 500
    rtol: float = 1e-3
    prior_correction: bool = True

    probas_: pd.DataFrame = field(init=False, repr=False)
    skills_: pd.DataFrame = field(init=False, repr=False)

    def fit(self, data: pd.DataFrame) -> Self:
        answers = encode_answers(data)
        n_tasks, n_workers, n_labels = answers.n_tasks, answers.n_workers, answers.n_labels
        pair = np.unique(answers.task * n_workers + answers.worker)  # one cell per (task, worker) answered
        exists = sp.csr_matrix((np.ones(pair.size), (pair // n_workers, pair % n_workers)), shape=(n_tasks, n_workers))
        answers_per_task = np.asarray(exists.sum(axis=1)).ravel()
        answers_per_worker = np.asarray(exists.sum(axis=0)).ravel()
        correction = 4 * (1 - 1 / n_labels) if self.prior_correction else 1.0
        scores = np.empty((n_tasks, n_labels))
        precisions = np.empty((n_workers, n_labels))
        for label in range(n_labels):
            cell = np.unique((answers.task * n_workers + answers.worker)[answers.label == label])
            said = sp.csr_matrix((np.ones(cell.size), (cell // n_workers, cell % n_workers)),
                                 shape=(n_tasks, n_workers))  # fmt: skip
            said_t, exists_t = said.T.tocsr(), exists.T.tocsr()
            z = np.asarray(said.sum(axis=1)).ravel() / answers_per_task
            rate = self.a * float(answers_per_task @ (z * (1 - z))) / pair.size * correction
            said_per_worker = np.asarray(said.sum(axis=0)).ravel()
            for _ in range(self.n_iter):
                squared = exists_t @ (z * z) - 2 * (said_t @ z) + said_per_worker  # sum over the worker's tasks
                # a worker who matches the scores exactly (unanimous tasks, a class nobody chose) has an unbounded
                # precision: the floor keeps it finite, and far above the others'
                v = (self.a + answers_per_worker) / np.maximum(rate + squared, 1e-12)
                new = (self.lambda_ * z.mean() + said @ v) / (self.lambda_ + exists @ v)
                done = np.allclose(z, new, rtol=self.rtol)
                z = new
                if done:
                    break
            scores[:, label], precisions[:, label] = z, v
        totals = scores.sum(axis=1, keepdims=True)
        probas = np.divide(scores, totals, out=np.full_like(scores, 1.0 / n_labels), where=totals > 0)
        self.probas_ = answers.proba_frame(probas)
        self.labels_ = answers.label_series(argmax_rows(scores))
        self.skills_ = pd.DataFrame(precisions, index=answers.workers.rename("worker"),
                                    columns=answers.labels.rename("label"))  # fmt: skip
        return self

    def fit_predict(self, data: pd.DataFrame) -> pd.Series:
        return self.fit(data).labels_

    def fit_predict_proba(self, data: pd.DataFrame) -> pd.DataFrame:
        return self.fit(data).probas_
