r"""Items with features: what a downstream model learns from, in agreement with the labels and the item difficulty.

Two sources, each a ``features`` option (``conf/features/``):

* :class:`GaussianFeatures`, simulated. Class :math:`k` has a mean :math:`\mu_k` in :math:`d` dimensions (orthonormal
  directions scaled so that any two means are ``separation`` apart). Item :math:`i` with true label :math:`y`,
  confuser :math:`c` and difficulty :math:`\delta_i` sits on the segment from its class mean towards its
  confuser's, plus isotropic noise:

  .. math::
      x_i = \mu_y + t_i (\mu_c - \mu_y) + \sigma \varepsilon_i, \qquad
      t_i = \begin{cases} 1/2 & \text{ambiguous items (on the boundary with the confuser)} \\
                          \tfrac12 \operatorname{expit}(\delta_i) & \text{otherwise} \end{cases}

  so hard items lie near the boundary with the label that raters confuse them with, and ambiguous ones on it: a
  model finds hard what raters find hard, and errors the crowd shares point where the model's do. Items of group 1
  (``task.group_share``) are shifted by ``group_shift`` along a random unit direction (a covariate shift between
  groups). The clean test set is drawn from the same model (``n_test`` items of the same task design).
* :class:`DatasetFeatures`, real: a data set shipped inside scikit-learn (``digits``, ``wine``, ``breast_cancer``;
  nothing is downloaded). A stratified ``test_fraction`` is held out as the clean test set; the rest are the items
  (``task.n_items`` of them at most, and gold questions drawn apart from them; ``task.n_classes`` and
  ``task.class_priors`` set to the data set's). Item difficulty comes from a
  reference model's cross-validated margin :math:`m_i = \log p_i(y_i) - \max_{k \ne y_i} \log p_i(k)` (a
  logistic regression): the items' ranks by margin are mapped onto the design's difficulty distribution (the
  lowest margin gets the highest difficulty), the ``ambiguous_fraction`` of items with the lowest margins are the
  ambiguous ones, and the confuser is the reference model's most likely wrong class.

Both keep every other attribute of the task design (guidelines, gold, timing) and draw from their own streams.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import expit
from scipy.stats import norm

from sim.streams import stream
from sim.tasks import Items, TaskDesign, effective_difficulty, median_item_seconds, sample_groups, sample_items
from sim.validation import ConfigError, check_choice, check_float, check_int

if TYPE_CHECKING:
    from collections.abc import Callable

DATASETS: tuple[str, ...] = ("digits", "wine", "breast_cancer")


@dataclass(frozen=True)
class ItemFeatures:
    """Features of the campaign's items (rows in item-id order, gold questions last) and a clean held-out test set."""

    X: np.ndarray  # (n_total, d)
    X_test: np.ndarray  # (n_test, d)
    y_test: np.ndarray  # true labels of the test set
    group_test: np.ndarray  # group (0/1) of each test item

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])


class FeatureSource:
    """Where items' features come from: :meth:`adapt` fits the task design to the source (a data set fixes the
    number of items and classes), :meth:`attach` gives the sampled items their features (and, for a data set,
    their labels and difficulty)."""

    def adapt(self, design: TaskDesign) -> TaskDesign:
        if design.revision_hours is not None:
            raise ConfigError(
                "features cannot follow a guideline revision (task.revision_hours): the revision changes true labels "
                "that the features were drawn for; accepted values: task.revision_hours=null, or features=none"
            )
        return design

    def attach(self, items: Items, design: TaskDesign, seed: int, replicate: int) -> tuple[Items, ItemFeatures]:
        raise NotImplementedError  # pragma: no cover - abstract


