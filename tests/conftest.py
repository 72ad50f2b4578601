"""Shared fixtures: tiny hand-checkable answer tables and access to the real data sets in ../shared/datasets."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def real_dataset(name: str) -> tuple[pd.DataFrame, pd.Series]:
    """(answers with columns task, worker, label; gold labels indexed by task) of ../shared/datasets/<name>.

    Skips the calling test, with the path it looked at, when the shared data sets are not beside the checkout;
    fails it instead when ``CI`` is set, so that CI never passes without the science tests.
    """
    folder = DATASETS / name
    if not (folder / "labels.csv").exists():
        if os.environ.get("CI"):
            pytest.fail(f"real data set {name!r} not found at {folder}; with CI set the science tests must run")
        pytest.skip(f"real data set {name!r} not found at {folder} (the shared data sets sit beside the checkout)")
    answers = pd.read_csv(folder / "labels.csv")[["task", "worker", "label"]]
    gold = pd.read_csv(folder / "gold.csv").set_index("task")["label"]
    return answers, gold


@pytest.fixture
def load_real_dataset():
    """The :func:`real_dataset` loader as a fixture (tests run in importlib mode and cannot import conftest)."""
    return real_dataset


@pytest.fixture
def toy_answers() -> pd.DataFrame:
    """Three tasks, three workers: t1 unanimous 'a'; t2 two 'b' against one 'a'; t3 a one-one tie."""
    return pd.DataFrame(
        [
            ("t1", "w1", "a"), ("t1", "w2", "a"), ("t1", "w3", "a"),
            ("t2", "w1", "b"), ("t2", "w2", "b"), ("t2", "w3", "a"),
            ("t3", "w1", "a"), ("t3", "w2", "b"),
        ],
        columns=["task", "worker", "label"],
    )  # fmt: skip


def _follower_and_spammer(seed: int = 0, n_tasks: int = 150) -> tuple[pd.DataFrame, np.ndarray]:
    """Three classes; five workers right 85% of the time, one who always gives the true label, one uniform spammer."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(3, size=n_tasks)
    rows = []
    for task, true in enumerate(truth):
        for worker in range(5):
            right = rng.random() < 0.85
            rows.append((task, f"good{worker}", true if right else (true + rng.integers(1, 3)) % 3))
        rows.append((task, "follower", true))
        rows.append((task, "random", rng.integers(3)))
    return pd.DataFrame(rows, columns=["task", "worker", "label"]), truth


@pytest.fixture
def follower_and_spammer():
    """``(seed=0, n_tasks=150) -> (answers, truth in task order)``: a population whose skills a model must separate."""
    return _follower_and_spammer
