r"""The answer model: pure functions from (rater state, items, design) to the probability of each label.

For rater j answering item i, the honest (and expert) raters follow a logistic item-response model:

.. math::

    \operatorname{logit} P(\text{correct}) = a_j + L(n_j) - F_j(\tau_j) - C(c, t_j) - d_i(c)

* :math:`a_j` ability (logits), drawn per rater in :mod:`sim.raters`;
* :math:`L(n) = g\,(1 - (1 + n/s)^{-\beta})` (power law of practice, Newell & Rosenbloom 1981) or
  :math:`g\,(1 - e^{-n/s})` (exponential, Heathcote, Brown & Mewhort 2000), :math:`n` answers given so far;
* :math:`F(\tau) = \phi\,f_j\,(1 - e^{-\tau/T})`, saturating in the time on task :math:`\tau` since the last break;
  during a break of length :math:`b`, :math:`\tau \leftarrow \tau e^{-b/R}` (recovery);
* :math:`C(c, t) = \kappa\,c\,2^{-t/h}`, the comprehension penalty of guidelines of complexity :math:`c` that
  training of :math:`t` minutes (half-life :math:`h`) removes;
* :math:`d_i(c)` the item's effective difficulty (:func:`sim.tasks.effective_difficulty`).

On items of group 1 (:attr:`sim.tasks.TaskDesign.group_share`) a rater loses its ``group_gap`` (logits), and a share
``group_bias`` of its wrong answers goes to ``group_bias_label`` (see :class:`sim.raters.RaterPopulation`).
Calibration sessions and ability drift add an offset :math:`o_j` (logits) to :math:`a_j`, and calibration shrinks
the rater's bias toward uniform by a share :math:`s_j`. A wrong answer goes to the item's confuser with probability
``confuser_weight`` (correlated errors) and otherwise is drawn from the rater's bias over the wrong labels. The other
archetypes override the model (see :mod:`sim.raters`).

Pairwise and rating tasks (:mod:`sim.kinds`) reuse the same rater state. Its log-odds terms, relative to the
default mean ability :math:`a_0 = 1.5`, become the log of the rater's *sharpness* :math:`\kappa_j = \exp(\eta_j -
a_0)`, with :math:`\eta_j` the log-odds above on an item of difficulty 0, so that a rater of that ability at the
start of work has sharpness 1, an expert is sharper, fatigue blunts and practice sharpens:

* pairwise (Bradley-Terry, with Davidson's ties): with :math:`d = \kappa_j (s_L - s_R) + \beta_j + \nu_j
  (\ell_L - \ell_R)`, position bias :math:`\beta_j` and verbosity bias :math:`\nu_j`,
  :math:`P(L) \propto e^{d/2}`, :math:`P(R) \propto e^{-d/2}`, :math:`P(\text{tie}) \propto \nu`; without ties
  :math:`P(L) = \sigma(d)` (Bradley & Terry 1952; Davidson, JASA 1970). An adversary prefers the worse response;
* rating (an ordered probit): the rater perceives :math:`m = c + g_j (v_i + b_j - c) + (\sigma / \kappa_j)
  \varepsilon`, with :math:`c` the scale's midpoint, severity :math:`b_j`, scale use :math:`g_j` and noise
  :math:`\sigma` = ``rating_noise``, and answers the level nearest :math:`m` (the ends open). An adversary
  rates the mirror value :math:`K + 1 - v_i`.

Spammers, lazy raters, Condorcet and confusion raters answer over the kind's options as over labels.

Every function here is pure and vectorised over answers (of any raters): :mod:`sim.campaign` calls them on batches
of pages (every page in flight when a reacting campaign needs labels; all answers at once otherwise), and the oracle
on every answer under each possible label.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from scipy.special import betaincinv, expit, ndtr

from sim.raters import ARCHETYPES, RaterPopulation, Raters
from sim.tasks import TaskDesign


def learning_boost(practice: np.ndarray | float, population: RaterPopulation) -> np.ndarray:
    """Logits gained after ``practice`` answers: rises from 0 towards ``learning_gain``."""
    n = np.asarray(practice, dtype=float)
    if population.learning_curve == "none" or population.learning_gain == 0:
        return np.zeros_like(n)
    if population.learning_curve == "power":
        remaining = (1.0 + n / population.learning_scale) ** -population.learning_exponent
    else:
        remaining = np.exp(-n / population.learning_scale)
    return population.learning_gain * (1.0 - remaining)


def fatigue_penalty(
    time_on_task_seconds: np.ndarray | float, population: RaterPopulation, scale: float = 1.0
) -> np.ndarray:
    """Logits lost after ``time_on_task_seconds`` of work since the last (recovered) break."""
    tau = np.asarray(time_on_task_seconds, dtype=float)
    return population.fatigue_max * scale * -np.expm1(-tau / (60.0 * population.fatigue_tau_minutes))


def recovered_time_on_task(time_on_task_seconds: float, break_seconds: float, population: RaterPopulation) -> float:
    """Time on task left after a break: it decays exponentially with time constant ``recovery_tau_minutes``."""
    return float(time_on_task_seconds * np.exp(-break_seconds / (60.0 * population.recovery_tau_minutes)))


def comprehension_penalty(
    design: TaskDesign, training_minutes: np.ndarray | float, complexity: np.ndarray | float | None = None
) -> np.ndarray:
    """Logits lost to guidelines of ``complexity`` (default the design's) not yet understood; training halves it every
    ``training_half_life_minutes``."""
    trained = np.asarray(training_minutes, dtype=float)
    c = design.guideline_complexity if complexity is None else complexity
    return design.comprehension_penalty * c * np.exp2(-trained / design.training_half_life_minutes)


def _rows(value: np.ndarray | float, rows: np.ndarray) -> np.ndarray | float:
    return value[rows] if isinstance(value, np.ndarray) else value


@dataclass
class Situation:
    """Everything the answer model may look at, one entry per answer (answers of any raters, in any order).

    ``true_label``, ``confuser``, ``difficulty`` and ``complexity`` are those of the guideline version the rater
    understands (see :mod:`sim.tasks` on revisions). ``ability_offset`` (calibration and drift, logits) and
    ``bias_shrink`` (share of the bias replaced by uniform) may be scalars for all answers.
    """

    worker: np.ndarray  # rater id per answer
    raters: Raters
    population: RaterPopulation
    design: TaskDesign
    true_label: np.ndarray
    confuser: np.ndarray
    difficulty: np.ndarray  # effective difficulty under the guidelines the rater works by
    practice: np.ndarray  # answers the rater had given before this one
    time_on_task: np.ndarray  # seconds since the rater's last break (after recovery) when the answer started
    training_minutes: np.ndarray  # training the rater had before answering (on the guidelines it works by)
    complexity: np.ndarray | float | None = None  # guideline complexity the rater works by; None: the design's
    ability_offset: np.ndarray | float = 0.0
    bias_shrink: np.ndarray | float = 0.0
    group: np.ndarray | None = None  # the item's group (0/1); None: every item in group 0
    competence: np.ndarray | None = None  # the item's competence quantile in U(0, 1) (correlated condorcet raters)
    score_gap: np.ndarray | None = None  # pairwise: score of the left response minus the right one's
    length_gap: np.ndarray | None = None  # pairwise: length of the left response minus the right one's
    value: np.ndarray | None = None  # rating: the item's true value on the scale 1..K

    @property
    def n_classes(self) -> int:
        return int(self.raters.bias.shape[1])

    def subset(self, rows: np.ndarray) -> Situation:
        return Situation(
            worker=self.worker[rows],
            raters=self.raters,
            population=self.population,
            design=self.design,
            true_label=self.true_label[rows],
            confuser=self.confuser[rows],
            difficulty=self.difficulty[rows],
            practice=self.practice[rows],
            time_on_task=self.time_on_task[rows],
            training_minutes=self.training_minutes[rows],
            complexity=None if self.complexity is None else _rows(self.complexity, rows),
            ability_offset=_rows(self.ability_offset, rows),
            bias_shrink=_rows(self.bias_shrink, rows),
            group=None if self.group is None else self.group[rows],
            competence=None if self.competence is None else self.competence[rows],
            score_gap=None if self.score_gap is None else self.score_gap[rows],
            length_gap=None if self.length_gap is None else self.length_gap[rows],
            value=None if self.value is None else self.value[rows],
        )

    def with_labels(self, true_label: np.ndarray, confuser: np.ndarray) -> Situation:
        """The same answers under other (hypothetical) true labels and confusers, as the oracle needs."""
        return replace(self, true_label=true_label, confuser=confuser)


def model_logit(s: Situation) -> np.ndarray:
    """Log-odds of a correct answer under the item-response model (honest and expert raters)."""
    ability = s.raters.ability[s.worker]
    if np.any(s.ability_offset):
        ability = ability + s.ability_offset
    if s.group is not None and s.raters.group_gap is not None:
        ability = ability - s.raters.group_gap[s.worker] * s.group
    return (
        ability
        + learning_boost(s.practice, s.population)
        - fatigue_penalty(s.time_on_task, s.population, s.raters.fatigue_scale[s.worker])
        - comprehension_penalty(s.design, s.training_minutes, s.complexity)
        - s.difficulty
    )


def _one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    out = np.zeros((labels.shape[0], n_classes))
    out[np.arange(labels.shape[0]), labels] = 1.0
    return out


def _uniform_wrong(s: Situation) -> np.ndarray:
    return (1.0 - _one_hot(s.true_label, s.n_classes)) / (s.n_classes - 1)


def shrunk_bias(bias: np.ndarray, shrink: np.ndarray | float) -> np.ndarray:
    """The bias after calibration: a share ``shrink`` of it replaced by the uniform distribution."""
    shrink = np.asarray(shrink, dtype=float)
    if shrink.ndim:
        shrink = shrink[:, None]
    return (1.0 - shrink) * bias + shrink / bias.shape[-1]


def _wrong_answer_mixture(s: Situation) -> np.ndarray:
    """Where a wrong answer goes: the confuser with probability confuser_weight, else the bias over wrong labels."""
    rows = np.arange(s.true_label.shape[0])
    wrong = s.raters.bias[s.worker]
    if np.any(s.bias_shrink):
        wrong = shrunk_bias(wrong, s.bias_shrink)
    wrong[rows, s.true_label] = 0.0
    total = wrong.sum(axis=1, keepdims=True)
    if (total > 0).all():
        wrong /= total
    else:  # a bias concentrated on the true label leaves nothing: fall back to uniform over the wrong labels
        wrong = np.where(total > 0, wrong / np.where(total > 0, total, 1.0), _uniform_wrong(s))
    weight = s.design.confuser_weight
    wrong *= 1.0 - weight
    wrong[rows, s.confuser] += weight
    if s.group is not None and s.population.group_bias > 0:
        # on group 1 a share of the wrong answers goes to the stereotyped label (where it is a wrong label)
        label = s.population.group_bias_label
        pulled = s.population.group_bias * s.group * (s.true_label != label)
        wrong *= (1.0 - pulled)[:, None]
        wrong[:, label] += pulled
    return wrong


def _correct_or_wrong(s: Situation, p_correct: np.ndarray, wrong: np.ndarray) -> np.ndarray:
    probabilities = wrong * (1.0 - p_correct)[:, None]
    probabilities[np.arange(p_correct.shape[0]), s.true_label] += p_correct
    return probabilities


def model_probabilities(s: Situation) -> np.ndarray:
    return _correct_or_wrong(s, expit(model_logit(s)), _wrong_answer_mixture(s))


def spammer_probabilities(s: Situation) -> np.ndarray:
    return np.full((s.true_label.shape[0], s.n_classes), 1.0 / s.n_classes)


def lazy_probabilities(s: Situation) -> np.ndarray:
    return _one_hot(s.raters.fixed_label[s.worker], s.n_classes)


def adversary_probabilities(s: Situation) -> np.ndarray:
    if s.population.adversary_strategy == "confuser":
        return _one_hot(s.confuser, s.n_classes)
    return _uniform_wrong(s)


def condorcet_probabilities(s: Situation) -> np.ndarray:
    accuracy = s.raters.accuracy[s.worker]
    rho = s.population.accuracy_correlation
    if rho > 0 and s.competence is not None:  # the item's own accuracy, shared by every rater: Beta(mean accuracy)
        concentration = 1.0 / rho - 1.0
        accuracy = betaincinv(accuracy * concentration, (1.0 - accuracy) * concentration, s.competence)
    return _correct_or_wrong(s, accuracy, _uniform_wrong(s))


def confusion_probabilities(s: Situation) -> np.ndarray:
    assert s.raters.confusion is not None
    return s.raters.confusion[s.worker, s.true_label]


REFERENCE_ABILITY = 1.5  # logits: a rater of this ability (the default mean), at the start of work, has sharpness 1


def sharpness(s: Situation) -> np.ndarray:
    """A model rater's sharpness in pairwise and rating tasks: ``exp(log-odds - REFERENCE_ABILITY)`` (see the module
    docstring); 1 for a rater of the default mean ability at the start of work on an item of difficulty 0, so that
    ``raters.ability_mean`` sets the pool's skill here as it does for labels."""
    return np.exp(model_logit(s) - REFERENCE_ABILITY)


