"""The training loop shared by the training-dynamics detectors (forgetting events, area under the margin, data maps).

The three methods read the same record: a classifier trained for ``n_epochs`` epochs of mini-batch updates, each
epoch in a new shuffled order drawn from ``random_state``, and after every epoch its predicted probabilities for
every training item, an (epochs, items, classes) float32 array :math:`p^{(t)}_{ik}`. They differ only in the
statistic they take of it (:func:`predicted_correctly`, :func:`given_label_probabilities`, :func:`log_margins`), so
the loop is written once here and each detector is a pure function of the record.

Any scikit-learn classifier with ``partial_fit`` and ``predict_proba`` can be given as ``model`` (it is cloned,
never changed; a ``random_state`` left at None is drawn from the detector's generator, so one ``random_state`` fixes
the whole run). Features are standardised once (mean 0, standard deviation 1; a constant column stays 0) before
training, because stochastic-gradient models are scale sensitive and, unlike ``fit``, ``partial_fit`` cannot sit
behind a ``StandardScaler`` in a pipeline.

The papers record an item's state when its mini-batch is presented (Toneva et al.) or once per epoch (Pleiss et al.,
Swayamdipta et al.); here every item is predicted once after each epoch, from the same model for all items, which
costs one ``predict_proba`` pass per epoch and makes the record independent of where an item fell in the order.

Default model, chosen by measurement (``python -m pytest -s -m slow -k default_model
tests/strategies/cleaning/test_dynamics.py``): 2,000 items, 20 features, 3 classes, 20% of the labels flipped
uniformly to another class, on three data sets, 3 seeds each: unit Gaussians whose class means lie 1.5 or 2.5 apart
along one feature per class (the Bayes boundary is linear), and 3 Gaussian clusters per class in 2 of the features
(it is not). AUROC against the flips of each statistic of the record (forgetting counts, -AUM without threshold
samples, 1 - confidence), mean over the three sets, 30 epochs in batches of 128:

==================================  ==========  =====  =========  ========  ==============
model                               forgetting  AUM    data maps  clusters  seconds / fit
==================================  ==========  =====  =========  ========  ==============
SGDClassifier(log_loss), "optimal"  0.419       0.849  0.868      0.748     1.3 - 1.4
SGDClassifier(log_loss), eta 0.01   0.844       0.880  0.880      0.762     1.1 - 1.3
MLPClassifier((64,))                0.818       0.873  0.874      0.775     2.6 - 4.5
MLPClassifier((128,)) (default)     0.831       0.889  0.889      0.808     3.0 - 3.6
MLPClassifier((256,))               0.834       0.892  0.891      0.822     2.6 - 4.7
==================================  ==========  =====  =========  ========  ==============

(``clusters``: the data-maps AUROC on the non-linear set alone; seconds on 2 shared cores, mostly scikit-learn's
per-call validation in ``partial_fit``, about 3 ms a call.) The default, :func:`default_dynamics_model`, is the
one-hidden-layer MLP with 128 ReLU units (Adam, learning rate 1e-3, L2 penalty 1e-4): the 256-unit MLP is ahead by
0.003, within seed noise, for more compute. A linear model is as good when the classes are linearly separable (the
constant-rate SGD is best on the Gaussians: 0.90 vs 0.88 at 1.5 apart) but cannot follow a non-linear boundary
(0.76 vs 0.81 on the clusters); SGDClassifier's default "optimal" learning rate (with its default penalty
1e-4) takes steps so large that its training accuracy stays near 0.5-0.6 and clean items keep being forgotten: its
forgetting counts rank worse than chance. At 5,000 items x 20 features a fit
takes about 6 s (forgetting events, data maps) and 13 s (area under the margin: two runs) on 2 cores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from sklearn.base import clone
from sklearn.neural_network import MLPClassifier

from strategies.aggregation.base import Setting
from strategies.cleaning.base import BaseDetector, DetectionError

# The smallest positive float32: a probability recorded as 0 (underflow) is read as this in log space, which caps a
# log-probability margin at about +-87 instead of making it infinite.
_TINY = float(np.finfo(np.float32).tiny)


def default_dynamics_model() -> Any:
    """One hidden layer of 128 ReLU units trained by Adam (learning rate 1e-3, L2 penalty 1e-4); see the module."""
    return MLPClassifier(hidden_layer_sizes=(128,), alpha=1e-4, learning_rate_init=1e-3)


def check_dynamics_model(model: Any, name: str = "model") -> None:
    """A model the loop can train: it needs ``partial_fit`` (one update per mini-batch) and ``predict_proba``."""
    missing = [method for method in ("partial_fit", "predict_proba") if not hasattr(model, method)]
    if missing:
        raise DetectionError(
            f"{name} {type(model).__name__} lacks {' and '.join(missing)}; training dynamics need a classifier "
            "updated batch by batch with partial_fit and giving predict_proba, e.g. MLPClassifier or "
            'SGDClassifier(loss="log_loss") (a Pipeline has no partial_fit)'
        )


def standardise(features: np.ndarray) -> np.ndarray:
    """Columns to mean 0 and standard deviation 1; a constant column becomes 0 rather than NaN."""
    scale = features.std(axis=0)
    return (features - features.mean(axis=0)) / np.where(scale > 0, scale, 1.0)


def record_training_dynamics(
    model: Any,
    features: np.ndarray,
    codes: np.ndarray,
    n_classes: int,
    n_epochs: int,
    batch_size: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Train a clone of ``model`` on ``(features, codes)`` and return its probabilities after each epoch.

    Each epoch visits the items in a new order drawn from ``rng``, ``batch_size`` at a time, one ``partial_fit``
    call per batch. Returns ``probabilities[t, i, k]`` = P(class k | item i) after epoch t + 1, float32, shape
    (n_epochs, items, n_classes); a class the model does not list gets probability 0.
    """
    check_dynamics_model(model)
    learner = clone(model)
    if "random_state" in learner.get_params() and learner.get_params()["random_state"] is None:
        learner.set_params(random_state=int(rng.integers(2**31 - 1)))
    inputs = standardise(features)
    n_items = inputs.shape[0]
    classes = np.arange(n_classes)
    probabilities = np.zeros((n_epochs, n_items, n_classes), dtype=np.float32)
    for epoch in range(n_epochs):
        order = rng.permutation(n_items)
        for start in range(0, n_items, batch_size):
            batch = order[start : start + batch_size]
            learner.partial_fit(inputs[batch], codes[batch], classes=classes)
        columns = np.asarray(learner.classes_, dtype=np.int64)
        probabilities[epoch][:, columns] = learner.predict_proba(inputs)
    return probabilities


