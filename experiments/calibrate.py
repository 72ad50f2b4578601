"""``crowdlab calibrate``: fit the simulator's rater and task model to a pilot's real answers, so that plans and runs
start from the raters a team actually has.

    crowdlab calibrate pilot.csv --gold gold.csv --name pilot --out conf_pilot --predict campaign.redundancy=1,3,5,7
    crowdlab run hydra.searchpath=[file://conf_pilot] raters=pilot task=pilot campaign.redundancy=5

The model fitted is the simulator's item-response model with the effects a pilot cannot separate switched off
(learning, fatigue, guideline comprehension, experts): an answer is right with probability ``sigmoid(a_j - d_i)``,
ability ``a_j ~ Normal(ability_mean, ability_sd)``, difficulty ``d_i ~ Normal(0, difficulty_sd)``, plus a share of
spammer-like raters who answer at random. The truth of each pilot item is its gold label where given, else
Dawid-Skene's estimate.

* ``ability_sd`` and ``difficulty_sd``: the logistic model with crossed random effects for raters and items, by
  penalised quasi-likelihood, both at once so that raters who answered the same batch of items (a pilot's usual
  design) do not pass for item difficulty, and corrected for its shrinkage by indirect inference on the pilot's own
  design; then pulled towards a prior of real pools as far as the pilot leaves them unknown (the larger of the
  bootstrap's and a parametric sampling variance, :func:`shrink_spreads`);
* ``ability_mean``: the value at which the model's share of right answers (Gauss-Hermite quadrature) equals the
  pilot's, since a campaign inherits the share of its answers, and a pilot's raters give unequal shares;
* spammer-like raters: those of at least ten answers whose right-answer share is not above chance (exact binomial
  test at 5%), as a share of the answers; reported, and with ``--spammers`` modelled as spammers who work at the
  others' speed (by default they stay in the ability distribution);
* ``speed_sd``: the spread of answers per rater beyond Poisson counting noise (a simulated rater's share of the work
  follows their speed): Var(n) = m + m^2 (exp(speed_sd^2) - 1);
* ``confuser_weight``: how often two wrong answers to one item agree, q = c^2 + (1 - c^2) / (K - 1);
* class priors from the truth; answer times, where the file has a ``seconds`` column, give ``seconds_per_item`` and
  ``answer_time_sd``.

The pilot is small, so the fit is bootstrapped over its items and its raters both (the pigeonhole bootstrap for
crossed designs, Owen 2007; ``--bootstrap`` resamples): each prediction (``--predict KEY=V1,V2,...``) simulates one
campaign per resample, and its 95% interval is their 2.5 and 97.5 percentiles; the point is the mean of five
campaigns of the fit on the whole pilot. Predicted campaigns give every item its full redundancy (no budget or time
limit); ``--set KEY=VALUE`` changes anything else (e.g. ``task.n_items``, ``raters.n_raters`` to the full
campaign's). How well this predicts real campaigns: ``python -m experiments.benchmarks.calibration``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf, open_dict
from scipy.special import expit
from scipy.stats import binom

from experiments.storage import write_csv, write_text
from sim.streams import stream
from sim.validation import ConfigError

NODES, WEIGHTS = np.polynomial.hermite_e.hermegauss(24)  # probabilists' Hermite: E f(Z), Z ~ Normal(0, 1)
WEIGHTS = WEIGHTS / WEIGHTS.sum()
MIN_SPAMMER_ANSWERS = 10
MISSING_KEY = object()
MAX_CLASSES = 50
NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class PilotFit:
    """The fitted parameters (simulator keys) and the pilot's summary."""

    n_classes: int
    class_priors: list[float]
    ability_mean: float
    ability_sd: float
    difficulty_sd: float
    confuser_weight: float
    spammer_share: float  # in the model (0 unless fitted with spammers=True)
    spammer_like_share: float  # of the pilot's answers, measured either way
    speed_sd: float
    seconds_per_item: float | None
    answer_time_sd: float | None
    n_items: int
    n_raters: int
    n_answers: int
    share_right: float
    # the pilot's own spreads, before the prior pulled them (see shrink_spreads); None where it did not
    pilot_ability_sd: float | None = None
    pilot_difficulty_sd: float | None = None


@dataclass(frozen=True)
class Pilot:
    """A pilot coded for fitting: answers as integer arrays, each item's truth (-1 where unknown)."""

    item: np.ndarray
    rater: np.ndarray
    label: np.ndarray
    truth: np.ndarray  # per item
    n_classes: int
    seconds: np.ndarray | None


