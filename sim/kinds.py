r"""Task kinds beside categorical labels: pairwise preferences (RLHF) and numeric ratings, on the same engine.

The campaign hands out *tasks* and a rater gives one of ``task.n_options`` coded answers to each; what a task is
depends on the kind:

* ``pairwise``: ``task.n_items`` *responses*, each with a latent quality score :math:`s_i \sim N(0,
  \text{score\_sd}^2)` on the Bradley-Terry logit scale, a standardised length :math:`\ell_i` correlated with it
  (``length_correlation``), and ``n_features`` observed features in which the score is linear (plus
  ``feature_noise``), the inputs of a reward model. A task is a *pair* (left shown first, right second) from a pool
  of candidate pairs: every pair, or each response with ``candidate_pairs`` random partners (a random circulant
  graph), each pair's order drawn at random. Answers are coded 0 (left preferred), 1 (right preferred) and 2 (a
  tie, when ``tie_weight`` > 0); the correct answer is the better response. The answer model is in
  :func:`sim.response.pairwise_probabilities`. Gold questions are pairs with a clear winner (a score gap of at
  least ``score_sd``).
* ``rating``: items with a true value :math:`v_i` on the scale 1..K (``n_levels``), drawn as the scale's midpoint
  plus ``value_sd`` times a standard normal, clipped to [1, K], and a difficulty as categorical items have, which
  sets the time to rate an item but not the raters' noise (a rater's noise comes from its own state).
  Answers are coded 0..K-1 for the levels 1..K; the "correct" answer is the level nearest the true value (its
  confuser the next nearest). The answer model is in :func:`sim.response.rating_probabilities`; gold questions are
  extra items of known value.

At the end of a run :func:`finish_result` turns the engine's coded tables into crowd-kit's layouts: comparisons
``worker, left, right, label`` (``label`` the preferred response's id; a tie keeps label -1 and is not shown to the
aggregators, as in crowd-kit), ratings ``task, worker, label`` with ``label`` in 1..K; ``truth`` and ``items`` hold
each response's true ``score`` or each item's true ``value``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.raters import Raters
from sim.records import CampaignResult
from sim.tasks import Items, TaskDesign, median_item_seconds

PAIR_CHOICES: tuple[str, ...] = ("left", "right", "tie")
TIE = 2
N_TEST_RESPONSES = 1000  # held-out responses a reward model is scored on


@dataclass(frozen=True)
class Responses:
    """Pairwise task: the responses (scores, lengths, features) and the pairs the engine's tasks stand for."""

    score: np.ndarray  # (n,) latent quality, Bradley-Terry logits
    length: np.ndarray  # (n,) standardised length
    features: np.ndarray  # (n, n_features + 1): observed features, then the length
    left: np.ndarray  # (P,) response shown first in each pair (regular pairs, then gold pairs)
    right: np.ndarray  # (P,)
    n_regular_pairs: int
    test_features: np.ndarray  # held-out responses for the reward model
    test_score: np.ndarray

    @property
    def n_responses(self) -> int:
        return int(self.score.shape[0])


