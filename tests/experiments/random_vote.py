"""A deliberately bad aggregator for the bench tests: a uniformly random label per task (importable as
``random_vote:RandomVote`` with this folder on the path)."""

from __future__ import annotations

import numpy as np
import pandas as pd


class RandomVote:
    def __init__(self, random_state: int = 0) -> None:
        self.random_state = random_state

    def fit(self, data: pd.DataFrame) -> RandomVote:
        rng = np.random.default_rng(self.random_state)
        tasks = pd.unique(data["task"])
        labels = np.sort(pd.unique(data["label"]))
        self.labels_ = pd.Series(
            rng.choice(labels, size=len(tasks)), index=pd.Index(tasks, name="task"), name="agg_label"
        )
        return self

    def fit_predict(self, data: pd.DataFrame) -> pd.Series:
        return self.fit(data).labels_


class CrashesOnLargeTables:
    """Majority vote that passes the contract checks (small tables) and raises on a bench scenario's 4,500 answers."""

    def __init__(self, random_state: int = 0) -> None:
        self.random_state = random_state

    def fit(self, data: pd.DataFrame) -> CrashesOnLargeTables:
        from strategies.aggregation import MajorityVote

        if len(data) > 3000:
            raise MemoryError("pretend the table does not fit")
        vote = MajorityVote().fit(data)
        self.labels_, self.probas_ = vote.labels_, vote.probas_
        return self

    def fit_predict(self, data: pd.DataFrame) -> pd.Series:
        return self.fit(data).labels_
