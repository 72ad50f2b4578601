"""Rater profiles and population sampling: skill, bias, fatigue, learning, speed, archetype, work pattern.

Archetypes (how a rater chooses a label; the probabilities themselves live in :mod:`sim.response`):

* ``honest``: the item-response answer model with ability ~ Normal(ability_mean, ability_sd) logits, learning,
  fatigue, guideline comprehension, the item's difficulty, and wrong answers drawn from a mixture of the item's
  confuser and the rater's bias.
* ``expert``: the same model with ability ~ Normal(expert_ability_mean, ability_sd), fatigue scaled by
  ``expert_fatigue_scale`` and time per item scaled by ``expert_time_factor``.
* ``spammer``: a uniformly random label, fast (``spammer_time_factor``).
* ``lazy``: always one label (drawn per rater), fast (``spammer_time_factor``).
* ``adversary``: a wrong label on purpose (uniform over the wrong labels, or the item's confuser).
* ``condorcet``: constant accuracy ``accuracy``, wrong answers uniform over the other labels (Condorcet 1785).
* ``confusion``: a class-conditional confusion matrix ``confusion[true][given]`` (the generative model of Dawid &
  Skene 1979); a single K x K matrix for all such raters, or a list of matrices assigned in turn.

Traits that apply across archetypes: quitting (a per-session hazard), ability drift (a random walk in logits, model
archetypes) and collusion (groups whose members copy the group's first answer to an item).

To add a rater behaviour: add a row to :data:`ARCHETYPE_TABLE` (and its parameters to :class:`RaterPopulation`), and
its label distribution to :data:`sim.response.ARCHETYPE_MODELS`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from sim.streams import stream
from sim.validation import ConfigError, check_choice, check_float, check_int, check_probability


@dataclass(frozen=True)
class Archetype:
    """How raters of one archetype work: whether the item-response model drives their answers (so that ability,
    learning, fatigue, comprehension, drift and calibration matter), and how fast they are."""

    name: str
    follows_model: bool = False
    expert: bool = False  # expert ability mean, slower fatigue, expert time factor
    fast: bool = False  # works at spammer_time_factor
    unreliable: bool = False  # answers that carry no information, or mislead: what quality control should catch


ARCHETYPE_TABLE: tuple[Archetype, ...] = (
    Archetype("honest", follows_model=True),
    Archetype("expert", follows_model=True, expert=True),
    Archetype("spammer", fast=True, unreliable=True),
    Archetype("lazy", fast=True, unreliable=True),
    Archetype("adversary", unreliable=True),
    Archetype("condorcet"),
    Archetype("confusion"),
)
ARCHETYPES: tuple[str, ...] = tuple(archetype.name for archetype in ARCHETYPE_TABLE)
ARCHETYPE_CODE: dict[str, int] = {name: code for code, name in enumerate(ARCHETYPES)}
MODEL_ARCHETYPES: frozenset[str] = frozenset(a.name for a in ARCHETYPE_TABLE if a.follows_model)
UNRELIABLE_ARCHETYPES: frozenset[str] = frozenset(a.name for a in ARCHETYPE_TABLE if a.unreliable)
LEARNING_CURVES: tuple[str, ...] = ("power", "exponential", "none")
ADVERSARY_STRATEGIES: tuple[str, ...] = ("uniform_wrong", "confuser")
# the traits each task kind alone reads (sim.kinds); a campaign of another kind must leave them at their defaults
RATER_KIND_SETTINGS: dict[str, tuple[str, ...]] = {
    "pairwise": ("position_bias", "position_bias_sd", "verbosity_bias", "verbosity_bias_sd"),
    "rating": ("severity_mean", "severity_sd", "scale_use_mean", "scale_use_sd", "rating_noise"),
}


@dataclass(frozen=True)
class RaterPopulation:
    """Who the raters are and how they work.

    Attributes:
        n_raters: size of the pool.
        archetypes: share of each archetype (weights are normalised); exact counts by largest remainder.
        ability_mean, ability_sd: honest raters' ability in logits (P(correct) = 0.82 at 1.5 on an average item).
        expert_ability_mean: experts' mean ability in logits.
        expert_fatigue_scale: multiplier of experts' fatigue (experts tire more slowly).
        expert_time_factor: multiplier of experts' time per item.
        accuracy: constant accuracy of ``condorcet`` raters (required when any are present).
        accuracy_correlation: correlation rho in [0, 1) between ``condorcet`` raters' correctness on one item: each
            item's probability of a right answer is drawn once, q_i ~ Beta(p (1/rho - 1), (1 - p) (1/rho - 1)) with
            mean p = ``accuracy``, and every condorcet rater is right on it with probability q_i (the beta-binomial
            model of correlated votes; Ladha, "The Condorcet jury theorem, free speech, and correlated votes", AJPS
            1992; Kaniovski and Zaigraev, Theory and Decision 2011). 0: independent raters.
        confusion: K x K row-stochastic matrix (or a list of them) for ``confusion`` raters.
        learning_curve: ``power`` (Newell & Rosenbloom 1981, the power law of practice), ``exponential`` (Heathcote,
            Brown & Mewhort 2000, who find it fits individual learners better) or ``none``.
        learning_gain: logits gained after unlimited practice (the curve rises from 0 to this).
        learning_exponent: power-law exponent (power curve only).
        learning_scale: answers of practice that set the curve's time scale.
        fatigue_max: logits lost after a long time on task without a break (saturating; Boksem & Tops 2008 review
            mental fatigue as a rise in errors with time on task that rest reverses).
        fatigue_tau_minutes: minutes of time on task to reach 63% of fatigue_max.
        recovery_tau_minutes: during a break the accumulated time on task decays as exp(-break / recovery_tau).
        speed_sd: per-rater time factor ~ LogNormal(0, speed_sd).
        answer_time_sd: per-answer time noise ~ LogNormal(0, answer_time_sd) (response times are close to lognormal;
            van der Linden 2006, J. Educ. Behav. Stat. 31(2)).
        spammer_time_factor: time factor of spammers and lazy raters.
        bias_concentration: Dirichlet concentration of a rater's bias over labels (large = no preferred label).
        adversary_strategy: ``uniform_wrong`` or ``confuser``.
        session_minutes: length of a work session before a break.
        break_minutes: length of a break between sessions.
        sessions: sessions per rater (the shift); a rater leaves after them.
        quit_probability: per-session hazard of quitting: after each session a rater leaves for good with this
            probability, so the number of sessions worked is geometric (capped by ``sessions``) and pools shrink as
            they do on real platforms (Han et al., "All Those Wasted Hours: On Task Abandonment in Crowdsourcing",
            WSDM 2019).
        drift_sd: ability drift of model archetypes, in logits: a Gaussian random walk in the rater's practice whose
            standard deviation after 100 answers is ``drift_sd`` (steps of sd ``drift_sd / 10`` per answer; Jung &
            Lease, "Modeling Temporal Crowd Work Quality with Limited Supervision", HCOMP 2015, model worker quality
            as a latent process that moves over time).
        colluder_share: share of raters who belong to a collusion group (KhudaBukhsh, Carbonell & Jansen,
            "Detecting Non-Adversarial Collusion in Crowdsourcing", HCOMP 2014).
        collusion_group_size: raters per collusion group.
        collusion_copy_probability: probability that a colluder copies the group's first answer to the item rather
            than answering on its own.
        group_gap: logits a model-archetype rater loses on items of group 1 (``task.group_share``), on average:
            raters less accurate on a minority's items (the label bias audited by Sap et al., "The Risk of Racial
            Bias in Hate Speech Detection", ACL 2019).
        group_gap_sd: spread of the gap between raters (rater j's gap ~ Normal(group_gap, group_gap_sd)).
        group_bias: on items of group 1, the share of a model-archetype rater's wrong answers that go to label
            ``group_bias_label`` (a stereotyped label) instead of the usual confuser-or-bias mixture.
        group_bias_label: the label that ``group_bias`` pulls wrong answers on group 1 towards.
        position_bias: pairwise: logits added to the preference for the response shown first, on average (position
            bias; Zheng et al., "Judging LLM-as-a-Judge with MT-Bench and Chatbot Arena", NeurIPS 2023, measure it
            and the verbosity bias below).
        position_bias_sd: pairwise: spread of the position bias between raters (logits).
        verbosity_bias: pairwise: logits added per standard deviation of length by which the first response is
            longer (a preference for longer answers beyond their quality; Singhal et al. 2023).
        verbosity_bias_sd: pairwise: spread of the verbosity bias between raters.
        severity_mean, severity_sd: rating: a rater's offset on the scale (scale points; negative: severe, positive:
            lenient) ~ Normal(severity_mean, severity_sd) (Myford & Wolfe, "Detecting and measuring rater effects
            using many-facet Rasch measurement", J. Applied Measurement 4(4), 2003: severity/leniency and central
            tendency are the main rater effects).
        scale_use_mean, scale_use_sd: rating: a rater's slope around the scale's midpoint, scale_use_mean *
            exp(scale_use_sd * z): below 1 central tendency, above 1 a preference for the extremes.
        rating_noise: rating: sd (scale points) of the value an average rater perceives; a sharper rater (higher
            ability, trained, rested) perceives it more precisely (see :mod:`sim.response`).
    """

    n_raters: int = 100
    archetypes: Mapping[str, float] = field(
        default_factory=lambda: {"honest": 0.8, "expert": 0.1, "spammer": 0.05, "adversary": 0.05}
    )
    ability_mean: float = 1.5
    ability_sd: float = 0.75
    expert_ability_mean: float = 3.0
    expert_fatigue_scale: float = 0.5
    expert_time_factor: float = 1.2
    accuracy: float | None = None
    accuracy_correlation: float = 0.0
    confusion: Sequence | None = None
    learning_curve: str = "power"
    learning_gain: float = 0.5
    learning_exponent: float = 0.5
    learning_scale: float = 25.0
    fatigue_max: float = 1.0
    fatigue_tau_minutes: float = 60.0
    recovery_tau_minutes: float = 10.0
    speed_sd: float = 0.3
    answer_time_sd: float = 0.5
    spammer_time_factor: float = 0.3
    bias_concentration: float = 5.0
    adversary_strategy: str = "uniform_wrong"
    session_minutes: float = 60.0
    break_minutes: float = 15.0
    sessions: int = 4
    quit_probability: float = 0.0
    drift_sd: float = 0.0
    colluder_share: float = 0.0
    collusion_group_size: int = 3
    collusion_copy_probability: float = 0.8
    group_gap: float = 0.0
    group_gap_sd: float = 0.0
    group_bias: float = 0.0
    group_bias_label: int = 0
    position_bias: float = 0.0
    position_bias_sd: float = 0.0
    verbosity_bias: float = 0.0
    verbosity_bias_sd: float = 0.0
    severity_mean: float = 0.0
    severity_sd: float = 0.3
    scale_use_mean: float = 1.0
    scale_use_sd: float = 0.1
    rating_noise: float = 0.5

    def __post_init__(self) -> None:
        object.__setattr__(self, "n_raters", check_int("raters.n_raters", self.n_raters, 1))  # 2e4 -> 20000
        if not isinstance(self.archetypes, Mapping):
            raise ConfigError(
                f"raters.archetypes must map archetype names to shares, e.g. {{honest: 0.9, spammer: 0.1}}; accepted "
                f"names: {list(ARCHETYPES)}; got {self.archetypes!r}"
            )
        shares = dict(self.archetypes)
        for name, share in shares.items():
            check_choice("raters.archetypes", name, ARCHETYPES)
            check_float(f"raters.archetypes.{name}", share, 0.0)
        if not shares or sum(shares.values()) <= 0:
            raise ConfigError(f"raters.archetypes needs a positive share for at least one of {list(ARCHETYPES)}")
        object.__setattr__(self, "archetypes", shares)
        for key in ("ability_mean", "expert_ability_mean"):
            check_float(f"raters.{key}", getattr(self, key))
        for key in ("ability_sd", "learning_gain", "fatigue_max", "speed_sd", "answer_time_sd"):
            check_float(f"raters.{key}", getattr(self, key), 0.0)
        for key in ("expert_fatigue_scale",):
            check_float(f"raters.{key}", getattr(self, key), 0.0)
        for key in (
            "expert_time_factor",
            "learning_exponent",
            "learning_scale",
            "fatigue_tau_minutes",
            "recovery_tau_minutes",
            "spammer_time_factor",
            "bias_concentration",
            "session_minutes",
        ):
            check_float(f"raters.{key}", getattr(self, key), 0.0, low_open=True)
        check_float("raters.break_minutes", self.break_minutes, 0.0)
        object.__setattr__(self, "sessions", check_int("raters.sessions", self.sessions, 1))  # 2e4 -> 20000
        check_probability("raters.quit_probability", self.quit_probability)
        check_float("raters.drift_sd", self.drift_sd, 0.0)
        check_probability("raters.colluder_share", self.colluder_share)
        object.__setattr__(
            self, "collusion_group_size", check_int("raters.collusion_group_size", self.collusion_group_size, 2)
        )  # 2e4 -> 20000
        check_probability("raters.collusion_copy_probability", self.collusion_copy_probability)
        check_float("raters.group_gap", self.group_gap)
        for key in ("position_bias", "verbosity_bias", "severity_mean"):
            check_float(f"raters.{key}", getattr(self, key))
        for key in ("position_bias_sd", "verbosity_bias_sd", "severity_sd", "scale_use_sd"):
            check_float(f"raters.{key}", getattr(self, key), 0.0)
        check_float("raters.scale_use_mean", self.scale_use_mean, 0.0, low_open=True)
        check_float("raters.rating_noise", self.rating_noise, 0.0, low_open=True)
        check_float("raters.group_gap_sd", self.group_gap_sd, 0.0)
        check_probability("raters.group_bias", self.group_bias)
        check_float("raters.accuracy_correlation", self.accuracy_correlation, 0.0, 1.0, high_open=True)
        if self.accuracy_correlation > 0 and self.accuracy is not None and self.accuracy in (0.0, 1.0):
            raise ConfigError(
                f"raters.accuracy_correlation = {self.accuracy_correlation} needs raters.accuracy strictly between 0 "
                f"and 1 (a Beta distribution with mean {self.accuracy} has no spread); accepted values: accuracy in "
                "(0, 1), or raters.accuracy_correlation=0"
            )
        if self.accuracy_correlation > 0 and shares.get("condorcet", 0) <= 0:
            raise ConfigError(
                f"raters.accuracy_correlation = {self.accuracy_correlation} correlates condorcet raters, and there are "
                "none; accepted values: raters.accuracy_correlation=0, or give condorcet raters a share"
            )
        object.__setattr__(self, "group_bias_label", check_int("raters.group_bias_label", self.group_bias_label, 0))
        check_choice("raters.learning_curve", self.learning_curve, LEARNING_CURVES)
        check_choice("raters.adversary_strategy", self.adversary_strategy, ADVERSARY_STRATEGIES)
        if shares.get("condorcet", 0) > 0:
            if self.accuracy is None:
                raise ConfigError("raters.accuracy must be set (a probability in [0, 1]) for condorcet raters")
        if self.accuracy is not None:
            check_probability("raters.accuracy", self.accuracy)
            if shares.get("condorcet", 0) <= 0:
                raise ConfigError(
                    f"raters.accuracy = {self.accuracy} sets the accuracy of condorcet raters, and there are none "
                    "(raters.archetypes.condorcet = 0): give condorcet raters a share, e.g. "
                    "raters.archetypes={condorcet: 1}, or set raters.ability_mean (logits) for honest raters, or "
                    "raters.accuracy=null"
                )
        if shares.get("confusion", 0) > 0 and self.confusion is None:
            raise ConfigError("raters.confusion must be set (a K x K row-stochastic matrix) for confusion raters")

    def archetype_counts(self) -> dict[str, int]:
        """Exact number of raters per archetype: shares times n_raters, rounded by largest remainder."""
        names = [name for name, share in self.archetypes.items() if share > 0]
        shares = np.array([self.archetypes[name] for name in names], dtype=float)
        exact = shares / shares.sum() * self.n_raters
        counts = np.floor(exact).astype(int)
        short = self.n_raters - counts.sum()
        counts[np.argsort(-(exact - counts), kind="stable")[:short]] += 1
        return dict(zip(names, counts.tolist(), strict=True))

    def confusion_matrices(self, n_classes: int) -> np.ndarray:
        """The configured confusion matrices as an (m, K, K) array, validated against ``n_classes``."""
        matrices = np.asarray(self.confusion, dtype=float)
        if matrices.ndim == 2:
            matrices = matrices[None]
        if matrices.ndim != 3 or matrices.shape[1:] != (n_classes, n_classes):
            raise ConfigError(
                f"raters.confusion must be a {n_classes} x {n_classes} matrix (task.n_classes = {n_classes}) or a "
                f"list of them, got shape {matrices.shape}"
            )
        if (matrices < 0).any() or not np.allclose(matrices.sum(axis=2), 1.0):
            raise ConfigError("raters.confusion rows must be probability distributions (non-negative, summing to 1)")
        return matrices


@dataclass(frozen=True)
class Raters:
    """Sampled rater profiles, one entry per rater (rater id = position)."""

    archetype: np.ndarray  # str
    ability: np.ndarray  # logits (model archetypes)
    fatigue_scale: np.ndarray  # multiplier of the population's fatigue curve
    time_factor: np.ndarray  # multiplier of the item's median seconds
    bias: np.ndarray  # (n, K) distribution over labels used for wrong answers
    fixed_label: np.ndarray  # the lazy rater's label
    accuracy: np.ndarray  # condorcet accuracy (NaN for other archetypes)
    confusion: np.ndarray | None  # (n, K, K) for confusion raters, identity elsewhere
    sessions: np.ndarray  # sessions the rater works at most (the shift, or fewer if it quits)
    quits: np.ndarray  # bool: the rater quits after its last session rather than finishing its shift
    collusion_group: np.ndarray  # collusion group id, -1 for raters outside any group
    archetype_code: np.ndarray  # archetype as its index in ARCHETYPE_TABLE
    group_gap: np.ndarray | None = None  # logits lost on items of group 1 (None: no gap)
    # task kinds (sim.kinds): pairwise position and verbosity biases (logits); rating severity and scale use
    position_bias: np.ndarray | None = None
    verbosity_bias: np.ndarray | None = None
    severity: np.ndarray | None = None
    scale_use: np.ndarray | None = None

    @property
    def n_raters(self) -> int:
        return int(self.archetype.shape[0])


def sample_raters(population: RaterPopulation, n_classes: int, seed: int, replicate: int) -> Raters:
    """Draw every rater's profile; rater ``j``'s continuous parameters come from its own stream."""
    counts = population.archetype_counts()
    archetype = np.repeat(np.array(list(counts), dtype=object), list(counts.values()))
    archetype = stream(seed, replicate, "raters").permutation(archetype)
    n = population.n_raters
    ability = np.empty(n)
    speed = np.empty(n)
    bias = np.empty((n, n_classes))
    fixed_label = np.empty(n, dtype=np.int64)
    sessions = np.full(n, population.sessions, dtype=np.int64)
    table = {a.name: a for a in ARCHETYPE_TABLE}
    is_expert = np.array([table[name].expert for name in archetype], dtype=bool)
    fast = np.array([table[name].fast for name in archetype], dtype=bool)
    for j in range(n):  # one small block draw per rater keeps each rater's draws independent of the pool size
        rng = stream(seed, replicate, "raters", j)
        z_ability, z_speed = rng.standard_normal(2)
        mean = population.expert_ability_mean if is_expert[j] else population.ability_mean
        ability[j] = mean + population.ability_sd * z_ability
        speed[j] = np.exp(population.speed_sd * z_speed)
        bias[j] = rng.dirichlet(np.full(n_classes, population.bias_concentration))
        fixed_label[j] = rng.integers(n_classes)
        if population.quit_probability > 0:  # drawn last, so that the draws above do not depend on it
            sessions[j] = rng.geometric(population.quit_probability)
    quits = sessions < population.sessions
    sessions = np.minimum(sessions, population.sessions)
    time_factor = speed * np.where(is_expert, population.expert_time_factor, 1.0)
    time_factor = np.where(fast, time_factor * population.spammer_time_factor, time_factor)
    fatigue_scale = np.where(is_expert, population.expert_fatigue_scale, 1.0)
    accuracy = np.where(archetype == "condorcet", population.accuracy or 0.0, np.nan)
    confusion = None
    if counts.get("confusion", 0) > 0:
        matrices = population.confusion_matrices(n_classes)
        confusion = np.broadcast_to(np.eye(n_classes), (n, n_classes, n_classes)).copy()
        members = np.flatnonzero(archetype == "confusion")
        confusion[members] = matrices[np.arange(members.size) % matrices.shape[0]]
    return Raters(
        archetype=archetype.astype(str),
        ability=ability,
        fatigue_scale=fatigue_scale,
        time_factor=time_factor,
        bias=bias,
        fixed_label=fixed_label,
        accuracy=accuracy,
        confusion=confusion,
        sessions=sessions,
        quits=quits,
        collusion_group=collusion_groups(population, seed, replicate),
        archetype_code=np.array([ARCHETYPE_CODE[name] for name in archetype], dtype=np.int64),
        group_gap=group_gaps(population, seed, replicate),
        **kind_traits(population, seed, replicate),
    )


def kind_traits(population: RaterPopulation, seed: int, replicate: int) -> dict[str, np.ndarray]:
    """Each rater's traits for pairwise and rating tasks, from a stream of their own (so that a categorical run's
    raters are the same with or without them)."""
    z = stream(seed, replicate, "kind_traits").standard_normal((4, population.n_raters))
    return {
        "position_bias": population.position_bias + population.position_bias_sd * z[0],
        "verbosity_bias": population.verbosity_bias + population.verbosity_bias_sd * z[1],
        "severity": population.severity_mean + population.severity_sd * z[2],
        "scale_use": population.scale_use_mean * np.exp(population.scale_use_sd * z[3]),
    }


def group_gaps(population: RaterPopulation, seed: int, replicate: int) -> np.ndarray | None:
    """Each rater's accuracy gap on items of group 1 (logits), from a stream of its own (None without a gap)."""
    if population.group_gap == 0 and population.group_gap_sd == 0:
        return None
    normals = stream(seed, replicate, "group_gap").standard_normal(population.n_raters)
    return population.group_gap + population.group_gap_sd * normals


