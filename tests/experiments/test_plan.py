"""crowdlab plan: the Condorcet closed form, a budget that cannot buy the target, the race's savings, determinism
across worker counts, the Pareto front's definition, and a clear error for every bad setting."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

from experiments.plan import pareto_front

ROOT = Path(__file__).resolve().parents[2]
CONDORCET = ["experiment=condorcet", "task.n_items=10000", "plan.target_accuracy=0.95",
             "plan.search.campaign.redundancy=range(1,26)", "plan.search.aggregators=[majority_vote]"]  # fmt: skip


def plan_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "experiments.plan", *args], cwd=cwd, capture_output=True, text=True, timeout=600,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "CI": "1"},
    )  # fmt: skip


def majority_accuracy(p: float, r: int) -> float:
    """Condorcet's jury theorem on two classes: the majority of r independent answers is right (a tie is a coin)."""
    return float(binom.sf(r // 2, r, p) + (0.5 * binom.pmf(r // 2, r, p) if r % 2 == 0 else 0.0))


@pytest.mark.slow  # about a minute each on 2 cores: CI's slow step runs them
def test_condorcet_raters_of_accuracy_0_7_need_redundancy_17_for_0_95(tmp_path):
    """The binomial closed form: redundancy 15 gives 0.94999, 17 gives 0.9597; the plan is 17 (at 10,000 items one
    campaign's accuracy varies by 0.002, so 17 clears 0.95 at the lower bound of its prediction interval and 15
    cannot), its interval holds the closed form, and the race simulates far fewer campaigns than the grid."""
    assert majority_accuracy(0.7, 15) < 0.95 < majority_accuracy(0.7, 17)
    done = plan_cli(*CONDORCET, f"plan.out={tmp_path / 'plan'}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    plan = json.loads((tmp_path / "plan" / "plan.json").read_text())
    assert plan["design"] == {"campaign.redundancy": 17, "aggregators": ["majority_vote"]}
    assert plan["meets_target"] is True
    assert plan["lower_bound"] >= 0.95 and plan["lower_bound"] <= majority_accuracy(0.7, 17) <= plan["upper_bound"]
    assert plan["n_simulated_campaigns"] <= plan["n_grid_campaigns"] / 2
    assert done.stdout.splitlines()[0].startswith("Plan: campaign.redundancy=17 with majority_vote: accuracy 0.96")
    candidates = pd.read_csv(tmp_path / "plan" / "candidates.csv")
    assert len(candidates) == 25 and set(candidates["status"]) <= {"meets", "fails", "undecided", "dearer"}
    for name in ("pareto.csv", "pareto.png", "report.md"):
        assert (tmp_path / "plan" / name).stat().st_size > 0


@pytest.mark.slow  # about a minute each on 2 cores: CI's slow step runs them
def test_a_budget_that_cannot_buy_the_target_says_so_and_what_it_would_take(tmp_path):
    """10,000 items at 0.05 an answer: 5,000 buys redundancy 10 at most, and 17 is needed."""
    done = plan_cli(*CONDORCET, "plan.max_budget=5000", f"plan.out={tmp_path / 'plan'}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    plan = json.loads((tmp_path / "plan" / "plan.json").read_text())
    assert plan["meets_target"] is False and plan["cost"] <= 5000 + 1e-6
    lines = done.stdout.splitlines()
    assert lines[0].startswith("No design meets the target 0.95")
    assert "What it would take: a budget of about 8,500 instead of 5,000 (campaign.redundancy=17" in lines[1]


def test_the_race_without_caps_reuses_campaigns_and_runs_each_once(tmp_path):
    """Nothing meets the target under the budget: the designs the budget did not stop are reused in the second race
    (the same campaigns), and no (design, replicate) is simulated twice."""
    from experiments.checks import compose_checked
    from experiments.plan import build_designs, make_plan, plan_settings, read_command_line

    overrides, command_line = read_command_line([
        "task.n_items=300", "raters.n_raters=20", "plan.target_accuracy=0.82", "plan.max_budget=100",
        "plan.search.campaign.redundancy=[3,5,7]", "plan.search.aggregators=[majority_vote]", "plan.n_jobs=1",
    ])  # fmt: skip
    base = compose_checked(overrides)
    settings = plan_settings(base.get("plan"), command_line)
    plan = make_plan(overrides, settings, base)
    assert plan.uncapped is not None
    assert (plan.uncapped["replicates"] <= settings.max_replicates).all()
    designs, _ = build_designs(overrides, settings, base)
    assert plan.simulated <= 2 * len(designs) * settings.max_replicates


def test_the_same_plan_on_one_or_two_workers_is_identical(tmp_path):
    small = ["experiment=condorcet", "task.n_items=1000", "plan.target_accuracy=0.9",
             "plan.search.campaign.redundancy=[1,3,5,7,9,11]",
             "plan.search.aggregators=[majority_vote,dawid_skene]"]  # fmt: skip
    for n_jobs in (1, 2):
        done = plan_cli(*small, f"plan.n_jobs={n_jobs}", f"plan.out={tmp_path / str(n_jobs)}", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    one, two = (pd.read_csv(tmp_path / str(n) / "candidates.csv") for n in (1, 2))
    pd.testing.assert_frame_equal(one, two, check_exact=True)


def test_the_pareto_front_is_what_nothing_beats_on_cost_accuracy_and_duration():
    table = pd.DataFrame({
        "cost": [1.0, 2.0, 2.0, 3.0, 3.0],
        "accuracy": [0.7, 0.8, 0.75, 0.8, 0.9],
        "duration_hours": [5.0, 5.0, 5.0, 4.0, 6.0],
    })  # fmt: skip
    # 2 is beaten by 1 (same cost and time, more accurate); 3 costs more than 1 at the same accuracy but is faster
    assert pareto_front(table).tolist() == [True, True, False, True, True]
    with_nan = table.assign(cost=[1.0, 2.0, np.nan, 3.0, 3.0])
    assert not pareto_front(with_nan)[2]  # a candidate without an estimate is on no front
    rng = np.random.default_rng(0)
    random = pd.DataFrame(rng.random((40, 3)), columns=["cost", "accuracy", "duration_hours"])
    front = pareto_front(random)
    for i in np.flatnonzero(front):  # no point dominates a point of the front
        c, a, d = random.iloc[i]
        no_worse = (random["cost"] <= c) & (random["accuracy"] >= a) & (random["duration_hours"] <= d)
        better = (random["cost"] < c) | (random["accuracy"] > a) | (random["duration_hours"] < d)
        assert not (no_worse & better).any()


BAD = [
    ("plan.target_accuracy=1.2", "plan.target_accuracy must be in (0, 1), got 1.2"),
    ("plan.target_accuracy=0", "plan.target_accuracy must be in (0, 1), got 0"),
    ("plan.confidence=95", "plan.confidence must be in (0, 1), got 95"),
    ("plan.search={}", "plan.search is empty; accepted values: a map from config key to candidate values"),
    ("plan.search.campaign.redundency=[1,3]", "plan.search: unknown key 'campaign.redundency'; did you mean "
     "'campaign.redundancy'?"),
    ("plan.targt=0.9", "unknown key 'plan.targt'; accepted keys: plan.target_accuracy,"),
    ("plan.search.aggregators=[majority_vote,oracle]", "plan.search.aggregators: oracle reads the truth"),
    ("plan.search.campaign.redundancy=[1,0]", "campaign.redundancy must be an integer >= 1, got 0 (in the design "
     "campaign.redundancy=0)"),
    ("plan.max_replicates=2 plan.min_replicates=3", "plan.max_replicates = 2 is below plan.min_replicates = 3"),
    ("plan.max_budget=-5", "plan.max_budget must be a positive number or null, got -5"),
    ("plan.search.seed=[0,1]", "plan.search.seed: a plan searches the campaign's design"),
    ("plan.search.campaign.training_minutes=[0,0]", "plan.search.campaign.training_minutes lists 0 more than once"),
    ("plan.search.aggregators=[majority_vot]", "plan.search.aggregators: unknown aggregator 'majority_vot'"),
    ("plan.search=5", "plan.search must be a map from config key to candidate values, got 5"),
]  # fmt: skip


@pytest.mark.parametrize(("override", "message"), BAD, ids=[override for override, _ in BAD])
def test_a_bad_plan_setting_exits_2_with_one_line_naming_the_key(tmp_path, override, message):
    base = ["experiment=condorcet", "task.n_items=300", "plan.target_accuracy=0.9",
            "plan.search.campaign.redundancy=[1,3]"]  # fmt: skip
    done = plan_cli(*base, *override.split(), f"plan.out={tmp_path / 'plan'}", cwd=tmp_path)
    assert done.returncode == 2, done.stderr + done.stdout
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "plan").exists()


def test_a_deadline_too_short_for_any_answer_is_a_plan_that_says_so(tmp_path):
    """Next to nothing is collected before the deadline (none at redundancy 1): the candidates score about 0, with
    unlabeled items counted as wrong, and no traceback."""
    done = plan_cli("task.n_items=200", "plan.target_accuracy=0.8", "plan.search.campaign.redundancy=[1,3]",
                    "plan.deadline_hours=0.001", f"plan.out={tmp_path / 'plan'}", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("No design meets the target 0.8")
    candidates = pd.read_csv(tmp_path / "plan" / "candidates.csv")
    assert (candidates["accuracy"] < 0.01).all() and (candidates["coverage"] < 0.01).all()


def test_a_plan_out_that_is_a_file_is_refused_before_the_race(tmp_path):
    (tmp_path / "afile").write_text("x")
    done = plan_cli(*CONDORCET[:3], "plan.search.campaign.redundancy=[1]", f"plan.out={tmp_path / 'afile'}",
                    cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2 and "is a file; accepted values: a folder" in done.stderr


def test_a_plan_needs_a_target(tmp_path):
    done = plan_cli("plan.search.campaign.redundancy=[1,3]", cwd=tmp_path)
    assert done.returncode == 2 and "plan.target_accuracy is required" in done.stderr
