"""The Hydra experiment: every config option composes and builds; a run writes its tables; a multirun gives the same
rows as the same runs one by one; collect turns a sweep into a tidy table; bad config gets a clear error."""

from __future__ import annotations

import io
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf

from experiments.collect import load_metrics, summarise
from experiments.downstream import Downstream
from experiments.run import build_design, run
from experiments.storage import atomic_write, read_table
from sim import Campaign, RaterPopulation, TaskDesign
from sim.features import FeatureSource
from sim.validation import ConfigError
from strategies.assignment import AssignmentPolicy
from strategies.quality import QualityControl

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "conf"
SMALL = ["task.n_items=300", "raters.n_raters=20"]


def composed(overrides: list[str]):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


@pytest.mark.parametrize("group", ["task", "raters", "campaign", "assignment", "quality", "aggregators", "experiment"])
def test_every_option_composes_and_builds(group):
    for option in sorted((CONF / group).glob("*.yaml")):
        override = f"{group}=[{option.stem}]" if group in ("aggregators", "quality") else f"{group}={option.stem}"
        cfg = composed([override])
        task, raters, campaign, assignment, quality = build_design(cfg)
        assert isinstance(task, TaskDesign) and isinstance(raters, RaterPopulation) and isinstance(campaign, Campaign)
        assert isinstance(assignment, AssignmentPolicy)
        assert all(isinstance(control, QualityControl) for control in quality)
        for node in cfg.aggregators.values():
            assert hasattr(instantiate(node), "fit")


@pytest.mark.parametrize(("group", "kind"), [("features", FeatureSource), ("downstream", Downstream)])
def test_every_optional_option_composes_and_builds(group, kind):
    """``none`` sets the group to null; every other option builds its object."""
    assert composed([f"{group}=none"])[group] is None
    for option in sorted((CONF / group).glob("*.yaml")):
        if option.stem != "none":
            assert isinstance(instantiate(composed([f"{group}={option.stem}"])[group]), kind)


def test_run_writes_every_table_and_a_tidy_metrics_row_per_aggregator_and_replicate(tmp_path):
    cfg = composed([*SMALL, "n_replicates=2", "aggregators=[majority_vote,dawid_skene]"])
    metrics = run(cfg, tmp_path)
    for name in ("metrics.csv", "metrics.parquet", "answers.parquet", "truth.parquet", "items.parquet",
                 "raters.parquet", "ledger.json", "config.yaml"):  # fmt: skip
        assert (tmp_path / name).is_file(), name
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary files left behind
    written = pd.read_csv(tmp_path / "metrics.csv")
    assert len(written) == 4 and set(written["aggregator"]) == {"majority_vote", "dawid_skene"}
    required = {"aggregator", "accuracy", "n_items", "answers_per_item", "spend", "duration_hours", "seed", "replicate"}
    assert required <= set(written.columns)
    assert {"campaign.redundancy", "task.guideline_complexity", "raters.n_raters", "task.gold_fraction"} <= set(
        written.columns
    )
    assert written["accuracy"].between(0, 1).all()
    pd.testing.assert_frame_equal(written[["aggregator", "accuracy"]], metrics[["aggregator", "accuracy"]])
    answers = read_table(tmp_path, "answers")
    assert {"task", "worker", "label", "is_gold", "t_start", "t_end", "cost", "p_correct", "replicate"} <= set(
        answers.columns
    )
    assert len(json.loads((tmp_path / "ledger.json").read_text())) == 2
    assert OmegaConf.load(tmp_path / "config.yaml").task.n_items == 300


@pytest.mark.parametrize("group", ["pairwise_aggregators", "numeric_aggregators"])
def test_every_pairwise_and_numeric_aggregator_composes_and_builds(group):
    for option in sorted((CONF / group).glob("*.yaml")):
        cfg = composed([f"{group}=[{option.stem}]"])
        assert hasattr(instantiate(cfg[group][option.stem]), "fit")


