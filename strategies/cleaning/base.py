"""The noisy-label detector contract and the input checks and model helpers every detector shares.

A detector scores how likely each item's given label is wrong, from the item's features and the label (and, for the
multi-annotator score, the raw answers):

* the constructor only stores settings (dataclass fields, checked when the detector is built, as aggregators'
  are: :class:`~strategies.aggregation.base.SettingError` names the setting);
* ``fit(X, labels, ...)`` learns attributes ending in ``_`` and returns ``self``;
* ``scores_`` (one float per item): higher means more likely mislabeled; comparable within one fit;
* ``issues_`` (one bool per item): the items flagged, by the rule the detector documents (its ``threshold``);
* ``fit_predict`` returns ``issues_``.

Labels may be ints or strings; they are encoded to codes ``0..K-1`` in sorted order (``classes_``). A model is any
scikit-learn classifier (it is cloned, never changed); the default is an L2-regularised logistic regression on
standardised features, cheap and well calibrated enough for confident learning (Northcutt et al. 2021 use any model
with out-of-sample probabilities).

Bad input raises :class:`DetectionError` naming the argument: features and labels of different lengths, features
that are not a finite 2-d numeric array, a single class, a class too rare to cross-validate.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from strategies.aggregation.base import Setting, as_generator


class DetectionError(ValueError):
    """Malformed input to a detector; the message names the argument and what was expected."""


def single_threaded() -> Any:
    """A context in which scikit-learn's native code (OpenMP, BLAS) runs on one thread: a sweep already runs one job
    per core, and threads on a busy machine spin against each other (gradient boosting slowed tenfold when they
    did). Results do not depend on it."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def default_model() -> Any:
    """Standardised features into an L2-regularised (C = 1) multinomial logistic regression."""
    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=500))


def check_features(X: Any, name: str = "X") -> np.ndarray:
    """``X`` as a finite float 2-d array (items x features), else :class:`DetectionError`."""
    try:
        features = np.asarray(X, dtype=float)
    except (TypeError, ValueError):
        raise DetectionError(f"{name} must be a numeric array of shape (items, features)") from None
    if features.ndim == 1:
        features = features[:, None]
    if features.ndim != 2 or features.shape[0] == 0 or features.shape[1] == 0:
        raise DetectionError(f"{name} must be a non-empty 2-d array (items, features), got shape {features.shape}")
    bad = ~np.isfinite(features)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise DetectionError(
            f"{name} has {int(bad.sum())} NaN or infinite value(s) in {rows.size} item(s) (first: row {rows[0]}); "
            "impute or drop them first"
        )
    return features


def encode_labels(labels: Any, n_items: int, name: str = "labels") -> tuple[np.ndarray, np.ndarray]:
    """Codes ``0..K-1`` of ``labels`` (sorted order) and the classes, checked against ``n_items`` and for K >= 2."""
    values = np.asarray(labels)
    if values.ndim != 1:
        raise DetectionError(f"{name} must be one label per item (1-d), got shape {values.shape}")
    if values.shape[0] != n_items:
        raise DetectionError(f"{name} has {values.shape[0]} entries but X has {n_items} items; give one label per item")
    if values.dtype.kind == "f" and np.isnan(values).any():
        raise DetectionError(f"{name} has {int(np.isnan(values).sum())} missing (NaN) value(s)")
    if values.dtype == object and any(value is None for value in values):
        raise DetectionError(f"{name} has missing (None) value(s)")
    if values.dtype.kind in "OUS":  # numbers and strings mixed (numpy turns a mixed list into strings): refuse
        kinds = {type(value).__name__ for value in np.asarray(labels, dtype=object).ravel().tolist()}
        if len(kinds & {"int", "float", "bool"}) and len(kinds & {"str"}):
            raise DetectionError(f"{name} mix kinds of values ({', '.join(sorted(kinds))}); give labels of one kind")
    classes, codes = np.unique(values, return_inverse=True)
    if classes.shape[0] < 2:
        raise DetectionError(
            f"{name} hold a single class ({classes[0]!r}); a detector needs at least 2 classes to tell a wrong "
            "label from a right one"
        )
    return codes.astype(np.int64), classes