def read_pilot(answers: pd.DataFrame, gold: pd.Series | None, source: str = "ANSWERS") -> Pilot:
    """Code a pilot's answers; the truth is gold where given, else Dawid-Skene's label. Raises :class:`ConfigError`
    for a pilot that cannot be calibrated on (one rater, no item with two raters, gold for none of its items)."""
    if answers.empty:
        raise ConfigError(f"{source}: the pilot has no answers")
    answers = answers.drop_duplicates(["task", "worker"])  # one answer per rater and item, as a campaign collects
    n_raters = answers["worker"].nunique()
    if n_raters < 2:
        raise ConfigError(f"{source}: the pilot has answers from {n_raters} rater; calibration needs at least two "
                          "raters who answer some items in common")  # fmt: skip
    shared = answers.groupby("task")["worker"].nunique()
    if (shared < 2).all():
        raise ConfigError(
            f"{source}: no item has answers from two raters (no overlap between raters): agreement, "
            "and so rater quality, cannot be measured; give some items to two or more raters"
        )
    answer_labels = set(answers["label"])
    if len(answer_labels) < 2:
        raise ConfigError(f"{source}: every answer is {next(iter(answer_labels))!r}; calibration needs answers of at "
                          "least two classes")  # fmt: skip
    numeric = pd.api.types.is_float_dtype(answers["label"]) and not np.all(np.mod(answers["label"], 1) == 0)
    if numeric or len(answer_labels) > MAX_CLASSES:
        raise ConfigError(f"{source}: its labels look continuous ({len(answer_labels)} distinct values); calibrate "
                          f"fits categorical answers (at most {MAX_CLASSES} classes)")  # fmt: skip
    if gold is not None:
        answered = pd.unique(gold[gold.index.isin(answers["task"])])
        foreign = [v.item() if isinstance(v, np.generic) else v for v in answered if v not in answer_labels]
        if foreign:
            accepted = ", ".join(str(label) for label in sorted(answer_labels, key=str))
            raise ConfigError(f"--gold: label {foreign[0]!r} is not among the labels of the pilot's answers; "
                              f"accepted values: {accepted}")  # fmt: skip
        elsewhere = int((~gold.index.isin(answers["task"])).sum())
        if elsewhere:
            print(f"crowdlab: calibrate: warning: {elsewhere} gold task(s) have no answers in the pilot (left out)",
                  file=sys.stderr)  # fmt: skip
    labels = pd.Index(sorted(answer_labels, key=str))
    items = pd.Index(sorted(answers["task"].unique(), key=str))
    item = items.get_indexer(answers["task"])
    rater = pd.Index(sorted(answers["worker"].unique(), key=str)).get_indexer(answers["worker"])
    label = labels.get_indexer(answers["label"])
    if gold is not None:
        known = gold[gold.index.isin(items)]
        if known.empty:
            raise ConfigError("--gold: none of its tasks is in the pilot's answers; accepted values: gold labels of "
                              "tasks the pilot answered")  # fmt: skip
        truth = np.full(len(items), -1)
        truth[items.get_indexer(known.index)] = labels.get_indexer(known.to_numpy())
    else:
        truth = np.full(len(items), -1)
    unknown = truth < 0
    if unknown.any():
        from strategies.aggregation import DawidSkene

        coded = pd.DataFrame({"task": item, "worker": rater, "label": label})
        estimate = DawidSkene().fit(coded).labels_
        truth[unknown] = estimate.reindex(np.flatnonzero(unknown)).to_numpy(dtype=int)
    seconds = answers["seconds"].to_numpy(float) if "seconds" in answers.columns else None
    return Pilot(item, rater, label, truth, len(labels), seconds)


