"""M-MSR: worker skills by robust rank-one completion of the matrix of pairwise agreements, then a weighted vote."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import eigsh

from strategies.aggregation.base import (
    BaseClassificationAggregator,
    EncodedAnswers,
    Setting,
    argmax_rows,
    encode_answers,
    log_posteriors,
    vote_counts,
)


def _uniform_start(random_state: int | np.random.Generator | None, size: int) -> np.ndarray:
    """The starting vector: uniform draws from a Generator, or for an integer seed the draws of
    ``numpy.random.RandomState(seed)`` (crowd-kit's start, so that runs from the same seed begin alike)."""
    if isinstance(random_state, np.random.Generator):
        return random_state.uniform(size=size)
    return np.random.RandomState(random_state).uniform(size=size)


def pairwise_agreement(answers: EncodedAnswers) -> tuple[np.ndarray, np.ndarray]:
    """(workers x workers) numbers of tasks two workers share and of those they gave the same label; a worker's
    last answer to a task counts, and the diagonal is zero."""
    n_workers, n_tasks, n_labels = answers.n_workers, answers.n_tasks, answers.n_labels
    cell = answers.worker * n_tasks + answers.task
    _, last = np.unique(cell[::-1], return_index=True)  # one answer per (worker, task): the last one given
    keep = answers.n_answers - 1 - last
    worker, task, label = answers.worker[keep], answers.task[keep], answers.label[keep]
    ones = np.ones(keep.size)
    answered = sp.csr_matrix((ones, (worker, task)), shape=(n_workers, n_tasks))
    said = sp.csr_matrix((ones, (worker, task * n_labels + label)), shape=(n_workers, n_tasks * n_labels))
    common = (answered @ answered.T).toarray()
    agree = (said @ said.T).toarray()
    np.fill_diagonal(common, 0.0)
    np.fill_diagonal(agree, 0.0)
    return common, agree


def trimmed_means(ratios: np.ndarray, observed: np.ndarray, current: np.ndarray, n_trim: int) -> np.ndarray:
    """Each column's mean after the mean-subsequence-reduced trim around its ``current`` value.

    Of the observed values of column ``j``, the ``n_trim`` smallest are dropped if at least that many lie below
    ``current[j]`` (otherwise all those below), and likewise the largest above it; the rest are averaged. A column
    left with nothing keeps its current value, and a single zero left becomes ``NaN`` for the caller to floor.
    """
    n_rows = ratios.shape[0]
    values = np.where(observed, ratios, np.inf)
    ordered = np.sort(values, axis=0)
    n_observed = observed.sum(axis=0)
    below = (observed & (ratios < current)).sum(axis=0)
    above = (observed & (ratios > current)).sum(axis=0)
    start = np.where(below < n_trim, below, n_trim)
    stop = n_observed - np.where(above < n_trim, above, n_trim)
    finite = np.where(np.isfinite(ordered), ordered, 0.0)
    sums = np.vstack([np.zeros(ratios.shape[1]), np.cumsum(finite, axis=0)])
    columns = np.arange(ratios.shape[1])
    kept = stop - start
    total = sums[np.clip(stop, 0, n_rows), columns] - sums[np.clip(start, 0, n_rows), columns]
    means = np.divide(total, kept, out=current.astype(np.float64, copy=True), where=kept > 0)
    means[(kept == 1) & (total == 0)] = np.nan
    return means


def skill_signs(covariance: np.ndarray, observed: np.ndarray, unobserved_negative: bool = False) -> np.ndarray:
    """+1 or -1 per worker: Ma and Olshevsky's sign determination. Workers are nodes; a negative covariance
    joins two workers by an edge, a positive one by a path through a node of its own, so that a consistent
    signing is a two-colouring of this graph. The colouring is read off the eigenvector of the most negative
    eigenvalue of the normalised adjacency (the random walk's eigenvalue nearest -1) in each connected group of
    workers, turned so that most of the group is positive.

    ``unobserved_negative`` reads every pair that shares no task, and each worker with itself, as a negative
    covariance, in one group of all workers whose covariances do not sum to zero (crowd-kit 1.4.2's reading)."""
    n_workers = covariance.shape[0]
    signs = np.ones(n_workers)
    if unobserved_negative:
        full = np.where(observed, covariance, -1.0)  # crowd-kit's C is -1/(K-1) wherever no task is shared
        valid = np.flatnonzero(full.sum(axis=1) != 0)
        groups = [valid]
        sign = np.sign(full)
    else:
        sign = np.where(observed, np.sign(covariance), 0.0)
        n_groups, group = connected_components(sp.csr_matrix(observed), directed=False)
        groups = [np.flatnonzero(group == g) for g in range(n_groups)]
    for members in groups:
        if members.size < 2:
            continue
        block = sign[np.ix_(members, members)]
        negative = sp.csr_matrix(block < 0, dtype=np.float64)  # direct edges (and crowd-kit's self-loops)
        first, second = np.nonzero(np.triu(block > 0))  # one middle node per positive pair
        k, m = members.size, first.size
        middle = np.arange(k, k + m)
        rows = np.concatenate([first, second, middle, middle])
        cols = np.concatenate([middle, middle, first, second])
        adjacency = (sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(k + m, k + m))
                     + sp.block_diag([negative, sp.csr_matrix((m, m))], format="csr"))  # fmt: skip
        degree = np.asarray(adjacency.sum(axis=1)).ravel()
        scale = sp.diags(1.0 / np.sqrt(np.maximum(degree, 1e-300)))
        normalised = scale @ adjacency @ scale
        if k + m <= 2000:
            _, vectors = np.linalg.eigh(normalised.toarray())
            vector = vectors[:, 0]
        else:
            _, vectors = eigsh(normalised, k=1, which="SA")
            vector = vectors[:, 0]
        colour = np.where(vector[:k] < 0, -1.0, 1.0)
        signs[members] = colour if colour.sum() >= 0 else -colour
    return signs


