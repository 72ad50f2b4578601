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
results/baselines under the folder pytest runs from, where ``crowdlab bench`` run from there writes them). Numeric and
pairwise aggregators: ``metric(aggregator, scenario, suite="numeric")`` (MAE by default) and
``assert_no_regression(..., suite="numeric")``.
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

    def contender(self, aggregator: Any, suite: str = "standard") -> Any:
        """A :class:`experiments.bench.Contender` for a spec string (config names of ``suite``'s group), a class or
        a factory of instances."""
        from experiments.bench import Contender, resolve

        if isinstance(aggregator, str):
            return resolve(aggregator, self._suite(suite).group)
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

        from experiments.bench import real_rows, simulated_rows, summarise

        chosen = self._suite(suite)
        contender = self.contender(aggregator, suite)
        unknown = [name for name in scenarios if not name.startswith("real:") and name not in chosen.scenarios]
        if unknown:
            raise ValueError(f"unknown scenario {unknown[0]!r} of the {suite} suite; accepted values: "
                             f"{', '.join(chosen.scenarios)}, real:NAME")  # fmt: skip
        simulated = {name: chosen.scenarios[name] for name in scenarios if not name.startswith("real:")}
        rows = simulated_rows([contender], simulated, replicates, seed, chosen) if simulated else []
        real = [self._dataset(s.removeprefix("real:")) for s in scenarios if s.startswith("real:")]
        if real:
            found = real_rows([contender], real[0].parent, seed, {folder.name for folder in real}, chosen.kind)
            other = sorted({f.name for f in real} - {str(r["scenario"]).removeprefix("real:") for r in found})
            if other:
                raise ValueError(f"real data set {other[0]!r} is not of the {suite} suite's kind ({chosen.kind}); "
                                 "e.g. emotion's ratings are for suite='numeric'")  # fmt: skip
            rows += found
        return summarise(pd.DataFrame(rows), chosen)

    def metric(
        self,
        aggregator: Any,
        scenario: str,
        metric: str | None = None,
        replicates: int = 3,
        seed: int = 0,
        suite: str = "standard",
    ) -> float:
        """Mean of ``metric`` (default: the suite's leading one: accuracy, MAE or Kendall's tau) of ``aggregator``
        over the replicates of ``scenario`` (or on a ``real:NAME`` set)."""
        chosen = self._suite(suite)
        metric = metric or chosen.primary
        if metric not in chosen.metrics:
            raise ValueError(f"unknown metric {metric!r} of the {suite} suite; accepted values: "
                             f"{', '.join(chosen.metrics)}")  # fmt: skip
        table = self.scores(aggregator, [scenario], replicates, seed, suite)
        contender = self.contender(aggregator, suite).name
        row = table[(table["aggregator"] == contender) & (table["metric"] == metric)]
        if row.empty or row["mean"].isna().all():
            pytest.fail(f"{contender} gave no {metric} in {scenario} (it raised; see the captured stderr)")
        return float(row["mean"].iloc[0])

    def accuracy(self, aggregator: Any, scenario: str, replicates: int = 3, seed: int = 0) -> float:
        """Mean accuracy of a categorical ``aggregator`` over the replicates of ``scenario`` (or a ``real:NAME``
        set): :meth:`metric` of the standard suite."""
        return self.metric(aggregator, scenario, "accuracy", replicates, seed)

    def assert_no_regression(
        self,
        aggregator: Any,
        baseline: str,
        scenarios: Sequence[str] | None = None,
        seed: int = 0,
        time_ratio: float = 2.0,
        suite: str = "standard",
    ) -> None:
        """Fail, naming the scenario, the metric and both values, when ``aggregator`` is worse than the saved
        baseline ``baseline`` (the suite's leading metric beyond its 95% interval, fit time beyond ``time_ratio``
        times) in any of ``scenarios`` (default: all the baseline holds), rerun with the baseline's number of
        replicates."""
        from experiments.bench import load_baseline, regressions
        from sim.validation import ConfigError

        chosen = self._suite(suite)
        try:
            saved_table = load_baseline(self.baselines, baseline, chosen, "baseline ")
        except ConfigError as error:
            pytest.fail(f"{error}; baselines are read from {self.baselines} (--crowdlab-baselines DIR)")
        held = list(dict.fromkeys(saved_table["scenario"]))
        wanted = list(scenarios) if scenarios is not None else held
        missing = [s for s in wanted if s not in held]
        if missing:
            pytest.fail(f"baseline {baseline!r} has no scenario {missing[0]!r}; it holds: {', '.join(held)}")
        n = saved_table[(saved_table["metric"] == chosen.primary) & saved_table["scenario"].isin(wanted)]["n"]
        table = self.scores(aggregator, wanted, replicates=int(n.max()), seed=seed, suite=suite)
        found = regressions(table, saved_table[saved_table["scenario"].isin(wanted)], time_ratio, chosen)
        if found:
            pytest.fail("regression against baseline " + repr(baseline) + ":\n" + "\n".join(found))

    @staticmethod
    def _suite(name: str) -> Any:
        from experiments.bench import SUITES

        if name not in SUITES:
            raise ValueError(f"unknown suite {name!r}; accepted values: {', '.join(SUITES)}")
        return SUITES[name]

    def _dataset(self, name: str) -> Path:
        if self.data is None or not (self.data / name / "labels.csv").is_file():
            pytest.skip(f"real data set {name!r} not found under {self.data} (--crowdlab-data DIR)")
        return self.data / name


@pytest.fixture
def crowdlab_bench(request: pytest.FixtureRequest) -> Bench:
    """A :class:`Bench`: ``accuracy(aggregator, scenario)``, ``metric(...)``, ``scores(...)``,
    ``assert_no_regression(...)``."""
    from experiments.bench import BASELINES, DATASETS

    option: Callable[[str], Any] = request.config.getoption
    data = Path(option("--crowdlab-data")) if option("--crowdlab-data") else (DATASETS if DATASETS.is_dir() else None)
    # where crowdlab bench --save-baseline writes when run from the same folder as pytest
    baselines = Path(option("--crowdlab-baselines") or request.config.invocation_params.dir / BASELINES)
    return Bench(data, baselines)