def test_a_pairwise_run_scores_the_ranking_and_a_reward_model_per_pairwise_aggregator(tmp_path):
    cfg = composed(["task.kind=pairwise", "task.n_items=120", "raters.n_raters=20", "assignment=active_pairs",
                    "assignment.comparisons_per_item=8", "raters.position_bias=0.5",
                    "pairwise_aggregators=[bradley_terry,position_bias_bradley_terry]"])  # fmt: skip
    metrics = run(cfg, tmp_path)
    assert list(metrics["aggregator"]) == ["bradley_terry", "position_bias_bradley_terry"]  # not the label ones
    row = metrics.iloc[0]
    assert row["comparisons_per_item"] == 8.0 and row["n_items"] == 120
    for column in ("kendall_tau", "spearman", "top10_recall", "pairwise_accuracy", "reward_accuracy",
                   "reward_accuracy_raw", "reward_accuracy_true"):  # fmt: skip
        assert metrics[column].between(-1, 1).all(), column
    assert metrics["kendall_tau"].gt(0.3).all() and metrics["reward_accuracy"].gt(0.6).all()
    assert metrics["position_bias"].iloc[1] > 0 and pd.isna(metrics["position_bias"].iloc[0])
    answers, items = read_table(tmp_path, "answers"), read_table(tmp_path, "items")
    assert {"worker", "left", "right", "label", "choice"} <= set(answers.columns)
    assert {"item", "score", "length"} <= set(items.columns)


def test_a_rating_run_scores_the_errors_of_each_numeric_aggregator(tmp_path):
    cfg = composed(["task.kind=rating", "task.n_items=200", "raters.n_raters=20", "campaign.redundancy=3",
                    "numeric_aggregators=[mean,median]"])  # fmt: skip
    metrics = run(cfg, tmp_path)
    assert list(metrics["aggregator"]) == ["mean", "median"]
    assert metrics["mae"].between(0, 4).all() and (metrics["rmse"] >= metrics["mae"]).all()
    assert read_table(tmp_path, "answers")["label"].between(1, 5).all()
    assert {"value", "level"} <= set(read_table(tmp_path, "items").columns)


def test_condorcet_preset_gives_every_item_its_full_redundancy(tmp_path):
    cfg = composed(["experiment=condorcet", "raters.accuracy=0.6", "task.n_items=2000", "campaign.redundancy=5"])
    assert list(cfg.aggregators) == ["majority_vote"]
    metrics = run(cfg, tmp_path)
    row = metrics.iloc[0]
    assert row["answers_per_item"] == 5.0 and row["stop_reason"] == "complete"
    raters = read_table(tmp_path, "raters")
    assert set(raters["archetype"]) == {"condorcet"} and (raters["condorcet_accuracy"] == 0.6).all()
    items = read_table(tmp_path, "items")
    assert (items["difficulty"] == 0).all() and not items["is_gold"].any()


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "experiments.run", *args], cwd=cwd, capture_output=True, text=True, timeout=300,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "CI": "1"},
    )  # fmt: skip


