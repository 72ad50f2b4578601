"""Benchmark the model-based noisy-label detectors: wall time against one plain model fit, and how well they rank
injected label flips.

    python -m experiments.benchmarks.cleaning [--n-items 100000 --n-features 20 --n-classes 5 --noise 0.2
        --influence-items 10000 --seed 0 --output results/benchmarks/cleaning.csv]

The data: ``--n-items`` items in ``--n-classes`` classes, each a unit Gaussian in ``--n-features`` dimensions whose
mean is 3 along the class's own axis (so a linear model is about 95% accurate on the true labels), and a share
``--noise`` of the labels flipped to a uniformly drawn other class. ConfidentLearning (5-fold cross-validated
probabilities of the default model) and NoisyCrossValidation (4 iterations) run on all items, InfluenceFunctions on
the first ``--influence-items`` (its test items: the next ``--influence-items`` / 5). The baseline is one fit of the
default model (standardised features into scikit-learn's ``LogisticRegression``) on the same items, timed in the
same process; ``ratio`` is the detector's seconds over the baseline's. Per detector: seconds, target seconds,
baseline seconds, ratio, AUROC of ``scores_`` against the injected flips, the share of flips among the flagged items
(precision) and of flips flagged (recall), and the estimated noise rate where the detector gives one (injected share
in the header line).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from experiments.storage import write_csv
from strategies.cleaning.base import default_model
from strategies.cleaning.confident_learning import ConfidentLearning
from strategies.cleaning.influence_functions import InfluenceFunctions
from strategies.cleaning.noisy_cross_validation import NoisyCrossValidation

TARGET_SECONDS = {"ConfidentLearning": 30.0, "NoisyCrossValidation": 30.0, "InfluenceFunctions": 10.0}


def flipped_gaussians(
    n_items: int, n_features: int, n_classes: int, noise: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, given labels, whether each label was flipped)."""
    truth = rng.integers(n_classes, size=n_items)
    features = 3.0 * np.eye(n_classes, n_features)[truth] + rng.standard_normal((n_items, n_features))
    flipped = rng.random(n_items) < noise
    labels = np.where(flipped, (truth + rng.integers(1, n_classes, size=n_items)) % n_classes, truth)
    return features, labels, flipped


def seconds(call: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def row(name: str, spent: float, baseline: float, detector: Any, flipped: np.ndarray) -> dict[str, Any]:
    issues = np.asarray(detector.issues_)
    return {
        "detector": name, "items": flipped.shape[0], "seconds": spent, "target_s": TARGET_SECONDS[name],
        "baseline_s": baseline, "ratio": spent / baseline, "auroc": roc_auc_score(flipped, detector.scores_),
        "precision": float(flipped[issues].mean()) if issues.any() else float("nan"),
        "recall": float(issues[flipped].mean()), "noise_rate": getattr(detector, "noise_rate_", float("nan")),
    }  # fmt: skip


def benchmark(n_items: int, n_features: int, n_classes: int, noise: float, influence_items: int,
              seed: int) -> pd.DataFrame:  # fmt: skip
    rng = np.random.default_rng(seed)
    n_test = max(1, influence_items // 5)
    features, labels, flipped = flipped_gaussians(max(n_items, influence_items + n_test), n_features, n_classes,
                                                  noise, rng)  # fmt: skip
    print(f"items={n_items} features={n_features} classes={n_classes} injected_noise={flipped[:n_items].mean():.4f}")
    X, y, wrong = features[:n_items], labels[:n_items], flipped[:n_items]
    baseline, _ = seconds(lambda: default_model().fit(X, y))
    rows = []
    spent, detector = seconds(lambda: ConfidentLearning(random_state=seed).fit(X, y))
    rows.append(row("ConfidentLearning", spent, baseline, detector, wrong))
    spent, detector = seconds(lambda: NoisyCrossValidation(random_state=seed).fit(X, y))
    rows.append(row("NoisyCrossValidation", spent, baseline, detector, wrong))

    X_small, y_small = features[:influence_items], labels[:influence_items]
    test = slice(influence_items, influence_items + n_test)
    small_baseline, _ = seconds(lambda: default_model().fit(X_small, y_small))
    spent, detector = seconds(lambda: InfluenceFunctions().fit(X_small, y_small, features[test], labels[test]))
    rows.append(row("InfluenceFunctions", spent, small_baseline, detector, flipped[:influence_items]))
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-items", type=int, default=100_000)
    parser.add_argument("--n-features", type=int, default=20)
    parser.add_argument("--n-classes", type=int, default=5)
    parser.add_argument("--noise", type=float, default=0.2)
    parser.add_argument("--influence-items", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=None, help="also write the table here (CSV)")
    args = parser.parse_args(argv)
    if args.n_features < args.n_classes:
        parser.error("--n-features must be at least --n-classes (each class's mean lies on its own axis)")
    table = benchmark(args.n_items, args.n_features, args.n_classes, args.noise, args.influence_items, args.seed)
    print(table.to_string(index=False, float_format="%.3f"))
    if args.output is not None:
        write_csv(table, args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
