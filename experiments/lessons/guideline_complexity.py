r"""Guideline complexity: clarity against burden, with and without training.

Guidelines of complexity :math:`c \in [0, 1]` spell out the edge cases: an ambiguous item's extra difficulty shrinks
to :math:`\text{penalty} \cdot (1 - r c)` (``task.guideline_resolution`` r). But a rule book has to be understood:
an untrained rater loses :math:`\kappa c` logits, halved by every ``training_half_life_minutes`` of paid training,
and every answer takes :math:`1 + c` times longer (:mod:`sim.tasks`, :mod:`sim.response`; the annotate-revise cycle
of Pustejovsky and Stubbs 2012). So whether a detailed rule book pays depends on whether raters are trained on it.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from experiments.lessons.page import Findings
from sim import Campaign, RaterPopulation, TaskDesign, simulate
from strategies.aggregation import MajorityVote

TITLE = "Guideline complexity: clarity against burden"
CLAIM = (
    "Detailed guidelines make the ambiguous items easier but are a burden until raters are trained on them: "
    "without training, labels get worse as the rule book grows; with 20 minutes of training they get better. "
    "Training and slower answers cost money, so the best design depends on the price of a correct label."
)
TRY = "crowdlab run -m experiment=guideline_complexity && crowdlab collect <sweep dir>"
SOURCE = (
    "Pustejovsky and Stubbs, Natural Language Annotation for Machine Learning, O'Reilly 2012 (the MATTER cycle); "
    "the guideline model of sim/tasks.py."
)
COMPLEXITIES: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
TRAINING: tuple[float, ...] = (0.0, 20.0)


def _cheapest(training: float, designs: pd.DataFrame) -> str:
    best = designs.iloc[int(np.argmin(designs["cost_per_correct_label"].to_numpy()))]
    name = "no training" if training == 0 else f"{training:g} min training"
    return f"{name} at complexity {best['complexity']:g} (${best['cost_per_correct_label']:.3f})"


def run(small: bool = False, seed: int = 0) -> Findings:
    n_items = 3000 if small else 6000
    rows = []
    for training in TRAINING:
        for complexity in COMPLEXITIES:
            task = TaskDesign(n_items=n_items, ambiguous_fraction=0.3, guideline_complexity=complexity,
                              gold_fraction=0.0)  # fmt: skip
            result = simulate(task, RaterPopulation(archetypes={"honest": 1.0}),
                              Campaign(redundancy=3, training_minutes=training), seed=seed)  # fmt: skip
            labels = MajorityVote().fit_predict(result.worker_answers()).reindex(result.truth.index)
            right = (labels == result.truth).to_numpy()
            ambiguous = result.items.set_index("task").loc[result.truth.index, "ambiguous"].to_numpy()
            rows.append({"training_minutes": training, "complexity": complexity, "accuracy": right.mean(),
                         "accuracy_ambiguous": right[ambiguous].mean(), "accuracy_clear": right[~ambiguous].mean(),
                         "n_ambiguous": int(ambiguous.sum()), "n_clear": int((~ambiguous).sum()),
                         "spend": result.ledger["spend"],
                         "cost_per_correct_label": result.ledger["spend"] / right.sum(),
                         "duration_hours": result.ledger["duration_hours"], "n_items": n_items})  # fmt: skip
    table = pd.DataFrame(rows)
    figure, (left, right_axes) = plt.subplots(1, 2, figsize=(13, 5))
    for index, training in enumerate(TRAINING):
        points = table[table["training_minutes"] == training]
        color, name = f"C{index}", "no training" if training == 0 else f"{training:g} minutes of training"
        shown = (("accuracy", "o-", "all items", "n_items"),
                 ("accuracy_ambiguous", "s--", "ambiguous items", "n_ambiguous"))  # fmt: skip
        for column, style, what, count in shown:
            half = 1.96 * np.sqrt(points[column] * (1 - points[column]) / points[count])
            left.errorbar(points["complexity"], points[column], yerr=half, fmt=style, color=color, capsize=2,
                          markersize=4, label=f"{name}: {what}")  # fmt: skip
        # the cost's interval follows from the accuracy's: spend / (items x accuracy at either end)
        half = 1.96 * np.sqrt(points["accuracy"] * (1 - points["accuracy"]) / points["n_items"])
        cost = points["cost_per_correct_label"]
        low, high = (
            points["spend"] / (points["n_items"] * (points["accuracy"] + half)),
            points["spend"] / (points["n_items"] * (points["accuracy"] - half)),
        )
        right_axes.errorbar(points["complexity"], cost, yerr=[cost - low, high - cost], fmt="o-", color=color,
                            capsize=2, label=name)  # fmt: skip
    left.set(title="Majority vote of 3 answers: accuracy", xlabel="guideline complexity (0: one line, 1: rule book)",
             ylabel="share of items labeled right")  # fmt: skip
    left.legend(fontsize=8)
    right_axes.set(
        title="Cost per correct label (answers at $0.05, training at $12 an hour)",
        xlabel="guideline complexity (0: one line, 1: rule book)",
        ylabel="spend / correct labels ($)",
    )
    right_axes.legend(fontsize=8)
    figure.suptitle(f"Guideline complexity: 100 honest raters, {n_items} items (30% ambiguous), 95% intervals")
    wide = table.set_index(["training_minutes", "complexity"])["accuracy"]
    measured = [
        f"Without training: accuracy {wide[(0.0, 0.0)]:.3f} at complexity 0 and {wide[(0.0, 1.0)]:.3f} at 1.",
        f"With {TRAINING[1]:g} minutes of training: {wide[(TRAINING[1], 0.0)]:.3f} at complexity 0 and "
        f"{wide[(TRAINING[1], 1.0)]:.3f} at 1.",
        "Cheapest correct label: " + ", ".join(_cheapest(t, table[table["training_minutes"] == t]) for t in TRAINING)
        + ".",
    ]  # fmt: skip
    return Findings({"guideline_complexity": figure}, table, measured)