def choice_probabilities(d: np.ndarray, tie_weight: float) -> np.ndarray:
    """(n, 2) Bradley-Terry or (n, 3) Davidson probabilities of (left, right[, tie]) for log-odds ``d`` of left."""
    if tie_weight == 0:
        left = expit(d)
        return np.column_stack([left, 1.0 - left])
    logits = np.column_stack([d / 2, -d / 2, np.full(d.shape[0], np.log(tie_weight))])
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    return weights / weights.sum(axis=1, keepdims=True)


def pairwise_probabilities(s: Situation) -> np.ndarray:
    assert s.score_gap is not None and s.length_gap is not None
    assert s.raters.position_bias is not None and s.raters.verbosity_bias is not None
    d = sharpness(s) * s.score_gap + s.raters.position_bias[s.worker] + s.raters.verbosity_bias[s.worker] * s.length_gap
    return choice_probabilities(d, s.design.tie_weight)


def pairwise_adversary_probabilities(s: Situation) -> np.ndarray:
    return _one_hot(s.confuser, s.n_classes)  # the worse response, every time


def _ordered_probit(centre: np.ndarray, spread: np.ndarray, n_levels: int) -> np.ndarray:
    """(n, K) P(level k) when the perceived value ~ Normal(centre, spread) is rounded to the nearest level."""
    cuts = np.arange(1.5, n_levels)  # K - 1 thresholds between the levels
    below = ndtr((cuts[None, :] - centre[:, None]) / spread[:, None])
    ones, zeros = np.ones((centre.shape[0], 1)), np.zeros((centre.shape[0], 1))
    return np.diff(np.hstack([zeros, below, ones]), axis=1)