@dataclass(frozen=True)
class GaussianFeatures(FeatureSource):
    """Class-conditional Gaussian features placed by item difficulty and ambiguity (see the module docstring).

    Attributes:
        n_features: dimensions d (at least the number of classes, so that the class means are orthonormal).
        separation: distance between any two class means, in units of the noise's standard deviation.
        noise_sd: standard deviation of the isotropic noise.
        group_shift: distance the items of group 1 are shifted along a random direction.
        n_test: items in the clean test set.
    """

    n_features: int = 10
    separation: float = 4.0
    noise_sd: float = 1.0
    group_shift: float = 1.0
    n_test: int = 2000

    def __post_init__(self) -> None:
        object.__setattr__(self, "n_features", check_int("features.n_features", self.n_features, 1))
        check_float("features.separation", self.separation, 0.0)
        check_float("features.noise_sd", self.noise_sd, 0.0, low_open=True)
        check_float("features.group_shift", self.group_shift)
        object.__setattr__(self, "n_test", check_int("features.n_test", self.n_test, 1))

    def adapt(self, design: TaskDesign) -> TaskDesign:
        if self.n_features < design.n_classes:
            raise ConfigError(
                f"features.n_features = {self.n_features} is below task.n_classes = {design.n_classes}; accepted "
                f"values: features.n_features >= {design.n_classes} (one direction per class mean)"
            )
        return super().adapt(design)

    def attach(self, items: Items, design: TaskDesign, seed: int, replicate: int) -> tuple[Items, ItemFeatures]:
        rng = stream(seed, replicate, "features")
        basis = np.linalg.qr(rng.standard_normal((self.n_features, design.n_classes)))[0].T  # (K, d) orthonormal
        means = basis * (self.separation * self.noise_sd / np.sqrt(2.0))
        direction = rng.standard_normal(self.n_features)
        shift = self.group_shift * self.noise_sd * direction / np.linalg.norm(direction)
        X = self._place(items, means, shift, rng)
        test_design = replace(design, n_items=self.n_test, gold_fraction=0.0)
        test_items = sample_items(test_design, stream(seed, replicate, "features", 1), gold_pool=False)
        group_test = sample_groups(self.n_test, design.group_share, stream(seed, replicate, "features", 2))
        test_items = replace(test_items, group=group_test)
        X_test = self._place(test_items, means, shift, stream(seed, replicate, "features", 3))
        groups = np.zeros(self.n_test, np.int64) if group_test is None else group_test
        return items, ItemFeatures(X, X_test, test_items.true_label, groups)

    def _place(self, items: Items, means: np.ndarray, shift: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        towards = np.where(items.ambiguous, 0.5, 0.5 * expit(items.difficulty))
        label, confuser = means[items.true_label], means[items.confuser]
        X = label + towards[:, None] * (confuser - label) + self.noise_sd * rng.standard_normal(label.shape)
        if items.group is not None:
            X += items.group[:, None] * shift
        return X


@dataclass(frozen=True)
class DatasetFeatures(FeatureSource):
    """A real data set shipped inside scikit-learn, with difficulty from a reference model (see the module docstring).

    Attributes:
        name: ``digits`` (1,797 images, 10 classes, 64 features), ``wine`` (178, 3, 13) or ``breast_cancer``
            (569, 2, 30).
        test_fraction: share held out (stratified) as the clean test set (at least 5 items of each class must stay).
    """

    name: str = "digits"
    test_fraction: float = 0.3

    def __post_init__(self) -> None:
        check_choice("features.name", self.name, DATASETS)
        check_float("features.test_fraction", self.test_fraction, 0.0, 1.0, low_open=True, high_open=True)

    def _load(self) -> tuple[np.ndarray, np.ndarray]:
        from sklearn import datasets

        loaders: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
            "digits": datasets.load_digits, "wine": datasets.load_wine, "breast_cancer": datasets.load_breast_cancer,
        }  # fmt: skip
        X, y = loaders[self.name](return_X_y=True)
        return np.asarray(X, dtype=float), np.asarray(y, dtype=np.int64)

    def _test_sizes(self, y: np.ndarray) -> np.ndarray:
        """Items of each class held out for the test set (at least one)."""
        return np.array([max(1, round(self.test_fraction * np.sum(y == k))) for k in np.unique(y)])

    def _split(self, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Stratified indices of the pool (items) and of the test set."""
        test = []
        for label, size in zip(np.unique(y), self._test_sizes(y), strict=True):  # a loop over classes
            members = rng.permutation(np.flatnonzero(y == label))
            test.append(members[:size])
        held_out = np.zeros(y.shape[0], dtype=bool)
        held_out[np.concatenate(test)] = True
        return rng.permutation(np.flatnonzero(~held_out)), np.flatnonzero(held_out)

    def adapt(self, design: TaskDesign) -> TaskDesign:
        """The design on this data set: its classes and their shares, and at most as many items as the pool holds
        after the test set and, with gold questions, the gold pool (drawn from the data set too, at most a fifth of
        the pool)."""
        design = super().adapt(design)
        _, y = self._load()
        pool_per_class = np.bincount(y) - self._test_sizes(y)
        if pool_per_class.min() < 5:
            raise ConfigError(
                f"features.test_fraction = {self.test_fraction} leaves {int(pool_per_class.min())} item(s) of a class "
                f"of {self.name} to label; accepted values: a test_fraction that leaves at least 5 per class, e.g. 0.3"
            )
        n_pool = int(pool_per_class.sum())
        # gold questions come out of the pool too: at most a fifth of it (wine's pool holds 125 items)
        n_gold = min(design.n_gold, n_pool // 5) if design.gold_fraction > 0 else design.n_gold
        n_items = min(design.n_items, n_pool - (n_gold if design.gold_fraction > 0 else 0))
        shares = tuple(float(share) for share in np.bincount(y) / y.shape[0])
        default_classes = TaskDesign.__dataclass_fields__["n_classes"].default
        if design.n_classes not in (default_classes, len(shares)):  # a setting the data set would override
            accepted = f"task.n_classes={len(shares)}"
            if default_classes != len(shares):
                accepted += f", or leave it at its default ({default_classes}), which follows the data set"
            raise ConfigError(
                f"task.n_classes = {design.n_classes}, and features={self.name} has {len(shares)} classes, which fix "
                f"the task's; accepted values: {accepted}"
            )
        if design.class_priors is not None and not np.allclose(design.class_priors, shares, atol=1e-9):
            raise ConfigError(
                f"task.class_priors = {list(design.class_priors)}, and features={self.name} fixes the class shares "
                f"at its own ({[round(share, 4) for share in shares]}); accepted values: task.class_priors=null"
            )
        return replace(design, n_items=n_items, n_gold=n_gold, n_classes=len(shares), class_priors=shares)

    def attach(self, items: Items, design: TaskDesign, seed: int, replicate: int) -> tuple[Items, ItemFeatures]:
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import cross_val_predict
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        X_all, y_all = self._load()
        rng = stream(seed, replicate, "features")
        pool, test = self._split(y_all, rng)
        reference = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
        log_p = np.log(np.clip(cross_val_predict(reference, X_all[pool], y_all[pool], method="predict_proba"),
                               1e-12, None))  # fmt: skip
        rows = np.arange(pool.size)
        own = log_p[rows, y_all[pool]]
        log_p[rows, y_all[pool]] = -np.inf
        margin, confuser = own - log_p.max(axis=1), log_p.argmax(axis=1)
        # regular items: the first n_regular of the (shuffled) pool; gold questions: the next ones, or, for a
        # qualification test's pool that adapt() did not reserve room for, drawn again from the whole pool
        n_regular, n_gold = items.n_regular, items.n_total - items.n_regular
        if n_regular + n_gold <= pool.size:
            gold = np.arange(n_regular, n_regular + n_gold)
        else:
            gold = rng.choice(pool.size, n_gold, replace=n_gold > pool.size)
        chosen = np.concatenate([np.arange(n_regular), gold])
        order = np.argsort(np.argsort(-margin[chosen], kind="stable"), kind="stable")  # 0: largest margin
        difficulty = design.difficulty_mean + design.difficulty_sd * norm.ppf((order + 0.5) / chosen.size)
        ambiguous = order >= chosen.size - round(design.ambiguous_fraction * chosen.size)
        true_label = y_all[pool][chosen]
        attached = replace(
            items, true_label=true_label, confuser=confuser[chosen].astype(np.int64), difficulty=difficulty,
            ambiguous=ambiguous, difficulty_effective=effective_difficulty(difficulty, ambiguous, design),
            median_seconds=median_item_seconds(difficulty, design),
        )  # fmt: skip
        group_test = sample_groups(test.size, design.group_share, stream(seed, replicate, "features", 2))
        groups = np.zeros(test.size, np.int64) if group_test is None else group_test
        return attached, ItemFeatures(X_all[pool][chosen], X_all[test], y_all[test], groups)