def crossed_effects(right: np.ndarray, rater: np.ndarray, item: np.ndarray, iterations: int = 200) -> np.ndarray:
    """``(mu, log ability_sd, log difficulty_sd)`` of the logistic model with crossed random effects,
    ``logit P(right) = mu + alpha_j - delta_i``, ``alpha ~ Normal(0, ability_sd)``, ``delta ~ Normal(0,
    difficulty_sd)``, by penalised quasi-likelihood (Breslow & Clayton 1993): Newton steps for the effects' modes,
    then each variance from its modes and their Laplace variances (an EM step). Both effects at once, so that
    raters who answered the same batch of items (a pilot's usual design) do not pass for item difficulty. With few
    answers per item it shrinks the spreads; :func:`debiased_effects` corrects that."""
    _, rater = np.unique(rater, return_inverse=True)
    _, item = np.unique(item, return_inverse=True)
    n_raters, n_items = int(rater.max()) + 1, int(item.max()) + 1
    alpha, delta, mu, var_a, var_d = np.zeros(n_raters), np.zeros(n_items), 0.0, 1.0, 1.0
    for _ in range(iterations):
        for _ in range(2):
            p = expit(mu + alpha[rater] - delta[item])
            alpha += (np.bincount(rater, right - p, n_raters) - alpha / var_a) / (
                np.bincount(rater, p * (1 - p), n_raters) + 1 / var_a
            )
            p = expit(mu + alpha[rater] - delta[item])
            delta += (-np.bincount(item, right - p, n_items) - delta / var_d) / (
                np.bincount(item, p * (1 - p), n_items) + 1 / var_d
            )
            p = expit(mu + alpha[rater] - delta[item])
            mu += float((right - p).sum() / max((p * (1 - p)).sum(), 1e-12))
        weight = expit(mu + alpha[rater] - delta[item])
        weight = weight * (1 - weight)
        new_a = max(float(np.mean(alpha**2 + 1 / (np.bincount(rater, weight, n_raters) + 1 / var_a))), 1e-4)
        new_d = max(float(np.mean(delta**2 + 1 / (np.bincount(item, weight, n_items) + 1 / var_d))), 1e-4)
        converged = abs(math.log(new_a / var_a)) + abs(math.log(new_d / var_d)) < 1e-5
        var_a, var_d = new_a, new_d
        if converged:
            break
    return np.array([mu, 0.5 * math.log(var_a), 0.5 * math.log(var_d)])


LOG_SD_BOUNDS = (math.log(0.02), math.log(6.0))
# The spreads' prior, on the log scale: (log ability_sd, log difficulty_sd), the mean and standard deviation of the
# debiased fits on all answers of the real sets that do not validate pilots (music, product, relevance, web and
# zencrowd_all; ``python -m experiments.benchmarks.calibration --prior`` recomputes them)
SPREAD_PRIOR_MEAN = (0.118, 0.073)
SPREAD_PRIOR_SD = (0.546, 0.317)


@dataclass(frozen=True)
class Debiasing:
    """How a pilot's crossed-effects estimate maps to its debiased one (:func:`debiased_effects`), so that a
    bootstrap resample maps the same way: ``theta + (raw - observed) / slope`` on the spreads, with ``slope`` the
    binding function's derivative at ``theta`` (the raw estimate moves ``slope`` times as much as the parameter: a
    shrunk estimate moves less, so its deviations stand for larger ones of the parameter)."""

    observed: np.ndarray  # the pilot's raw estimate (mu, log ability_sd, log difficulty_sd)
    theta: np.ndarray  # its debiased one
    slope: np.ndarray  # d raw / d theta of the two spreads (diagonal)
    variance: np.ndarray  # sampling variance of the two debiased spreads on the pilot's design, parametric

    def apply(self, raw: np.ndarray) -> np.ndarray:
        theta = raw - self.observed + self.theta
        theta[1:] = self.theta[1:] + (raw[1:] - self.observed[1:]) / self.slope
        theta[1:] = np.clip(theta[1:], *LOG_SD_BOUNDS)
        return theta


VARIANCE_DRAWS = 12  # simulated pilots for the sampling variance of the debiased spreads
MIN_SLOPE = 0.05  # a flatter binding function (a spread at its bound, or one the pilot cannot see) counts as this


