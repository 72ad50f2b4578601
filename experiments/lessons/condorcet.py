r"""Condorcet's jury theorem: independent raters better than chance make a majority that improves with crowd size.

With ``n`` independent raters, each right with probability ``p`` on a two-class item, the majority is right with
probability

.. math:: P_n(p) = \sum_{k > n/2} \binom{n}{k} p^k (1 - p)^{n - k},

which rises to 1 with ``n`` when ``p > 1/2`` and falls to 0 when ``p < 1/2``. The simulated campaign (constant-
accuracy ``condorcet`` raters, no item difficulty) is scored by majority vote, and each point is drawn with its 95%
binomial interval over the items.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.stats import binom

from experiments.lessons.page import Findings
from sim import Campaign, RaterPopulation, TaskDesign, simulate
from strategies.aggregation import MajorityVote

TITLE = "Condorcet's jury theorem: a crowd of independent raters"
CLAIM = (
    "When raters are independent and each is right more often than not, the majority of a larger crowd is right more "
    "often, approaching certainty; when each is right less often than not, a larger crowd is wrong more surely. The "
    "simulated majorities fall on the binomial curves."
)
TRY = "crowdlab run -m experiment=condorcet raters.accuracy=0.55,0.7 campaign.redundancy=1,3,5,11"
SOURCE = (
    "Condorcet, Essai sur l'application de l'analyse a la probabilite des decisions rendues a la pluralite des voix, "
    "1785; Grofman, Owen and Feld, 'Thirteen theorems in search of the truth', Theory and Decision 15, 1983."
)
ACCURACIES: tuple[float, ...] = (0.45, 0.55, 0.65, 0.75)


def majority_accuracy(n: np.ndarray | int, p: float) -> np.ndarray:
    """The closed form: P(more than half of ``n`` independent raters of accuracy ``p`` are right), ``n`` odd."""
    return np.asarray(binom.sf(np.asarray(n) // 2, n, p))


def simulate_point(n: int, p: float, n_items: int, seed: int) -> float:
    """Majority-vote accuracy of a simulated campaign of ``n`` constant-accuracy raters per item."""
    task = TaskDesign(n_items=n_items, n_classes=2, difficulty_sd=0.0, ambiguous_fraction=0.0, gold_fraction=0.0)
    raters = RaterPopulation(n_raters=max(n, 10), archetypes={"condorcet": 1.0}, accuracy=p, sessions=100_000)
    result = simulate(task, raters, Campaign(redundancy=n), seed=seed)
    labels = MajorityVote().fit_predict(result.worker_answers())
    return float((labels.reindex(result.truth.index) == result.truth).mean())


def run(small: bool = False, seed: int = 0) -> Findings:
    sizes = np.arange(1, 12, 2) if small else np.arange(1, 26, 2)
    n_items = 400 if small else 2000
    accuracies = ACCURACIES[1::2] + ACCURACIES[:1] if small else ACCURACIES
    rows = []
    for p in accuracies:
        for n in sizes:
            accuracy = simulate_point(int(n), p, n_items, seed)
            closed = float(majority_accuracy(int(n), p))
            rows.append({"rater_accuracy": p, "crowd_size": int(n), "majority_accuracy": accuracy,
                         "closed_form": closed, "standard_error": np.sqrt(closed * (1 - closed) / n_items),
                         "n_items": n_items})  # fmt: skip
    table = pd.DataFrame(rows)
    figure, axes = plt.subplots(figsize=(7.5, 5))
    fine = np.arange(1, sizes.max() + 1, 2)
    for index, (level, points) in enumerate(table.groupby("rater_accuracy")):
        color, p = f"C{index}", float(level)  # type: ignore[arg-type]
        axes.plot(fine, majority_accuracy(fine, p), color=color, label=f"closed form, p = {p:g}")
        half = 1.96 * np.sqrt(points["majority_accuracy"] * (1 - points["majority_accuracy"]) / n_items)
        axes.errorbar(points["crowd_size"], points["majority_accuracy"], yerr=half, fmt="o", color=color,
                      markersize=4, capsize=2, label=f"simulated, p = {p:g}")  # fmt: skip
    axes.axhline(0.5, color="grey", linewidth=0.8, linestyle=":")
    axes.set(title="Majority vote accuracy against crowd size (two classes, independent raters)",
             xlabel="raters per item (crowd size)", ylabel="share of items the majority gets right",
             ylim=(0, 1.02))  # fmt: skip
    axes.legend(fontsize=8, ncol=2, loc="lower left", title="each rater right with probability p", title_fontsize=8)
    axes.text(0.99, 0.01, f"{n_items} items per point; bars: 95% intervals", transform=axes.transAxes,
              ha="right", va="bottom", fontsize=7, color="dimgrey")  # fmt: skip
    z = (table["majority_accuracy"] - table["closed_form"]) / table["standard_error"].where(table["standard_error"] > 0)
    largest = table.loc[table["crowd_size"] == sizes.max()]
    measured = [
        f"Largest distance of a simulated point from its curve: {np.nanmax(np.abs(z)):.2f} standard errors "
        f"(over {len(table)} points).",
        *(f"p = {row.rater_accuracy:g}: the majority of {row.crowd_size} is right on {row.majority_accuracy:.3f} of "
          f"the items (closed form {row.closed_form:.3f}); one rater alone on {row.rater_accuracy:g}."
          for row in largest.itertuples()),
    ]  # fmt: skip
    return Findings({"condorcet": figure}, table, measured)
