"""Ordinal rating: item values on a 1..K scale from raters with their own offset, noise and scale use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, Self

import numpy as np
import pandas as pd
from scipy.special import log_ndtr, ndtr

from strategies.aggregation.base import AnswersError, Setting
from strategies.aggregation.numeric_base import BaseNumericAggregator, NumericAnswers, encode_numeric, task_means

_OPEN_END = 1e6  # a threshold this far out stands for an infinite one: its normal tail is exactly 0 or 1
_HALF_LOG_2PI = 0.5 * np.log(2.0 * np.pi)
_SQRT_2PI = np.sqrt(2.0 * np.pi)
_ROUND = 20  # L-BFGS iterations between re-estimates of the variables' scale
_BLOCK = 1 << 16  # answers per block: a dozen float arrays of this length fit in a typical L2/L3 cache


@dataclass
class OrdinalRating(BaseNumericAggregator):
    r"""Ordered-probit rater model for ratings on an integer scale :math:`1..K` (star ratings, Likert items).

    Item :math:`i` has a latent value :math:`v_i` on the scale; rater :math:`w` has an offset (severity below
    zero, leniency above) :math:`b_w`, a noise s.d. :math:`\sigma_w` and a scale-use slope :math:`g_w` (below one:
    central tendency, above one: a preference for the extremes). With :math:`c = (1 + K) / 2` the midpoint, the
    rater perceives

    .. math:: y_{iw} = c + g_w (v_i + b_w - c) + \sigma_w \varepsilon, \qquad \varepsilon \sim N(0, 1)

    and answers the category :math:`k` whose bin :math:`(k - \tfrac12, k + \tfrac12]` holds it, the end bins open
    (1 below 1.5, :math:`K` above :math:`K - \tfrac12`). With :math:`m_{iw} = c + g_w (v_i + b_w - c)`,

    .. math:: P(x_{iw} = k) = \Phi\Big(\frac{k + \frac12 - m_{iw}}{\sigma_w}\Big)
        - \Phi\Big(\frac{k - \frac12 - m_{iw}}{\sigma_w}\Big).

    This is the ordered-probit (graded) model of multirater ordinal data (Johnson and Albert, *Ordinal Data
    Modeling*, Springer, 1999), with the rater bias, discrimination and measurement error of Cao, Stokes and
    Zhang ("A Bayesian approach to ranking and rater evaluation: an application to grant reviews", J. Educ. Behav.
    Stat. 35(2):194-214, 2010); the cut points are fixed at the half-integers so that :math:`v_i` reads in the
    units of the scale, the metric reading of an ordered probit that Liddell and Kruschke advocate over averaging
    the answers ("Analyzing ordinal data with metric models: what could possibly go wrong?", J. Exp. Soc. Psychol.
    79:328-348, 2018, doi:10.1016/j.jesp.2018.08.009).

    Fitted by MAP under weak priors, so that every estimate is finite with few answers: :math:`v_i \sim N(c,
    s_v^2)`, :math:`a_w = g_w b_w \sim N(0, s_b^2)` (the offset in answer units), :math:`\log g_w \sim N(0, s_g^2)`
    (``value_prior_sd``, ``offset_prior_sd``, ``scale_use_prior_sd``, in scale steps) and a scaled
    inverse-:math:`\chi^2` prior on :math:`(\sigma_w / g_w)^2`, the rater's noise in value units, with
    ``noise_prior_weight`` degrees of freedom and scale ``noise_prior``:math:`^2`: as if each rater had also given
    that many answers with that noise. The joint MAP over the item values lets the sharpest raters' noise collapse
    towards zero, their answers then pinning the items; a prior on :math:`\sigma_w` alone stops that only until
    :math:`g_w` grows instead, which the prior on the ratio prevents. A common shift of the values against the
    offsets, and a common stretch of the values against the slopes, leave the likelihood unchanged; the
    answer-weighted mean of :math:`a_w` is held at 0 and that of :math:`g_w` at 1 (the average answer is unbiased
    and uses the scale as the truth does). Not the mean of :math:`\log g_w`: a spammer's slope tends to 0, and its
    logarithm would drag every other slope up. The variables are :math:`a_w` rather than :math:`b_w` because
    :math:`b_w` has a curved ridge :math:`g_w b_w = \text{const}` for a rater whose answers ignore the values;
    ``offsets_`` reports :math:`b_w = a_w / g_w`. ``scale_use=False`` fixes :math:`g_w = 1`.
    The log-posterior and its gradient (per-answer terms summed with ``np.bincount``) go to L-BFGS from the task
    means, for at most ``n_iter`` iterations, until one lowers it by at most ``tol`` relative to its value.

    ``n_levels`` is :math:`K`; None takes the largest rating seen. Ratings must be integers in :math:`1..K`
    (ints, or floats holding whole numbers), else :class:`AnswersError` names the column and the accepted values.
    Learned: ``labels_`` (task -> :math:`v_i`, the numeric contract), ``offsets_``, ``noise_`` and ``scale_use_``
    (worker -> :math:`b_w`, :math:`\sigma_w`, :math:`g_w`), ``n_levels_`` and ``n_iter_``. The end bins are open,
    so an item everyone rates :math:`K` gets a value above :math:`K`, held back by the prior only; estimates are
    not clipped to the scale.
    """

    #: takes ratings on an integer scale (the numeric contract checks it on ratings, see ``checks.rates_levels``)
    scale_levels: ClassVar[bool] = True

    settings: ClassVar[dict[str, Setting]] = {
        "n_levels": Setting(int, 2, optional=True),
        "scale_use": Setting(choices=(True, False)),
        "value_prior_sd": Setting(float, 0.0, low_open=True),
        "offset_prior_sd": Setting(float, 0.0, low_open=True),
        "noise_prior": Setting(float, 0.0, low_open=True),
        "noise_prior_weight": Setting(float, 0.0, low_open=True),
        "scale_use_prior_sd": Setting(float, 0.0, low_open=True),
        "n_iter": Setting(int, 1),
        "tol": Setting(float, 0.0),
    }

    n_levels: int | None = None
    scale_use: bool = True
    value_prior_sd: float = 2.0
    offset_prior_sd: float = 1.0
    noise_prior: float = 0.5
    noise_prior_weight: float = 5.0
    scale_use_prior_sd: float = 0.5
    n_iter: int = 500
    tol: float = 1e-10

    labels_: pd.Series = field(init=False, repr=False)
    offsets_: pd.Series = field(init=False, repr=False)
    noise_: pd.Series = field(init=False, repr=False)
    scale_use_: pd.Series = field(init=False, repr=False)
    n_levels_: int = field(init=False, repr=False)
    n_iter_: int = field(init=False, repr=False)

    def fit(self, data: pd.DataFrame) -> Self:
        answers = encode_numeric(data)
        self.n_levels_ = _check_ratings(answers.value, self.n_levels)
        model = _RaterModel(answers, self.n_levels_, self)
        natural, self.n_iter_ = _maximise_posterior(model, self.n_iter, self.tol)
        values, shifts, log_noise, log_slopes = model.split(natural)
        codes = answers.codes
        self.labels_ = answers.task_series(values)
        self.offsets_ = codes.worker_series(shifts * np.exp(-log_slopes), name="offset")
        self.noise_ = codes.worker_series(np.exp(log_noise), name="noise")
        self.scale_use_ = codes.worker_series(np.exp(log_slopes), name="scale_use")
        return self


def _check_ratings(value: np.ndarray, n_levels: int | None) -> int:
    """The number of levels K: ``n_levels``, or the largest rating; AnswersError unless all ratings are in 1..K."""
    accepted = f"integers 1..{n_levels}" if n_levels is not None else "integers 1..K (K: n_levels, or the largest)"
    outside = (value != np.round(value)) | (value < 1) | (value > (np.inf if n_levels is None else n_levels))
    if outside.any():
        bad = np.unique(value[outside])[:5].tolist()
        raise AnswersError(f"column 'label' must hold ratings on the scale, {accepted}; got {bad}")
    high = int(value.max())
    if n_levels is None and high < 2:
        raise AnswersError("column 'label' holds only ratings of 1, so the scale 1..K is unknown; set n_levels >= 2")
    return n_levels if n_levels is not None else high


class _RaterModel:
    """The negative log-posterior of :class:`OrdinalRating` and its gradient, over packed variables.

    Natural variables ``[values (T), shifts (W), log noise (W), log slopes (W, with scale use)]``, the shift
    :math:`a_w = g_w b_w` being the offset in answer units. Shifts enter centred (answer-weighted mean 0) and slopes
    normalised (answer-weighted mean 1), their gradients mapped back through these maps. L-BFGS sees the variables
    divided by ``scale``, one over the square root of a diagonal curvature (``rescale``), to be well conditioned.
    Answers are sorted by task and visited in blocks of ``_BLOCK``, which stay in the cache through the dozen array
    operations per answer (1.6 times faster than whole arrays on a million answers); the per-answer terms are
    summed per task and per worker with ``np.bincount``.
    """

    def __init__(self, answers: NumericAnswers, n_levels: int, settings: OrdinalRating) -> None:
        codes = answers.codes
        order = np.argsort(codes.task, kind="stable")
        self.task, self.worker, rating = codes.task[order], codes.worker[order], answers.value[order]
        self.n_tasks, self.n_workers = codes.n_tasks, codes.n_workers
        self.midpoint = (1.0 + n_levels) / 2.0
        self.upper = np.where(rating >= n_levels, _OPEN_END, rating + 0.5) - self.midpoint
        self.lower = np.where(rating <= 1, -_OPEN_END, rating - 0.5) - self.midpoint
        self.blocks = [slice(start, start + _BLOCK) for start in range(0, rating.shape[0], _BLOCK)]
        self.answers = answers
        self.scale_use = settings.scale_use
        self.noise_weight, self.noise_variance = settings.noise_prior_weight, settings.noise_prior**2.0
        self.value_precision = settings.value_prior_sd**-2.0
        self.offset_precision = settings.offset_prior_sd**-2.0
        self.slope_precision = settings.scale_use_prior_sd**-2.0
        per_worker = np.bincount(self.worker, minlength=self.n_workers).astype(np.float64)
        self.share = per_worker / per_worker.sum()  # weights of the centring constraints
        self.scale = np.ones(self.n_tasks + (3 if self.scale_use else 2) * self.n_workers)

    def _centred(self, raw: np.ndarray) -> np.ndarray:
        """Shifts of answer-weighted mean 0."""
        return raw - _dot(self.share, raw)

    def _centred_gradient(self, gradient: np.ndarray) -> np.ndarray:
        """The gradient with respect to the raw variables of ``_centred``."""
        return gradient - self.share * gradient.sum()

    def _normalised(self, raw: np.ndarray) -> np.ndarray:
        """Log slopes whose slopes have answer-weighted mean 1."""
        top = raw.max()
        return raw - top - np.log(_dot(self.share, np.exp(raw - top)))

    def _normalised_gradient(self, gradient: np.ndarray, log_slopes: np.ndarray) -> np.ndarray:
        """The gradient with respect to the raw variables of ``_normalised``, from the one in ``log_slopes``."""
        return gradient - self.share * np.exp(log_slopes) * gradient.sum()

    def initial(self) -> np.ndarray:
        """Task means, shifts as each worker's mean residual, noise as its residual s.d. (floored), slopes 1."""
        codes = self.answers.codes
        values = task_means(self.answers)
        residual = self.answers.value - values[codes.task]
        per_worker = np.bincount(codes.worker, minlength=self.n_workers) + 1.0
        shifts = self._centred(np.bincount(codes.worker, weights=residual, minlength=self.n_workers) / per_worker)
        spread = np.bincount(codes.worker, weights=(residual - shifts[codes.worker]) ** 2, minlength=self.n_workers)
        log_noise = 0.5 * np.log(np.maximum((spread + 1.0) / per_worker, 0.1))
        return np.concatenate([values, shifts, log_noise] + ([np.zeros(self.n_workers)] if self.scale_use else []))

    def rescale(self, natural: np.ndarray) -> None:
        """Set ``scale`` from the curvature at ``natural``."""
        self.scale = 1.0 / np.sqrt(self._curvature(natural))

    def split(self, natural: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(values, shifts, log noise s.d., log slopes), shifts centred and slopes normalised."""
        t, w = self.n_tasks, self.n_workers
        values, shifts, log_noise = natural[:t], self._centred(natural[t : t + w]), natural[t + w : t + 2 * w]
        log_slopes = self._normalised(natural[t + 2 * w :]) if self.scale_use else np.zeros(w)
        return values, shifts, log_noise, log_slopes

    def _sums(self, natural: np.ndarray, curvature: bool) -> tuple[float, np.ndarray, np.ndarray]:
        """The log-likelihood, and per task and per worker the sums of its first derivatives (in the value; in the
        shift, log s.d. and log slope), or with ``curvature`` of the positive curvature terms of ``_curvature``."""
        values, shifts, log_noise, log_slopes = self.split(natural)
        precisions, slopes = np.exp(-log_noise), np.exp(log_slopes)
        log_likelihood = 0.0
        per_task = np.zeros(self.n_tasks)
        per_worker = np.zeros((3, self.n_workers))
        for block in self.blocks:
            task, worker = self.task[block], self.worker[block]
            precision, slope = precisions.take(worker), slopes.take(worker)
            stretched = slope * (values.take(task) - self.midpoint)  # d mean / d log slope
            mean = stretched + shifts.take(worker)  # the rater's mean minus the midpoint
            upper_z, lower_z = (self.upper[block] - mean) * precision, (self.lower[block] - mean) * precision
            log_p, upper_density, lower_density = _interval(upper_z, lower_z)
            gap = lower_density - upper_density
            d_log_sd = lower_z * lower_density - upper_z * upper_density  # d log P / d log sd
            if curvature:  # minus d2 log P / d mean2 (positive: log-concave), times (d mean / d variable)^2
                in_mean = (gap**2 - d_log_sd) * precision**2
                in_task, weights = in_mean * slope**2, (in_mean, d_log_sd**2, in_mean * stretched**2)
            else:
                d_mean = gap * precision  # d log P / d mean
                log_likelihood += float(log_p.sum())
                in_task, weights = d_mean * slope, (d_mean, d_log_sd, d_mean * stretched)
            first = int(task[0])
            per_task[first : int(task[-1]) + 1] += np.bincount(task - first, weights=in_task)
            for row, weight in zip(per_worker, weights, strict=True):
                row += np.bincount(worker, weights=weight, minlength=self.n_workers)
        return log_likelihood, per_task, per_worker

    def objective(self, packed: np.ndarray) -> tuple[float, np.ndarray]:
        natural = packed * self.scale
        values, shifts, log_noise, log_slopes = self.split(natural)
        log_likelihood, per_task, (per_shift, per_log_sd, per_log_slope) = self._sums(natural, curvature=False)
        value_gap = values - self.midpoint
        log_spread = log_noise - log_slopes  # the noise in value units, sigma / g
        spread_precision = np.exp(-2.0 * log_spread)
        d_spread = self.noise_weight * (1.0 - self.noise_variance * spread_precision)
        loss = (
            -log_likelihood
            + self.noise_weight * (log_spread.sum() + 0.5 * self.noise_variance * spread_precision.sum())
            + 0.5 * self.value_precision * _dot(value_gap, value_gap)
            + 0.5 * self.offset_precision * _dot(shifts, shifts)
            + 0.5 * self.slope_precision * _dot(log_slopes, log_slopes)
        )
        blocks = [
            self.value_precision * value_gap - per_task,
            self._centred_gradient(self.offset_precision * shifts - per_shift),
            d_spread - per_log_sd,
        ]
        if self.scale_use:
            blocks.append(
                self._normalised_gradient(self.slope_precision * log_slopes - d_spread - per_log_slope, log_slopes)
            )
        return loss, np.concatenate(blocks) * self.scale

    def _curvature(self, natural: np.ndarray) -> np.ndarray:
        """Diagonal of a positive approximation of the Hessian: the exact one in the mean for values and shifts,
        Gauss-Newton for log noise, the mean's for log slopes, plus the priors'."""
        _, _, log_noise, log_slopes = self.split(natural)
        _, per_task, (per_shift, per_log_sd, per_log_slope) = self._sums(natural, curvature=True)
        in_spread = 2.0 * self.noise_weight * self.noise_variance * np.exp(2.0 * (log_slopes - log_noise))
        blocks = [per_task + self.value_precision, per_shift + self.offset_precision, per_log_sd + in_spread]
        if self.scale_use:
            blocks.append(per_log_slope + self.slope_precision + in_spread)
        return np.concatenate(blocks)


def _maximise_posterior(model: _RaterModel, n_iter: int, tol: float) -> tuple[np.ndarray, int]:
    """The MAP (natural variables) and the L-BFGS iterations it took, at most ``n_iter``: rounds of ``_ROUND``
    iterations, each from a fresh memory and a ``scale`` re-estimated at the current point: the curvature at the
    task means misjudges the raters' noise and slopes, and a fixed scale left L-BFGS crawling along them."""
    natural = model.initial()
    done = 0
    while done < n_iter:
        model.rescale(natural)
        packed, used, converged = _minimise(model.objective, natural / model.scale, min(_ROUND, n_iter - done), tol)
        natural, done = packed * model.scale, done + used
        if converged:
            break
    return natural, done


def _minimise(
    objective: Callable[[np.ndarray], tuple[float, np.ndarray]], x: np.ndarray, n_iter: int, tol: float
) -> tuple[np.ndarray, int, bool]:
    """L-BFGS (Nocedal and Wright, *Numerical Optimization*, 2nd ed., 2006, section 7.2; memory 10) with a
    backtracking Armijo line search: the last point, the iterations run and whether it converged (an iteration
    lowered the objective by at most ``tol`` relative to it, or no step along the direction lowered it). scipy's
    L-BFGS-B spent as long per iteration as an evaluation of the objective on 100,000 items; these few vector
    operations do not."""
    value, gradient = objective(x)
    steps: list[tuple[np.ndarray, np.ndarray, float]] = []  # (s, y, 1 / s.y), newest last
    for iteration in range(1, n_iter + 1):
        direction = -gradient
        alphas = []
        for s, y, rho in reversed(steps):  # the two-loop recursion
            alpha = rho * _dot(s, direction)
            direction -= alpha * y
            alphas.append(alpha)
        if steps:
            s, y, _ = steps[-1]
            direction *= _dot(s, y) / _dot(y, y)
        else:
            direction /= max(1.0, float(np.abs(direction).max()))  # a first step of at most one unit
        for (s, y, rho), alpha in zip(steps, reversed(alphas), strict=True):
            direction += (alpha - rho * _dot(y, direction)) * s
        slope = _dot(gradient, direction)
        if slope >= 0:  # not a descent direction (a numerical corner): restart from steepest descent
            steps.clear()
            direction, slope = -gradient, -_dot(gradient, gradient)
        step = 1.0
        for _ in range(30):
            with np.errstate(all="ignore"):  # a trial point far out may underflow P to 0: an infinite loss, rejected
                trial_value, trial_gradient = objective(x + step * direction)
            if np.isfinite(trial_value) and trial_value <= value + 1e-4 * step * slope:
                break
            step *= 0.5
        else:
            return x, iteration, True
        s, y = step * direction, trial_gradient - gradient
        curvature = _dot(s, y)
        if curvature > 1e-12 * np.sqrt(_dot(s, s) * _dot(y, y)):
            steps = [*steps[-9:], (s, y, 1.0 / curvature)]
        decrease = value - trial_value
        x, value, gradient = x + s, trial_value, trial_gradient
        if decrease <= tol * max(abs(value), 1.0):
            return x, iteration, True
    return x, n_iter, False


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """``a @ b`` without BLAS: on a busy machine OpenBLAS's threads made one dot product of 100,000 numbers take
    milliseconds, longer than the rest of an L-BFGS iteration."""
    return float(np.einsum("i,i->", a, b))


def _interval(upper_z: np.ndarray, lower_z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``log P`` with ``P = Phi(upper_z) - Phi(lower_z)`` (``upper_z > lower_z``), and ``phi(upper_z) / P``,
    ``phi(lower_z) / P``. Accurate in both tails: a bin far above the mean is reflected below it, where ``ndtr``
    keeps its relative precision, and where even that underflows (some 37 s.d. out) logs take over."""
    probability = ndtr(upper_z) - ndtr(lower_z)
    far = np.flatnonzero(lower_z > 3.0)  # 1 - Phi(3) = 1.3e-3: above that, the difference of two numbers near one
    probability[far] = ndtr(-lower_z[far]) - ndtr(-upper_z[far])
    with np.errstate(divide="ignore", invalid="ignore"):  # P = 0 is repaired below
        log_p = np.log(probability)
        scale = 1.0 / (_SQRT_2PI * probability)
        upper_density = np.exp(-0.5 * upper_z**2) * scale
        lower_density = np.exp(-0.5 * lower_z**2) * scale
    tiny = np.flatnonzero(probability < 1e-300)
    if tiny.size:
        high, low = upper_z[tiny], lower_z[tiny]
        reflect = low > 0
        high, low = np.where(reflect, -low, high), np.where(reflect, -high, low)
        log_high = log_ndtr(high)
        log_p[tiny] = log_tiny = log_high + np.log1p(-np.exp(log_ndtr(low) - log_high))
        upper_density[tiny] = np.exp(-0.5 * upper_z[tiny] ** 2 - _HALF_LOG_2PI - log_tiny)
        lower_density[tiny] = np.exp(-0.5 * lower_z[tiny] ** 2 - _HALF_LOG_2PI - log_tiny)
    return log_p, upper_density, lower_density