def debiased_effects(
    right: np.ndarray, rater: np.ndarray, item: np.ndarray, rng: np.random.Generator, rounds: int = 8, draws: int = 5
) -> tuple[np.ndarray, Debiasing]:
    """:func:`crossed_effects` corrected for its shrinkage by indirect inference (Gourieroux, Monfort & Renault
    1993): the parameters whose simulated answers, on the pilot's own raters and items, give the estimate the pilot
    gave. The simulations reuse the same normal and uniform draws in every round (common random numbers), so the
    answer depends on the pilot, not on the rounds' luck. Returns the corrected ``(mu, log ability_sd, log
    difficulty_sd)`` and the :class:`Debiasing` that a bootstrap resample of the pilot applies to its own raw
    estimate; its slope is the binding function's, by central differences of 0.15 on the same draws, and its
    variance that of :data:`VARIANCE_DRAWS` pilots simulated at the estimate on the same design (a parametric
    bootstrap, Efron and Tibshirani 1993, ch. 6, through the slope)."""
    _, rater = np.unique(rater, return_inverse=True)
    _, item = np.unique(item, return_inverse=True)
    z_rater = rng.standard_normal((draws, int(rater.max()) + 1))
    z_item = rng.standard_normal((draws, int(item.max()) + 1))
    uniform = rng.random((draws, right.size))
    observed = crossed_effects(right, rater, item)

    def estimates(theta: np.ndarray, z_rater: np.ndarray, z_item: np.ndarray, uniform: np.ndarray) -> np.ndarray:
        return np.array([
            crossed_effects((uniform[k] < expit(theta[0] + math.exp(theta[1]) * z_rater[k][rater]
                                                - math.exp(theta[2]) * z_item[k][item])).astype(float), rater, item)
            for k in range(uniform.shape[0])
        ])  # fmt: skip

    def binding(theta: np.ndarray) -> np.ndarray:  # the mean raw estimate of answers simulated at theta
        return estimates(theta, z_rater, z_item, uniform).mean(axis=0)

    theta = observed.copy()
    for _ in range(rounds):
        step = observed - binding(theta)
        theta = theta + step
        theta[1:] = np.clip(theta[1:], *LOG_SD_BOUNDS)
        if np.max(np.abs(step)) < 1e-4:
            break
    slope = np.ones(2)
    for j in (1, 2):
        shift = np.zeros(3)
        shift[j] = 0.15
        slope[j - 1] = (binding(theta + shift)[j] - binding(theta - shift)[j]) / 0.3
    slope = np.maximum(slope, MIN_SLOPE)
    # the sampling variance at theta: fresh pilots simulated on the same design, their raw spreads through the slope
    fresh = estimates(
        theta,
        rng.standard_normal((VARIANCE_DRAWS, z_rater.shape[1])),
        rng.standard_normal((VARIANCE_DRAWS, z_item.shape[1])),
        rng.random((VARIANCE_DRAWS, right.size)),
    )
    variance = fresh[:, 1:].var(axis=0, ddof=1) / slope**2
    return theta, Debiasing(observed, theta, slope, variance)


def model_share(mu: float, sd_a: float, sd_d: float, spam: float, k: int) -> float:
    """The share of right answers under the model, by Gauss-Hermite quadrature over ability and difficulty."""
    p = expit(mu + sd_a * NODES[:, None] - sd_d * NODES[None, :])
    return float((1 - spam) * WEIGHTS @ p @ WEIGHTS + spam / k)


def ability_mean_for(share: float, sd_a: float, sd_d: float, spam: float, k: int) -> float:
    """The mean ability at which the model's share of right answers is ``share`` (clipped to [-12, 12])."""
    from scipy.optimize import brentq

    low, high = model_share(-12.0, sd_a, sd_d, spam, k), model_share(12.0, sd_a, sd_d, spam, k)
    if not low < share < high:
        return -12.0 if share <= low else 12.0
    return float(brentq(lambda m: model_share(m, sd_a, sd_d, spam, k) - share, -12.0, 12.0))


def confuser_weight(pilot: Pilot, right: np.ndarray) -> float:
    """From the chance q that two wrong answers to one item agree: q = c^2 + (1 - c^2) / (K - 1)."""
    k = pilot.n_classes
    if k <= 2:
        return 0.0
    wrong = ~right.astype(bool)
    codes = pilot.item[wrong] * k + pilot.label[wrong]
    per_item = np.bincount(pilot.item[wrong], minlength=pilot.truth.size)
    per_label = np.bincount(codes, minlength=pilot.truth.size * k)
    pairs = float(np.sum(per_item * (per_item - 1)))
    if pairs == 0:
        return 0.0
    agree = float(np.sum(per_label * (per_label - 1))) / pairs
    base = 1.0 / (k - 1)
    return float(np.sqrt(np.clip((agree - base) / (1 - base), 0.0, 1.0)))


def spammer_like(pilot: Pilot, right: np.ndarray) -> np.ndarray:
    """Per answer: whether its rater, of at least ten answers, is not above chance (exact binomial test at 5%)."""
    count = np.bincount(pilot.rater)
    hits = np.bincount(pilot.rater, weights=right)
    p_value = binom.sf(hits - 1, count, 1.0 / pilot.n_classes)  # P(X >= hits) under chance
    flagged = (count >= MIN_SPAMMER_ANSWERS) & (p_value > 0.05)
    return flagged[pilot.rater]