def n_pool_pairs(design: TaskDesign) -> int:
    """Size of the pairwise pool of candidate pairs (every pair, or ``candidate_pairs`` partners per response)."""
    n = design.n_items
    if n - 1 <= design.candidate_pairs:
        return n * (n - 1) // 2
    return n * min(math.ceil(design.candidate_pairs / 2), (n - 1) // 2)


def engine_design(design: TaskDesign) -> TaskDesign:
    """The design as the engine and its policies see it: ``n_items`` tasks (pairs of a pairwise pool) answered
    with ``n_classes`` options. A categorical design is its own engine design."""
    if design.kind == "categorical":
        return design
    if design.kind == "pairwise":
        return dataclasses.replace(design, n_items=n_pool_pairs(design), n_classes=design.n_options, class_priors=None)
    return dataclasses.replace(design, n_classes=design.n_levels, class_priors=None)


def _responses(design: TaskDesign, direction: np.ndarray, rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    """Scores, lengths and observed features of ``n`` responses (one block draw each)."""
    hidden = rng.standard_normal((n, design.n_features))
    latent = hidden @ direction  # N(0, 1)
    rho = design.length_correlation
    length = rho * latent + math.sqrt(1.0 - rho * rho) * rng.standard_normal(n)
    observed = hidden + design.feature_noise * rng.standard_normal((n, design.n_features))
    return design.score_sd * latent, length, np.column_stack([observed, length])


def pool(n: int, partners: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs: every pair when ``n - 1 <= partners``, else a random circulant graph (responses in a random
    order, each joined to the ones ``o`` places on for ``ceil(partners / 2)`` random offsets ``o``); each pair's
    order (which response is shown first) drawn at random."""
    if n - 1 <= partners:
        first, second = np.triu_indices(n, k=1)
    else:
        offsets = rng.choice(np.arange(1, (n - 1) // 2 + 1), size=min(math.ceil(partners / 2), (n - 1) // 2),
                             replace=False)  # fmt: skip
        order = rng.permutation(n)
        start = np.tile(np.arange(n), offsets.shape[0])
        first, second = order[start], order[(start + np.repeat(offsets, n)) % n]
    swap = rng.random(first.shape[0]) < 0.5
    return np.where(swap, second, first), np.where(swap, first, second)


def gold_pairs(score: np.ndarray, n_gold: int, gap: float, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """``n_gold`` pairs with a clear winner (score gap at least ``gap``; the widest gaps if too few are drawn)."""
    n = score.shape[0]
    left = rng.integers(n, size=20 * n_gold)
    right = (left + rng.integers(1, n, size=20 * n_gold)) % n
    _, first = np.unique(np.sort(np.column_stack([left, right]), axis=1), axis=0, return_index=True)
    distinct = np.sort(first)  # each unordered pair once, in the order drawn
    left, right = left[distinct], right[distinct]
    gaps = np.abs(score[left] - score[right])
    clear = np.flatnonzero(gaps >= gap)
    chosen = clear[:n_gold] if clear.shape[0] >= n_gold else np.argsort(-gaps, kind="stable")[:n_gold]
    return left[chosen], right[chosen]


def pairwise_items(
    design: TaskDesign, rng: np.random.Generator, gold_pool: bool, test_rng: np.random.Generator
) -> tuple[Items, Responses]:
    """The responses, the pool of pairs (regular, then ``n_gold`` gold pairs when ``gold_pool``) and the engine's
    items: one per pair, true label 0 when the left response is better, else 1."""
    direction = rng.standard_normal(design.n_features)
    direction /= np.linalg.norm(direction)
    score, length, features = _responses(design, direction, rng, design.n_items)
    left, right = pool(design.n_items, design.candidate_pairs, rng)
    n_regular = left.shape[0]
    if gold_pool and design.n_gold > 0:
        gold_left, gold_right = gold_pairs(score, design.n_gold, design.score_sd, rng)
        left, right = np.concatenate([left, gold_left]), np.concatenate([right, gold_right])
    test_score, _, test_features = _responses(design, direction, test_rng, N_TEST_RESPONSES)
    responses = Responses(score, length, features, left, right, n_regular, test_features, test_score)
    n = left.shape[0]
    true_label = (score[right] > score[left]).astype(np.int64)
    zeros = np.zeros(n)
    burden = 1.0 + design.complexity_time * design.guideline_complexity
    reading = (np.exp(design.difficulty_time * length[left]) + np.exp(design.difficulty_time * length[right])) / 2
    items = Items(
        true_label=true_label,
        difficulty=zeros,
        ambiguous=np.zeros(n, dtype=bool),
        confuser=1 - true_label,
        is_gold=np.arange(n) >= n_regular,
        difficulty_effective=zeros,
        median_seconds=design.seconds_per_item * burden * reading,  # two responses to read: longer ones take longer
        n_regular=n_regular,
        score_gap=score[left] - score[right],
        length_gap=length[left] - length[right],
    )
    return items, responses


def rating_items(design: TaskDesign, rng: np.random.Generator, gold_pool: bool) -> Items:
    """Items to rate (gold questions last): true value, difficulty, nearest level and next nearest level."""
    n = design.n_items + (design.n_gold if gold_pool else 0)
    k = design.n_levels
    value = np.clip((k + 1) / 2 + design.value_sd * rng.standard_normal(n), 1.0, k)
    difficulty = rng.normal(design.difficulty_mean, design.difficulty_sd, size=n)
    nearest = np.clip(np.rint(value), 1, k).astype(np.int64)
    other = np.where(value >= nearest, nearest + 1, nearest - 1)
    other = np.where(other > k, k - 1, np.where(other < 1, 2, other))
    return Items(
        true_label=nearest - 1,
        difficulty=difficulty,
        ambiguous=np.zeros(n, dtype=bool),
        confuser=other - 1,
        is_gold=np.arange(n) >= design.n_items,
        difficulty_effective=np.zeros(n),  # the answer model's: raters differ in noise, items in value
        median_seconds=median_item_seconds(difficulty, design),  # a hard item takes longer to rate
        n_regular=design.n_items,
        value=value,
    )


def finish_result(
    result: CampaignResult, design: TaskDesign, items: Items, responses: Responses | None, raters: Raters
) -> None:
    """Turn a run's coded tables (engine tasks, answers 0..n_options-1) into the kind's layout, in place; the raters
    table gains the kind's traits."""
    traits = ("position_bias", "verbosity_bias") if design.kind == "pairwise" else ("severity", "scale_use")
    for name in traits:
        result.raters[name] = getattr(raters, name)
    answers = result.answers
    code = answers["label"].to_numpy()
    if design.kind == "pairwise":
        assert responses is not None
        task = answers["task"].to_numpy()
        left, right = responses.left[task], responses.right[task]
        winner = np.where(code == 0, left, np.where(code == 1, right, -1))
        choice = pd.Categorical.from_codes(code, categories=pd.Index(PAIR_CHOICES[: design.n_options]))
        columns = {"task": answers["task"], "left": left, "right": right, "worker": answers["worker"],
                   "label": winner, "choice": choice}  # fmt: skip
        rest = [column for column in answers.columns if column not in columns]
        result.answers = pd.DataFrame(columns, index=answers.index).join(answers[rest])
        result.pairs = result.items.drop(columns=["difficulty", "difficulty_effective", "ambiguous", "confuser"])
        result.pairs.insert(1, "left", responses.left)
        result.pairs.insert(2, "right", responses.right)
        result.pairs["score_gap"] = items.score_gap
        result.pairs["better"] = np.where(result.pairs["true_label"] == 0, responses.left, responses.right)
        result.pairs = result.pairs.drop(columns="true_label")
        regular = ~answers["is_gold"].to_numpy()
        shown = np.concatenate([left[regular], right[regular]])
        ids = np.arange(responses.n_responses)
        compared = np.bincount(shown, minlength=responses.n_responses)
        result.items = pd.DataFrame({
            "item": ids, "score": responses.score, "length": responses.length, "answers": compared,
            "is_gold": np.zeros(responses.n_responses, dtype=bool),
            "done": compared > 0,  # a pair policy stops on the total of comparisons: a response is done once compared
        })  # fmt: skip
        result.truth = pd.Series(responses.score, index=pd.Index(ids, name="item"), name="score")
        gold_pairs_ = np.flatnonzero(items.is_gold)
        better = np.where(items.true_label == 0, responses.left, responses.right)
        result.gold = pd.Series(better[gold_pairs_], index=pd.Index(gold_pairs_, name="task"), name="label")
        result.responses = responses
        ledger = result.ledger
        ledger["n_pairs"] = int(responses.n_regular_pairs)  # the pool (the engine's tasks) ...
        ledger["pairs_answered"], ledger["pairs_complete"] = ledger["items_answered"], ledger["items_complete"]
        ledger["n_items"] = ledger["n_responses"] = int(responses.n_responses)  # ... and the responses
        ledger["items_answered"] = ledger["items_complete"] = int((compared > 0).sum())
    else:
        assert items.value is not None
        answers["label"] = code + 1
        result.items = result.items.drop(columns=["ambiguous", "confuser"]).rename(columns={"true_label": "level"})
        result.items["level"] += 1
        result.items.insert(1, "value", items.value)
        regular = ~items.is_gold
        ids = np.arange(items.n_total)
        result.truth = pd.Series(items.value[regular], index=pd.Index(ids[regular], name="task"), name="value")
        result.ledger["n_levels"] = int(design.n_levels)
        result.gold = pd.Series(items.true_label[~regular] + 1, index=pd.Index(ids[~regular], name="task"),
                                name="label")  # fmt: skip
    result.kind = design.kind
