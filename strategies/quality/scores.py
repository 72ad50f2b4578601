r"""Rater quality scores on any answer table (``task, worker, label``), with or without gold.

:func:`rater_scores` gives one row per worker: how much they answered, their accuracy on gold tasks, their accuracy
and spammer score estimated without gold from a Dawid-Skene fit, and their agreement with the other workers.
:func:`flag_raters` turns one score into a flag and :func:`flag_precision_recall` scores the flags against the
truly bad raters (in the simulator, the spammer and adversary archetypes).

Every score is computed on the integer codes of :func:`~strategies.aggregation.base.encode_answers` with counts and
array indexing, without a Python loop over workers or tasks. Malformed tables (empty, a missing column, a missing
value) raise :class:`~strategies.aggregation.base.AnswersError`, as for the aggregators.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from strategies.aggregation._agreement import agreement_counts, reference_codes
from strategies.aggregation.base import AnswersError, EncodedAnswers, encode_answers
from strategies.aggregation.dawid_skene import DawidSkene

SCORE_COLUMNS: tuple[str, ...] = (
    "n_answers",
    "gold_answers",
    "gold_accuracy",
    "estimated_accuracy",
    "spammer_score",
    "agreement",
)


def rater_scores(
    answers: pd.DataFrame,
    gold: pd.Series | None = None,
    consensus: pd.Series | None = None,
    *,
    model: DawidSkene | None = None,
) -> pd.DataFrame:
    r"""Quality scores of every worker in ``answers``, a DataFrame indexed by worker (index name ``worker``).

    Columns:

    * ``n_answers``: the worker's answers (duplicate answers to one task count separately, as in the vote).
    * ``gold_answers``, ``gold_accuracy``: answers on tasks whose label is in ``gold`` (a Series task -> label) and
      the share of them equal to it; a gold label that nobody gave counts as answered and wrong. Without ``gold``,
      or for a worker who answered no gold task, ``gold_answers`` is 0 and ``gold_accuracy`` NaN.
    * ``estimated_accuracy``: :math:`\sum_c p_c e^j_{cc}`, the worker's probability of answering the true class of
      a random task under a Dawid-Skene fit *without* gold (priors :math:`p`, confusion matrix
      :math:`e^j_{lc} = \Pr(\text{answer } l \mid \text{class } c)`; see :class:`DawidSkene`).
    * ``spammer_score``: Raykar and Yu's spammer score (:func:`spammer_scores`) of the same confusion matrices:
      0 for a worker whose answers do not depend on the true class, 1 for a perfect one.
    * ``agreement``: the worker's expected agreement with the consensus of the other workers; see
      :func:`leave_one_out_agreement`. With ``consensus`` (a Series task -> label, e.g. an aggregator's
      ``labels_``) it is instead the share of the worker's answers equal to the consensus label, over the tasks
      that have one. NaN for a worker with no comparable answer (every task answered by nobody else, or no task
      in ``consensus``).

    ``model`` sets the Dawid-Skene hyperparameters (default ``DawidSkene()``; a copy is fitted, ``model`` itself is
    left unfitted). The fit never sees ``gold``, so that the estimates can be checked against ``gold_accuracy``.

    Degenerate input: an empty table, a missing column or a missing value raise :class:`AnswersError`, and so does
    a table with a single label (nothing can be told apart: declare the label set with a categorical label
    column). A worker none of whose tasks was answered by anybody else (in particular a single rater) gets NaN
    ``estimated_accuracy``, ``spammer_score`` and leave-one-out ``agreement``: no other answer constrains their
    confusion matrix, so any value would be an artefact of where EM started. A worker with few answers keeps
    confusion columns near uniform for the classes they rarely saw (the smoothing), hence a score between the
    extremes: :func:`flag_raters` ignores workers below a minimum number of answers.
    """
    encoded = encode_answers(answers)
    if encoded.n_labels < 2:
        raise AnswersError(
            f"column 'label' holds a single label {list(encoded.labels)}; rater scores need at least two "
            "(declare the label set with a categorical label column)"
        )
    fitted = (replace(model) if model is not None else DawidSkene()).fit(answers)
    confusions = worker_confusions(fitted, encoded.workers)
    priors = fitted.priors_.reindex(encoded.labels).to_numpy()

    n_answers = np.bincount(encoded.worker, minlength=encoded.n_workers)
    if gold is not None:
        gold_correct, gold_answered = agreement_counts(encoded, reference_codes(encoded, _label_series(gold, "gold")))
    else:
        gold_correct = gold_answered = np.zeros(encoded.n_workers)
    agreeing, overlapping = leave_one_out_agreement(encoded)
    compared = overlapping
    if consensus is not None:
        agreeing, compared = agreement_counts(encoded, reference_codes(encoded, _label_series(consensus, "consensus")))
    identified = overlapping > 0  # a worker alone on every task could have any confusion matrix

    scores = pd.DataFrame(
        {
            "n_answers": n_answers.astype(np.int64),
            "gold_answers": gold_answered.astype(np.int64),
            "gold_accuracy": _share(gold_correct, gold_answered),
            "estimated_accuracy": np.where(identified, np.einsum("c,jcc->j", priors, confusions), np.nan),
            "spammer_score": np.where(identified, spammer_scores(confusions), np.nan),
            "agreement": _share(agreeing, compared),
        },
        index=encoded.workers.rename("worker"),
    )
    return scores


def worker_confusions(model: DawidSkene, workers: pd.Index) -> np.ndarray:
    """``(n_workers, K, K)`` confusions ``[worker, answered label, true class]`` of a fitted model, in ``workers``
    order (crowd-kit's ``errors_`` layout reshaped)."""
    n_labels = model.errors_.shape[1]
    confusions = model.errors_.to_numpy().reshape(-1, n_labels, n_labels)
    fitted_workers = model.errors_.index.get_level_values("worker")[::n_labels]
    rows = pd.Index(fitted_workers).get_indexer(workers)
    if (rows < 0).any():
        raise ValueError(f"the fitted model has no confusion matrix for worker(s) {list(workers[rows < 0][:5])}")
    return confusions[rows]


def spammer_scores(confusions: np.ndarray) -> np.ndarray:
    r"""Raykar and Yu's spammer score of each ``(K, K)`` confusion matrix ``[answered label, true class]``.

    Write :math:`A^j` for worker :math:`j`'s confusion matrix with one row per true class,
    :math:`a^j_{ck} = \Pr(\text{answer } k \mid \text{class } c)`. A spammer answers independently of the true
    class: all rows of :math:`A^j` are equal, :math:`A^j = \mathbf{e} v^\top` is rank one. The score is the squared
    Frobenius distance to the closest such matrix (reached at :math:`v` = the mean row), normalised to
    :math:`[0, 1]`:

    .. math::
        S^j = \frac{\min_v \lVert A^j - \mathbf{e} v^\top \rVert_F^2}{K - 1}
            = \frac{1}{K(K-1)} \sum_{c < c'} \sum_k \left(a^j_{ck} - a^j_{c'k}\right)^2,

    which is 0 for a spammer and 1 for a perfect worker (:math:`A^j = I`), and for binary labels reduces to
    :math:`(\alpha^j + \beta^j - 1)^2` with sensitivity :math:`\alpha^j` and specificity :math:`\beta^j`. The
    score measures how informative the answers are, not how often they are right: a worker who always answers a
    fixed permutation of the truth (e.g. an adversary who flips binary labels) also scores 1, while one who picks
    a wrong label uniformly scores :math:`1/(K-1)^2`: catch adversaries with ``estimated_accuracy`` or
    ``agreement``.

    V. C. Raykar and S. Yu, "Eliminating Spammers and Ranking Annotators for Crowdsourced Labeling Tasks",
    *Journal of Machine Learning Research* 13, 491-518, 2012 (first in "Ranking annotators for crowdsourced
    labeling tasks", NIPS 2011): the binary score and its categorical generalisation. No equation number is cited
    because none could be checked against the paper's text; the normalised pairwise form above is also the one
    peerannot's ``Spam_Score`` implements. https://jmlr.org/papers/v13/raykar12a.html
    """
    n_labels = confusions.shape[-1]
    if n_labels < 2:
        raise ValueError("the spammer score needs at least two labels")
    # columns of our [answered, class] layout are the rows a_c of A; their mean over c is the closest rank-one row
    deviation = confusions - confusions.mean(axis=-1, keepdims=True)
    result: np.ndarray = np.square(deviation).sum(axis=(-2, -1)) / (n_labels - 1)
    return result


def leave_one_out_agreement(answers: EncodedAnswers) -> tuple[np.ndarray, np.ndarray]:
    r"""Per worker: (expected agreements with the others' majority vote, answers on tasks others answered).

    For each answer of worker :math:`j` to task :math:`i`, the consensus is the majority vote of the *other*
    workers' answers to :math:`i` (all of :math:`j`'s own answers to :math:`i` left out, so duplicates cannot
    vote for themselves). An :math:`m`-way tie for the most votes gives credit :math:`1/m` if the answer is among
    the tied labels: the expected agreement with a uniformly random tie-break, the "random ties" scoring of
    majority vote (a two-way tie counts as half). Answers to a task nobody else answered are not compared.
    The agreement rate is the first array divided by the second.
    """
    n_labels = answers.n_labels
    pair, _ = pd.factorize(answers.task * answers.n_workers + answers.worker)
    pair_counts = np.bincount(pair * n_labels + answers.label, minlength=(pair.max() + 1) * n_labels)
    task_counts = np.bincount(answers.task * n_labels + answers.label, minlength=answers.n_tasks * n_labels)
    others = task_counts.reshape(-1, n_labels)[answers.task] - pair_counts.reshape(-1, n_labels)[pair]
    top = others.max(axis=1)
    compared = top > 0
    tied = others == top[:, None]
    credit = np.where(compared, tied[np.arange(answers.n_answers), answers.label] / tied.sum(axis=1), 0.0)
    agreeing = np.bincount(answers.worker, weights=credit, minlength=answers.n_workers)
    n_compared = np.bincount(answers.worker, weights=compared, minlength=answers.n_workers)
    return agreeing, n_compared


def flag_raters(scores: pd.DataFrame, column: str, threshold: float, min_answers: int = 20) -> pd.Series:
    r"""Workers whose ``column`` score is below ``threshold`` and who gave at least ``min_answers`` answers.

    A Series of bools indexed like ``scores`` (name ``flagged``); a NaN score (nothing to judge the worker by) is
    never flagged. Choosing a threshold for ``spammer_score``: with :math:`n` answers, sampling noise alone gives a
    uniform spammer an expected score of about :math:`(K - 1)/n` (the variance of :math:`K` confusion columns
    estimated from about :math:`n/K` answers each; a little more when some class has few), so the threshold must
    sit well above that and below the honest workers. The default ``min_answers`` of 20 keeps that noise near 0.05
    for binary labels and leaves alone the workers too new to judge.
    """
    if column not in scores.columns:
        raise KeyError(f"scores has no column {column!r}; found {list(scores.columns)}")
    if "n_answers" not in scores.columns:
        raise KeyError(f"scores needs an 'n_answers' column to apply min_answers; found {list(scores.columns)}")
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number, got {threshold}")
    if min_answers < 0:
        raise ValueError(f"min_answers must be non-negative, got {min_answers}")
    values = scores[column].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        below = values < threshold  # NaN compares False: not flagged
    enough = scores["n_answers"].to_numpy() >= min_answers
    return pd.Series(below & enough, index=scores.index, name="flagged")


def flag_precision_recall(flagged: pd.Series, truly_bad: pd.Series) -> dict[str, float]:
    """Precision and recall of ``flagged`` against ``truly_bad`` (both bool Series indexed by worker).

    Returns ``precision`` (share of flagged workers that are bad), ``recall`` (share of bad workers flagged),
    ``n_flagged`` and ``n_bad``. Both Series must cover the same workers (in any order). The empty cases are
    defined, never NaN: flagging nobody has precision 1.0 (no false alarm was raised), and with no bad worker the
    recall is 1.0 (no bad worker was missed); so a policy that flags nobody when nobody is bad scores 1 and 1.
    """
    flags = _bool_series(flagged, "flagged")
    bad = _bool_series(truly_bad, "truly_bad")
    if flags.index.has_duplicates or bad.index.has_duplicates:
        raise ValueError("flagged and truly_bad must give each worker once")
    if not flags.index.sort_values().equals(bad.index.sort_values()):
        only_flagged = list(flags.index.difference(bad.index)[:5])
        only_bad = list(bad.index.difference(flags.index)[:5])
        raise ValueError(
            f"flagged and truly_bad cover different workers: only in flagged {only_flagged}, only in truly_bad "
            f"{only_bad}"
        )
    bad = bad.reindex(flags.index)
    n_flagged = int(flags.sum())
    n_bad = int(bad.sum())
    n_caught = int((flags & bad).sum())
    return {
        "precision": n_caught / n_flagged if n_flagged else 1.0,
        "recall": n_caught / n_bad if n_bad else 1.0,
        "n_flagged": n_flagged,
        "n_bad": n_bad,
    }


def _share(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator``, NaN where the denominator is 0 (nothing was compared)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), np.nan)


def _label_series(labels: Any, name: str) -> pd.Series:
    if not isinstance(labels, pd.Series):
        raise TypeError(f"{name} must be a pandas Series task -> label, got {type(labels).__name__}")
    return labels


def _bool_series(values: Any, name: str) -> pd.Series:
    if not isinstance(values, pd.Series):
        raise TypeError(f"{name} must be a pandas Series of bools indexed by worker, got {type(values).__name__}")
    if not pd.api.types.is_bool_dtype(values.dtype):
        raise TypeError(f"{name} must hold bools (no missing values), got dtype {values.dtype}")
    return values.astype(bool)


__all__ = [
    "SCORE_COLUMNS",
    "flag_precision_recall",
    "flag_raters",
    "leave_one_out_agreement",
    "rater_scores",
    "spammer_scores",
    "worker_confusions",
]