def fit(
    pilot: Pilot, spammers: bool = False, correction: Debiasing | None = None, seed: int = 0
) -> tuple[PilotFit, Debiasing]:
    """The rater and task parameters of a pilot (see the module's docstring), and the correction of the spreads for
    shrinkage (computed here unless given, as for a bootstrap resample of a pilot already fitted). Spammer-like raters
    are counted either way; ``spammers=True`` also models them as spammers (answering at random) and fits the
    ability distribution to the others (``python -m experiments.benchmarks.calibration --spammers`` compares the
    two on the real data sets)."""
    right = (pilot.label == pilot.truth[pilot.item]).astype(float)
    flagged = spammer_like(pilot, right)
    spam_answers = flagged if spammers else np.zeros(right.size, dtype=bool)
    spam = float(spam_answers.mean())  # the share of answers spammer-like raters gave
    honest = ~spam_answers
    if np.unique(pilot.rater[honest]).size < 2:
        raise ConfigError("the pilot's raters are all spammer-like (none above chance): nothing to calibrate on")
    if correction is None:
        theta, correction = debiased_effects(right[honest], pilot.rater[honest], pilot.item[honest],
                                             stream(seed, 0, "calibration", 1))  # fmt: skip
    else:
        theta = correction.apply(crossed_effects(right[honest], pilot.rater[honest], pilot.item[honest]))
    sd_a, sd_d = math.exp(theta[1]), math.exp(theta[2])
    # the mean ability from the share of right answers: a pilot's raters give unequal shares of its answers (a
    # simulated campaign's about equal ones), and the share, not the typical rater, is what a campaign inherits
    share, k = float(right.mean()), pilot.n_classes
    mu = ability_mean_for(share, sd_a, sd_d, spam, k)
    priors = np.bincount(pilot.truth, minlength=k).astype(float) + 0.5  # Jeffreys: no class at 0
    # workloads: a few raters give most answers in most real pools, and Dawid-Skene knows a rater by their answers.
    # A simulated rater's share of the work follows their speed (log-normal, sd speed_sd); the spread of answers per
    # rater beyond Poisson counting noise gives it: Var(n) = m + m^2 (exp(speed_sd^2) - 1)
    counts = np.bincount(pilot.rater).astype(float)
    excess = max(0.0, float(counts.var() - counts.mean())) / counts.mean() ** 2
    speed_sd = float(np.sqrt(np.log1p(excess)))
    seconds = sd_time = None
    if pilot.seconds is not None and np.isfinite(pilot.seconds).any() and (pilot.seconds > 0).any():
        logs = np.log(pilot.seconds[np.isfinite(pilot.seconds) & (pilot.seconds > 0)])
        seconds, sd_time = float(np.exp(logs.mean())), float(logs.std())
    return (PilotFit(
        n_classes=k, class_priors=[float(p) for p in priors / priors.sum()], ability_mean=mu, ability_sd=sd_a,
        difficulty_sd=sd_d, confuser_weight=confuser_weight(pilot, right), spammer_share=spam, speed_sd=speed_sd,
        spammer_like_share=float(flagged.mean()),
        seconds_per_item=seconds, answer_time_sd=sd_time, n_items=int(pilot.truth.size),
        n_raters=int(pilot.rater.max() + 1), n_answers=int(pilot.item.size), share_right=share,
    ), correction)  # fmt: skip


def resample(pilot: Pilot, rng: np.random.Generator) -> Pilot:
    """A bootstrap pilot for a crossed design, the pigeonhole bootstrap (Owen 2007): items and raters are both drawn
    with replacement, and each answer appears once for every copy of its item times every copy of its rater (each
    copy a new item or rater). Resampling items alone would take the pilot's raters for the whole pool."""
    n_items, n_raters = pilot.truth.size, int(pilot.rater.max()) + 1
    item_copies = np.bincount(rng.integers(n_items, size=n_items), minlength=n_items)
    rater_copies = np.bincount(rng.integers(n_raters, size=n_raters), minlength=n_raters)
    item_start = np.concatenate([[0], np.cumsum(item_copies)])  # copy c of item i is item_start[i] + c
    rater_start = np.concatenate([[0], np.cumsum(rater_copies)])
    times = item_copies[pilot.item] * rater_copies[pilot.rater]
    rows = np.repeat(np.arange(pilot.item.size), times)
    within = np.arange(rows.size) - np.repeat(np.cumsum(times) - times, times)  # 0 .. times-1 for each answer
    per_rater = rater_copies[pilot.rater[rows]]
    item = item_start[pilot.item[rows]] + within // per_rater
    rater = rater_start[pilot.rater[rows]] + within % per_rater
    truth = np.repeat(pilot.truth, item_copies)
    if rows.size == 0 or np.unique(rater).size < 2:  # a draw without two raters: draw again
        return resample(pilot, rng)
    used = np.unique(item)  # items whose every rater went undrawn have no answers: leave them out
    item = np.searchsorted(used, item)
    _, rater = np.unique(rater, return_inverse=True)
    seconds = pilot.seconds[rows] if pilot.seconds is not None else None
    return Pilot(item, rater, pilot.label[rows], truth[used], pilot.n_classes, seconds)