def predicted_correctly(probabilities: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """(epochs, items) bool: the most probable class after each epoch is the given label (ties to the lowest)."""
    return np.argmax(probabilities, axis=2) == np.asarray(codes)[None, :]


def given_label_probabilities(probabilities: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """(epochs, items): the probability of each item's given label after each epoch."""
    items = np.arange(probabilities.shape[1])
    return np.asarray(probabilities[:, items, np.asarray(codes)], dtype=float)


def log_margins(probabilities: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """(epochs, items): :math:`\\log p_{y_i} - \\max_{k \\ne y_i} \\log p_k`, the margin in log-probability space.

    For a softmax output :math:`p_k = e^{z_k} / \\sum_l e^{z_l}` the log-normaliser cancels, so this equals the logit
    margin :math:`z_{y_i} - \\max_{k \\ne y_i} z_k` of Pleiss et al. exactly (for a binary logistic output, logits
    ``(0, z)``); the loop therefore records probabilities only, for every model. Probabilities that underflowed to
    0 count as the smallest float32, bounding a margin at about +-87.
    """
    logs = np.log(np.maximum(np.asarray(probabilities, dtype=float), _TINY))
    items = np.arange(logs.shape[1])
    labels = np.asarray(codes)
    assigned = logs[:, items, labels]
    others = logs.copy()
    others[:, items, labels] = -np.inf
    return assigned - others.max(axis=2)


@dataclass
class TrainingDynamicsDetector(BaseDetector):
    """The settings every training-dynamics detector shares, and the call of the shared loop.

    ``model``: a classifier with ``partial_fit`` and ``predict_proba`` (None: :func:`default_dynamics_model`);
    ``n_epochs``: training epochs recorded; ``batch_size``: items per ``partial_fit`` call; ``random_state``: seeds the
    epoch orders, the model's initial weights (when its own ``random_state`` is None) and any method-specific draws.
    """

    settings: ClassVar[dict[str, Setting]] = {
        "n_epochs": Setting(int, 2),
        "batch_size": Setting(int, 1),
    }

    model: Any = None
    n_epochs: int = 30
    batch_size: int = 128
    random_state: int | None = None

    def _model(self) -> Any:
        return default_dynamics_model() if self.model is None else self.model

    def _record(self, features: np.ndarray, codes: np.ndarray, n_classes: int, rng: np.random.Generator) -> np.ndarray:
        return record_training_dynamics(self._model(), features, codes, n_classes, self.n_epochs, self.batch_size, rng)
