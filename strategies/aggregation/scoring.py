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
    """Score ``aggregator.fit_predict(answers, **fit_kwargs)`` on ``gold``; only that call is timed.

    Duck-typed: ``fit_predict`` is the one entry point every crowd-kit classification aggregator shares (crowd-kit's
    ``Wawa``, ``ZeroBasedSkill`` and ``GoldMajorityVote`` set ``labels_`` only in ``predict``, not in ``fit``).
    """
    start = time.perf_counter()
    labels = aggregator.fit_predict(answers, **fit_kwargs)
    seconds = time.perf_counter() - start
    return Evaluation(accuracy=gold_accuracy(labels, gold), n_gold=len(gold), fit_seconds=seconds)