def configs(result: PilotFit) -> tuple[DictConfig, DictConfig]:
    """The raters and task configs of a fit: conf/'s defaults with the fitted keys (and the unidentified effects
    off)."""
    from experiments.run import CONF
    from sim.raters import ARCHETYPES

    raters = OmegaConf.load(CONF / "raters" / "default.yaml")
    task = OmegaConf.load(CONF / "task" / "default.yaml")
    assert isinstance(raters, DictConfig) and isinstance(task, DictConfig)
    shares = {name: 0.0 for name in ARCHETYPES}
    shares.update(honest=round(1 - result.spammer_share, 6), spammer=round(result.spammer_share, 6))
    raters.merge_with({
        "n_raters": result.n_raters, "archetypes": shares, "ability_mean": round(result.ability_mean, 6),
        "ability_sd": round(result.ability_sd, 6), "learning_gain": 0.0, "fatigue_max": 0.0,
        "speed_sd": round(result.speed_sd, 6),
        "bias_concentration": 100.0, "spammer_time_factor": 1.0,
        **({"answer_time_sd": round(result.answer_time_sd, 6)} if result.answer_time_sd is not None else {}),
    })  # fmt: skip
    task.merge_with({
        "n_items": result.n_items, "n_classes": result.n_classes,
        "class_priors": list(result.class_priors), "difficulty_mean": 0.0,
        "difficulty_sd": round(result.difficulty_sd, 6), "ambiguous_fraction": 0.0, "guideline_complexity": 0.0,
        "confuser_weight": round(result.confuser_weight, 6), "gold_fraction": 0.0,
        **({"seconds_per_item": round(result.seconds_per_item, 3)} if result.seconds_per_item is not None else {}),
    })  # fmt: skip
    return raters, task


def write_configs(result: PilotFit, name: str, out: Path, source: str, settings: Sequence[str] = ()) -> list[Path]:
    """``out/raters/NAME.yaml`` and ``out/task/NAME.yaml``, with the ``--set`` settings of their groups applied."""
    raters, task = configs(result)
    for setting in settings:
        key, _, value = setting.partition("=")
        group, _, rest = key.partition(".")
        if group in ("raters", "task"):
            OmegaConf.update(raters if group == "raters" else task, rest, _value(value), merge=True)
    header = (f"# Calibrated by crowdlab calibrate on {source}: {result.n_answers} answers by {result.n_raters} "
              f"raters to {result.n_items} items, {result.share_right:.3f} of them right.\n"
              "# Learning, fatigue, guideline comprehension and experts are off: a pilot cannot tell them apart.\n"
              f"#   crowdlab run hydra.searchpath=[file://{out.resolve()}] raters={name} task={name}\n")  # fmt: skip
    return [
        write_text(header + OmegaConf.to_yaml(raters), out / "raters" / f"{name}.yaml"),
        write_text(header + OmegaConf.to_yaml(task), out / "task" / f"{name}.yaml"),
    ]


