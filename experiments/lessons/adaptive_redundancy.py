r"""Adaptive redundancy: buy answers where they are needed and the same accuracy costs fewer answers.

With raters right with probability :math:`p` on a two-class item, fixed redundancy ``n`` gives the binomial
majority :math:`\sum_{k > n/2} \binom{n}{k} p^k q^{n-k}` at ``n`` answers per item. The delta-margin rule asks until
one label leads by :math:`\delta` votes: a gambler's-ruin walk, right with probability
:math:`p^\delta / (p^\delta + q^\delta)` after :math:`\frac{\delta}{p - q} \frac{p^\delta - q^\delta}{p^\delta +
q^\delta}` answers on average (Feller, vol. I, ch. XIV; the rule of Abraham, Alonso, Kandylas and Slivkins, COLT
2013). Items whose first answers agree stop early, and the answers saved go to the contested ones, so for the same
answers per item the adaptive rule is more accurate, a gap that grows with the accuracy asked for.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.stats import binom

from experiments.lessons.page import Findings
from sim import Campaign, RaterPopulation, TaskDesign, simulate
from strategies.aggregation import MajorityVote
from strategies.assignment import DeltaMargin, FixedRedundancy

TITLE = "Adaptive redundancy: the same accuracy for fewer answers"
CLAIM = (
    "Asking until one label leads by a margin spends few answers on items the raters agree on and more on the "
    "contested ones, so it reaches the accuracy of fixed redundancy with fewer answers per item. Both follow their "
    "closed forms: the binomial majority and the gambler's-ruin walk."
)
TRY = "crowdlab run -m experiment=adaptive_redundancy && crowdlab collect <sweep dir>"
SOURCE = (
    "Feller, An Introduction to Probability Theory and Its Applications I, ch. XIV (gambler's ruin); Abraham, "
    "Alonso, Kandylas and Slivkins, 'Adaptive crowdsourcing algorithms for the bandit survey problem', COLT 2013."
)
ACCURACY = 0.7


def fixed_closed_form(n: np.ndarray, p: float) -> np.ndarray:
    return np.asarray(binom.sf(np.asarray(n) // 2, n, p))


def delta_closed_form(delta: np.ndarray, p: float) -> tuple[np.ndarray, np.ndarray]:
    """(expected answers, P(right)) of the uncapped delta-margin rule."""
    d = np.asarray(delta, dtype=float)
    q = 1.0 - p
    right = p**d / (p**d + q**d)
    answers = d / (p - q) * (p**d - q**d) / (p**d + q**d)
    return answers, right


def campaign(policy, n_items: int, seed: int) -> tuple[float, float]:
    """(answers per item, majority accuracy) of a campaign of constant-accuracy raters under ``policy``."""
    task = TaskDesign(n_items=n_items, n_classes=2, difficulty_sd=0.0, ambiguous_fraction=0.0, gold_fraction=0.0)
    raters = RaterPopulation(n_raters=60, archetypes={"condorcet": 1.0}, accuracy=ACCURACY, sessions=100_000)
    result = simulate(task, raters, Campaign(redundancy=1), seed=seed, assignment=policy)
    labels = MajorityVote().fit_predict(result.worker_answers())
    return len(result.worker_answers()) / n_items, float((labels.reindex(result.truth.index) == result.truth).mean())


def run(small: bool = False, seed: int = 0) -> Findings:
    n_items = 1500 if small else 5000
    rows = []
    for n in (1, 3, 5, 7, 9, 13, 17):
        answers, accuracy = campaign(FixedRedundancy(redundancy=n), n_items, seed)
        rows.append({"policy": "fixed redundancy", "setting": n, "answers_per_item": answers, "accuracy": accuracy,
                     "closed_form": float(fixed_closed_form(np.array(n), ACCURACY))})  # fmt: skip
    for delta in (1, 2, 3, 4, 5, 6):
        answers, accuracy = campaign(DeltaMargin(delta=delta, max_answers=59), n_items, seed)
        expected, right = delta_closed_form(np.array(delta), ACCURACY)
        rows.append({"policy": "delta margin", "setting": delta, "answers_per_item": answers, "accuracy": accuracy,
                     "closed_form": float(right), "closed_form_answers": float(expected)})  # fmt: skip
    table = pd.DataFrame(rows).assign(n_items=n_items)
    figure, axes = plt.subplots(figsize=(7.5, 5))
    sizes = np.arange(1, 18, 2)
    axes.plot(sizes, fixed_closed_form(sizes, ACCURACY), color="C0", label="fixed redundancy n: binomial closed form")
    deltas = np.arange(1, 7)
    expected, right = delta_closed_form(deltas, ACCURACY)
    axes.plot(expected, right, color="C1", label="delta margin: gambler's-ruin closed form")
    for index, (policy, points) in enumerate(table.groupby("policy", sort=False)):
        half = 1.96 * np.sqrt(points["accuracy"] * (1 - points["accuracy"]) / n_items)
        axes.errorbar(points["answers_per_item"], points["accuracy"], yerr=half, fmt="o", color=f"C{index}",
                      capsize=2, markersize=4, label=f"{policy!s}, simulated")  # fmt: skip
        for row in points.itertuples():
            name = "n" if policy == "fixed redundancy" else "delta"
            axes.annotate(f"{name}={row.setting}", (row.answers_per_item, row.accuracy), fontsize=6,
                          textcoords="offset points", xytext=(4, -9), color=f"C{index}")  # fmt: skip
    axes.set(title=f"Majority accuracy against answers per item (raters {ACCURACY:.0%} accurate, two classes)",
             xlabel="answers per item (average)", ylabel="share of items labeled right")  # fmt: skip
    axes.legend(fontsize=8, loc="lower right")
    axes.text(0.01, 0.99, f"{n_items} items per point; bars: 95% intervals", transform=axes.transAxes, ha="left",
              va="top", fontsize=7, color="dimgrey")  # fmt: skip
    fixed = table[table["policy"] == "fixed redundancy"].set_index("setting")
    margin = table[table["policy"] == "delta margin"].set_index("setting")
    target = float(fixed.loc[9, "accuracy"])  # type: ignore[arg-type]
    reaching = margin[margin["accuracy"] >= target]
    measured = [f"Fixed redundancy 9: accuracy {target:.3f} at 9 answers per item."]
    if len(reaching):
        first = reaching.iloc[0]
        measured.append(f"Delta margin {reaching.index[0]} reaches {first['accuracy']:.3f} at "
                        f"{first['answers_per_item']:.2f} answers per item: {1 - first['answers_per_item'] / 9:.0%} "
                        "fewer.")  # fmt: skip
    return Findings({"adaptive_redundancy": figure}, table, measured)
