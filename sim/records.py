"""The answer records collected during a run and the result tables built from them at the end (Ciw's pattern:
collect plain records while simulating, build the tables once)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from sim.raters import Raters
from sim.tasks import Items

ANSWER_COLUMNS: tuple[str, ...] = ("task", "worker", "label", "is_gold", "t_start", "t_end", "cost", "p_correct")


@dataclass
class AnswerLog:
    """What the engine records while it runs: one row per page (who, when, in which state) and, per answer, the item
    and the end time. Labels are not drawn while simulating: nothing in the campaign's flow depends on them yet, so
    :func:`sim.campaign.draw_answers` draws them for all answers at once at the end (one vectorised pass)."""

    # per page: (worker, start time, time on task at its start, practice at its start, training minutes, answers)
    pages: list[tuple[int, float, float, int, float, int]] = field(default_factory=list)
    items: list[int] = field(default_factory=list)
    t_end: list[float] = field(default_factory=list)

    @property
    def n_answers(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class AnswerTimeline:
    """The answer log as per-answer arrays, in the order pages were handed out (each page's answers in order)."""

    item: np.ndarray
    worker: np.ndarray
    t_start: np.ndarray
    t_end: np.ndarray
    practice: np.ndarray  # answers the rater had given before this one
    time_on_task: np.ndarray  # seconds since the rater's last (recovered) break at the answer's start
    training_minutes: np.ndarray

    @classmethod
    def from_log(cls, log: AnswerLog) -> AnswerTimeline:
        pages = np.array(log.pages, dtype=np.float64).reshape(-1, 6)
        worker, start, time_on_task, practice, training_minutes = pages[:, :5].T
        size = pages[:, 5].astype(np.int64)
        first = np.cumsum(size) - size  # index of each page's first answer
        t_end = np.asarray(log.t_end, dtype=np.float64)
        page_start = np.repeat(start, size)
        t_start = np.empty_like(t_end)
        t_start[1:] = t_end[:-1]
        t_start[first] = page_start[first]
        position = np.arange(t_end.shape[0]) - np.repeat(first, size)
        return cls(
            item=np.asarray(log.items, dtype=np.int64),
            worker=np.repeat(worker.astype(np.int64), size),
            t_start=t_start,
            t_end=t_end,
            practice=np.repeat(practice.astype(np.int64), size) + position,
            time_on_task=np.repeat(time_on_task, size) + (t_start - page_start),
            training_minutes=np.repeat(training_minutes, size),
        )


@dataclass
class CampaignResult:
    """What a campaign produced (answers), what was hidden from the aggregators (truth, items, raters) and the
    accounts (ledger). Aggregators should be fitted on ``answers[~answers.is_gold]`` (see :meth:`worker_answers`)."""

    answers: pd.DataFrame
    truth: pd.Series
    gold: pd.Series
    items: pd.DataFrame
    raters: pd.DataFrame
    ledger: dict[str, Any]

    def worker_answers(self) -> pd.DataFrame:
        """The non-gold answers in crowd-kit's columns (task, worker, label): what an aggregator sees."""
        regular = self.answers[~self.answers["is_gold"].to_numpy()]
        return regular[["task", "worker", "label"]].reset_index(drop=True)

    def gold_answers(self) -> pd.DataFrame:
        gold = self.answers[self.answers["is_gold"].to_numpy()]
        return gold[["task", "worker", "label"]].reset_index(drop=True)


def items_table(items: Items, answers: pd.DataFrame) -> pd.DataFrame:
    n_answers = np.bincount(answers["task"].to_numpy(), minlength=items.n_total)
    return pd.DataFrame(
        {
            "task": np.arange(items.n_total),
            "true_label": items.true_label,
            "difficulty": items.difficulty,
            "difficulty_effective": items.difficulty_effective,
            "ambiguous": items.ambiguous,
            "confuser": items.confuser,
            "is_gold": items.is_gold,
            "median_seconds": items.median_seconds,
            "answers": n_answers,
        }
    )


def raters_table(
    raters: Raters,
    answers: pd.DataFrame,
    items: Items,
    trained: np.ndarray,
    arrival_seconds: np.ndarray,
) -> pd.DataFrame:
    n = raters.n_raters
    worker = answers["worker"].to_numpy()
    is_gold = answers["is_gold"].to_numpy()
    correct = answers["label"].to_numpy() == items.true_label[answers["task"].to_numpy()]
    n_answers = np.bincount(worker, minlength=n)
    n_gold = np.bincount(worker[is_gold], minlength=n)
    gold_correct = np.bincount(worker[is_gold], weights=correct[is_gold], minlength=n)
    all_correct = np.bincount(worker, weights=correct, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        gold_accuracy = np.where(n_gold > 0, gold_correct / np.maximum(n_gold, 1), np.nan)
        accuracy = np.where(n_answers > 0, all_correct / np.maximum(n_answers, 1), np.nan)
    table = pd.DataFrame(
        {
            "worker": np.arange(n),
            "archetype": raters.archetype,
            "ability": raters.ability,
            "fatigue_scale": raters.fatigue_scale,
            "time_factor": raters.time_factor,
            "condorcet_accuracy": raters.accuracy,
            "fixed_label": raters.fixed_label,
            "arrival_hours": arrival_seconds / 3600.0,
            "trained": trained,
            "answers": n_answers,
            "gold_answers": n_gold,
            "gold_accuracy": gold_accuracy,
            "observed_accuracy": accuracy,
            "blocked": np.zeros(n, dtype=bool),
        }
    )
    bias = pd.DataFrame(raters.bias, columns=[f"bias_{k}" for k in range(raters.bias.shape[1])])
    return pd.concat([table, bias], axis=1)
