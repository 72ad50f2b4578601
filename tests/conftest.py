"""Shared fixtures: tiny hand-checkable answer tables and access to the real data sets in ../shared/datasets."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def real_dataset(name: str) -> tuple[pd.DataFrame, pd.Series]:
    """(answers with columns task, worker, label; gold labels indexed by task) of ../shared/datasets/<name>.

    Skips the calling test, with the path it looked at, when the shared data sets are not beside the checkout.
    """
    folder = DATASETS / name
    if not (folder / "labels.csv").exists():
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
