"""M-MSR against independent references: the trimming rule written out per column, agreement counts by brute
force, and the skills of a known one-coin crowd (the rank-one model E[C] = s s^T holds by construction)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from strategies.aggregation import MMSR, MajorityVote
from strategies.aggregation.base import encode_answers
from strategies.aggregation.m_msr import pairwise_agreement, trimmed_means


def msr_reference(values: list[float], current: float, n_trim: int) -> float:
    """Ma and Olshevsky's MSR step for one column, as prose: drop the n_trim smallest values if at least that many
    lie below the current estimate (else all of those below), likewise above; average what is left."""
    ordered = sorted(values)
    below = [x for x in ordered if x < current]
    ordered = ordered[len(below) :] if len(below) < n_trim else ordered[n_trim:]
    above = [x for x in ordered if x > current]
    ordered = ordered[: len(ordered) - len(above)] if len(above) < n_trim else ordered[: len(ordered) - n_trim]
    if not ordered:
        return current
    if len(ordered) == 1 and ordered[0] == 0:
        return float("nan")
    return float(np.mean(ordered))


@pytest.mark.parametrize("n_trim", [0, 1, 2, 3])
def test_trimmed_means_follow_the_msr_rule(n_trim):
    rng = np.random.default_rng(n_trim)
    ratios = rng.exponential(size=(12, 40))
    observed = rng.random((12, 40)) < 0.6
    current = rng.exponential(size=40)
    got = trimmed_means(ratios, observed, current, n_trim)
    expected = [msr_reference(list(ratios[observed[:, j], j]), current[j], n_trim) for j in range(40)]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_pairwise_agreement_counts_shared_tasks_and_equal_labels():
    answers = pd.DataFrame({
        "task": [1, 1, 1, 2, 2, 3, 3, 3, 1],
        "worker": ["a", "b", "c", "a", "b", "a", "c", "b", "a"],
        "label": [0, 0, 1, 1, 0, 2, 2, 2, 1],  # a's second answer to task 1 (label 1) is the one that counts
    })  # fmt: skip
    common, agree = pairwise_agreement(encode_answers(answers))
    last = answers.drop_duplicates(["task", "worker"], keep="last")
    pairs = last.merge(last, on="task")
    pairs = pairs[pairs.worker_x != pairs.worker_y]
    workers = sorted(answers.worker.unique())
    shared = pairs.groupby(["worker_x", "worker_y"]).size().unstack(fill_value=0)
    shared = shared.reindex(index=workers, columns=workers, fill_value=0)
    same = pairs[pairs.label_x == pairs.label_y].groupby(["worker_x", "worker_y"]).size()
    same = same.unstack(fill_value=0).reindex(index=workers, columns=workers, fill_value=0)
    np.testing.assert_array_equal(common, shared.to_numpy())
    np.testing.assert_array_equal(agree, same.to_numpy())


def one_coin_crowd(accuracies: np.ndarray, n_tasks: int, n_labels: int, per_task: int, seed: int):
    """Each task answered by ``per_task`` random workers: right with the worker's accuracy, else a uniform wrong
    label."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(n_labels, size=n_tasks)
    rows = []
    for task in range(n_tasks):
        for worker in rng.choice(accuracies.size, size=per_task, replace=False):
            right = rng.random() < accuracies[worker]
            wrong = (truth[task] + rng.integers(1, n_labels)) % n_labels
            rows.append((task, int(worker), int(truth[task] if right else wrong)))
    answers = pd.DataFrame(rows, columns=["task", "worker", "label"])
    return answers, pd.Series(truth, index=pd.RangeIndex(n_tasks, name="task"))


def test_skills_of_a_known_crowd_with_adversaries():
    """Accuracies from 0.1 (adversaries, below chance 1/3) to 0.95: the estimates track the truth, the adversaries
    get negative weights, and the weighted vote beats majority vote."""
    rng = np.random.default_rng(7)
    accuracies = np.concatenate([rng.uniform(0.55, 0.95, size=24), np.full(6, 0.1)])
    answers, truth = one_coin_crowd(accuracies, n_tasks=600, n_labels=3, per_task=7, seed=3)
    model = MMSR().fit(answers)
    estimated = model.accuracies_["accuracy"].sort_index().to_numpy()
    assert np.corrcoef(estimated, accuracies)[0, 1] > 0.95
    assert np.abs(estimated - accuracies).max() < 0.1
    assert (model.skills_.sort_index().to_numpy()[24:] < 0).all()
    mmsr = float((model.labels_.sort_index() == truth).mean())
    majority = float((MajorityVote().fit_predict(answers).sort_index() == truth).mean())
    assert mmsr > majority + 0.03, (mmsr, majority)


def test_a_worker_who_shares_no_task_gets_the_median_skill():
    answers, _ = one_coin_crowd(np.full(10, 0.8), n_tasks=200, n_labels=2, per_task=4, seed=1)
    loner = pd.DataFrame({"task": [1000, 1001], "worker": [99, 99], "label": [0, 1]})
    model = MMSR().fit(pd.concat([answers, loner], ignore_index=True))
    accuracy = model.accuracies_["accuracy"]
    others = accuracy.drop(99)  # linear in s, so the median carries over
    assert accuracy[99] == pytest.approx(float(np.median(others)))


def test_crowdkit_compatible_keeps_the_largest_value_when_some_worker_has_one_coworker():
    answers, _ = one_coin_crowd(np.full(10, 0.8), n_tasks=200, n_labels=2, per_task=4, seed=2)
    pair = pd.DataFrame({"task": [500, 500], "worker": [98, 99], "label": [1, 1]})  # 98 and 99 share one task
    model = MMSR(crowdkit_compatible=True).fit(pd.concat([answers, pair], ignore_index=True))
    assert np.isfinite(model.skills_).all()
    assert model.labels_[500] == 1


def test_workers_who_share_no_task_get_weight_zero_and_the_plain_vote_decides():
    answers = pd.DataFrame({"task": [1, 1, 2], "worker": ["a", "a", "b"], "label": [0, 0, 1]})
    for seed in range(3):
        model = MMSR(random_state=seed).fit(answers)
        assert (model.skills_ == 0).all()
        assert model.labels_.to_dict() == {1: 0, 2: 1}
