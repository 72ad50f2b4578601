"""crowdlab's pytest plugin (a ``pytest11`` entry point): the ``crowdlab_bench`` fixture checks any aggregator on
the bench's seeded scenarios and on real data sets, and against a saved baseline, from a user's own tests::

    from strategies.aggregation import DawidSkene, MajorityVote

    def test_dawid_skene_beats_the_vote_under_spam(crowdlab_bench):
        assert crowdlab_bench.accuracy(DawidSkene, "spammers_30") > crowdlab_bench.accuracy(MajorityVote, "spammers_30")
        crowdlab_bench.assert_no_regression(MajorityVote, baseline="majority_vote", scenarios=["easy"])

An aggregator is anything ``crowdlab bench`` takes (a config name, ``module:Class(kw=...)``, a YAML file), a class,
or a function returning a fresh instance. A scenario is one of the suite's (:data:`experiments.bench.SUITES`) or
``real:NAME`` for the real data set ``NAME`` under ``--crowdlab-data`` (default ../shared/datasets). Baselines are
the files ``crowdlab bench ... --save-baseline NAME`` writes, read from ``--crowdlab-baselines`` (default
results/baselines under pytest's root folder).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("crowdlab", "crowdlab bench fixture")
    group.addoption("--crowdlab-data", default=None, help="folder of real data sets (default ../shared/datasets)")
    group.addoption("--crowdlab-baselines", default=None, help="folder of bench baselines (default results/baselines)")


class Bench:
    """Scores aggregators on bench scenarios and real data sets; the ``crowdlab_bench`` fixture is one of these."""

    def __init__(self, data: Path | None, baselines: Path) -> None:
        self.data = data
        self.baselines = baselines

    def contender(self, aggregator: Any) -> Any:
        """A :class:`experiments.bench.Contender` for a spec string, a class or a factory of instances."""
        from experiments.bench import Contender, resolve

        if isinstance(aggregator, str):
            return resolve(aggregator)
        if isinstance(aggregator, type):
            return Contender(aggregator.__name__, aggregator)
        if callable(aggregator):
            return Contender(getattr(aggregator, "__name__", "aggregator"), aggregator)
        raise TypeError(f"aggregator must be a spec string, a class or a factory function, got {aggregator!r}")

    def scores(
        self, aggregator: Any, scenarios: Sequence[str], replicates: int = 3, seed: int = 0, suite: str = "standard"
    ) -> Any:
        """The bench's long summary table (aggregator, scenario, metric, mean, ci95_low, ci95_high, ...) of
        ``aggregator`` on ``scenarios``: ``replicates`` campaigns of each simulated one (the same campaigns as
        ``crowdlab bench --seed SEED``), and each ``real:NAME`` data set once; ``suite`` is ``standard``, ``numeric``
        or ``pairwise``."""
        import pandas as pd

        from experiments.bench import SUITES, real_rows, simulated_rows, summarise

        if suite not in SUITES:
            raise ValueError(f"unknown suite {suite!r}; accepted values: {', '.join(SUITES)}")
        chosen = SUITES[suite]
        contender = self.contender(aggregator)
        simulated = {name: chosen.scenarios[name] for name in scenarios if not name.startswith("real:")
                     and name in chosen.scenarios}  # fmt: skip
        unknown = [name for name in scenarios if not name.startswith("real:") and name not in chosen.scenarios]
        if unknown:
            raise ValueError(f"unknown scenario {unknown[0]!r} of the {suite} suite; accepted values: "
                             f"{', '.join(chosen.scenarios)}, real:NAME")  # fmt: skip
        rows = simulated_rows([contender], simulated, replicates, seed, chosen) if simulated else []
        real = [self._dataset(s.removeprefix("real:")) for s in scenarios if s.startswith("real:")]
        if real:
            rows += real_rows([contender], real[0].parent, seed, {folder.name for folder in real}, chosen.kind)
        return summarise(pd.DataFrame(rows), chosen)

    def accuracy(self, aggregator: Any, scenario: str, replicates: int = 3, seed: int = 0) -> float:
        """Mean accuracy of ``aggregator`` over the replicates of ``scenario`` (or on a ``real:NAME`` set)."""
        table = self.scores(aggregator, [scenario], replicates, seed)
        contender = self.contender(aggregator).name
        row = table[(table["aggregator"] == contender) & (table["metric"] == "accuracy")]
        if row.empty or row["mean"].isna().all():
            pytest.fail(f"{contender} gave no scores in {scenario} (it raised; see the captured stderr)")
        return float(row["mean"].iloc[0])

    def assert_no_regression(
        self,
        aggregator: Any,
        baseline: str,
        scenarios: Sequence[str] | None = None,
        seed: int = 0,
        time_ratio: float = 2.0,
    ) -> None:
        """Fail, naming the scenario, the metric and both values, when ``aggregator`` is worse than the saved
        baseline ``baseline`` (accuracy below its 95% interval, fit time beyond ``time_ratio`` times) in any of
        ``scenarios`` (default: all the baseline holds), rerun with the baseline's number of replicates."""
        import pandas as pd

        from experiments.bench import SUITE_VERSION, regressions

        path = self.baselines / SUITE_VERSION / f"{baseline}.csv"
        if not path.is_file():
            saved = sorted(p.stem for p in path.parent.glob("*.csv"))
            listed = ", ".join(saved) or "none"
            pytest.fail(f"no baseline {baseline!r} for {SUITE_VERSION} in {path.parent} (saved: {listed}); make one "
                        f"with: crowdlab bench AGGREGATOR --save-baseline {baseline}")  # fmt: skip
        saved_table = pd.read_csv(path)
        held = list(dict.fromkeys(saved_table["scenario"]))
        chosen = list(scenarios) if scenarios is not None else held
        missing = [s for s in chosen if s not in held]
        if missing:
            pytest.fail(f"baseline {baseline!r} has no scenario {missing[0]!r}; it holds: {', '.join(held)}")
        n = saved_table[(saved_table["metric"] == "accuracy") & saved_table["scenario"].isin(chosen)]["n"]
        table = self.scores(aggregator, chosen, replicates=int(n.max()), seed=seed)
        found = regressions(table, saved_table[saved_table["scenario"].isin(chosen)], time_ratio)
        if found:
            pytest.fail("regression against baseline " + repr(baseline) + ":\n" + "\n".join(found))

    def _dataset(self, name: str) -> Path:
        if self.data is None or not (self.data / name / "labels.csv").is_file():
            pytest.skip(f"real data set {name!r} not found under {self.data} (--crowdlab-data DIR)")
        return self.data / name


@pytest.fixture
def crowdlab_bench(request: pytest.FixtureRequest) -> Bench:
    """A :class:`Bench`: ``accuracy(aggregator, scenario)``, ``scores(...)``, ``assert_no_regression(...)``."""
    from experiments.bench import BASELINES, DATASETS

    option: Callable[[str], Any] = request.config.getoption
    data = Path(option("--crowdlab-data")) if option("--crowdlab-data") else (DATASETS if DATASETS.is_dir() else None)
    baselines = Path(option("--crowdlab-baselines") or request.config.rootpath / BASELINES)
    return Bench(data, baselines)