def predict(
    fits: list[PilotFit], key: str, values: list[Any], aggregators: list[str], settings: list[str], seed: int = 0,
    whole: PilotFit | None = None, point_replicates: int = 5,
) -> pd.DataFrame:  # fmt: skip
    """Each aggregator's accuracy at each design value: the point is the mean of ``point_replicates`` campaigns of
    the fit on the whole pilot (``whole``; the bootstrap mean without it), the interval the 2.5 and 97.5
    percentiles of one campaign per bootstrap fit (widened to hold the point)."""
    from experiments.checks import compose_job
    from experiments.plan import override_text
    from experiments.run import prepare, score_replicate

    base = compose_job([f"aggregators=[{','.join(aggregators)}]", f"seed={seed}"])

    def accuracies(result: PilotFit, value: Any, replicate: int) -> list[dict[str, Any]]:
        raters, task = configs(result)
        cfg = base.copy()
        with open_dict(cfg):
            cfg.raters, cfg.task = raters, task
            for setting in ["campaign.budget=null", "campaign.horizon_hours=null", "raters.sessions=1000000",
                            *settings, f"{key}={override_text(value)}"]:  # fmt: skip
                setting_key, _, setting_value = setting.partition("=")
                if OmegaConf.select(cfg, setting_key, default=MISSING_KEY) is MISSING_KEY:
                    name = "--predict" if setting_key == key else "--set"
                    raise ConfigError(f"{name}: unknown key {setting_key!r} (crowdlab run --cfg job lists the keys)")
                OmegaConf.update(cfg, setting_key, _value(setting_value), merge=True)
        _, scored = score_replicate(prepare(cfg), replicate)
        return [{key: value, "aggregator": row["aggregator"], "accuracy": row["accuracy"]} for row in scored]

    rows: list[dict[str, Any]] = []
    for value in values:
        for replicate, result in enumerate(fits):
            rows.extend({**row, "part": "bootstrap"} for row in accuracies(result, value, replicate))
        if whole is not None:
            for replicate in range(point_replicates):
                rows.extend({**row, "part": "point"} for row in accuracies(whole, value, len(fits) + replicate))
    table = pd.DataFrame(rows)
    spread = table[table["part"] == "bootstrap"].groupby([key, "aggregator"], sort=False)["accuracy"]
    summary = spread.agg(ci_low=lambda v: float(np.quantile(v, 0.025)), ci_high=lambda v: float(np.quantile(v, 0.975)))
    points = table[table["part"] == ("point" if whole is not None else "bootstrap")]
    summary.insert(0, "accuracy", points.groupby([key, "aggregator"], sort=False)["accuracy"].mean())
    summary["ci_low"] = np.minimum(summary["ci_low"], summary["accuracy"])
    summary["ci_high"] = np.maximum(summary["ci_high"], summary["accuracy"])
    return summary.reset_index()


def check_settings(settings: Sequence[str]) -> None:
    """Every ``--set KEY=VALUE`` names a key of the run config and gives a value the run accepts."""
    from experiments.checks import compose_job
    from experiments.run import prepare

    for setting in settings:
        if "=" not in setting:
            raise ConfigError(f"--set must be KEY=VALUE (e.g. task.n_items=20000), got {setting!r}")
    prepare(compose_job(list(settings)))


def _value(text: str) -> Any:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create().parse_override(f"x={text}").value()


def calibrate(pilot: Pilot, n_bootstrap: int, seed: int = 0, spammers: bool = False) -> tuple[PilotFit, list[PilotFit]]:
    """The fit on the whole pilot and on ``n_bootstrap`` pigeonhole resamples of its items and raters, their spreads
    pulled towards the prior by :func:`shrink_spreads` (with at least two resamples)."""
    rng = stream(seed, 0, "calibration", 2)
    whole, correction = fit(pilot, spammers, seed=seed)
    # a resample's counts of raters and items are the resample's: the pool and the task are the pilot's
    fits = [
        dataclasses.replace(fit(resample(pilot, rng), spammers, correction)[0], n_raters=whole.n_raters,
                            n_items=whole.n_items)
        for _ in range(n_bootstrap)
    ]  # fmt: skip
    return shrink_spreads(whole, fits, correction.variance) if len(fits) >= 2 else (whole, fits)


