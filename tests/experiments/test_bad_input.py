"""Every bad value a user can type at `crowdlab run` exits with status 2 and one line that names the key, with no
traceback, before any simulated money is spent, and leaves no empty run folder behind."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from sim import TaskDesign

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["task.n_items=300", "raters.n_raters=20"]

BAD = [
    # the foundation's (issue 2)
    ("campaign.redundancy=0", "campaign.redundancy must be an integer >= 1, got 0"),
    ("campaign.redundancy=50", "must be at most raters.n_raters = 20"),
    ("+raters.archetypes.robot=1", "raters.archetypes must be one of"),
    ("task.gold_fraction=1.5", "task.gold_fraction must be in [0.0, 1.0)"),
    ("campaign.budget=0.001", "campaign.budget = 0.001 is too small to buy one answer"),
    ("aggregators=[majority_vote,orakel]", "unknown aggregator 'orakel' (did you mean 'oracle'?); accepted values:"),
    # the reacting campaign's (issue 7)
    ("quality=[gold_blocking,blocking]", "unknown quality option 'blocking' (did you mean"),
    ("assignment=best_of assignment.n=0", "assignment.n must be an integer >= 1, got 0"),
    ("assignment=posterior assignment.threshold=2", "assignment.threshold must be in [0.0, 1.0], got 2.0"),
    ("assignment=posterior assignment.threshold=0.2", "is below 1 / task.n_classes"),
    ("assignment=posterior assignment.reopen=maybe", "assignment.reopen must be true or false"),
    ("assignment=delta_margin assignment.delta=0", "assignment.delta must be an integer >= 1, got 0"),
    ("assignment=delta_margin assignment.max_answers=1", "assignment.max_answers = 1 is below the 2 answers"),
    ("assignment=delta_margin assignment.max_answers=21", "assignment.max_answers = 21 exceeds the rater pool"),
    ("assignment=foo", "assignment: unknown option 'foo'; accepted values: active_pairs, adjacent_pairs,"),
    ("quality=[qualification] task.n_gold=5", "needs that many gold items, but task.n_gold = 5"),
    ("quality=[gold_blocking] task.gold_fraction=0", "quality.gold_blocking learns from gold answers"),
    ("quality=[gold_blocking] quality.gold_blocking.confidence=1", "quality.gold_blocking.confidence must be in"),
    ("quality=[gold_blocking] task.n_gold=2", "quality.gold_blocking.min_answers = 3 gold answers can never come"),
    ("quality=[calibration] quality.calibration.bias_shrink=1.5", "quality.calibration.bias_shrink must be in"),
    ("raters.quit_probability=-0.1", "raters.quit_probability must be in [0.0, 1.0]"),
    ("task.revised_fraction=0.2", "task.revised_complexity and task.revised_fraction need task.revision_hours"),
    ("campaign.visibility=foo", "campaign.visibility must be one of ['page', 'answer']"),
    # the platform's (issue 8)
    ("progress=maybe", "progress must be true, false or null"),
    ("campaign.redundency=5", "unknown key 'campaign.redundency'; did you mean 'campaign.redundancy'?"),
    ("raters.archetypes=5", "raters.archetypes must map archetype names to shares"),
    ("aggregators.dawid_skene.n_iter=-1", "aggregators.dawid_skene.n_iter must be an integer >= 0, got -1"),
    ("aggregators.dawid_skene.tol=-1", "aggregators.dawid_skene.tol must be >= 0, got -1"),
    ("aggregators.dawid_skene.smoothing=-0.5", "aggregators.dawid_skene.smoothing must be >= 0"),
    ("aggregators=[mace] aggregators.mace.method=gibbs", "aggregators.mace.method must be one of ['vb', 'em']"),
    ("aggregators=[mace] aggregators.mace.n_restarts=0", "aggregators.mace.n_restarts must be an integer >= 1"),
    ("aggregators=[kos]", "aggregators ['kos'] work on two classes only, but task.n_classes = 3"),
    ("campaign.training_minutes=120 campaign.horizon_hours=1", "campaign.training_minutes = 120 leaves no time"),
    ("task.gold_fraction=1", "task.gold_fraction must be in [0.0, 1.0)"),
    ("campaign.budget=3,000", "campaign.budget=3,000 is a sweep of several values"),
    ("campaign.redundancy=[1", "cannot read the overrides"),
    ("assignment.threshold=0.9", "options that have it: assignment=posterior"),
    ("+assignment.threshold=0.9", "assignment.threshold is not a setting of assignment (fixed); accepted keys"),
    ("raters.accuracy=0.7", "raters.accuracy = 0.7 sets the accuracy of condorcet raters, and there are none"),
    ("output.format=xlsx", "output.format must be one of ['parquet', 'csv']"),
    # found trying the command as a new user would
    ("raters.archetypes={honst: 1}", "raters.archetypes: unknown archetype 'honst' (did you mean 'honest'?)"),
    ("raters.archetypes.spammer=0.7 raters.archetypes.adversary=0.5", "these shares sum to 1.2"),
    ("raters.archetypes.spammer=0.3 raters.archetypes.honest=0 raters.archetypes.expert=0 "
     "raters.archetypes.adversary=0", "no other archetype has a share to fill the rest"),
    ("aggregators.glad.n_iter=5", "glad is not among the aggregators chosen (majority_vote, dawid_skene, oracle)"),
    ("aggregators=majority_vote,glad", "for one list of them write aggregators=[majority_vote,glad]"),
    ("hydra.launcher.ray.init.address=auto", "options that have it: hydra/launcher=ray"),
    ("+foo=1", "unknown key 'foo': + adds a key"),
    ("task.n_items=abc", "task.n_items"),
    ("campaign.budget=3,000", "for one number write campaign.budget=3000"),
    ("--cfg jobs", "cannot read the command line: argument --cfg/-c: invalid choice: 'jobs'"),
]  # fmt: skip


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "experiments.run", *args], cwd=cwd, capture_output=True, text=True, timeout=300,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "CI": "1"},
    )  # fmt: skip


@pytest.mark.parametrize(("override", "message"), BAD, ids=[override for override, _ in BAD])
def test_a_bad_value_exits_2_with_one_line_naming_the_key(tmp_path, override, message):
    run_dir = tmp_path / "run"
    done = run_cli(*SMALL, *override.split(), f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("crowdlab: configuration error")]
    assert len(errors) == 1 and not (run_dir.exists() and any(run_dir.iterdir()))


BAD_SWEEPS = [
    ("campaign.redundancy=3,0", "campaign.redundancy must be an integer >= 1, got 0"),
    ("assignment=fixed,foo", "assignment: unknown option 'foo'; accepted values: active_pairs, adjacent_pairs,"),
    ("aggregators=[majority_vote],[kos]", "aggregators ['kos'] work on two classes only"),
    ("task.gold_fraction=0.05,1", "task.gold_fraction must be in [0.0, 1.0)"),
    ("hydra.launcher.n_jobs=0", "hydra.launcher.n_jobs must be a positive integer or -1 (every core), got 0"),
    ("hydra.launcher.start_method=threads", "hydra.launcher.start_method must be one of fork, forkserver, spawn"),
    ("hydra.launcher.n_jobz=2", "unknown key 'hydra.launcher.n_jobz'; did you mean 'hydra.launcher.n_jobs'?"),
    ("hydra/launcher=rai", "hydra/launcher: unknown option 'rai'; accepted values: basic, joblib, pool, ray,"),
    ("hydra/launcher=joblib hydra.launcher.n_jobs=0", "hydra.launcher.n_jobs must be a nonzero integer"),
    ("campaign.redundancy=interval(1,5)", "the sweeper takes lists of values and range(start, stop, step)"),
    ("aggregators.glad.n_iter=-1 aggregators=[glad],[majority_vote]", "aggregators.glad.n_iter must be an integer"),
    # the first option of the glob (active_pairs) has no n: the first bad job is named
    ("assignment=glob(*) assignment.n=0", "assignment.n is not a setting of the option chosen; options that have it"),
]  # fmt: skip


@pytest.mark.parametrize(("override", "message"), BAD_SWEEPS, ids=[override for override, _ in BAD_SWEEPS])
def test_a_bad_value_anywhere_in_a_sweep_exits_2_before_any_job_runs(tmp_path, override, message):
    """Every swept value is checked up front (the others pinned to their first values): no job runs, nothing is
    spent, when the last value of a sweep is wrong."""
    sweep = tmp_path / "sweep"
    done = run_cli("-m", *SMALL, "seed=1,2", *override.split(), f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("crowdlab: configuration error")]
    assert len(errors) == 1 and not sweep.exists()


@pytest.mark.parametrize("values", ["0.3,1.0", "1.0,0.3"])
def test_a_sweep_of_archetype_shares_is_checked_in_any_order(tmp_path, values):
    """Each swept share is checked on the job's own config: 1.0 spammers is a valid job whatever comes first."""
    done = run_cli("-m", *SMALL, f"raters.archetypes.spammer={values}", "aggregators=[majority_vote]",
                   f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_flags_that_ask_for_two_things_exit_2():
    done = run_cli("-m", "--cfg=job", cwd=ROOT)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "give only one of --run, --multirun (-m), --cfg, --info; got --multirun, --cfg" in done.stderr


def test_a_launcher_whose_plugin_is_missing_names_the_extra_to_install(tmp_path):
    if importlib.util.find_spec("hydra_plugins.hydra_ray_launcher") is not None:
        pytest.skip("the Ray launcher is installed here")
    done = run_cli("-m", *SMALL, "seed=1,2", "hydra/launcher=ray", f"hydra.sweep.dir={tmp_path / 's'}", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "hydra/launcher=ray needs its plugin, which is not installed: pip install 'crowdlab[ray]'" in done.stderr


def test_a_bad_combination_stops_the_parallel_sweep_with_one_line(tmp_path):
    """Each value is fine on its own, one combination is not (training longer than the horizon): that job stops the
    sweep on the pool's workers with exit 2 and one line, and the jobs that finished are kept for the rerun."""
    sweep = tmp_path / "sweep"
    done = run_cli("-m", *SMALL, "aggregators=[majority_vote]", "campaign.training_minutes=0,120",
                   "campaign.horizon_hours=3,1", "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={sweep}",
                   cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("crowdlab: configuration error")]
    assert len(errors) == 1 and "campaign.training_minutes = 120 leaves no time" in errors[0]


def test_a_thousands_separator_in_a_sweep_is_warned_about(tmp_path):
    done = run_cli("-m", *SMALL, "campaign.budget=1,500", "aggregators=[majority_vote]",
                   f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "campaign.budget=1,500 sweeps ['1', '500']" in done.stderr


def test_whole_number_floats_are_accepted_as_integers():
    """`task.n_items=2e4` is 20000, in the CLI (Hydra reads it as a float) and in the Python API."""
    design = TaskDesign(n_items=2e4)  # type: ignore[arg-type]
    assert design.n_items == 20000 and isinstance(design.n_items, int)


def test_a_map_of_archetypes_is_the_whole_mix(tmp_path):
    """`raters.archetypes={condorcet: 1}` means only Condorcet raters, not a merge into the default mix."""
    done = run_cli(*SMALL, "raters.archetypes={condorcet: 1}", "raters.accuracy=0.7", "aggregators=[majority_vote]",
                   f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    import pandas as pd

    raters = pd.read_parquet(tmp_path / "run" / "raters.parquet")
    assert set(raters["archetype"]) == {"condorcet"}
