"""A multi-annotator label-quality score: the model and every rater's answers as one weighted ensemble (CROWDLAB)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from strategies.aggregation.base import AnswersError, Setting, check_answers
from strategies.cleaning.base import BaseDetector, DetectionError, check_probabilities, out_of_sample_probabilities

# A predictor no better than always answering the most common class would get a weight <= 0; it keeps this tiny
# weight instead, so that the ensemble stays a convex combination and no item's total weight is zero.
_WEIGHT_FLOOR = 1e-3
# The error of the most-likely-class baseline divides the weights; when every reference item has the same label
# that error is 0 and this keeps the weights finite (only a perfect predictor then keeps a weight above the floor).
_ERROR_FLOOR = 1e-6


def _item_positions(tasks: Any, n_items: int, answers: pd.DataFrame) -> np.ndarray:
    """Row of X of every answer's task, checking ``tasks`` (one unique id per row) and the answers' task column."""
    ids = pd.Index(np.arange(n_items) if tasks is None else np.asarray(tasks))
    if ids.ndim != 1 or len(ids) != n_items:
        raise DetectionError(f"tasks has {len(ids)} entries but X has {n_items} items; give one task id per item")
    if ids.hasnans:
        raise DetectionError("tasks has missing (NaN/None) value(s); give one task id per item")
    if not ids.is_unique:
        repeated = list(ids[ids.duplicated()].unique()[:5])
        raise DetectionError(f"tasks must be unique (one row of X per task), repeated: {repeated}")
    positions = ids.get_indexer(pd.Index(answers["task"]))
    unknown = positions < 0
    if unknown.any():
        first = list(pd.unique(answers["task"].to_numpy()[unknown])[:5])
        raise DetectionError(
            f"answers column 'task' holds {int(unknown.sum())} answer(s) to tasks not in tasks (first: {first}); "
            "every answered task needs its row in X (pass tasks=, the task id of each row)"
        )
    return positions.astype(np.int64)


def _answer_codes(classes: np.ndarray, answers: pd.DataFrame) -> np.ndarray:
    """Class code of every answer's label, checking that each is one of ``classes`` (the classes of ``labels``)."""
    codes = pd.Index(classes).get_indexer(pd.Index(answers["label"]))
    unknown = codes < 0
    if unknown.any():
        first = list(pd.unique(answers["label"].to_numpy()[unknown])[:5])
        raise DetectionError(
            f"answers column 'label' holds {int(unknown.sum())} label(s) not among the classes of labels "
            f"{list(classes)} (first: {first}); the consensus labels must cover every class answered"
        )
    return codes.astype(np.int64)


