"""Dawid-Skene: a full confusion matrix per worker, fitted by EM; optionally with gold labels held fixed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Self

import numpy as np
import pandas as pd

from strategies.aggregation._em import EMResult, normalised_log_counts, run_confusion_em
from strategies.aggregation._online import MIN_ANSWERS, REFIT_GROWTH, RESTART_GROWTH, AnswerStream, OnlineConfusionEM
from strategies.aggregation.base import (
    AnswersError,
    BaseClassificationAggregator,
    EncodedAnswers,
    Setting,
    argmax_rows,
    encode_answers,
)


@dataclass
class DawidSkene(BaseClassificationAggregator):
    r"""Dawid-Skene model: each worker has a full confusion matrix, fitted by expectation-maximisation.

    Task :math:`i` has a latent true class :math:`z_i` with :math:`\Pr(z_i = c) = p_c`; worker :math:`j`
    answers label :math:`l` to a task of class :math:`c` with probability :math:`e^j_{lc}` (column :math:`c`
    of the worker's confusion matrix sums to one over :math:`l`), independently across answers:

    .. math::
        \Pr(z_i = c \mid y) \propto p_c \prod_{j \in W_i} e^j_{y_{ij} c},
        \qquad
        e^j_{lc} = \frac{\alpha + \sum_{i} [y_{ij} = l] \Pr(z_i = c \mid y)}
                        {K\alpha + \sum_{i \in T_j} \Pr(z_i = c \mid y)},
        \qquad
        p_c = \frac{\alpha + \sum_i \Pr(z_i = c \mid y)}{K\alpha + n}.

    EM starts from the soft majority vote (the share of votes per label), alternates the E-step (left) and the
    M-step (right) and stops when the smoothed observed-data log-likelihood per answer changes by less than
    ``tol`` or after ``n_iter`` E-steps. The default is the paper's maximum likelihood (``smoothing`` 0, as
    crowd-kit); an additive ``smoothing`` :math:`\alpha > 0` keeps every confusion entry and prior positive, so no
    class becomes impossible (a class that nobody chose, declared by a categorical label column, gets prior
    :math:`\alpha / (K\alpha + n)` and uniform confusion columns). Without it a probability that reaches zero is
    floored at 1e-300, so logs stay finite.

    A. P. Dawid and A. M. Skene, "Maximum Likelihood Estimation of Observer Error-Rates Using the EM
    Algorithm", *Journal of the Royal Statistical Society, Series C (Applied Statistics)* 28(1), 20-28, 1979.
    https://doi.org/10.2307/2346806

    ``fit(data, true_labels=None, initial_error=None)``: ``initial_error`` (crowd-kit's) holds each worker's
    error counts from earlier work, rows ``(worker, answered label)`` and a column per true label; with
    ``initial_error_strategy="addition"`` the first M-step adds them to the expected counts, with ``"assign"`` it
    uses them instead (every worker needed; probabilities allowed), with ``None`` (default) they are ignored.
    With ``n_iter=0`` the posteriors are the soft majority vote. The reported ``errors_`` and ``priors_`` are the
    M-step on the reported posteriors, as in crowd-kit.

    ``true_labels`` (a Series task -> label, e.g. gold answers) fixes those
    tasks' posteriors to the known label throughout EM, so they teach the confusion matrices (crowd-kit's
    signature); they still appear in ``labels_`` and ``probas_`` (one-hot). Known labels of tasks absent from
    ``data`` are ignored; a known label outside the label set raises :class:`AnswersError`.

    Learned attributes (crowd-kit's names and layouts): ``labels_`` (Series by task; ties go to the lowest
    label), ``probas_`` (task x label posteriors), ``priors_`` (Series by label, name ``prior``), ``errors_``
    (DataFrame indexed by ``(worker, label)`` = (worker, answered label) with one column per true label:
    ``errors_.loc[(w, l), c]`` is :math:`e^w_{lc}`), ``loss_history_`` (the objective after each E-step, per
    answer; non-decreasing).

    Online: ``partial_fit(data)`` adds a table of answers to those of earlier ``partial_fit`` calls (new task,
    worker and label ids welcome), refits on all answers so far and sets the same attributes, through the
    online model of :meth:`online_model` (:class:`~strategies.aggregation._online.OnlineConfusionEM`). With
    the default schedule that refit starts from the soft majority vote, so the attributes are those of a batch
    ``fit`` of the same answers up to floating-point rounding, at the cost of one EM run per call;
    ``loss_history_`` is that of the call's refit. ``fit`` starts over: it drops the answers of earlier
    ``partial_fit`` calls. For answer-by-answer updates use ``online_model(...).add``.
    """

    settings: ClassVar[dict[str, Setting]] = {
        "n_iter": Setting(int, 0),
        "tol": Setting(float, 0.0),
        "smoothing": Setting(float, 0.0),
        "initial_error_strategy": Setting(choices=("assign", "addition"), optional=True),
    }

    #: its online model refits confusion matrices on a schedule (``online_model(..., refit_growth=...)``)
    online_refits: ClassVar[bool] = True

    n_iter: int = 100
    tol: float = 1e-5
    smoothing: float = 0.0
    initial_error_strategy: str | None = None

    labels_: pd.Series = field(init=False, repr=False)
    probas_: pd.DataFrame = field(init=False, repr=False)
    priors_: pd.Series = field(init=False, repr=False)
    errors_: pd.DataFrame = field(init=False, repr=False)
    loss_history_: list[float] = field(init=False, repr=False)
    _stream: AnswerStream[OnlineConfusionEM] | None = field(default=None, init=False, repr=False, compare=False)

    def fit(
        self, data: pd.DataFrame, true_labels: pd.Series | None = None, initial_error: pd.DataFrame | None = None
    ) -> Self:
        answers = encode_answers(data)
        known = known_label_codes(answers, true_labels)
        initial = initial_error_counts(answers, initial_error, self.initial_error_strategy)
        result = run_confusion_em(
            answers,
            self._log_confusions,
            self.n_iter,
            self.tol,
            self.smoothing,
            known,
            initial_counts=initial,
            initial_mode=self.initial_error_strategy or "addition",
        )
        self._stream = None
        self._learned(answers, result)
        return self

    def partial_fit(self, data: pd.DataFrame) -> Self:
        """Add ``data`` (columns ``task, worker, label``) to the answers of earlier calls, refit on all of them and
        set the learned attributes as :meth:`fit` does (see the class docstring)."""
        if self._stream is None:
            self._stream = AnswerStream(self.online_model)
        self._stream.add(data)
        model = self._stream.model
        assert model is not None
        if model.answers_since_refit:
            model.refit()  # so that the parameters have seen every answer, as a batch fit's have
        ids, task_order, worker_order, label_order = self._stream.ids()
        result = EMResult(
            probas=model.probas()[np.ix_(task_order, label_order)],
            log_confusions=model.log_confusions()[np.ix_(worker_order, label_order, label_order)],
            priors=model.priors()[label_order],
            loss_history=list(model.loss_history),
        )
        self._learned(ids, result)
        return self

    def online_model(
        self,
        n_tasks: int,
        n_workers: int,
        n_labels: int,
        refit_growth: float = REFIT_GROWTH,
        restart_growth: float = RESTART_GROWTH,
        min_answers: int = MIN_ANSWERS,
    ) -> OnlineConfusionEM:
        """An online model of this aggregator for integer-coded answers (the campaign engine's fast path), with
        its M-step, ``n_iter``, ``tol`` and ``smoothing`` and the refit schedule of
        :class:`~strategies.aggregation._online.OnlineConfusionEM`."""
        return OnlineConfusionEM(
            n_tasks,
            n_workers,
            n_labels,
            self._log_confusions,
            n_iter=self.n_iter,
            tol=self.tol,
            smoothing=self.smoothing,
            refit_growth=refit_growth,
            restart_growth=restart_growth,
            min_answers=min_answers,
        )

    def _learned(self, answers: EncodedAnswers, result: EMResult) -> None:
        """Set the learned attributes from an EM result whose arrays are in ``answers``' id order."""
        self.probas_ = answers.proba_frame(result.probas)
        self.labels_ = answers.label_series(argmax_rows(result.probas))
        self.priors_ = pd.Series(result.priors, index=answers.labels.rename("label"), name="prior")
        self.errors_ = confusion_frame(answers, np.exp(result.log_confusions))
        self.loss_history_ = result.loss_history

    def _log_confusions(self, counts: np.ndarray) -> np.ndarray:
        """M-step: smoothed log confusions ``[worker, answered label, true class]`` from expected counts."""
        return normalised_log_counts(counts, self.smoothing)

    def fit_predict(
        self, data: pd.DataFrame, true_labels: pd.Series | None = None, initial_error: pd.DataFrame | None = None
    ) -> pd.Series:
        return self.fit(data, true_labels, initial_error).labels_

    def fit_predict_proba(
        self, data: pd.DataFrame, true_labels: pd.Series | None = None, initial_error: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        return self.fit(data, true_labels, initial_error).probas_


def initial_error_counts(
    answers: EncodedAnswers, initial_error: pd.DataFrame | None, strategy: str | None
) -> np.ndarray | None:
    """``initial_error`` (crowd-kit's layout: rows (worker, answered label), a column per true label; counts, or
    probabilities with ``"assign"``) as a (W, K, K) array in ``answers``' codes; None without a strategy."""
    if strategy is None or initial_error is None:
        return None
    if strategy not in ("assign", "addition"):
        raise ValueError(f"initial_error_strategy must be one of ['assign', 'addition'] or None, got {strategy!r}")
    if list(initial_error.index.names) != ["worker", "label"]:
        raise ValueError(f"initial_error must be indexed by ['worker', 'label'], got {list(initial_error.index.names)}")
    workers = initial_error.index.get_level_values("worker")
    if strategy == "assign":
        absent = answers.workers[~answers.workers.isin(workers)]
        if len(absent):
            raise ValueError(f"with initial_error_strategy='assign' every worker needs an initial error matrix; "
                             f"missing for {len(absent)} worker(s), e.g. {list(absent[:5])}")  # fmt: skip
        values = initial_error.to_numpy(dtype=np.float64)
        if (values <= 1.0).all():
            sums = initial_error.groupby(level="worker", sort=False).sum().to_numpy(dtype=np.float64)
            if not np.allclose(sums, 1.0):
                raise ValueError(
                    "The sum of each worker's error matrix in initial_error should be 1.0 (probabilities must sum to "
                    "1 for each worker and true label)"
                )
    counts = np.zeros((answers.n_workers, answers.n_labels, answers.n_labels))
    rows = answers.workers.get_indexer(workers)
    answered = answers.labels.get_indexer(initial_error.index.get_level_values("label"))
    true = answers.labels.get_indexer(initial_error.columns)
    keep_rows = (rows >= 0) & (answered >= 0)
    keep_columns = true >= 0
    block = initial_error.to_numpy(dtype=np.float64)[np.ix_(keep_rows, keep_columns)]
    counts[rows[keep_rows][:, None], answered[keep_rows][:, None], true[keep_columns][None, :]] = block
    return counts


def known_label_codes(answers: EncodedAnswers, true_labels: pd.Series | None) -> np.ndarray | None:
    """Label code of each task's known label, -1 where unknown; None when no known labels are given."""
    if true_labels is None:
        return None
    true_labels = true_labels.dropna()
    conflicting = true_labels.groupby(level=0).nunique()
    if (conflicting > 1).any():
        tasks = list(conflicting.index[conflicting > 1][:5])
        raise ValueError(f"true_labels gives more than one label to task(s) {tasks}")
    true_labels = true_labels[~true_labels.index.duplicated()]
    codes = answers.labels.get_indexer(pd.Index(true_labels.to_numpy()))
    if (codes < 0).any():
        unknown = list(pd.unique(true_labels[codes < 0])[:5])
        raise AnswersError(f"true_labels holds label(s) {unknown} outside the answers' labels {list(answers.labels)}")
    rows = answers.tasks.get_indexer(true_labels.index)
    inside = rows >= 0
    known = np.full(answers.n_tasks, -1, dtype=np.int64)
    known[rows[inside]] = codes[inside]
    return known


def confusion_frame(answers: EncodedAnswers, confusions: np.ndarray) -> pd.DataFrame:
    """crowd-kit's ``errors_`` layout (rows: worker, answered label; columns: true label)."""
    index = pd.MultiIndex.from_product([answers.workers, answers.labels], names=["worker", "label"])
    return pd.DataFrame(confusions.reshape(-1, answers.n_labels), index=index, columns=answers.labels.rename(None))