def test_multirun_matches_single_runs_and_collects_into_a_tidy_table(tmp_path):
    sweep = tmp_path / "sweep"
    done = _cli("-m", *SMALL, "campaign.redundancy=1,3", "task.guideline_complexity=0,1", f"hydra.sweep.dir={sweep}",
                "aggregators=[majority_vote,dawid_skene]", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    swept = load_metrics(sweep)
    assert len(swept) == 8
    exclude = ["fit_seconds", "run_dir"]
    for redundancy in (1, 3):
        for complexity in (0, 1):
            design = [f"campaign.redundancy={redundancy}", f"task.guideline_complexity={complexity}",
                      "aggregators=[majority_vote,dawid_skene]"]  # fmt: skip
            single = pd.read_csv(io.StringIO(run(composed([*SMALL, *design])).to_csv(index=False)))  # as written
            chosen = (swept["campaign.redundancy"] == redundancy) & (swept["task.guideline_complexity"] == complexity)
            rows = swept[chosen]
            rows = rows.drop(columns=exclude).reset_index(drop=True)
            pd.testing.assert_frame_equal(rows, single[rows.columns], check_dtype=False, check_exact=True)
    summary = summarise(swept)
    accuracy = summary[summary["metric"] == "accuracy"]
    assert len(accuracy) == 8  # 2 redundancies x 2 complexities x 2 aggregators
    assert {"campaign.redundancy", "task.guideline_complexity", "aggregator", "mean", "ci95_low", "ci95_high"} <= set(
        summary.columns
    )
    collected = subprocess.run([sys.executable, "-m", "experiments.collect", str(sweep)], capture_output=True,
                               text=True, cwd=ROOT)  # fmt: skip
    assert collected.returncode == 0 and (sweep / "summary.csv").is_file(), collected.stderr
    assert (sweep / "accuracy.png").stat().st_size > 1000 and (sweep / "spend.png").is_file()


def test_confidence_interval_is_student_t_over_replicates():
    metrics = pd.DataFrame({"aggregator": ["mv"] * 4, "accuracy": [0.7, 0.8, 0.75, 0.85], "campaign.redundancy": 3})
    row = summarise(metrics).set_index("metric").loc["accuracy"]
    half = 3.182446305284263 * pd.Series([0.7, 0.8, 0.75, 0.85]).std() / 2  # t(0.975, 3) * sd / sqrt(4)
    assert row["mean"] == pytest.approx(0.775) and row["ci95_high"] - row["mean"] == pytest.approx(half)


def test_an_errors_interval_stays_at_or_above_zero_and_a_correlations_within_minus_one_and_one():
    metrics = pd.DataFrame({"aggregator": ["mean"] * 2, "mae": [0.1, 0.9], "kendall_tau": [-0.9, 0.9]})
    summary = summarise(metrics).set_index("metric")
    assert summary.loc["mae", "ci95_low"] == 0.0 and summary.loc["mae", "ci95_high"] > 1.0  # errors have no top
    assert summary.loc["kendall_tau", "ci95_low"] == -1.0 and summary.loc["kendall_tau", "ci95_high"] == 1.0


def test_atomic_write_leaves_nothing_when_interrupted(tmp_path):
    target = tmp_path / "metrics.csv"
    target.write_text("finished before\n")

    def crash(file):
        file.write("half a tab")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, crash)
    assert target.read_text() == "finished before\n"
    assert list(tmp_path.iterdir()) == [target]


PARALLEL = {
    "pool": ["hydra.launcher.n_jobs=2"],  # the default launcher: forked workers, many jobs each
    "pool-spawn": ["hydra.launcher.n_jobs=2", "hydra.launcher.start_method=spawn"],  # as on macOS and Windows
    "joblib": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
}


@pytest.mark.parametrize("launcher", PARALLEL.values(), ids=PARALLEL.keys())
def test_parallel_sweep_gives_the_same_rows_as_a_serial_one(tmp_path, launcher):
    """Determinism under parallel sweeps: worker processes produce exactly the rows of Hydra's basic launcher."""
    sweep = [*SMALL, "campaign.redundancy=1,3", "seed=0,1", "aggregators=[majority_vote,dawid_skene]"]
    serial = _cli("-m", *sweep, "hydra/launcher=basic", f"hydra.sweep.dir={tmp_path / 'serial'}", cwd=tmp_path)
    parallel = _cli("-m", *sweep, *launcher, f"hydra.sweep.dir={tmp_path / 'parallel'}", cwd=tmp_path)
    assert serial.returncode == 0 and parallel.returncode == 0, serial.stderr + parallel.stderr
    columns = lambda table: table.drop(columns=["fit_seconds"]).sort_values(["run_dir", "aggregator"])  # noqa: E731
    serial_rows, parallel_rows = load_metrics(tmp_path / "serial"), load_metrics(tmp_path / "parallel")
    assert len(serial_rows) == 8
    pd.testing.assert_frame_equal(
        columns(serial_rows).reset_index(drop=True), columns(parallel_rows).reset_index(drop=True), check_exact=True
    )
    for job in range(4):  # Hydra's own record of each job, as the basic launcher writes it
        assert (tmp_path / "parallel" / str(job) / ".hydra" / "overrides.yaml").read_text() == (
            tmp_path / "serial" / str(job) / ".hydra" / "overrides.yaml"
        ).read_text()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers die with their parent on Linux")