def shrink_spreads(
    whole: PilotFit, fits: list[PilotFit], variance: np.ndarray | None = None
) -> tuple[PilotFit, list[PilotFit]]:
    """Pull the pilot's two spreads towards the prior of real pools (:data:`SPREAD_PRIOR_MEAN`), each as far as
    the pilot leaves it unknown: on the log scale, the normal-normal posterior mean ``w t + (1 - w) m`` with ``w =
    s^2 / (s^2 + v)``, ``s`` the prior's spread and ``v`` the pilot estimate's sampling variance: the larger of the
    variance over the bootstrap fits and ``variance`` (the parametric one of :func:`debiased_effects`; the
    pigeonhole bootstrap of a pilot of 3 answers per item sees a third or less of the difficulty spread's). Each
    bootstrap fit moves to the posterior mean plus ``sqrt(w)`` times its own deviation, so that their spread is
    ``w`` times theirs (the posterior's, ``w v``, where the bootstrap's is the larger). The mean ability is solved
    again for each fit's share of right answers under its new spreads.

    Why: a pilot of 3 answers per item knows little of how raters and items differ. On 22-item pilots of
    bluebirds the fitted spreads ranged from 0.02 to 5.5 (the full set's: about 0.8), and the predictions at
    redundancy 7 from 48% to 99%. A large pilot's spreads barely move (``v`` is small)."""
    fitted = np.log([whole.ability_sd, whole.difficulty_sd])
    resampled = np.log([[f.ability_sd, f.difficulty_sd] for f in fits])
    prior_mean, prior_var = np.array(SPREAD_PRIOR_MEAN), np.array(SPREAD_PRIOR_SD) ** 2
    sampling = resampled.var(axis=0, ddof=1)
    if variance is not None:
        sampling = np.maximum(sampling, variance)
    weight = prior_var / (prior_var + sampling)
    centre = weight * fitted + (1.0 - weight) * prior_mean

    def moved(result: PilotFit, log_spreads: np.ndarray) -> PilotFit:
        sd_a, sd_d = np.exp(np.clip(log_spreads, *LOG_SD_BOUNDS)).tolist()
        mu = ability_mean_for(result.share_right, sd_a, sd_d, result.spammer_share, result.n_classes)
        return dataclasses.replace(result, ability_sd=sd_a, difficulty_sd=sd_d, ability_mean=mu,
                                   pilot_ability_sd=result.ability_sd,
                                   pilot_difficulty_sd=result.difficulty_sd)  # fmt: skip

    return moved(whole, centre), [moved(f, centre + np.sqrt(weight) * (log - fitted)) for f, log in
                                  zip(fits, resampled, strict=True)]  # fmt: skip


def parse_predict(text: str) -> tuple[str, list[Any]]:
    key, sep, values = text.partition("=")
    if not sep or not values:
        raise ConfigError(f"--predict must be KEY=V1,V2,... (e.g. campaign.redundancy=1,3,5,7), got {text!r}")
    return key, [_value(v) for v in values.split(",")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crowdlab calibrate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("answers", help="the pilot's answers (any layout strategies.io.read_answers reads)")
    parser.add_argument("--gold", help="gold labels of some pilot items (task,label)")
    parser.add_argument("--name", required=True, help="the config name to write (raters/NAME.yaml, task/NAME.yaml)")
    parser.add_argument("--out", required=True, help="the folder to write the configs (and prediction.csv) into")
    parser.add_argument("--predict", help="designs to simulate: KEY=V1,V2,... (e.g. campaign.redundancy=1,3,5,7)")
    parser.add_argument("--aggregators", default="majority_vote,dawid_skene", help="aggregators of the predictions")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="another setting of the predicted campaigns (e.g. task.n_items=20000); repeatable",
    )
    parser.add_argument("--bootstrap", type=int, default=40, help="resamples of the pilot's items (default 40)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--spammers", action="store_true", help="model spammer-like raters as spammers")
    args = parser.parse_args(argv)
    from strategies.io import read_answers, read_gold

    try:
        if not NAME.match(args.name):
            raise ConfigError(f"--name {args.name!r} must be a config name: letters, digits, _ . - (no folders)")
        if Path(args.out).exists() and not Path(args.out).is_dir():
            raise ConfigError(f"--out {args.out} is a file; accepted values: a folder (new or existing)")
        if "oracle" in args.aggregators.split(","):
            raise ConfigError("--aggregators: oracle reads the truth; it is a bound, not a choice: leave it out")
        if args.bootstrap < 2:
            raise ConfigError(f"--bootstrap must be an integer >= 2, got {args.bootstrap}")
        answers = read_answers(args.answers)
        gold = read_gold(args.gold) if args.gold else None
        pilot = read_pilot(answers, gold, args.answers)
        whole, fits = calibrate(pilot, args.bootstrap, args.seed, args.spammers)
        check_settings(args.set)
        prediction = None
        if args.predict:
            key, values = parse_predict(args.predict)
            aggregators = [a.strip() for a in args.aggregators.split(",") if a.strip()]
            prediction = predict(fits, key, values, aggregators, args.set, args.seed, whole)
    except (ConfigError, ValueError, FileNotFoundError) as error:
        print(f"crowdlab: calibrate: {error}", file=sys.stderr)
        return 2
    out = Path(args.out)
    for path in write_configs(whole, args.name, out, args.answers, args.set):
        print(f"config -> {path}")
    shown = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(whole).items()
             if k not in ("class_priors",)}  # fmt: skip
    print("fit: " + ", ".join(f"{k}={v}" for k, v in shown.items()))
    if prediction is not None:
        path = write_csv(prediction, out / "prediction.csv")
        print(prediction.to_string(index=False))
        print(f"prediction -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