def collusion_groups(population: RaterPopulation, seed: int, replicate: int) -> np.ndarray:
    """Group id per rater (-1 outside any group): ``colluder_share`` of the pool, in groups of
    ``collusion_group_size`` (a last, smaller group of at least two takes the remainder; a single one is left out)."""
    n = population.n_raters
    groups = np.full(n, -1, dtype=np.int64)
    n_colluders = round(population.colluder_share * n)
    if n_colluders < 2:
        return groups
    members = stream(seed, replicate, "collusion").permutation(n)[:n_colluders]
    ids = np.arange(n_colluders) // population.collusion_group_size
    if np.sum(ids == ids[-1]) == 1:  # a group of one copies nobody
        members, ids = members[:-1], ids[:-1]
    groups[members] = ids
    return groups


def drift_walk(population: RaterPopulation, seed: int, replicate: int, worker: int, n: int) -> np.ndarray:
    """Rater ``worker``'s ability drift (logits) before each of its first ``n`` answers: a Gaussian random walk in
    practice with steps of sd ``drift_sd / 10`` from the rater's own drift stream (0 before the first answer)."""
    steps = stream(seed, replicate, "drift", worker).standard_normal(n) * (population.drift_sd / 10)
    return np.concatenate([[0.0], np.cumsum(steps)[:-1]])
