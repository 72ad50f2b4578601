"""What the labels do to a model: train a scikit-learn classifier on a campaign's labels and score it on clean data.

A campaign whose items carry features (``features=gaussian|digits|wine|breast_cancer``, :mod:`sim.features`) is
scored downstream with ``downstream=logistic|gradient_boosting|mlp``: the model is trained on the items' features
with one of three targets and scored on the clean held-out test set, whose labels no rater touched:

* ``hard``: one row per labeled item, its aggregated label;
* ``soft``: one row per (item, class) weighted by the aggregator's posterior (the expected loss under the posterior;
  Peterson et al., "Human uncertainty makes classification more robust", ICCV 2019, train on such soft labels);
* ``raw``: one row per answer (an item labeled by five raters is five rows; Sheng, Provost and Ipeirotis, "Get
  another label?", KDD 2008, compare this with majority labels).

Items without a label (the budget ran out first) are left out of training, so a design that labels fewer items
trains on less data: with a fixed budget this is Sheng et al.'s trade-off of more items against more labels per item.
Every metrics row gains ``downstream_accuracy``, ``downstream_macro_f1``, ``downstream_ece`` (expected calibration
error, 15 equal-width bins of the top class's probability; Guo et al., ICML 2017), ``downstream_log_loss``,
``downstream_training_items``, and with item groups the accuracy per group and its gap; and, once per replicate,
``downstream_accuracy_true_labels``: the same model trained on the items' true labels (the ceiling).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sim.features import ItemFeatures
from sim.records import CampaignResult
from sim.streams import stream
from sim.validation import ConfigError, check_choice, check_float, check_int
from strategies.cleaning.base import single_threaded

MODELS: tuple[str, ...] = ("logistic", "gradient_boosting", "mlp")
TARGETS: tuple[str, ...] = ("hard", "soft", "raw")
ECE_BINS = 15


@dataclass(frozen=True)
class Downstream:
    """A downstream model trained on a campaign's labels (see the module docstring).

    Attributes:
        model: ``logistic`` (standardised features, L2-regularised multinomial logistic regression of strength
            ``C``), ``gradient_boosting`` (scikit-learn's histogram gradient boosting) or ``mlp`` (one hidden
            layer of ``hidden_units``, early stopping).
        target: ``hard``, ``soft`` or ``raw``.
        C: inverse regularisation strength of the logistic regression.
        hidden_units: width of the MLP's hidden layer.
    """

    model: str = "logistic"
    target: str = "hard"
    C: float = 1.0
    hidden_units: int = 64

    def __post_init__(self) -> None:
        check_choice("downstream.model", self.model, MODELS)
        check_choice("downstream.target", self.target, TARGETS)
        check_float("downstream.C", self.C, 0.0, low_open=True)
        object.__setattr__(self, "hidden_units", check_int("downstream.hidden_units", self.hidden_units, 1))
        if self.target == "soft" and not _accepts_weights(self.build(0)):
            raise ConfigError(
                f"downstream.target=soft needs a model that takes sample weights, and downstream.model={self.model} "
                "does not in this scikit-learn (its MLP takes them from 1.7 on); accepted values: downstream.target="
                "hard or raw, or downstream.model=logistic or gradient_boosting"
            )

    def build(self, random_state: int) -> Any:
        """A fresh, unfitted scikit-learn classifier."""
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.linear_model import LogisticRegression
        from sklearn.neural_network import MLPClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        if self.model == "logistic":
            return make_pipeline(StandardScaler(), LogisticRegression(C=self.C, max_iter=1000))
        if self.model == "gradient_boosting":
            return HistGradientBoostingClassifier(random_state=random_state)
        return make_pipeline(
            StandardScaler(),
            MLPClassifier((self.hidden_units,), early_stopping=True, max_iter=300, random_state=random_state),
        )

    def evaluate(
        self, result: CampaignResult, labels: pd.Series, probas: pd.DataFrame | None, seed: int, replicate: int
    ) -> dict[str, Any]:
        """Train on the estimates (``labels`` and ``probas`` per task, an aggregator's) and score on the test set."""
        with single_threaded():
            return self._evaluate(result, labels, probas, seed, replicate)

    def _evaluate(
        self, result: CampaignResult, labels: pd.Series, probas: pd.DataFrame | None, seed: int, replicate: int
    ) -> dict[str, Any]:
        features = _features(result)
        X, y, weight = self.training_rows(result, features, labels, probas)
        if X.shape[0] == 0:  # nothing to learn from: no prediction is right
            return {"downstream_accuracy": 0.0, "downstream_training_items": 0.0}
        if np.unique(y).shape[0] < 2:  # one class: the model can only predict it
            from sklearn.dummy import DummyClassifier

            model = DummyClassifier(strategy="most_frequent").fit(X, y)
        else:
            model = self.build(_random_state(seed, replicate))
            model.fit(X, y, **_weight_argument(model, weight))
        scores = held_out_scores(model, features)
        scores["downstream_training_items"] = float(labels.notna().sum())  # items (raw: their answers are the rows)
        return scores

    def ceiling(self, result: CampaignResult, seed: int, replicate: int) -> dict[str, Any]:
        """The same model trained on every regular item's true label."""
        features = _features(result)
        model = self.build(_random_state(seed, replicate))
        with single_threaded():
            model.fit(features.X[: len(result.truth)], result.truth.to_numpy())
            return {"downstream_accuracy_true_labels": held_out_scores(model, features)["downstream_accuracy"]}

    def training_rows(
        self, result: CampaignResult, features: ItemFeatures, labels: pd.Series, probas: pd.DataFrame | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Features, labels and weights (None: all 1) of the training rows for ``target``."""
        if self.target == "raw":
            answers = result.worker_answers()
            tasks = answers["task"].to_numpy()
            return features.X[tasks], answers["label"].to_numpy(), None
        labeled = labels.dropna()
        tasks = labeled.index.to_numpy(dtype=np.int64)
        if self.target == "hard" or probas is None:
            return features.X[tasks], labeled.to_numpy().astype(np.int64), None
        posterior = probas.reindex(labeled.index).fillna(0.0)
        classes = posterior.columns.to_numpy(dtype=np.int64)
        n_classes = classes.shape[0]
        return (
            np.repeat(features.X[tasks], n_classes, axis=0),
            np.tile(classes, tasks.shape[0]),
            posterior.to_numpy().ravel(),
        )


def _features(result: CampaignResult) -> ItemFeatures:
    if result.features is None:
        raise ConfigError(
            "downstream needs items with features; accepted values: features=gaussian, digits, wine or breast_cancer"
        )
    return result.features


def _random_state(seed: int, replicate: int) -> int:
    return int(stream(seed, replicate, "downstream").integers(2**31 - 1))


def _accepts_weights(model: Any) -> bool:
    import inspect

    final = model.steps[-1][1] if hasattr(model, "steps") else model
    return "sample_weight" in inspect.signature(final.fit).parameters


def _weight_argument(model: Any, weight: np.ndarray | None) -> dict[str, Any]:
    """The fit keyword that passes ``weight`` to the classifier (through a pipeline to its last step)."""
    if weight is None:
        return {}
    if hasattr(model, "steps"):
        return {f"{model.steps[-1][0]}__sample_weight": weight}
    return {"sample_weight": weight}


def held_out_scores(model: Any, features: ItemFeatures) -> dict[str, Any]:
    """Accuracy, macro-F1, calibration and log loss on the clean test set; accuracy per group and the gap."""
    from sklearn.metrics import f1_score, log_loss

    y = features.y_test
    probs = np.zeros((y.shape[0], int(max(y.max(), np.max(model.classes_))) + 1))
    probs[:, np.asarray(model.classes_, dtype=np.int64)] = model.predict_proba(features.X_test)
    predicted = probs.argmax(axis=1)
    correct = predicted == y
    scores: dict[str, Any] = {
        "downstream_accuracy": float(correct.mean()),
        "downstream_macro_f1": float(f1_score(y, predicted, average="macro", labels=np.unique(y))),
        "downstream_ece": expected_calibration_error(probs, y),
        "downstream_log_loss": float(log_loss(y, np.clip(probs, 1e-15, 1.0), labels=np.arange(probs.shape[1]))),
    }
    if (features.group_test == 1).any() and (features.group_test == 0).any():
        by_group = [float(correct[features.group_test == g].mean()) for g in (0, 1)]
        scores.update(downstream_accuracy_group0=by_group[0], downstream_accuracy_group1=by_group[1],
                      downstream_accuracy_gap=by_group[0] - by_group[1])  # fmt: skip
    return scores


def expected_calibration_error(probs: np.ndarray, truth: np.ndarray, n_bins: int = ECE_BINS) -> float:
    """Expected calibration error: the share-weighted mean over equal-width bins of the top-class probability of
    |accuracy - mean confidence| in the bin (Naeini, Cooper and Hauskrecht, AAAI 2015; Guo et al., ICML 2017)."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == truth
    bins = np.minimum((confidence * n_bins).astype(np.int64), n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    gap = np.abs(np.bincount(bins, correct, n_bins) - np.bincount(bins, confidence, n_bins))
    return float(gap.sum() / max(count.sum(), 1))