def test_killing_the_parent_of_a_parallel_sweep_leaves_no_worker_running(tmp_path):
    """SIGKILL to the command alone (not its process group): its pool workers die with it instead of running on
    and writing into a sweep that the user resumes."""
    sweep = tmp_path / "sweep"
    process = _start_sweep(sweep, tmp_path)
    deadline = time.monotonic() + 120
    while len(list(sweep.rglob("metrics.csv"))) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    session = os.getsid(process.pid)
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=60)

    def in_session() -> list[int]:
        alive = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:  # the process ended meanwhile
                    continue
                if int(fields[3]) == session and fields[0] != "Z":  # field 6 of stat: the session id
                    alive.append(int(entry.name))
        return alive

    deadline = time.monotonic() + 10
    while in_session() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert in_session() == []


def test_gold_majority_vote_gets_the_gold_and_needs_some():
    """GoldMajorityVote is fitted on regular plus gold answers with the gold labels; without gold it is a config
    error naming task.gold_fraction."""
    metrics = run(composed([*SMALL, "aggregators=[gold_majority_vote,majority_vote]", "task.gold_fraction=0.2"]))
    accuracy = metrics.set_index("aggregator")["accuracy"]
    assert 0.5 < accuracy["gold_majority_vote"] <= 1.0
    with pytest.raises(ConfigError, match=r"task.gold_fraction is 0; accepted values: task.gold_fraction in \(0, 1\]"):
        run(composed([*SMALL, "aggregators=[gold_majority_vote]", "task.gold_fraction=0"]))