def _rated(s: Situation, value: np.ndarray) -> np.ndarray:
    assert s.raters.severity is not None and s.raters.scale_use is not None
    k = s.n_classes
    middle = (k + 1) / 2
    centre = middle + s.raters.scale_use[s.worker] * (value + s.raters.severity[s.worker] - middle)
    return _ordered_probit(centre, s.population.rating_noise / sharpness(s), k)


def rating_probabilities(s: Situation) -> np.ndarray:
    assert s.value is not None
    return _rated(s, s.value)


def rating_adversary_probabilities(s: Situation) -> np.ndarray:
    assert s.value is not None
    return _rated(s, s.n_classes + 1 - s.value)


ARCHETYPE_MODELS: dict[str, Callable[[Situation], np.ndarray]] = {
    "honest": model_probabilities,
    "expert": model_probabilities,
    "spammer": spammer_probabilities,
    "lazy": lazy_probabilities,
    "adversary": adversary_probabilities,
    "condorcet": condorcet_probabilities,
    "confusion": confusion_probabilities,
}


# what changes for the other task kinds (sim.kinds); the rest of ARCHETYPE_MODELS applies to their options as is
KIND_MODELS: dict[str, dict[str, Callable[[Situation], np.ndarray]]] = {
    "categorical": {},
    "pairwise": {
        "honest": pairwise_probabilities,
        "expert": pairwise_probabilities,
        "adversary": pairwise_adversary_probabilities,
    },
    "rating": {
        "honest": rating_probabilities,
        "expert": rating_probabilities,
        "adversary": rating_adversary_probabilities,
    },
}


