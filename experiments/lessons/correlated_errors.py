r"""Correlated errors: when raters share their mistakes, the crowd's accuracy plateaus below certainty.

Each item has its own probability :math:`q_i` that a rater answers it right, drawn from a Beta distribution with
mean :math:`p` and concentration :math:`a + b = 1/\rho - 1`, so that two raters' correctness on one item correlates
:math:`\rho` (``raters.accuracy_correlation``). The majority of ``n`` raters is then right with the beta-binomial
probability

.. math:: P_n = \sum_{k > n/2} \binom{n}{k} \frac{B(k + a, n - k + b)}{B(a, b)}
    \;\longrightarrow\; P(q > 1/2) = 1 - I_{1/2}(a, b) \quad (n \to \infty),

(Ladha 1992; Kaniovski and Zaigraev 2011): however many raters are added, the items most of them get wrong stay
wrong. With :math:`\rho = 0` this is Condorcet's binomial curve.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.special import betainc
from scipy.stats import betabinom

from experiments.lessons.page import Findings
from sim import Campaign, RaterPopulation, TaskDesign, simulate
from strategies.aggregation import MajorityVote

TITLE = "Correlated errors: the crowd's accuracy plateaus"
CLAIM = (
    "When raters tend to fail on the same items, adding raters helps less and less: majority accuracy levels off at "
    "the share of items that most raters get right, whatever the crowd size. The stronger the correlation, the lower "
    "the plateau, and the simulated majorities follow the beta-binomial curves toward it."
)
TRY = "crowdlab run -m experiment=correlated_errors"
SOURCE = (
    "Ladha, 'The Condorcet jury theorem, free speech, and correlated votes', American Journal of Political Science "
    "36(3), 1992; Kaniovski and Zaigraev, 'Optimal jury design for homogeneous juries with correlated votes', Theory "
    "and Decision 71, 2011."
)
ACCURACY = 0.7
CORRELATIONS: tuple[float, ...] = (0.0, 0.05, 0.15, 0.3)


def beta_parameters(p: float, rho: float) -> tuple[float, float]:
    concentration = 1.0 / rho - 1.0
    return p * concentration, (1.0 - p) * concentration


def majority_accuracy(n: np.ndarray | int, p: float, rho: float) -> np.ndarray:
    """P(the majority of ``n`` raters is right), ``n`` odd: beta-binomial (binomial when ``rho`` is 0)."""
    n = np.asarray(n)
    if rho == 0:
        from scipy.stats import binom

        return np.asarray(binom.sf(n // 2, n, p))
    a, b = beta_parameters(p, rho)
    return np.asarray(betabinom.sf(n // 2, n, a, b))


def plateau(p: float, rho: float) -> float:
    """The limit of majority accuracy as the crowd grows: P(q > 1/2) = 1 - I_{1/2}(a, b)."""
    if rho == 0:
        return 1.0 if p > 0.5 else 0.0
    return float(1.0 - betainc(*beta_parameters(p, rho), 0.5))


def simulate_point(n: int, rho: float, n_items: int, seed: int) -> float:
    task = TaskDesign(n_items=n_items, n_classes=2, difficulty_sd=0.0, ambiguous_fraction=0.0, gold_fraction=0.0)
    raters = RaterPopulation(n_raters=max(n, 10), archetypes={"condorcet": 1.0}, accuracy=ACCURACY,
                             accuracy_correlation=rho, sessions=100_000)  # fmt: skip
    result = simulate(task, raters, Campaign(redundancy=n), seed=seed)
    labels = MajorityVote().fit_predict(result.worker_answers())
    return float((labels.reindex(result.truth.index) == result.truth).mean())


def run(small: bool = False, seed: int = 0) -> Findings:
    sizes = np.array([1, 3, 5, 9, 15, 25]) if small else np.array([1, 3, 5, 7, 9, 13, 17, 25, 35, 49])
    n_items = 800 if small else 3000
    rows = []
    for rho in CORRELATIONS:
        for n in sizes:
            closed = float(majority_accuracy(int(n), ACCURACY, rho))
            rows.append({"correlation": rho, "crowd_size": int(n),
                         "majority_accuracy": simulate_point(int(n), rho, n_items, seed), "closed_form": closed,
                         "standard_error": np.sqrt(closed * (1 - closed) / n_items),
                         "plateau": plateau(ACCURACY, rho), "n_items": n_items})  # fmt: skip
    table = pd.DataFrame(rows)
    figure, axes = plt.subplots(figsize=(7.5, 5))
    fine = np.arange(1, sizes.max() + 1, 2)
    for index, rho in enumerate(CORRELATIONS):
        points, color = table[table["correlation"] == rho], f"C{index}"
        axes.plot(
            fine,
            majority_accuracy(fine, ACCURACY, rho),
            color=color,
            label=f"beta-binomial, rho = {rho:g}" if rho else "binomial, rho = 0",
        )
        if rho > 0:
            axes.axhline(plateau(ACCURACY, rho), color=color, linestyle="--", linewidth=0.8,
                         label=f"plateau P(q > 1/2) = {plateau(ACCURACY, rho):.3f}")  # fmt: skip
        half = 1.96 * np.sqrt(points["majority_accuracy"] * (1 - points["majority_accuracy"]) / n_items)
        dodge = (index - 1.5) * 0.25  # side by side where the curves meet
        axes.errorbar(points["crowd_size"] + dodge, points["majority_accuracy"], yerr=half, fmt="o", color=color,
                      markersize=4, capsize=2)  # fmt: skip
    axes.plot([], [], "ko", markersize=4, label="simulated (95% intervals)")
    axes.set(title=f"Majority accuracy with correlated errors (raters {ACCURACY:.0%} accurate on average)",
             xlabel="raters per item (crowd size)", ylabel="share of items the majority gets right")  # fmt: skip
    axes.legend(fontsize=7, loc="lower right", ncol=2, title="rho: correlation of two raters' correctness",
                title_fontsize=7)  # fmt: skip
    axes.text(0.01, 0.99, f"{n_items} items per point; q ~ Beta(a, b), each item's chance of a right answer; "
              "\nplateau = 1 - I_1/2(a, b), I the regularised incomplete beta function", transform=axes.transAxes,
              ha="left", va="top", fontsize=7, color="dimgrey")  # fmt: skip
    z = (table["majority_accuracy"] - table["closed_form"]) / table["standard_error"].where(table["standard_error"] > 0)
    largest = table[table["crowd_size"] == sizes.max()]
    measured = [f"Largest distance of a simulated point from its curve: {np.nanmax(np.abs(z)):.2f} standard errors."]
    measured += [f"rho = {row.correlation:g}: {row.crowd_size} raters reach {row.majority_accuracy:.3f} (curve "
                 f"{row.closed_form:.3f}; plateau {row.plateau:.3f})." for row in largest.itertuples()]  # fmt: skip
    return Findings({"correlated_errors": figure}, table, measured)
