"""Task design and item sampling: classes, item difficulty and ambiguity, guideline complexity, gold questions.

An item has a true label, a difficulty (logits subtracted from every rater's log-odds of answering it right), an
ambiguity flag (an edge case that the guidelines may or may not cover) and a *confuser*: the wrong label that raters
who get it wrong tend to pick (correlated errors). Guideline complexity ``c`` in [0, 1] trades clarity against burden:

* clarity: an ambiguous item's extra difficulty is ``ambiguity_penalty * (1 - guideline_resolution * c)`` (complex
  guidelines spell out the edge cases);
* burden: raters who have not been trained pay ``comprehension_penalty * c`` logits (see :mod:`sim.response`), and
  every answer takes ``1 + complexity_time * c`` times longer (rules to look up).

A guideline revision at ``revision_hours`` makes a second version of the guidelines: its complexity may change
(``revised_complexity``) and the label definitions of a share ``revised_fraction`` of the items change (the item's
true label becomes its old confuser, and the old true label becomes the tempting wrong answer). A rater keeps the
version it understands until it learns the new one (training or a calibration session after the revision, or
joining after it): until then it answers revised items as the old definitions say. The truth that answers are scored
against is the definitions in force when the campaign ends (Pustejovsky & Stubbs, "Natural Language Annotation for
Machine Learning", O'Reilly 2012: the annotate-revise cycle of guidelines, MATTER).

Task kinds (``kind``): ``categorical`` labels (above), ``pairwise`` preferences between two responses (RLHF) and
``rating`` answers on a 1..K scale; the last two are sampled in :mod:`sim.kinds` and go through the same campaign.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from sim.validation import ConfigError, check_choice, check_float, check_int, check_kind_settings, check_probability

TASK_KINDS: tuple[str, ...] = ("categorical", "pairwise", "rating")
# the settings each kind alone reads (a design of another kind must leave them at their defaults)
KIND_SETTINGS: dict[str, tuple[str, ...]] = {
    "pairwise": ("score_sd", "length_correlation", "tie_weight", "candidate_pairs", "n_features", "feature_noise"),
    "rating": ("n_levels", "value_sd"),
}


@dataclass(frozen=True)
class TaskDesign:
    """What is being labeled and under which guidelines.

    Attributes:
        n_items: items to label (not counting gold questions).
        n_classes: number of labels K >= 2, coded 0..K-1.
        class_priors: share of each true label; None for uniform.
        guideline_complexity: c in [0, 1]; 0 = one-line instructions, 1 = a long rule book covering every edge case.
        difficulty_mean, difficulty_sd: item difficulty ~ Normal(mean, sd), in logits of the answer model. The
            logistic item-response form is the Rasch / 2PL model (Rasch 1960; Whitehill et al. 2009 use the same form
            in GLAD).
        ambiguous_fraction: share of items that are ambiguous edge cases.
        ambiguity_penalty: extra difficulty (logits) of an ambiguous item when the guidelines do not cover it.
        guideline_resolution: share of the ambiguity penalty that fully complex guidelines (c = 1) remove.
        confuser_weight: probability that a wrong answer goes to the item's confuser label rather than being drawn
            from the rater's own bias; the strength of correlated errors (0 = independent errors).
        comprehension_penalty: logits lost at c = 1 by a rater who has not been trained on the guidelines.
        training_half_life_minutes: minutes of training that halve the comprehension penalty (exponential decay).
        seconds_per_item: median seconds an average rater needs for an average item under c = 0.
        complexity_time: relative time added per item at c = 1 (time factor ``1 + complexity_time * c``).
        difficulty_time: time factor ``exp(difficulty_time * difficulty)``: hard items take longer.
        gold_fraction: share of each rater's answers spent on gold questions (items with known labels).
        n_gold: size of the gold question pool (used when gold_fraction > 0 or for a qualification test).
        revision_hours: simulated hours at which the guidelines are revised; None for no revision.
        revised_complexity: guideline complexity after the revision; None keeps ``guideline_complexity``.
        revised_fraction: share of items whose label definition the revision changes.
        group_share: share of items in group 1 (a protected attribute for the fairness study; raters' accuracy or
            bias may depend on it, see :class:`sim.raters.RaterPopulation`); 0: every item is in group 0.
        kind: ``categorical`` (labels 0..K-1), ``pairwise`` (which of two responses is better: ``n_items``
            responses, and tasks are pairs of them) or ``rating`` (a value on the scale 1..``n_levels``); see
            :mod:`sim.kinds`. ``n_classes``, the revision, groups and ambiguity are for categorical tasks only.
        score_sd: pairwise: sd of the responses' latent quality scores, on the Bradley-Terry logit scale (an unbiased
            rater of sharpness 1 prefers i to j with probability sigmoid(s_i - s_j)).
        length_correlation: pairwise: correlation of a response's length (standardised) with its score; longer
            responses tend to be better, which a verbosity bias over-rewards (Singhal et al., "A Long Way to Go:
            Investigating Length Correlations in RLHF", 2023).
        tie_weight: pairwise: Davidson's tie parameter nu >= 0 (Davidson, "On extending the Bradley-Terry model to
            accommodate ties", JASA 65, 1970); 0: raters must choose, and there is no tie answer.
        candidate_pairs: pairwise: partners per response in the pool of pairs that policies choose from (a random
            circulant graph: an odd number is rounded up to the next even one); every pair when ``n_items - 1`` is
            at most this.
        n_features: pairwise: features per response (the reward model's inputs); the score is linear in them.
        feature_noise: pairwise: sd of the noise on each observed feature (what a reward model cannot see).
        n_levels: rating: points K >= 2 of the scale 1..K.
        value_sd: rating: sd of the items' true values around the scale's midpoint, in scale points (clipped to
            [1, K]).
    """

    n_items: int = 3000
    n_classes: int = 3
    class_priors: tuple[float, ...] | None = None
    guideline_complexity: float = 0.3
    difficulty_mean: float = 0.0
    difficulty_sd: float = 1.0
    ambiguous_fraction: float = 0.15
    ambiguity_penalty: float = 2.0
    guideline_resolution: float = 0.8
    confuser_weight: float = 0.5
    comprehension_penalty: float = 1.0
    training_half_life_minutes: float = 10.0
    seconds_per_item: float = 20.0
    complexity_time: float = 1.0
    difficulty_time: float = 0.2
    gold_fraction: float = 0.05
    n_gold: int = 100
    revision_hours: float | None = None
    revised_complexity: float | None = None
    revised_fraction: float = 0.0
    group_share: float = 0.0
    kind: str = "categorical"
    score_sd: float = 1.0
    length_correlation: float = 0.3
    tie_weight: float = 0.0
    candidate_pairs: int = 50
    n_features: int = 8
    feature_noise: float = 0.5
    n_levels: int = 5
    value_sd: float = 1.0

    def __post_init__(self) -> None:
        check_choice("task.kind", self.kind, TASK_KINDS)
        check_float("task.score_sd", self.score_sd, 0.0, low_open=True)
        check_float("task.length_correlation", self.length_correlation, -1.0, 1.0)
        check_float("task.tie_weight", self.tie_weight, 0.0)
        object.__setattr__(self, "candidate_pairs", check_int("task.candidate_pairs", self.candidate_pairs, 1))
        object.__setattr__(self, "n_features", check_int("task.n_features", self.n_features, 1))
        check_float("task.feature_noise", self.feature_noise, 0.0)
        object.__setattr__(self, "n_levels", check_int("task.n_levels", self.n_levels, 2))
        check_float("task.value_sd", self.value_sd, 0.0)
        if self.kind == "pairwise" and check_int("task.n_items", self.n_items, 1) < 2:
            raise ConfigError(
                f"task.n_items must be >= 2 for task.kind=pairwise (responses to pair), got {self.n_items}"
            )
        check_kind_settings(self, "task", KIND_SETTINGS, self.kind)
        if self.kind != "categorical":
            categorical_only = {
                "task.revision_hours": self.revision_hours is not None,
                "task.group_share": self.group_share > 0,
            }
            for key, set_ in categorical_only.items():
                if set_:
                    raise ConfigError(
                        f"{key} is for categorical tasks, and task.kind = {self.kind}; accepted values: leave it "
                        "at its default (null or 0), or task.kind=categorical"
                    )
        object.__setattr__(self, "n_items", check_int("task.n_items", self.n_items, 1))  # 2e4 -> 20000
        object.__setattr__(self, "n_classes", check_int("task.n_classes", self.n_classes, 2))  # 2e4 -> 20000
        check_probability("task.guideline_complexity", self.guideline_complexity)
        check_float("task.difficulty_mean", self.difficulty_mean)
        check_float("task.difficulty_sd", self.difficulty_sd, 0.0)
        check_probability("task.ambiguous_fraction", self.ambiguous_fraction)
        check_float("task.ambiguity_penalty", self.ambiguity_penalty, 0.0)
        check_probability("task.guideline_resolution", self.guideline_resolution)
        check_probability("task.confuser_weight", self.confuser_weight)
        check_float("task.comprehension_penalty", self.comprehension_penalty, 0.0)
        check_float("task.training_half_life_minutes", self.training_half_life_minutes, 0.0, low_open=True)
        check_float("task.seconds_per_item", self.seconds_per_item, 0.0, low_open=True)
        check_float("task.complexity_time", self.complexity_time, 0.0)
        check_float("task.difficulty_time", self.difficulty_time, 0.0)
        check_float("task.gold_fraction", self.gold_fraction, 0.0, 1.0, high_open=True)  # 1: no regular answer
        object.__setattr__(self, "n_gold", check_int("task.n_gold", self.n_gold, 0))  # 2e4 -> 20000
        if self.gold_fraction > 0 and self.n_gold == 0:
            raise ConfigError("task.n_gold must be >= 1 when task.gold_fraction > 0, got 0")
        if self.revision_hours is not None:
            check_float("task.revision_hours", self.revision_hours, 0.0, low_open=True)
        if self.revised_complexity is not None:
            check_probability("task.revised_complexity", self.revised_complexity)
        check_probability("task.revised_fraction", self.revised_fraction)
        check_probability("task.group_share", self.group_share)
        if self.revision_hours is None and (self.revised_complexity is not None or self.revised_fraction > 0):
            raise ConfigError(
                "task.revised_complexity and task.revised_fraction need task.revision_hours (hours > 0, when the "
                "guidelines are revised); got task.revision_hours = null"
            )
        if self.class_priors is not None:
            priors = np.asarray(self.class_priors, dtype=float)
            if priors.shape != (self.n_classes,) or (priors < 0).any() or not np.isclose(priors.sum(), 1.0):
                raise ConfigError(
                    f"task.class_priors must be {self.n_classes} non-negative numbers summing to 1 "
                    f"(one per class of task.n_classes), got {list(self.class_priors)}"
                )
            object.__setattr__(self, "class_priors", tuple(float(p) for p in priors))

    @property
    def complexities(self) -> tuple[float, float]:
        """Guideline complexity of version 0 (the original) and version 1 (after the revision)."""
        revised = self.guideline_complexity if self.revised_complexity is None else self.revised_complexity
        return (self.guideline_complexity, revised)

    @property
    def n_options(self) -> int:
        """Number of distinct answers a rater can give: K labels, 2 sides of a pair (3 with ties) or K levels."""
        if self.kind == "pairwise":
            return 3 if self.tie_weight > 0 else 2
        return self.n_levels if self.kind == "rating" else self.n_classes

    @property
    def priors(self) -> np.ndarray:
        if self.class_priors is None:
            return np.full(self.n_classes, 1.0 / self.n_classes)
        return np.asarray(self.class_priors)


@dataclass(frozen=True)
class Items:
    """Sampled items, gold questions last: ids ``0..n_items-1`` are regular, ``n_items..`` are gold.

    ``difficulty_effective`` already includes the guidelines' effect on ambiguity, and ``median_seconds`` the
    guidelines' and the item's effect on time, so that the engine does one lookup per answer. The ``version_*``
    arrays hold the same per guideline version (row 0 the original, row 1 after the revision; equal without one).
    """

    true_label: np.ndarray
    difficulty: np.ndarray
    ambiguous: np.ndarray
    confuser: np.ndarray
    is_gold: np.ndarray
    difficulty_effective: np.ndarray
    median_seconds: np.ndarray
    n_regular: int = field(default=0)
    revised: np.ndarray | None = None  # bool: the revision changes this item's label definition
    version_label: np.ndarray | None = None  # (2, n) true label under each guideline version
    version_confuser: np.ndarray | None = None  # (2, n)
    version_difficulty: np.ndarray | None = None  # (2, n) effective difficulty
    version_seconds: np.ndarray | None = None  # (2, n) median seconds
    group: np.ndarray | None = None  # int 0/1 per item (None: all in group 0), see TaskDesign.group_share
    competence: np.ndarray | None = None  # U(0, 1) quantile of the item's competence (raters.accuracy_correlation)
    # task kinds (sim.kinds): a pair's score and length differences (left minus right); a rated item's true value
    score_gap: np.ndarray | None = None
    length_gap: np.ndarray | None = None
    value: np.ndarray | None = None

    @property
    def n_total(self) -> int:
        return int(self.true_label.shape[0])

    def truth(self, revised: bool) -> np.ndarray:
        """True labels under the definitions in force: the revised ones once the revision has happened."""
        return self.version_label[1] if revised and self.version_label is not None else self.true_label


def effective_difficulty(
    difficulty: np.ndarray, ambiguous: np.ndarray, design: TaskDesign, complexity: float | None = None
) -> np.ndarray:
    """Item difficulty under guidelines of ``complexity`` (default the design's): ambiguity costs less when complex
    guidelines cover it."""
    complexity = design.guideline_complexity if complexity is None else complexity
    coverage = design.guideline_resolution * complexity
    return difficulty + ambiguous * design.ambiguity_penalty * (1.0 - coverage)


def median_item_seconds(difficulty: np.ndarray, design: TaskDesign, complexity: float | None = None) -> np.ndarray:
    """Median seconds per item for a rater of speed 1: longer for complex guidelines and hard items."""
    complexity = design.guideline_complexity if complexity is None else complexity
    burden = 1.0 + design.complexity_time * complexity
    return design.seconds_per_item * burden * np.exp(design.difficulty_time * difficulty)


def sample_items(
    design: TaskDesign,
    rng: np.random.Generator,
    gold_pool: bool | None = None,
    extra: np.random.Generator | None = None,
) -> Items:
    """Draw the regular items and the gold pool from the same distribution (one block draw per attribute).

    The gold pool is drawn when ``gold_pool`` (default: when ``gold_fraction > 0``). A design without gold questions
    that still needs a pool (for a qualification test) draws it from ``extra``, a stream of its own, so that the
    regular items stay those of the same design without the test. The revision's draws come last, so that they do
    not change the other attributes.
    """
    if gold_pool is None:
        gold_pool = design.gold_fraction > 0
    if gold_pool and design.gold_fraction == 0 and extra is not None and design.n_gold > 0:
        regular = sample_items(design, rng, gold_pool=False)
        pool = sample_items(replace(design, n_items=design.n_gold), extra, gold_pool=False)
        return _concatenate(regular, pool, design)
    n_gold = design.n_gold if gold_pool else 0
    n = design.n_items + n_gold
    k = design.n_classes
    true_label = rng.choice(k, size=n, p=design.priors)
    difficulty = rng.normal(design.difficulty_mean, design.difficulty_sd, size=n)
    ambiguous = rng.random(n) < design.ambiguous_fraction
    confuser = (true_label + rng.integers(1, k, size=n)) % k  # a uniformly chosen wrong label
    is_gold = np.arange(n) >= design.n_items
    versions = {}
    if design.revision_hours is not None:
        revised = rng.random(n) < design.revised_fraction
        original, later = design.complexities
        versions = dict(
            revised=revised,
            version_label=np.stack([true_label, np.where(revised, confuser, true_label)]),
            version_confuser=np.stack([confuser, np.where(revised, true_label, confuser)]),
            version_difficulty=np.stack(
                [effective_difficulty(difficulty, ambiguous, design, c) for c in (original, later)]
            ),
            version_seconds=np.stack([median_item_seconds(difficulty, design, c) for c in (original, later)]),
        )
    return Items(
        true_label=true_label,
        difficulty=difficulty,
        ambiguous=ambiguous,
        confuser=confuser,
        is_gold=is_gold,
        difficulty_effective=effective_difficulty(difficulty, ambiguous, design),
        median_seconds=median_item_seconds(difficulty, design),
        n_regular=design.n_items,
        **versions,
    )


def sample_groups(n_items: int, share: float, rng: np.random.Generator) -> np.ndarray | None:
    """Group 1 with probability ``share`` per item (None when ``share`` is 0), from a stream of its own so that the
    other item attributes do not change with it."""
    if share == 0:
        return None
    return (rng.random(n_items) < share).astype(np.int64)


def _concatenate(regular: Items, pool: Items, design: TaskDesign) -> Items:
    """Regular items followed by a gold pool drawn apart (ids of the pool after the regular ones)."""

    def both(name: str) -> np.ndarray | None:
        first, second = getattr(regular, name), getattr(pool, name)
        if first is None:
            return None
        return np.concatenate([first, second], axis=-1)

    n = regular.n_total + pool.n_total
    fields = {
        name: both(name)
        for name in (
            "true_label", "difficulty", "ambiguous", "confuser", "difficulty_effective", "median_seconds", "revised",
            "version_label", "version_confuser", "version_difficulty", "version_seconds",
        )
    }  # fmt: skip
    return Items(is_gold=np.arange(n) >= regular.n_total, n_regular=regular.n_total, **fields)  # type: ignore[arg-type]