def check_probabilities(pred_probs: Any, n_items: int, n_classes: int, name: str = "pred_probs") -> np.ndarray:
    """Out-of-sample class probabilities, (items x classes) with rows summing to one, else :class:`DetectionError`."""
    probs = check_features(pred_probs, name)
    if probs.shape != (n_items, n_classes):
        raise DetectionError(f"{name} must have shape (items, classes) = ({n_items}, {n_classes}), got {probs.shape}")
    if (probs < 0).any() or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-6):
        raise DetectionError(f"{name} rows must be probabilities: non-negative and summing to 1")
    return probs


def check_folds(
    codes: np.ndarray, n_folds: int, name: str = "labels", classes: np.ndarray | None = None, setting: str = ""
) -> None:
    """Every class needs at least ``n_folds`` items for stratified cross-validation; ``setting`` names the setting
    that sets ``n_folds``, if the detector has one."""
    counts = np.bincount(codes)
    if counts.min() < n_folds:
        rare = int(np.argmin(counts))
        label = (
            repr(classes[rare].item() if hasattr(classes[rare], "item") else classes[rare])
            if classes is not None
            else f"code {rare}"
        )
        lower = f", or a lower {setting} (at least 2)" if setting and counts.min() >= 2 else ""
        raise DetectionError(
            f"{name}: class {label} has {int(counts[rare])} item(s), fewer than the {n_folds} cross-validation folds "
            f"({setting or 'parts'}); give more items of that class{lower}"
        )


def fitted_probabilities(model: Any, X: np.ndarray, codes: np.ndarray, n_classes: int, X_out: np.ndarray) -> np.ndarray:
    """Fit a clone of ``model`` on ``(X, codes)`` and return its probabilities on ``X_out`` over all ``n_classes``
    (columns of classes absent from the training labels are zero)."""
    fitted = clone(model).fit(X, codes)
    probs = np.zeros((X_out.shape[0], n_classes))
    probs[:, np.asarray(fitted.classes_, dtype=np.int64)] = fitted.predict_proba(X_out)
    return probs


def out_of_sample_probabilities(
    model: Any,
    X: np.ndarray,
    codes: np.ndarray,
    n_classes: int,
    n_folds: int,
    rng: np.random.Generator,
    classes: np.ndarray | None = None,
) -> np.ndarray:
    """Stratified ``n_folds``-fold cross-validated probabilities: each item's row comes from a model that did not
    see it (the input confident learning and noisy cross-validation need)."""
    check_folds(codes, n_folds, classes=classes, setting="n_folds")
    folds = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=int(rng.integers(2**31 - 1)))
    probs = np.zeros((X.shape[0], n_classes))
    for train, test in folds.split(X, codes):
        probs[test] = fitted_probabilities(model, X[train], codes[train], n_classes, X[test])
    return probs


class BaseDetector:
    """Common entry points; subclasses implement :meth:`fit` and set ``scores_``, ``issues_`` and ``classes_``.

    ``settings`` declares the accepted values of the settings, checked when the detector is built (the same
    :class:`~strategies.aggregation.base.Setting` the aggregators use), so a threshold outside its range fails at
    once with a message naming it.
    """

    scores_: np.ndarray
    issues_: np.ndarray
    classes_: np.ndarray
    settings: ClassVar[dict[str, Setting]] = {}

    def __post_init__(self) -> None:
        for name, setting in self.settings.items():
            setting.check(name, getattr(self, name))

    # each subclass defines ``fit(X, labels, ...) -> Self`` with the keywords it needs (pred_probs, answers, ...)

    def fit_predict(self, X: Any, labels: Any, **kwargs: Any) -> np.ndarray:
        fitted: BaseDetector = self.fit(X, labels, **kwargs)  # type: ignore[attr-defined]
        return fitted.issues_

    def _model(self) -> Any:
        model = getattr(self, "model", None)
        return default_model() if model is None else model

    def _rng(self) -> np.random.Generator:
        return as_generator(getattr(self, "random_state", None))

    def _inputs(self, X: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
        """Checked features and label codes; sets ``classes_``."""
        features = check_features(X)
        codes, self.classes_ = encode_labels(labels, features.shape[0])
        return features, codes
