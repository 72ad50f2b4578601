r"""Label noise and models: what wrong labels cost a model trained on them depends on the model.

Items carry features that agree with their true labels and difficulty (:class:`sim.features.GaussianFeatures`:
class-conditional Gaussians, hard items near the boundary with the label raters confuse them with). The campaign's
labels, aggregated by Dawid-Skene at redundancy 1 to 7, train three scikit-learn models, each scored on a clean
held-out test set beside the same model trained on the true labels (its ceiling). A linear model averages label
noise out across the whole boundary; a flexible one (gradient-boosted trees) fits the noise where it lies, so the
same labels cost it far more (Frenay and Verleysen, "Classification in the presence of label noise: a survey",
IEEE TNNLS 2014).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from experiments.downstream import Downstream
from experiments.lessons.page import Findings
from sim import Campaign, RaterPopulation, TaskDesign, simulate
from sim.features import GaussianFeatures
from strategies.aggregation import DawidSkene

TITLE = "Label noise and models: wrong labels cost flexible models more"
CLAIM = (
    "A model trained on noisier labels is worse on clean data, but how much worse depends on the model: a linear "
    "model loses little even when a third of its labels are wrong, gradient-boosted trees lose much more, so a "
    "flexible model is what makes more answers per item worth buying."
)
TRY = "crowdlab run -m experiment=downstream_redundancy && crowdlab collect <sweep dir>"
SOURCE = (
    "Frenay and Verleysen, 'Classification in the presence of label noise: a survey', IEEE TNNLS 25(5), 2014; "
    "Sheng, Provost and Ipeirotis, 'Get another label?', KDD 2008."
)
MODELS: dict[str, str] = {"logistic": "logistic regression", "mlp": "neural network (one hidden layer)",
                          "gradient_boosting": "gradient-boosted trees"}  # fmt: skip


def run(small: bool = False, seed: int = 0) -> Findings:
    n_items = 800 if small else 1500
    redundancies = (1, 3, 7) if small else (1, 3, 5, 7)
    features = GaussianFeatures(n_features=20, n_test=2000)
    rows, ceilings = [], {}
    for redundancy in redundancies:
        result = simulate(TaskDesign(n_items=n_items, gold_fraction=0.0), RaterPopulation(sessions=20),
                          Campaign(redundancy=redundancy), seed=seed, features=features)  # fmt: skip
        aggregator = DawidSkene().fit(result.worker_answers())
        label_accuracy = float((aggregator.labels_.reindex(result.truth.index) == result.truth).mean())
        for model in MODELS:
            downstream = Downstream(model=model)
            scores = downstream.evaluate(result, aggregator.labels_, aggregator.probas_, seed, 0)
            if model not in ceilings:  # the same items and truth at every redundancy: one ceiling per model
                ceilings[model] = downstream.ceiling(result, seed, 0)["downstream_accuracy_true_labels"]
            rows.append({"redundancy": redundancy, "model": model, "label_accuracy": label_accuracy,
                         "downstream_accuracy": scores["downstream_accuracy"],
                         "ceiling": ceilings[model],
                         "n_test": features.n_test, "n_items": n_items})  # fmt: skip
    table = pd.DataFrame(rows)
    figure, axes = plt.subplots(figsize=(7.5, 5))
    for index, (model, name) in enumerate(MODELS.items()):
        points = table[table["model"] == model].sort_values("label_accuracy")
        half = 1.96 * np.sqrt(points["downstream_accuracy"] * (1 - points["downstream_accuracy"]) / features.n_test)
        axes.errorbar(points["label_accuracy"], points["downstream_accuracy"], yerr=half, fmt="o-", color=f"C{index}",
                      capsize=2, label=f"{name}, trained on the crowd's labels")  # fmt: skip
        axes.axhline(points["ceiling"].iloc[0], color=f"C{index}", linestyle=":", linewidth=1,
                     label=f"{name}, trained on the true labels")  # fmt: skip
        for row in points.itertuples() if index == 0 else ():  # one model's labels: the x positions are shared
            axes.annotate(f"{row.redundancy} per item", (row.label_accuracy, row.downstream_accuracy), fontsize=6,
                          textcoords="offset points", xytext=(3, -9), color=f"C{index}")  # fmt: skip
    axes.set(title=f"Test accuracy of models trained on crowd labels ({n_items} items, Dawid-Skene labels)",
             xlabel="accuracy of the training labels (answers per item annotated)",
             ylabel="accuracy on the clean test set")  # fmt: skip
    axes.legend(fontsize=7, loc="lower right")
    axes.text(0.01, 0.99, f"{features.n_test} clean test items; bars: 95% intervals", transform=axes.transAxes,
              ha="left", va="top", fontsize=7, color="dimgrey")  # fmt: skip
    noisiest = table[table["redundancy"] == min(redundancies)]
    scored = ", ".join(f"{MODELS[str(row.model)]} {row.downstream_accuracy:.3f} (ceiling {row.ceiling:.3f})"
                       for row in noisiest.itertuples())  # fmt: skip
    accuracy = noisiest["label_accuracy"].iloc[0]
    measured = [f"With labels {accuracy:.3f} accurate ({min(redundancies)} answer per item): {scored}."]
    return Findings({"label_noise_and_models": figure}, table, measured)
