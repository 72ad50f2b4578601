"""Score any aggregator with crowd-kit's interface (ours or crowd-kit's own) against gold labels."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class Evaluation:
    """Accuracy of ``labels_`` on the gold tasks, how many gold tasks were scored, and the fit time in seconds."""

    accuracy: float
    n_gold: int
    fit_seconds: float


def gold_accuracy(labels: pd.Series, gold: pd.Series) -> float:
    """Share of gold tasks whose label equals the gold label; a gold task without a label counts as wrong."""
    return float((labels.reindex(gold.index) == gold).mean())


def evaluate(aggregator: Any, answers: pd.DataFrame, gold: pd.Series, **fit_kwargs: Any) -> Evaluation:
    """Fit ``aggregator`` on ``answers`` (duck-typed: anything whose ``fit`` sets ``labels_``) and score it on ``gold``.

    The answers are passed as they are; only ``fit`` is timed.
    """
    start = time.perf_counter()
    fitted = aggregator.fit(answers, **fit_kwargs)
    seconds = time.perf_counter() - start
    labels = (fitted if fitted is not None else aggregator).labels_
    return Evaluation(accuracy=gold_accuracy(labels, gold), n_gold=len(gold), fit_seconds=seconds)
