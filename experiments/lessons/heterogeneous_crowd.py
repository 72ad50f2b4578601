r"""A crowd is not always wiser than its best member: adding two weaker raters to the best one can hurt majority vote.

Three independent raters on a two-class item, the best right with probability :math:`p_1`, the two others with
:math:`q`. Their majority is right with probability

.. math:: P_{MV} = p_1 (2q - q^2) + (1 - p_1) q^2 \;=\; 2 p_1 q + q^2 - 2 p_1 q^2,

which is below :math:`p_1` when :math:`q` is low enough (Sheng, Provost and Ipeirotis, KDD 2008, show the same for
labeling: a good labeler alone can beat a majority with worse ones). The vote weighted by log-odds
:math:`w_j = \log(p_j / (1 - p_j))` is the optimal decision rule for independent raters (Nitzan and Paroush 1982):
it follows the best rater when :math:`w_1 > 2 w_q` and equals the majority otherwise, so it is never below either.
The simulation gives each rater its own symmetric confusion matrix and scores majority vote, the log-odds weighted
vote with the true accuracies, Dawid-Skene (which learns them; with three raters its likelihood is flat near the
majority's labels, and its default tolerance stops it there) and the best rater alone.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from experiments.lessons.page import Findings
from sim import Campaign, RaterPopulation, TaskDesign, simulate
from strategies.aggregation import DawidSkene, MajorityVote

TITLE = "Adding weaker raters to the best one can hurt majority vote"
CLAIM = (
    "A majority of the best rater and two weaker ones is worse than the best rater alone when the others are weak "
    "enough; a vote that weighs each rater by the log-odds of being right never is. Learning the weights from the "
    "answers (Dawid-Skene) recovers that gain without knowing who is good, if it is run long enough."
)
TRY = "crowdlab run task.n_classes=2 aggregators=[majority_vote,dawid_skene,oracle] 'raters.archetypes={honest: 1}'"
SOURCE = (
    "Nitzan and Paroush, 'Optimal decision rules in uncertain dichotomous choice situations', International Economic "
    "Review 23(2), 1982; Sheng, Provost and Ipeirotis, 'Get another label?', KDD 2008."
)
BEST = 0.9


def majority_of_three(best: float, weaker: np.ndarray | float) -> np.ndarray:
    """P(the majority of raters of accuracy ``best``, ``weaker``, ``weaker`` is right)."""
    q = np.asarray(weaker, dtype=float)
    return 2 * best * q + q**2 - 2 * best * q**2


def weighted_of_three(best: float, weaker: np.ndarray | float) -> np.ndarray:
    """P(the log-odds weighted vote is right): the best rater's accuracy where its weight outvotes both others',
    the majority's elsewhere (where the two weaker ones together outweigh it, they decide when they agree)."""
    q = np.asarray(weaker, dtype=float)
    log_odds = np.log(best / (1 - best)), np.log(q / (1 - q))
    return np.where(log_odds[0] > 2 * log_odds[1], best, majority_of_three(best, q))


def simulate_point(best: float, weaker: float, n_items: int, seed: int) -> dict[str, float]:
    accuracies = [best, weaker, weaker]
    confusion = [[[p, 1 - p], [1 - p, p]] for p in accuracies]
    task = TaskDesign(n_items=n_items, n_classes=2, difficulty_sd=0.0, ambiguous_fraction=0.0, gold_fraction=0.0)
    raters = RaterPopulation(n_raters=3, archetypes={"confusion": 1.0}, confusion=confusion, sessions=100_000)
    result = simulate(task, raters, Campaign(redundancy=3), seed=seed)
    answers, truth = result.worker_answers(), result.truth
    skills = pd.Series(np.log(np.array(accuracies) / (1 - np.array(accuracies))), index=pd.Index(range(3)))
    scored = {
        "majority vote": MajorityVote().fit_predict(answers),
        "log-odds weighted vote": MajorityVote().fit_predict(answers, skills=skills),
        "Dawid-Skene": DawidSkene().fit_predict(answers),
        # on three raters the likelihood is flat near the majority's labels: the default tolerance stops there
        "Dawid-Skene, 300 iterations": DawidSkene(n_iter=300, tol=0.0).fit_predict(answers),
        "best rater alone": answers[answers["worker"] == 0].set_index("task")["label"],
    }
    return {name: float((labels.reindex(truth.index) == truth).mean()) for name, labels in scored.items()}


def run(small: bool = False, seed: int = 0) -> Findings:
    weaker_grid = np.round(np.arange(0.55, 0.91, 0.1 if small else 0.05), 2)
    n_items = 1000 if small else 5000
    rows = [{"weaker_accuracy": q, "method": method, "accuracy": accuracy, "n_items": n_items}
            for q in weaker_grid
            for method, accuracy in simulate_point(BEST, float(q), n_items, seed).items()]  # fmt: skip
    table = pd.DataFrame(rows)
    figure, axes = plt.subplots(figsize=(7.5, 5))
    fine = np.linspace(0.5, BEST, 200)
    axes.plot(fine, majority_of_three(BEST, fine), color="C0", label="majority vote, closed form")
    axes.plot(fine, weighted_of_three(BEST, fine), color="C1", linestyle="--",
              label="log-odds weighted vote, closed form")  # fmt: skip
    markers = {"majority vote": ("o", "C0"), "log-odds weighted vote": ("s", "C1"), "Dawid-Skene": ("^", "C2"),
               "Dawid-Skene, 300 iterations": ("v", "C4"), "best rater alone": ("D", "C3")}  # fmt: skip
    for offset, (method, points) in enumerate(table.groupby("method", sort=False)):
        marker, color = markers[str(method)]
        half = 1.96 * np.sqrt(points["accuracy"] * (1 - points["accuracy"]) / n_items)
        dodge = (offset - 2) * 0.006  # side by side, so that coinciding methods stay visible
        axes.errorbar(points["weaker_accuracy"] + dodge, points["accuracy"], yerr=half, fmt=marker, color=color,
                      markersize=5, capsize=2, label=f"{method}, simulated")  # fmt: skip
    axes.axhline(BEST, color="C3", linewidth=0.8, linestyle=":", label=f"best rater alone, p1 = {BEST:g}")
    axes.set(title=f"Best rater (p1 = {BEST:g}) plus two weaker raters: accuracy of the three combined",
             xlabel="accuracy of each of the two weaker raters (q)", ylabel="share of items labeled right")  # fmt: skip
    axes.legend(fontsize=8, loc="lower right")
    axes.text(0.01, 0.99, f"{n_items} items per point; bars: 95% intervals", transform=axes.transAxes, ha="left",
              va="top", fontsize=7, color="dimgrey")  # fmt: skip
    crossing = float(fine[np.argmax(majority_of_three(BEST, fine) >= BEST)])
    wide = table.pivot_table(index="weaker_accuracy", columns="method", values="accuracy")
    worst = wide.iloc[0]
    measured = [
        f"Majority vote falls below the best rater alone while q < {crossing:.3f} (closed form).",
        f"At q = {wide.index[0]:g}: majority vote {worst['majority vote']:.3f}, best rater alone "
        f"{worst['best rater alone']:.3f}, log-odds weighted vote {worst['log-odds weighted vote']:.3f}, "
        f"Dawid-Skene {worst['Dawid-Skene']:.3f} with its default tolerance and "
        f"{worst['Dawid-Skene, 300 iterations']:.3f} run for 300 iterations (closed form for majority vote "
        f"{float(majority_of_three(BEST, wide.index[0])):.3f}).",
    ]
    return Findings({"heterogeneous_crowd": figure}, table, measured)