@dataclass
class MMSR(BaseClassificationAggregator):
    r"""M-MSR (matrix mean-subsequence-reduced): each worker answers right with probability :math:`p_j` and
    otherwise uniformly among the :math:`K - 1` wrong labels. With :math:`s_j = (K p_j - 1) / (K - 1)`, two
    workers' rescaled agreement rate on the tasks they share has expectation

    .. math::
        C_{ij} = \frac{K}{K - 1}\,\frac{\#\text{agreements}_{ij}}{\#\text{shared}_{ij}} - \frac{1}{K - 1},
        \qquad \mathbb{E}[C_{ij}] = s_i s_j \quad (i \ne j),

    so :math:`|s|` is the rank-one factor of the observed entries of :math:`|C|`. M-MSR finds it robustly: it
    alternates :math:`v_j \leftarrow \mathrm{MSR}_F\{|C_{ij}| / u_i\}_i` and :math:`u_i \leftarrow
    \mathrm{MSR}_F\{|C_{ij}| / v_j\}_j`, where :math:`\mathrm{MSR}_F` drops the :math:`F` values farthest below
    and above the current estimate (fewer when fewer lie on that side) and averages the rest, with :math:`F =
    \lfloor d / 2 \rfloor - 1` for :math:`d` the fewest co-workers any worker has, so that up to :math:`F`
    adversarial co-workers cannot move an estimate. It stops when :math:`\|u v^\top - u' v'^\top\|_F` < ``tol``
    or after ``n_iter`` sweeps, starting from one uniform draw (``random_state``) for both :math:`u` and
    :math:`v`. Then :math:`|s| = u / \sqrt{\|u\| / \|v\|}`, the signs come from the signs of :math:`C`
    (:func:`skill_signs`), :math:`s` is clipped to :math:`[-1/(K-1) + 1/\sqrt{n}, 1 - 1/\sqrt{n}]` (:math:`n`
    tasks) and the label is the vote weighted by :math:`w_j = \log\frac{(K - 1) p_j}{1 - p_j}`, the one-coin
    model's log-odds; ``probas_`` is that model's posterior, :math:`\propto \exp \sum_j w_j [y_{ij} = k]`.

    Q. Ma and A. Olshevsky, "Adversarial Crowdsourcing Through Robust Rank-One Matrix Completion", *Advances in
    Neural Information Processing Systems 33 (NeurIPS)*, 2020. https://arxiv.org/abs/2010.12181

    Where this departs from crowd-kit's ``MMSR`` (1.4.2), on purpose (``crowdkit_compatible=True`` restores each):
    the sign graph holds the observed covariances only (crowd-kit's also reads every pair of workers who share no
    task, and each worker with itself, as a negative covariance, which turns many good workers' weights negative
    on sparse data); :math:`F` is at least 0 (crowd-kit's is -1 when some worker shares tasks with one other or
    none, and then keeps only the largest value); a worker who shares no task with anyone gets the median skill of
    the others (chance, weight 0, when no two workers share a task) instead of the random starting value; and a
    task's label is the argmax of its weighted vote (crowd-kit divides the given labels' scores by their sum, which
    reverses the order when the sum is negative), a tie going to the label more workers gave.
    Both leave out a ratio whose denominator is zero (crowd-kit's NaN skills crash its vote on product).

    ``predict(data)``, ``predict_score(data)`` and ``fit_predict_score(data)`` are crowd-kit's.

    Learned attributes: ``labels_``, ``probas_``, ``scores_`` (crowd-kit's: each given label's summed weight over
    the sum for the labels given),
    ``skills_`` (the weights :math:`w_j`), ``accuracies_`` (a frame worker x ``accuracy``: :math:`p_j`),
    ``loss_history_``.
    """

    settings: ClassVar[dict[str, Setting]] = {
        "n_iter": Setting(int, 0),
        "tol": Setting(float, 0.0),
        "crowdkit_compatible": Setting(choices=(True, False)),
    }

    n_iter: int = 10000
    tol: float = 1e-10
    crowdkit_compatible: bool = False
    random_state: int | np.random.Generator | None = 0

    probas_: pd.DataFrame = field(init=False, repr=False)
    scores_: pd.DataFrame = field(init=False, repr=False)
    skills_: pd.Series = field(init=False, repr=False)
    accuracies_: pd.DataFrame = field(init=False, repr=False)
    loss_history_: list[float] = field(init=False, repr=False)

    def fit(self, data: pd.DataFrame) -> Self:
        answers = encode_answers(data)
        n_labels, n_tasks = max(answers.n_labels, 2), answers.n_tasks
        common, agree = pairwise_agreement(answers)
        observed = common > 0
        covariance = np.zeros_like(common)
        np.divide(agree, common, out=covariance, where=observed)
        covariance = np.where(observed, covariance * n_labels / (n_labels - 1) - 1 / (n_labels - 1), 0.0)
        n_coworkers = observed.sum(axis=0)
        connected = n_coworkers > 0
        n_trim = int(n_coworkers.min()) // 2 - 1
        if not self.crowdkit_compatible:
            n_trim = max(int(n_coworkers[connected].min()) // 2 - 1, 0) if connected.any() else 0
        magnitude = np.abs(covariance)
        floor = 1.0 / np.sqrt(n_tasks)

        start = _uniform_start(self.random_state, answers.n_workers)
        u, v = start.copy(), start.copy()
        self.loss_history_ = []
        for _ in range(self.n_iter):
            u_before, v_before = u, v
            v = self._update(magnitude, observed, u, v, n_trim, floor)
            u = self._update(magnitude.T, observed.T, v, u, n_trim, floor)
            squared = float((u @ u) * (v @ v) - 2 * (u @ u_before) * (v @ v_before))
            squared += float((u_before @ u_before) * (v_before @ v_before))
            loss = float(np.sqrt(max(squared, 0.0)))  # ||u v' - u_before v_before'||_F without the outer products
            self.loss_history_.append(loss)
            if loss < self.tol:
                break

        norm_v = np.linalg.norm(v)
        size = u / np.sqrt(np.linalg.norm(u) / norm_v) if norm_v > 0 else u
        signed = skill_signs(covariance, observed, self.crowdkit_compatible) * size
        s = np.clip(signed, -1 / (n_labels - 1) + floor, 1 - floor)
        if not self.crowdkit_compatible and not connected.all():
            # no shared task, no information: the median of the others, or chance (weight 0) when nobody shares one
            s[~connected] = np.median(s[connected]) if connected.any() else 0.0
        accuracy = s * (n_labels - 1) / n_labels + 1 / n_labels
        weights = np.log1p(n_labels * s / (1 - s))  # = log((K-1) p / (1-p)), exactly 0 at chance (s = 0)

        self.skills_ = answers.worker_series(weights)
        # a frame, not a Series: crowd-kit names a Series attribute after its singular (skills_ -> "skill")
        self.accuracies_ = answers.worker_series(accuracy, name="accuracy").to_frame()
        return self._apply(data, answers)

    def predict(self, data: pd.DataFrame) -> pd.Series:
        """Labels of ``data``'s tasks by the vote with the learned ``skills_`` (a worker not seen in ``fit``: 0)."""
        return self._apply(data).labels_

    def predict_score(self, data: pd.DataFrame) -> pd.DataFrame:
        """crowd-kit's ``scores_`` of ``data``'s tasks with the learned ``skills_``."""
        return self._apply(data).scores_

    def fit_predict_score(self, data: pd.DataFrame) -> pd.DataFrame:
        return self.fit(data).scores_

    def _apply(self, data: pd.DataFrame, answers: EncodedAnswers | None = None) -> Self:
        """The weighted vote on ``data``: ``labels_``, ``probas_`` (the one-coin posterior) and ``scores_``
        (crowd-kit's: each given label's summed weight divided by the sum over the labels given)."""
        answers = answers if answers is not None else encode_answers(data)
        weights = self.skills_.reindex(answers.workers).fillna(0.0).to_numpy(dtype=np.float64)
        scores = vote_counts(answers, weights[answers.worker])
        probas, _ = log_posteriors(scores)
        self.probas_ = answers.proba_frame(probas)
        given = vote_counts(answers) > 0
        totals = np.where(given, scores, 0.0).sum(axis=1, keepdims=True)
        shares = np.where(given, scores / np.where(totals != 0, totals, 1.0), 0.0)
        self.scores_ = answers.proba_frame(shares)
        if self.crowdkit_compatible:  # crowd-kit: the largest of those shares
            self.labels_ = answers.label_series(argmax_rows(np.where(given, shares, -np.inf)))
        else:  # the largest weighted vote; a tie (all weights zero, say) goes to the label more workers gave
            top = scores.max(axis=1, keepdims=True)
            tied = scores >= top - 1e-12 * np.abs(top)
            self.labels_ = answers.label_series(argmax_rows(np.where(tied, vote_counts(answers), -1.0)))
        return self

    @staticmethod
    def _update(
        magnitude: np.ndarray, observed: np.ndarray, other: np.ndarray, current: np.ndarray, n_trim: int, floor: float
    ) -> np.ndarray:
        """One half-sweep: every column's trimmed mean of ``|C_ij| / other_i``, ratios with ``other_i = 0`` left
        out; a column reduced to a single zero gets ``floor`` (crowd-kit's 1/sqrt(n))."""
        usable = observed & (other > 0)[:, None]
        ratios = np.divide(magnitude, other[:, None], out=np.zeros_like(magnitude), where=usable)
        if n_trim < 0:  # crowd-kit's negative F keeps only the largest value
            largest = np.where(usable, ratios, -np.inf).max(axis=0)
            means = np.where(usable.any(axis=0), largest, current)
            means[means == 0] = np.nan
        else:
            means = trimmed_means(ratios, usable, current, n_trim)
        return np.where(np.isnan(means), floor, means)

    def fit_predict(self, data: pd.DataFrame) -> pd.Series:
        return self.fit(data).labels_

    def fit_predict_proba(self, data: pd.DataFrame) -> pd.DataFrame:
        return self.fit(data).probas_