@dataclass
class MultiAnnotatorScore(BaseDetector):
    r"""CROWDLAB's consensus quality score (Goh, Tkachenko and Mueller): how likely each consensus label is right,
    from the classifier's out-of-sample probabilities and the raw answers, each rater treated as one more predictor.

    Inputs: the consensus label :math:`y_i` of every item (``labels``, e.g. an aggregator's ``labels_``), the long
    answer table (``answers``: ``task, worker, label``; ``tasks`` maps rows of X to task ids) and out-of-sample
    probabilities :math:`p_M(i)` (``pred_probs``, else ``n_folds``-fold cross-validated ``model``). Let
    :math:`J_i` be the raters who answered item :math:`i` (answer :math:`y_{ij}`) and :math:`R` the reference items,
    those with at least two answers (all answered items if none has two), where agreeing with the consensus is not
    agreeing with oneself.

    Estimated accuracies against the consensus on :math:`R`: rater :math:`j`'s agreement :math:`a_j` (share of
    their answers equal to :math:`y_i`; a rater with no answer in :math:`R` gets the pooled share of all raters),
    the model's :math:`A_M` (share of :math:`\arg\max p_M(i) = y_i`), and the most-likely-class baseline
    :math:`A_{MLC}` (share of the most common consensus class). Each predictor is weighted by how much better than
    that baseline it is,

    .. math::
        w_j = 1 - \frac{1 - a_j}{1 - A_{MLC}}, \qquad
        w_M = \Bigl(1 - \frac{1 - A_M}{1 - A_{MLC}}\Bigr) \sqrt{\bar n},

    where :math:`\bar n` is the mean number of answers per answered item (the more answers, the more the model must
    weigh to be heard), both clipped below at 1e-3 (a predictor worse than the baseline keeps a negligible say).

    Each answer becomes a probability vector through the likelihood :math:`P` that a rater's label is correct, the
    mean over :math:`R` of the share of an item's answers that agree with its consensus, floored at :math:`1/K` so
    that an answer never counts against its own class: :math:`p_j(i)_k = P` if :math:`k = y_{ij}`, else
    :math:`(1 - P)/(K - 1)`. The ensemble posterior and the consensus quality score are

    .. math::
        \hat p(i) = \frac{w_M\, p_M(i) + \sum_{j \in J_i} w_j\, p_j(i)}{w_M + \sum_{j \in J_i} w_j}, \qquad
        q_i = \hat p(i)_{y_i}.

    An item with a single answer (or none) is handled by the same formula: the model's probability then decides
    between items that the lone answer supports equally. A rater's quality blends the mean ensemble probability of
    their answers, :math:`Q_j = \text{mean}_{i : j \in J_i} \hat p(i)_{y_{ij}}`, with their agreement:
    :math:`\lambda Q_j + (1 - \lambda) a_j`, :math:`\lambda = w_M / (w_M + \bar w)`, :math:`\bar w` the mean rater
    weight (the more the model is trusted, the more the ensemble's view counts). Duplicate answers of one rater to
    one task count separately, as in the aggregators.

    Settings: ``model`` (None: :func:`~strategies.cleaning.base.default_model`), ``n_folds`` (>= 2, default 5),
    ``threshold`` (in [0, 1], default 0.5: ``issues_`` are the items with :math:`q_i <` ``threshold``, the ensemble
    giving their consensus label less than half its mass), ``random_state`` (the folds).

    Attributes: ``consensus_quality_`` (:math:`q_i` per item), ``probas_`` (:math:`\hat p`, items x classes, columns
    ``classes_``), ``annotator_quality_``, ``annotator_agreement_`` (:math:`a_j`) and ``annotator_weight_``
    (:math:`w_j`), Series indexed by worker; ``model_weight_`` (:math:`w_M`), ``model_accuracy_`` (:math:`A_M`),
    ``answer_likelihood_`` (:math:`P`), ``n_answers_`` (answers per item), ``scores_`` = :math:`1 - q_i`, ``issues_``,
    ``classes_``.

    Written from the paper's description of the method, not from cleanlab's implementation; the floors (1e-3 on
    the weights, 1e-6 on the baseline error) and the fallbacks for raters or data without a reference item are
    choices made here.

    H. W. Goh, U. Tkachenko and J. Mueller. CROWDLAB: Supervised learning to infer consensus labels and quality
    scores for data with multiple annotators. NeurIPS 2022 Human in the Loop Learning Workshop; arXiv:2210.06812,
    2022. https://arxiv.org/abs/2210.06812
    """

    settings: ClassVar[dict[str, Setting]] = {
        "n_folds": Setting(int, 2),
        "threshold": Setting(float, 0.0, 1.0),
    }

    model: Any = None
    n_folds: int = 5
    threshold: float = 0.5
    random_state: int | None = None

    consensus_quality_: np.ndarray = field(init=False, repr=False)
    probas_: np.ndarray = field(init=False, repr=False)
    annotator_quality_: pd.Series = field(init=False, repr=False)
    annotator_agreement_: pd.Series = field(init=False, repr=False)
    annotator_weight_: pd.Series = field(init=False, repr=False)
    model_weight_: float = field(init=False, repr=False)
    model_accuracy_: float = field(init=False, repr=False)
    answer_likelihood_: float = field(init=False, repr=False)
    n_answers_: np.ndarray = field(init=False, repr=False)

    def fit(
        self,
        X: Any,
        labels: Any,
        answers: pd.DataFrame,
        tasks: Any = None,
        pred_probs: Any = None,
    ) -> Self:
        """Score the consensus ``labels`` of the rows of ``X`` from the model and the crowd ``answers``.

        ``labels`` may be an aggregator's ``labels_`` (a Series indexed by task): with ``tasks`` given it is read by
        task id, not by position (its order need not be that of the rows of X)."""
        if isinstance(labels, pd.Series) and tasks is not None:
            aligned = labels.reindex(pd.Index(np.asarray(tasks)))
            if aligned.isna().any():
                missing = list(pd.Index(np.asarray(tasks))[aligned.isna().to_numpy()][:5])
                raise DetectionError(f"labels has no label for task(s) {missing} of tasks; give one label per task")
            labels = aligned.to_numpy()
        features, codes = self._inputs(X, labels)
        n_items, n_classes = features.shape[0], len(self.classes_)
        try:
            check_answers(answers)
        except AnswersError as error:
            raise DetectionError(str(error)) from error
        item = _item_positions(tasks, n_items, answers)
        answered = _answer_codes(self.classes_, answers)
        worker, workers = pd.factorize(answers["worker"], sort=True)
        n_workers = len(workers)
        if pred_probs is None:
            model_probs = out_of_sample_probabilities(
                self._model(), features, codes, n_classes, self.n_folds, self._rng(), self.classes_
            )
        else:
            model_probs = check_probabilities(pred_probs, n_items, n_classes)

        n_answers = np.bincount(item, minlength=n_items)
        agrees = (answered == codes[item]).astype(float)
        reference = n_answers >= 2
        if not reference.any():
            reference = n_answers >= 1
        in_reference = reference[item]

        # accuracies against the consensus, on the reference items only
        agreement_sum = np.bincount(worker[in_reference], weights=agrees[in_reference], minlength=n_workers)
        agreement_count = np.bincount(worker[in_reference], minlength=n_workers)
        pooled = float(agrees[in_reference].mean())
        agreement = np.where(agreement_count > 0, agreement_sum / np.maximum(agreement_count, 1), pooled)
        model_accuracy = float((np.argmax(model_probs[reference], axis=1) == codes[reference]).mean())
        baseline_error = max(1.0 - np.bincount(codes[reference]).max() / reference.sum(), _ERROR_FLOOR)
        weights = np.maximum(1.0 - (1.0 - agreement) / baseline_error, _WEIGHT_FLOOR)
        mean_answers = float(n_answers[n_answers > 0].mean())
        model_weight = max(1.0 - (1.0 - model_accuracy) / baseline_error, _WEIGHT_FLOOR) * np.sqrt(mean_answers)

        # each answer as a probability vector: P on the answered class, the rest spread evenly
        item_agreement = np.bincount(item, weights=agrees, minlength=n_items) / np.maximum(n_answers, 1)
        likelihood = max(float(item_agreement[reference].mean()), 1.0 / n_classes)
        spread = (1.0 - likelihood) / (n_classes - 1)
        answer_weight = weights[worker]
        item_weight = np.bincount(item, weights=answer_weight, minlength=n_items)
        on_answer = np.bincount(
            item * n_classes + answered, weights=answer_weight * (likelihood - spread), minlength=n_items * n_classes
        ).reshape(n_items, n_classes)
        probas = (model_weight * model_probs + item_weight[:, None] * spread + on_answer) / (
            model_weight + item_weight
        )[:, None]

        answer_quality = probas[item, answered]
        answer_count = np.bincount(worker, minlength=n_workers)
        ensemble_view = np.bincount(worker, weights=answer_quality, minlength=n_workers) / answer_count
        blend = model_weight / (model_weight + weights.mean())
        index = pd.Index(workers, name="worker")

        self.probas_ = probas
        self.consensus_quality_ = probas[np.arange(n_items), codes]
        self.annotator_agreement_ = pd.Series(agreement, index=index, name="annotator_agreement")
        self.annotator_weight_ = pd.Series(weights, index=index, name="annotator_weight")
        self.annotator_quality_ = pd.Series(
            blend * ensemble_view + (1.0 - blend) * agreement, index=index, name="annotator_quality"
        )
        self.model_weight_ = float(model_weight)
        self.model_accuracy_ = model_accuracy
        self.answer_likelihood_ = likelihood
        self.n_answers_ = n_answers
        self.scores_ = 1.0 - self.consensus_quality_
        self.issues_ = self.consensus_quality_ < self.threshold
        return self