def label_probabilities(s: Situation) -> np.ndarray:
    """(n, K) probability of each label for each answer; rows sum to one. One vectorised call per answer model
    (archetypes that share one, such as honest and expert raters, in one call: every model is row by row)."""
    models = {**ARCHETYPE_MODELS, **KIND_MODELS[s.design.kind]}
    code_of_answer = s.raters.archetype_code[s.worker]
    present = np.flatnonzero(np.bincount(code_of_answer, minlength=len(ARCHETYPES))).tolist()
    by_model: dict[Callable[[Situation], np.ndarray], list[int]] = {}
    for code in present:
        by_model.setdefault(models[ARCHETYPES[code]], []).append(code)
    if len(by_model) == 1:
        return next(iter(by_model))(s)
    probabilities = np.empty((s.true_label.shape[0], s.n_classes))
    for model, codes in by_model.items():
        rows = np.flatnonzero(code_of_answer == codes[0] if len(codes) == 1 else np.isin(code_of_answer, codes))
        probabilities[rows] = model(s.subset(rows))
    return probabilities


def sample_labels(probabilities: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw of one label per row from ``probabilities`` with the given U(0, 1) ``uniforms``."""
    cumulative = np.cumsum(probabilities, axis=1)
    labels = (cumulative < uniforms[:, None] * cumulative[:, -1:]).sum(axis=1)
    return np.minimum(labels, probabilities.shape[1] - 1)


def copy_leaders(labels: np.ndarray, leader_label: np.ndarray, copy_draws: np.ndarray, kappa: float) -> np.ndarray:
    """Colluders' labels: where an answer has a leader (the group's first answer to the item, ``leader_label`` >= 0)
    it copies the leader's label when its U(0, 1) ``copy_draws`` falls below ``kappa``, else keeps its own."""
    return np.where((leader_label >= 0) & (copy_draws < kappa), leader_label, labels)


