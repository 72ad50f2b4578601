"""The result tables built at the end of a run from the answer store (Ciw's pattern: collect plain records while
simulating, build the tables once)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.raters import Raters
from sim.store import PAGE_FIELDS, AnswerStore
from sim.tasks import Items

if TYPE_CHECKING:
    from sim.campaign import RaterRecord
    from sim.features import ItemFeatures
    from sim.kinds import Responses
    from sim.response import Situation

ANSWER_COLUMNS: tuple[str, ...] = (
    "task", "worker", "label", "is_gold", "t_start", "t_end", "cost", "p_correct", "stage", "dropped",
)  # fmt: skip


@dataclass(frozen=True)
class AnswerTimeline:
    """The answer store as per-answer arrays, in the order pages were handed out (each page's answers in order)."""

    item: np.ndarray
    worker: np.ndarray
    t_start: np.ndarray
    t_end: np.ndarray
    practice: np.ndarray  # answers the rater had given before this one
    time_on_task: np.ndarray  # seconds since the rater's last (recovered) break at the answer's start
    training_minutes: np.ndarray
    version: np.ndarray  # guideline version the rater worked by
    ability_offset: np.ndarray  # calibration's ability gain (logits)
    bias_shrink: np.ndarray
    stage: np.ndarray  # 0 work, 1 qualification

    @classmethod
    def from_store(
        cls, store: AnswerStore, first_page: int = 0, last_page: int | None = None, first_row: int = 0
    ) -> AnswerTimeline:
        """Pages ``first_page .. last_page - 1`` of ``store`` (all by default), whose first row is ``first_row``."""
        last_page = store.n_pages if last_page is None else last_page
        width = len(PAGE_FIELDS)
        pages = np.array(store.pages[first_page * width : last_page * width], dtype=np.float64).reshape(-1, width)
        worker, start, time_on_task, practice, training_minutes = pages[:, :5].T
        size = pages[:, 5].astype(np.int64)
        first = np.cumsum(size) - size  # index of each page's first answer
        last_row = first_row + int(size.sum())
        t_end = np.asarray(store.t_end[first_row:last_row], dtype=np.float64)
        page_start = np.repeat(start, size)
        t_start = np.empty_like(t_end)
        t_start[1:] = t_end[:-1]
        t_start[first] = page_start[first]
        position = np.arange(t_end.shape[0]) - np.repeat(first, size)
        return cls(
            item=np.asarray(store.item[first_row:last_row], dtype=np.int64),
            worker=np.repeat(worker.astype(np.int64), size),
            t_start=t_start,
            t_end=t_end,
            practice=np.repeat(practice.astype(np.int64), size) + position,
            time_on_task=np.repeat(time_on_task, size) + (t_start - page_start),
            training_minutes=np.repeat(training_minutes, size),
            version=np.repeat(pages[:, 6].astype(np.int64), size),
            ability_offset=np.repeat(pages[:, 7], size),
            bias_shrink=np.repeat(pages[:, 8], size),
            stage=np.repeat(pages[:, 9].astype(np.int64), size),
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
    # what the oracle needs: the answer model's inputs per answer row, and the colluders' copied labels
    situation: Situation | None = field(default=None, repr=False)  # see answer_situation()
    situation_factory: Callable[[], Situation] | None = field(default=None, repr=False)
    leader_label: np.ndarray | None = field(default=None, repr=False)
    copy_probability: float = field(default=0.0, repr=False)
    items_model: Items | None = field(default=None, repr=False)
    revised: bool = field(default=False, repr=False)
    features: ItemFeatures | None = field(default=None, repr=False)  # the items' features and a clean test set
    kind: str = "categorical"  # the task kind (sim.kinds): categorical, pairwise or rating
    pairs: pd.DataFrame | None = None  # pairwise: one row per pair of the pool (gold pairs last)
    responses: Responses | None = field(default=None, repr=False)  # pairwise: scores, features, the reward test set

    def answer_situation(self) -> Situation | None:
        """The answer model's inputs for every row of :attr:`answers` (built when first asked for)."""
        if self.situation is None and self.situation_factory is not None:
            self.situation = self.situation_factory()
        return self.situation

    def worker_answers(self) -> pd.DataFrame:
        """The answers an aggregator sees, in crowd-kit's columns (task, worker, label): regular items only, without
        the answers quality control dropped. The index keeps each row's position in :attr:`answers`. Pairwise:
        crowd-kit's comparison columns (worker, left, right, label: the preferred response), ties left out."""
        if self.kind == "pairwise":
            rows = self._regular_rows() & (self.answers["label"].to_numpy() >= 0)
            return self.answers.loc[rows, ["worker", "left", "right", "label"]]
        return self.answers.loc[self._regular_rows(), ["task", "worker", "label"]]

    def gold_answers(self) -> pd.DataFrame:
        """The answers to gold questions (qualification tests included), not dropped ones; index as above."""
        gold = self.answers["is_gold"].to_numpy() & ~self._dropped()
        return self.answers.loc[gold, ["task", "worker", "label"]]

    def _dropped(self) -> np.ndarray:
        if "dropped" not in self.answers:
            return np.zeros(len(self.answers), dtype=bool)
        return self.answers["dropped"].to_numpy(dtype=bool)

    def _regular_rows(self) -> np.ndarray:
        return ~self.answers["is_gold"].to_numpy(dtype=bool) & ~self._dropped()

    def log_joint(self, answers: pd.DataFrame) -> pd.DataFrame:
        """log P(true label = k, each task's answers in ``answers``) under the simulator's true answer model.

        ``answers`` must be rows of :attr:`answers` (the index says which; :meth:`worker_answers` keeps it). This is
        what :class:`strategies.aggregation.Oracle` needs; see :mod:`sim.oracle`.
        """
        from sim.oracle import log_joint

        return log_joint(self, answers)

    @property
    def priors(self) -> pd.Series:
        """The true class priors of the task design (the oracle's prior)."""
        from sim.oracle import class_priors

        return class_priors(self)


def items_table(items: Items, answers: pd.DataFrame, done: np.ndarray, revised: bool) -> pd.DataFrame:
    """One row per item (gold questions last): its true parameters, how many answers it got and whether it reached
    its assignment policy's stopping rule. ``true_label`` is the label under the definitions in force at the end."""
    n_answers = np.bincount(answers["task"].to_numpy(), minlength=items.n_total)
    table = pd.DataFrame(
        {
            "task": np.arange(items.n_total),
            "true_label": items.truth(revised),
            "difficulty": items.difficulty,
            "difficulty_effective": items.difficulty_effective,
            "ambiguous": items.ambiguous,
            "confuser": items.confuser,
            "is_gold": items.is_gold,
            "median_seconds": items.median_seconds,
            "answers": n_answers,
            "done": np.concatenate([done, np.zeros(items.n_total - done.shape[0], dtype=bool)]),
        }
    )
    if items.group is not None:
        table["group"] = items.group
    if items.revised is not None:
        table["revised"] = items.revised
        table["label_before_revision"] = items.true_label
    return table


def raters_table(
    raters: Raters,
    answers: pd.DataFrame,
    items: Items,
    truth: np.ndarray,
    record: RaterRecord,
    arrival_seconds: np.ndarray,
    expected_accuracy: np.ndarray,
) -> pd.DataFrame:
    """One row per rater: true parameters and archetype, its ``expected_accuracy`` (P(correct) on a random item at
    the start of work, see :func:`sim.response.expected_accuracy`), what it did (answers, gold accuracy, observed
    accuracy, and true accuracy: the mean of the model's P(correct) over its answers) and its life in the campaign
    (qualified, blocked and when, when and why it stopped working)."""
    n = raters.n_raters
    worker = answers["worker"].to_numpy()
    is_gold = answers["is_gold"].to_numpy()
    correct = answers["label"].to_numpy() == truth[answers["task"].to_numpy()]
    n_answers = np.bincount(worker, minlength=n)
    n_gold = np.bincount(worker[is_gold], minlength=n)
    gold_correct = np.bincount(worker[is_gold], weights=correct[is_gold], minlength=n)
    all_correct = np.bincount(worker, weights=correct, minlength=n)
    expected_correct = np.bincount(worker, weights=answers["p_correct"].to_numpy(), minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        gold_accuracy = np.where(n_gold > 0, gold_correct / np.maximum(n_gold, 1), np.nan)
        accuracy = np.where(n_answers > 0, all_correct / np.maximum(n_answers, 1), np.nan)
        true_accuracy = np.where(n_answers > 0, expected_correct / np.maximum(n_answers, 1), np.nan)
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
            "trained": record.trained,
            "answers": n_answers,
            "gold_answers": n_gold,
            "gold_accuracy": gold_accuracy,
            "expected_accuracy": expected_accuracy,
            "observed_accuracy": accuracy,
            "true_accuracy": true_accuracy,
            "qualified": record.qualified,
            "blocked": record.blocked,
            "blocked_at": record.blocked_at,
            "quit_at": np.where(record.left_reason == "quit", record.left_at, np.nan),
            "left_at": record.left_at,
            "left_reason": record.left_reason.astype(str),
            "calibrations": record.calibrations,
            "collusion_group": raters.collusion_group,
        }
    )
    bias = pd.DataFrame(raters.bias, columns=[f"bias_{k}" for k in range(raters.bias.shape[1])])
    return pd.concat([table, bias], axis=1)
