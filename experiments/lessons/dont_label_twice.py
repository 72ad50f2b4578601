r"""Don't label twice: to tell which of two classifiers is better on a budget, one label on more items beats
majority labels on fewer.

Two classifiers are right on an item with probabilities :math:`a_1 > a_2` (independently); raters are right with
probability :math:`p` on a two-class item. A budget of ``B`` labels buys either ``B`` items with one label each, or
``B/3`` items with the majority of three. Each classifier is scored by its agreement with the labels, and the
comparison is right when the better one agrees more. Per item the difference :math:`D` of the two agreements has
mean :math:`\mu = (a_1 - a_2)(2\pi - 1)`, with :math:`\pi` the labels' accuracy (:math:`p`, or the majority's
:math:`p^3 + 3p^2(1-p)`), and :math:`E[D^2] = a_1(1 - a_2) + a_2(1 - a_1)`, so by the central limit theorem

.. math:: P(\text{right comparison}) \approx \Phi\left(\frac{\mu \sqrt{n}}{\sqrt{E[D^2] - \mu^2}}\right),

with :math:`n = B` or :math:`B/3` items. Since :math:`(2p - 1)\sqrt{3} > 2\pi_3 - 1` for every :math:`p` in
(1/2, 1), single labels win (Dorner and Hardt, ICML 2024, prove this more generally).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import NullFormatter
from scipy.stats import norm

from experiments.lessons.page import Findings
from sim import Campaign, RaterPopulation, TaskDesign, simulate
from strategies.aggregation import MajorityVote

TITLE = "Don't label twice: comparing two classifiers on a labeling budget"
CLAIM = (
    "To find out which of two classifiers is better, a budget spent on one label for each of many items tells them "
    "apart more often than the same budget spent on majority labels for a third as many items. Cleaner labels are "
    "not worth the items they cost here."
)
TRY = "crowdlab run -m experiment=downstream_redundancy && crowdlab collect <sweep dir>"
SOURCE = (
    "Dorner and Hardt, 'Don't label twice: quantity beats quality when comparing binary classifiers on a budget', "
    "ICML 2024."
)
RATER_ACCURACY = 0.85
CLASSIFIERS = (0.80, 0.75)


def label_accuracy(redundancy: int, p: float = RATER_ACCURACY) -> float:
    return p if redundancy == 1 else float(p**3 + 3 * p**2 * (1 - p))


def closed_form(budget: np.ndarray, redundancy: int) -> np.ndarray:
    """The normal approximation of P(the better classifier agrees more with the labels)."""
    a1, a2 = CLASSIFIERS
    mu = (a1 - a2) * (2 * label_accuracy(redundancy) - 1)
    second = a1 * (1 - a2) + a2 * (1 - a1)
    n = np.asarray(budget, dtype=float) / redundancy
    return np.asarray(norm.cdf(mu * np.sqrt(n) / np.sqrt(second - mu**2)))


def comparisons(budget: int, redundancy: int, n_comparisons: int, seed: int) -> np.ndarray:
    """For each of ``n_comparisons`` independent test sets of ``budget / redundancy`` items labeled by the simulated
    campaign: whether the better classifier agrees more with the labels (ties count half)."""
    n_items = budget // redundancy
    task = TaskDesign(n_items=n_items * n_comparisons, n_classes=2, difficulty_sd=0.0, ambiguous_fraction=0.0,
                      gold_fraction=0.0)  # fmt: skip
    raters = RaterPopulation(n_raters=30, archetypes={"condorcet": 1.0}, accuracy=RATER_ACCURACY, sessions=100_000)
    result = simulate(task, raters, Campaign(redundancy=redundancy), seed=seed, replicate=redundancy)
    labels = MajorityVote().fit_predict(result.worker_answers()).reindex(result.truth.index).to_numpy()
    truth = result.truth.to_numpy()
    rng = np.random.default_rng([seed, budget, redundancy])
    agree = [np.where(rng.random(truth.shape[0]) < accuracy, truth, 1 - truth) == labels for accuracy in CLASSIFIERS]
    per_set = [flags.reshape(n_comparisons, n_items).mean(axis=1) for flags in agree]
    return np.where(per_set[0] > per_set[1], 1.0, np.where(per_set[0] == per_set[1], 0.5, 0.0))


def run(small: bool = False, seed: int = 0) -> Findings:
    budgets = (100, 400) if small else (100, 200, 400, 800)
    n_comparisons = 400 if small else 500
    rows = []
    for budget in budgets:
        for redundancy in (1, 3):
            right = comparisons(budget, redundancy, n_comparisons, seed)
            rows.append({"budget": budget, "redundancy": redundancy, "right_share": float(right.mean()),
                         "closed_form": float(closed_form(np.array(budget), redundancy)),
                         "n_comparisons": n_comparisons})  # fmt: skip
    table = pd.DataFrame(rows)
    figure, axes = plt.subplots(figsize=(7.5, 5))
    fine = np.geomspace(min(budgets), max(budgets), 60)
    for index, redundancy in enumerate((1, 3)):
        points = table[table["redundancy"] == redundancy]
        name = "one label per item" if redundancy == 1 else "majority of 3 labels, a third of the items"
        axes.plot(fine, closed_form(fine, redundancy), color=f"C{index}", label=f"{name}: normal approximation")
        half = 1.96 * np.sqrt(points["right_share"] * (1 - points["right_share"]) / n_comparisons)
        axes.errorbar(points["budget"], points["right_share"], yerr=half, fmt="o", color=f"C{index}", capsize=2,
                      label=f"{name}: simulated")  # fmt: skip
    axes.set_xscale("log")
    axes.set_xticks(list(budgets), [str(budget) for budget in budgets])
    axes.xaxis.set_minor_formatter(NullFormatter())
    axes.set(title=f"Which classifier is better? ({CLASSIFIERS[0]:.0%} vs {CLASSIFIERS[1]:.0%} accurate; raters "
             f"{RATER_ACCURACY:.0%})", xlabel="labeling budget (labels bought, log scale)",
             ylabel="share of test sets that rank the two right")  # fmt: skip
    axes.legend(fontsize=8, loc="lower right")
    axes.text(0.01, 0.99, f"{n_comparisons} test sets per point; bars: 95% intervals", transform=axes.transAxes,
              ha="left", va="top", fontsize=7, color="dimgrey")  # fmt: skip
    wide = table.pivot_table(index="budget", columns="redundancy", values="right_share")
    measured = [f"Budget {budget}: one label per item ranks them right in {row[1]:.1%} of test sets, majority labels "
                f"in {row[3]:.1%}." for budget, row in wide.iterrows()]  # fmt: skip
    return Findings({"dont_label_twice": figure}, table, measured)