def copied_p_correct(p_correct: np.ndarray, leader_label: np.ndarray, truth: np.ndarray, kappa: float) -> np.ndarray:
    """P(correct) of a colluder's answer given its leader's label: ``kappa [leader right] + (1 - kappa) p``."""
    follows = leader_label >= 0
    return np.where(follows, kappa * (leader_label == truth) + (1.0 - kappa) * p_correct, p_correct)


def answer_time_factors(time_factor: float, noise_sd: float, normals: np.ndarray) -> np.ndarray:
    """Per-answer multipliers of an item's median seconds: the rater's time factor times lognormal noise.

    An answer's duration is ``median_seconds[item] * factor`` (see :func:`sim.tasks.median_item_seconds`).
    """
    return time_factor * np.exp(noise_sd * normals)


def expected_accuracy(
    raters: Raters,
    population: RaterPopulation,
    design: TaskDesign,
    true_label: np.ndarray,
    confuser: np.ndarray,
    difficulty: np.ndarray,
    training_minutes: float,
    kind_inputs: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Each rater's P(correct) averaged over the given items, at the start of work (no practice, no fatigue, no
    calibration or drift) after ``training_minutes`` of training: the rater's accuracy as a quality score that does
    not depend on which items it happened to answer. Vectorised over raters and items in chunks. ``kind_inputs``:
    the per-item inputs of a pairwise or rating task (``score_gap`` and ``length_gap``, or ``value``)."""
    n_items = true_label.shape[0]
    accuracy = np.empty(raters.n_raters)
    chunk = max(1, 250_000 // max(n_items, 1))  # raters per vectorised pass
    for first in range(0, raters.n_raters, chunk):
        workers = np.arange(first, min(first + chunk, raters.n_raters))
        n = workers.shape[0] * n_items
        labels = np.tile(true_label, workers.shape[0])
        situation = Situation(
            worker=np.repeat(workers, n_items), raters=raters, population=population, design=design,
            true_label=labels, confuser=np.tile(confuser, workers.shape[0]),
            difficulty=np.tile(difficulty, workers.shape[0]), practice=np.zeros(n, np.int64),
            time_on_task=np.zeros(n), training_minutes=np.full(n, training_minutes),
            **{key: np.tile(values, workers.shape[0]) for key, values in (kind_inputs or {}).items()},
        )  # fmt: skip
        p_correct = label_probabilities(situation)[np.arange(n), labels]
        accuracy[workers] = p_correct.reshape(workers.shape[0], n_items).mean(axis=1)
    return accuracy
