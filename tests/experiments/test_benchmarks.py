"""The benchmark scripts run end to end on small inputs and report what they claim (speed is never asserted)."""

from __future__ import annotations

import pandas as pd
import pytest

from experiments.benchmarks import aggregators


def test_categorical_benchmark_reports_every_method(tmp_path):
    output = tmp_path / "aggregators.csv"
    table = aggregators.main(["--n-tasks", "2000", "--n-workers", "100", "--repeats", "1", "--no-memory",
                              "--methods", "MajorityVote", "DawidSkene", "KOS", "--output", str(output)])  # fmt: skip
    # KOS is binary only: skipped on the default three classes, with a message
    assert list(table["method"]) == ["MajorityVote", "DawidSkene"]
    assert (table["seconds"] > 0).all() and table["accuracy"].between(0.6, 1.0).all()
    # worker accuracy U(0.55, 0.95), five answers: Dawid-Skene weighs workers and beats the plain vote
    assert table.set_index("method")["accuracy"].pipe(lambda a: a["DawidSkene"] > a["MajorityVote"])
    pd.testing.assert_frame_equal(pd.read_csv(output)[["method"]], table[["method"]])


def test_pairwise_benchmark_both_updates_reach_the_same_optimum(tmp_path):
    table = aggregators.main(["--pairwise", "--n-items", "50", "--n-comparisons", "5000", "--repeats", "1",
                              "--output", str(tmp_path / "bt.csv")])  # fmt: skip
    rows = table.set_index("method")
    newman, mm = rows.loc["BradleyTerry(method='newman')"], rows.loc["BradleyTerry(method='mm')"]
    assert newman["log_likelihood"] == pytest.approx(mm["log_likelihood"], rel=1e-6)
    assert newman["iterations"] < mm["iterations"]
    assert newman["spearman"] > 0.95
    assert (tmp_path / "bt.csv").exists()


def test_engine_benchmark_runs_every_campaign_and_prints_the_line(capsys):
    from experiments.benchmarks import engine

    rates = engine.main(["--items", "2000", "--redundancy", "3", "--raters", "50", "--repeats", "1"])
    assert {"fixed", "delta_margin", "posterior", "bare"} <= set(rates) and all(v > 0 for v in rates.values())
    last = capsys.readouterr().out.strip().splitlines()[-1]
    keys = [field.split("=")[0] for field in last.split()]
    assert keys == ["answers_per_second", "adaptive_answers_per_second", "posterior_answers_per_second",
                    "bare_simpy_per_second", "ratio", "peak_mib"]  # fmt: skip


def test_sweep_benchmark_runs_both_halves_and_prints_the_line(capsys):
    """Small sizes: the end-to-end run writes as many answers as the engine gives on the same campaign (the script
    checks it), every job of both sweeps finishes, and the last line has the fields the closing notes quote."""
    from experiments.benchmarks import sweep

    figures = sweep.main(["--items", "2000", "--raters", "50", "--jobs", "4", "--job-items", "300", "--no-joblib"])
    assert all(figures[key] > 0 for key in ("end_to_end", "engine", "serial", "parallel", "speedup"))
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert [field.split("=")[0] for field in last.split()] == [
        "end_to_end_answers_per_second", "engine_answers_per_second", "sweep_serial_s", "sweep_parallel_s", "speedup",
        "per_job_overhead_s",
    ]  # fmt: skip


def test_plan_benchmark_races_72_candidates_and_prints_the_line(capsys):
    from experiments.benchmarks import plan

    assert plan.main(["--items", "1000", "--workers", "1"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    figures = dict(item.split("=") for item in last.split())
    assert figures["candidates"] == "72" and figures["designs"] == "24" and figures["grid_campaigns"] == "576"
    assert 72 <= int(figures["simulated_campaigns"]) <= 576