def test_written_files_follow_the_umask(tmp_path):
    """Shared result folders stay readable: files get 0666 minus the umask, not mkstemp's private 0600."""
    old = os.umask(0o022)
    try:
        path = atomic_write(tmp_path / "table.csv", lambda file: file.write("a\n"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_collect_groups_by_option_not_by_the_hyperparameters_it_implies():
    """A sweep over assignment=fixed,delta_margin,posterior: max_answers (absent, 15, 7) follows the option and is
    no design column; a swept null budget stays a design of its own rather than vanishing."""
    metrics = pd.DataFrame({
        "aggregator": ["mv"] * 6,
        "accuracy": [0.7, 0.71, 0.8, 0.81, 0.82, 0.83],
        "assignment": ["fixed", "fixed", "delta_margin", "delta_margin", "posterior", "posterior"],
        "assignment.max_answers": [None, None, 15, 15, 7, 7],
        "campaign.budget": [None, 562.5, None, 562.5, None, 562.5],
    })  # fmt: skip
    from experiments.collect import design_columns

    assert design_columns(metrics) == ["assignment", "campaign.budget"]
    summary = summarise(metrics)
    assert len(summary[summary["metric"] == "accuracy"]) == 6
    assert set(summary["campaign.budget"].astype(str)) == {"null", "562.5"}


@pytest.mark.parametrize("preset", sorted(path.stem for path in (CONF / "experiment").glob("*.yaml")))
def test_every_preset_runs_a_one_job_sweep(tmp_path, preset):
    """Each preset's own sweep, pinned to the first value of every swept key: a misspelt key or a value that does
    not build fails here."""
    params = OmegaConf.load(CONF / "experiment" / f"{preset}.yaml").get("hydra", {}).get("sweeper", {}).get("params")
    pinned = [f"{key}={str(values).split(',')[0]}" for key, values in (params or {}).items()]
    done = _cli("-m", f"experiment={preset}", *pinned, "task.n_items=200", "n_replicates=1",
                f"hydra.sweep.dir={tmp_path}", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(list(tmp_path.rglob("metrics.csv"))) == 1


def test_parquet_and_csv_hold_the_same_tables(tmp_path):
    """output.format=csv writes every table as CSV; read back, both formats give the same values."""
    overrides = [*SMALL, "aggregators=[majority_vote]"]
    run(composed([*overrides, "output.format=parquet"]), tmp_path / "parquet")
    run(composed([*overrides, "output.format=csv"]), tmp_path / "csv")
    assert not list((tmp_path / "csv").glob("*.parquet"))
    for name in ("answers", "truth", "items", "raters", "metrics"):
        parquet, csv = read_table(tmp_path / "parquet", name), read_table(tmp_path / "csv", name)
        timing = [column for column in parquet.columns if column == "fit_seconds"]  # measured, not simulated
        same = [table.drop(columns=timing).astype(object) for table in (parquet, csv)]
        same = [table.where(table.notna(), None) for table in same]  # an empty cell is None in one, NaN in the other
        pd.testing.assert_frame_equal(*same, check_dtype=False)
    with pytest.raises(ConfigError, match=r"output.format must be one of \['parquet', 'csv'\], got 'xlsx'"):
        run(composed([*overrides, "output.format=xlsx"]), tmp_path / "bad")


def _start_sweep(sweep: Path, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "experiments.run", "-m", "task.n_items=3000", "raters.n_raters=30",
         "aggregators=[majority_vote]", "seed=1,2,3,4,5,6", f"hydra.sweep.dir={sweep}"],
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "CI": "1"},
    )  # fmt: skip


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_a_killed_sweep_resumes_where_it_stopped(tmp_path, how):
    """Kill a six-job sweep after two jobs finished; the same command then runs only the unfinished jobs, leaves no
    temporary file, and gives exactly the rows of an uninterrupted sweep. SIGINT ends with one line, no traceback."""
    sweep = tmp_path / "sweep"
    process = _start_sweep(sweep, tmp_path)
    deadline = time.monotonic() + 120
    while len(list(sweep.rglob("metrics.csv"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, how)
    _, stderr = process.communicate(timeout=60)
    finished_before = {path: path.stat().st_mtime_ns for path in sweep.rglob("metrics.csv")}
    assert 2 <= len(finished_before) < 6
    if how == signal.SIGINT:
        assert "Traceback" not in stderr and "interrupted; finished runs are kept" in stderr
    resumed = _start_sweep(sweep, tmp_path)
    stdout, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr
    assert {path: path.stat().st_mtime_ns for path in finished_before} == finished_before  # not run again
    assert stdout.count("complete already with the same config, not run again") == len(finished_before)
    assert f"6 jobs: {len(finished_before)} were complete already, {6 - len(finished_before)} ran" in stdout
    assert not list(sweep.rglob(".*.tmp"))
    whole = tmp_path / "whole"
    assert _start_sweep(whole, tmp_path).communicate(timeout=300) is not None
    columns = lambda table: table.drop(columns=["fit_seconds"]).sort_values("run_dir").reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(columns(load_metrics(sweep)), columns(load_metrics(whole)), check_exact=True)


def test_collect_warns_about_unfinished_jobs_and_strict_fails(tmp_path):
    """A three-job sweep with one job's results gone: collect still summarises the two, names the missing job on
    stderr, writes the report, and exits 1 with --strict."""
    sweep = tmp_path / "sweep"
    done = _cli("-m", *SMALL, "seed=1,2,3", "aggregators=[majority_vote]", f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (sweep / "1" / "metrics.csv").unlink()
    collect = [sys.executable, "-m", "experiments.collect", str(sweep)]
    lenient = subprocess.run(collect, capture_output=True, text=True, cwd=ROOT)
    assert lenient.returncode == 0 and "1 job(s) of the sweep have no results: 1" in lenient.stderr
    assert "Unfinished jobs" in (sweep / "report.md").read_text() and (sweep / "report.html").is_file()
    strict = subprocess.run([*collect, "--strict"], capture_output=True, text=True, cwd=ROOT)
    assert strict.returncode == 1


def test_a_design_value_the_others_determine_is_not_plotted_against_them():
    """assignment.redundancy is ${campaign.redundancy} (and absent under the posterior policy): plotted against
    campaign.redundancy in panels by it, each panel would hold one point."""
    from experiments.collect import independent_columns

    grid = pd.DataFrame(
        [{"assignment": policy, "campaign.redundancy": r, "task.guideline_complexity": c,
          "assignment.redundancy": r if policy == "fixed" else None}
         for policy in ("fixed", "posterior") for r in (3, 5) for c in (0.0, 1.0)]
    )  # fmt: skip
    columns = ["assignment", "task.guideline_complexity", "campaign.redundancy", "assignment.redundancy"]
    assert independent_columns(grid, columns) == columns[:3]
    assert independent_columns(grid, ["campaign.redundancy", "task.guideline_complexity"]) == [
        "campaign.redundancy", "task.guideline_complexity",
    ]  # fmt: skip


def test_a_parallel_sweep_prints_each_jobs_table_in_one_piece(tmp_path):
    """Two workers print at once: each job's block (header, campaign line, table, results folder) stays together."""
    done = _cli("-m", *SMALL, "seed=1,2,3,4", "aggregators=[majority_vote,dawid_skene]", "hydra.launcher.n_jobs=2",
                f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    for job in range(4):
        start = lines.index(
            f"#{job} task.n_items=300 raters.n_raters=20 seed={job + 1} aggregators=[majority_vote,dawid_skene]"
        )
        assert lines[start + 1].startswith("300 items") and lines[start + 2].lstrip().startswith("aggregator")
        assert lines[start + 5] == f"results: {tmp_path / 'sweep' / str(job)}"


def test_a_different_sweep_into_a_folder_that_holds_one_is_refused(tmp_path):
    """Resuming needs the same sweep: another one into the same hydra.sweep.dir would mix the two in collect."""
    sweep = tmp_path / "sweep"
    first = ["-m", *SMALL, "seed=1,2", "aggregators=[majority_vote]", f"hydra.sweep.dir={sweep}"]
    assert _cli(*first, cwd=tmp_path).returncode == 0
    other = _cli("-m", *SMALL, "seed=1,2,3", "aggregators=[majority_vote]", f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert other.returncode == 2 and "Traceback" not in other.stderr
    assert f"hydra.sweep.dir={sweep} holds another sweep (task.n_items=300 raters.n_raters=20 seed=1,2" in other.stderr
    reordered = _cli("-m", "seed=1,2", *SMALL, "aggregators=[majority_vote]", f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert reordered.returncode == 2 and "to resume it give them in its order: task.n_items=300" in reordered.stderr
    assert sorted(path.name for path in sweep.iterdir() if path.is_dir()) == [".hydra", "0", "1"] or sorted(
        path.name for path in sweep.iterdir() if path.is_dir()
    ) == ["0", "1"]
    again = _cli(*first, cwd=tmp_path)
    assert again.returncode == 0 and again.stdout.count("complete already with the same config") == 2


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        # the preset's 90% honest and 10% experts fill the 70% the spammers leave
        (["experiment=spammers", "raters.archetypes.spammer=0.3"], {"honest": 0.63, "expert": 0.07, "spammer": 0.3}),
        # two set, the default mix's others (honest 0.8, expert 0.1) fill the 0.5 left in their ratio 8:1
        (["raters.archetypes.spammer=0.3", "raters.archetypes.adversary=0.2"],
         {"honest": 0.5 * 8 / 9, "expert": 0.5 / 9, "spammer": 0.3, "adversary": 0.2}),
        # an override repeated (or set by a plan's search too) is one share: the last value
        (["raters.archetypes.spammer=0.1", "raters.archetypes.spammer=0.3"],
         {"honest": 0.7 * 0.8 / 0.95, "expert": 0.7 * 0.1 / 0.95, "spammer": 0.3, "adversary": 0.7 * 0.05 / 0.95}),
        # a whole mix given as a map is taken as it is
        (["raters.archetypes={honest: 0.5, spammer: 0.5}"], {"honest": 0.5, "spammer": 0.5}),
    ],
)  # fmt: skip
def test_an_archetype_set_on_its_own_keeps_its_share(tmp_path, overrides, expected):
    """`raters.archetypes.spammer=0.3` gives 30% spammers, whatever the other shares of the mix sum to."""
    from experiments.checks import full_mix
    from experiments.run import fix_shares

    overrides = [full_mix(o) for o in overrides]
    shares = OmegaConf.to_container(fix_shares(composed(overrides), overrides).raters.archetypes)
    assert {name: share for name, share in shares.items() if share} == pytest.approx(expected, abs=1e-12)
    assert sum(shares.values()) == pytest.approx(1.0, abs=1e-12)


def test_the_population_of_a_run_has_the_share_typed(tmp_path):
    """End to end: 30% of the raters of `raters.archetypes.spammer=0.3` in the spammers preset are spammers."""
    done = _cli(*SMALL, "raters.n_raters=100", "experiment=spammers", "raters.archetypes.spammer=0.3",
                "aggregators=[majority_vote]", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    raters = read_table(tmp_path / "run", "raters")
    first = raters[raters["replicate"] == 0]
    assert first["archetype"].value_counts().to_dict() == {"honest": 63, "spammer": 30, "expert": 7}


def test_an_aggregator_added_through_hydras_search_path_runs_and_one_without_its_package_line_is_refused(tmp_path):
    (tmp_path / "mine" / "aggregators").mkdir(parents=True)
    option = tmp_path / "mine" / "aggregators" / "my_vote.yaml"
    option.write_text("# @package aggregators.my_vote\n_target_: strategies.aggregation.MajorityVote\n")
    search = f"hydra.searchpath=[file://{tmp_path / 'mine'}]"
    done = _cli(*SMALL, search, "aggregators=[majority_vote,my_vote]", f"hydra.run.dir={tmp_path / 'run'}",
                cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "my_vote" in done.stdout
    option.write_text("_target_: strategies.aggregation.MajorityVote\n")
    refused = _cli(*SMALL, search, "aggregators=[my_vote]", f"hydra.run.dir={tmp_path / 'run2'}", cwd=tmp_path)
    assert refused.returncode == 2 and "starts with the line '# @package aggregators.NAME'" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_an_aggregators_random_state_comes_from_the_run_seed_and_replicate():
    """MACE's random restarts differ between replicates and seeds, and are the same for the same run."""
    from experiments.run import seeded
    from strategies.aggregation import MACE, MajorityVote

    base = MACE(random_state=0)
    states = {(seed, replicate): seeded(base, seed, replicate).random_state for seed in (0, 1) for replicate in (0, 1)}
    assert len(set(states.values())) == 4 and base.random_state == 0  # the configured object is left alone
    assert seeded(base, 1, 1).random_state == states[1, 1]
    assert seeded(MajorityVote(random_state=None), 0, 0).random_state is None


def test_a_preset_run_without_m_says_its_sweep_needs_it(tmp_path):
    run_dir = tmp_path / "one"
    done = _cli("experiment=condorcet", "task.n_items=100", "write_tables=false", f"hydra.run.dir={run_dir}",
                cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "only with -m" in done.stderr and "campaign.redundancy=1,3,5,9,15,25" in done.stderr
