"""Forgetting events: items a classifier keeps unlearning while it trains are likely mislabeled."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import numpy as np

from strategies.aggregation.base import Setting, SettingError
from strategies.cleaning._dynamics import TrainingDynamicsDetector, predicted_correctly


def forgetting_counts(correct: np.ndarray) -> np.ndarray:
    """Forgetting events per item from an (epochs, items) record of whether each item was classified correctly.

    An event is a step :math:`t \\to t + 1` with :math:`\\text{acc}^{(t)}_i = 1` and :math:`\\text{acc}^{(t+1)}_i = 0`;
    an item never classified correctly in any epoch counts as forgotten ``epochs`` times, more than any learned item
    can reach (at most ``epochs // 2``), so it ranks as the most forgettable.
    """
    record = np.asarray(correct, dtype=bool)
    events = (record[:-1] & ~record[1:]).sum(axis=0)
    return np.where(record.any(axis=0), events, record.shape[0]).astype(np.int64)


@dataclass
class ForgettingEvents(TrainingDynamicsDetector):
    r"""Forgetting events (Toneva et al.): count how often training forgets each item.

    With :math:`\hat y^{(t)}_i = \arg\max_k p^{(t)}_{ik}` the prediction after epoch :math:`t` of the shared training
    loop (:mod:`strategies.cleaning._dynamics`) and :math:`\text{acc}^{(t)}_i = [\hat y^{(t)}_i = y_i]`, a forgetting
    event is a transition from correct to wrong between consecutive epochs,

    .. math::
        F_i = \sum_{t=1}^{T-1} [\text{acc}^{(t)}_i > \text{acc}^{(t+1)}_i],

    and an item never learned (:math:`\text{acc}^{(t)}_i = 0` for all :math:`t`) gets :math:`F_i = T` =
    ``n_epochs``: the paper treats never-learned items as forgotten infinitely often, the most forgettable of all,
    and :math:`T` exceeds every learned item's count while keeping the score finite. A mislabeled item is either
    never fitted or fitted late and then pulled back by its correctly labeled neighbours, so it collects events;
    clean items are learned early and stay learned ("unforgettable").

    Unlike the paper, which updates an item's state when its mini-batch is presented, every item is predicted once
    after each epoch (see :mod:`strategies.cleaning._dynamics`).

    Settings: ``model``, ``n_epochs`` (>= 2, default 30), ``batch_size``, ``random_state`` (the shared loop's), and
    ``threshold`` (integer in [1, ``n_epochs``], default 2): ``issues_`` are the items with :math:`F_i \ge`
    ``threshold``, i.e. forgotten at least twice or never learned. Measured with the default model on 3-class
    Gaussians with 20% flipped labels (2,000 items, means 2.0 apart): threshold 1 flags 29% of the items (precision
    0.60, recall 0.91), 2 flags 23% (0.66, 0.77), ``n_epochs`` (never learned only) 19% (0.73, 0.73).

    Attributes: ``forgetting_counts_`` (int per item, :math:`F_i`), ``never_learned_`` (bool per item),
    ``scores_`` (:math:`F_i` as float: higher is more likely mislabeled), ``issues_``, ``classes_``.

    M. Toneva, A. Sordoni, R. Tachet des Combes, A. Trischler, Y. Bengio and G. J. Gordon. An Empirical Study of
    Example Forgetting during Deep Neural Network Learning. ICLR 2019. https://arxiv.org/abs/1812.05159
    """

    settings: ClassVar[dict[str, Setting]] = {**TrainingDynamicsDetector.settings, "threshold": Setting(int, 1)}

    threshold: int = 2

    forgetting_counts_: np.ndarray = field(init=False, repr=False)
    never_learned_: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.threshold > self.n_epochs:
            raise SettingError(
                "threshold",
                f"threshold must be an integer in [1, n_epochs = {self.n_epochs}] (no item is forgotten more than "
                f"n_epochs times), got {self.threshold!r}",
            )

    def fit(self, X: Any, labels: Any, **kwargs: Any) -> Self:
        """Train on ``(X, labels)`` with the shared loop and count each item's forgetting events."""
        features, codes = self._inputs(X, labels)
        probabilities = self._record(features, codes, len(self.classes_), self._rng())
        correct = predicted_correctly(probabilities, codes)
        self.forgetting_counts_ = forgetting_counts(correct)
        self.never_learned_ = correct.sum(axis=0) == 0
        self.scores_ = self.forgetting_counts_.astype(float)
        self.issues_ = self.forgetting_counts_ >= self.threshold
        return self
