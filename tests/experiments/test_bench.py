"""crowdlab bench: the leaderboard's outputs, a baseline that catches a bad aggregator by scenario and passes an
unchanged one, the published majority-vote and Dawid-Skene accuracies on real data, and bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from experiments.bench import DATASETS, probability_scores

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SMALL = ["--scenarios", "easy", "spammers_30", "--replicates", "3", "--no-data"]


def bench(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "experiments.bench", *args], cwd=cwd, capture_output=True, text=True, timeout=600,
        env={"PYTHONPATH": f"{ROOT}:{HERE}", "PATH": "/usr/bin:/bin", "CI": "1"},
    )  # fmt: skip


def test_a_random_aggregator_fails_against_a_majority_vote_baseline_and_an_unchanged_one_passes(tmp_path):
    keep = ["--baselines", str(tmp_path / "baselines")]
    saved = bench("majority_vote", *SMALL, *keep, "--save-baseline", "mv", "--out", str(tmp_path / "a"), cwd=tmp_path)
    assert saved.returncode == 0, saved.stderr
    assert (tmp_path / "baselines" / "standard-1" / "mv.csv").is_file()
    for name in ("leaderboard.csv", "leaderboard.md", "leaderboard.html", "junit.xml", "accuracy.png"):
        assert (tmp_path / "a" / name).stat().st_size > 0
    worse = bench("random_vote:RandomVote", *SMALL, *keep, "--compare", "mv", "--out", str(tmp_path / "b"),
                  cwd=tmp_path)  # fmt: skip
    assert worse.returncode == 1 and "Traceback" not in worse.stderr
    assert "regression: random_vote:RandomVote in easy: accuracy" in worse.stderr
    assert "below the baseline's (majority_vote) 95% interval" in worse.stderr
    assert "<failure" in (tmp_path / "b" / "junit.xml").read_text()
    same = bench("majority_vote", *SMALL, *keep, "--compare", "mv", "--out", str(tmp_path / "c"), cwd=tmp_path)
    assert same.returncode == 0, same.stderr
    a, c = (pd.read_csv(tmp_path / d / "leaderboard.csv") for d in ("a", "c"))
    accuracy = lambda t: t[t["metric"] == "accuracy"].reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(accuracy(a), accuracy(c))  # the same seed, the same campaigns and scores


def test_real_data_sets_give_their_published_accuracies(tmp_path):
    """Majority vote and Dawid-Skene on product and rte, as ../shared/datasets/INDEX.md lists them (ties to the
    lowest label for majority vote): MV 0.8966 and 0.9187, Dawid-Skene about 0.940 and 0.928."""
    from experiments.bench import DATASETS

    if not (DATASETS / "product" / "labels.csv").is_file():
        pytest.skip(f"real data sets not found at {DATASETS}")
    done = bench("majority_vote", "dawid_skene", "--scenarios", "easy", "--replicates", "1", "--data", str(DATASETS),
                 "--out", str(tmp_path / "out"), cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(tmp_path / "out" / "leaderboard.csv")
    accuracy = table[table["metric"] == "accuracy"].set_index(["aggregator", "scenario"])["mean"]
    assert accuracy["majority_vote", "real:product"] == pytest.approx(0.8966, abs=5e-4)
    assert accuracy["majority_vote", "real:rte"] == pytest.approx(0.9187, abs=5e-4)
    assert accuracy["dawid_skene", "real:product"] == pytest.approx(0.940, abs=2e-3)
    assert accuracy["dawid_skene", "real:rte"] == pytest.approx(0.928, abs=2e-3)
    assert "real:emotion" not in set(table["scenario"])  # numeric answers are not for categorical aggregators


def test_probability_scores_of_a_certain_right_answer_and_of_a_coin():
    truth = pd.Series([0, 1], index=["a", "b"])
    certain = pd.DataFrame({0: [1.0, 0.0], 1: [0.0, 1.0]}, index=["a", "b"])
    assert probability_scores(certain, truth) == pytest.approx({"log_loss": 0.0, "brier": 0.0, "ece": 0.0})
    coin = pd.DataFrame({0: [0.5, 0.5], 1: [0.5, 0.5]}, index=["a", "b"])
    scores = probability_scores(coin, truth)
    assert scores["log_loss"] == pytest.approx(0.6931, abs=1e-4) and scores["brier"] == pytest.approx(0.5)
    assert scores["ece"] == pytest.approx(0.0)  # right half the time at confidence 0.5: calibrated


BAD = [
    (["majority_vot"], "unknown aggregator 'majority_vot'; accepted values: bwa, dawid_skene,"),
    (["nosuchmodule:Thing"], "aggregator 'nosuchmodule:Thing': cannot import it"),
    (["random_vote:RandomVote(oops"], "arguments must be keyword=literal"),
    (["missing.yaml"], "aggregator 'missing.yaml': no such YAML file"),
    (["majority_vote", "--compare", "nothing"], "--compare nothing: no such baseline for standard-1"),
    (
        ["majority_vote", "--scenarios", "nope"],
        "--scenarios: unknown scenario 'nope' of the standard suite; accepted values: easy,",
    ),
    (["majority_vote", "--replicates", "0"], "--replicates must be an integer >= 1, got 0"),
    (["majority_vote", "--suite", "fancy"], "--suite must be one of ['standard', 'numeric', 'pairwise'], got 'fancy'"),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_exits_2_with_one_line(tmp_path, args, message):
    done = bench(*args, "--baselines", str(tmp_path / "b"), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_numeric_suite_scores_mean_and_median_with_the_oracle_and_the_emotion_set(tmp_path):
    """Answers with 10% wild outliers: the median beats the mean; Gaussian answers: the oracle (posterior mean with the
    true biases and noise) beats both; the real emotion ratings are scored too; one figure per metric."""
    done = bench("mean", "median", "--suite", "numeric", "--replicates", "2", "--out", str(tmp_path / "out"),
                 "--baselines", str(tmp_path / "b"), cwd=ROOT)  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = pd.read_csv(tmp_path / "out" / "leaderboard.csv")
    assert set(summary["suite"]) == {"numeric-1"}
    mae = summary[summary["metric"] == "mae"].set_index(["scenario", "aggregator"])["mean"]
    assert mae["outliers_10", "median"] < mae["outliers_10", "mean"]
    assert mae["gaussian", "oracle"] < min(mae["gaussian", "mean"], mae["gaussian", "median"])
    if (DATASETS / "emotion").is_dir():
        assert ("real:emotion", "median") in mae.index
    for name in ("mae.png", "rmse.png", "fit_seconds.png", "peak_mib.png", "leaderboard.html", "junit.xml"):
        assert (tmp_path / "out" / name).is_file(), name


def test_pairwise_suite_ranks_bradley_terry_against_the_true_scores(tmp_path):
    done = bench("bradley_terry", "--suite", "pairwise", "--replicates", "2", "--out", str(tmp_path / "out"),
                 "--baselines", str(tmp_path / "b"), cwd=ROOT)  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = pd.read_csv(tmp_path / "out" / "leaderboard.csv")
    tau = summary[summary["metric"] == "kendall_tau"].set_index("scenario")["mean"]
    assert tau["unbiased"] > 0.6 and tau["sharp_raters"] > tau["unbiased"]
    assert tau["adversaries_20"] < tau["unbiased"]  # reversed answers cost what they should
    intervals = summary[summary["metric"] == "kendall_tau"]
    assert (intervals["ci95_high"].dropna() <= 1.0).all() and (intervals["ci95_low"].dropna() >= -1.0).all()
    assert "pairwise-1" in (tmp_path / "out" / "junit.xml").read_text()


def test_an_error_above_the_baseline_interval_is_a_regression_for_a_lower_is_better_metric():
    from experiments.bench import SUITES, regressions

    def table(mean, low, high):
        return pd.DataFrame([{"aggregator": "median", "scenario": "gaussian", "metric": "mae", "mean": mean,
                              "ci95_low": low, "ci95_high": high}])  # fmt: skip

    baseline = table(5.0, 4.8, 5.2)
    found = regressions(table(5.5, 5.3, 5.7), baseline, 2.0, SUITES["numeric"])
    assert found == ["median in gaussian: mae 5.5000 is above the baseline's (median) 95% interval, from 5.2000 "
                     "(mean 5.0000)"]  # fmt: skip
    assert regressions(table(4.0, 3.9, 4.1), baseline, 2.0, SUITES["numeric"]) == []  # lower error: better


def test_an_aggregator_that_raises_in_a_scenario_fails_the_run_and_its_junit_case(tmp_path):
    out, baselines = str(tmp_path / "out"), str(tmp_path / "b")
    done = bench("random_vote:CrashesOnLargeTables", "majority_vote", "--scenarios", "easy", "--replicates", "1",
                 "--no-data", "--out", out, "--baselines", baselines, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "bench: random_vote:CrashesOnLargeTables failed in easy: MemoryError: pretend" in done.stderr
    assert "Traceback" not in done.stderr
    report = (tmp_path / "out" / "junit.xml").read_text()
    assert 'classname="random_vote:CrashesOnLargeTables" name="easy"><failure' in report


def test_the_issue_line_up_runs_small(tmp_path):
    """The acceptance line-up (every Bayesian aggregator and a user's import path) on two scenarios and one real set:
    every output written, every aggregator scored everywhere, the custom one last by rank."""
    from experiments.bench import DATASETS

    names = ["majority_vote", "dawid_skene", "glad", "mace", "ibcc", "bwa", "ebcc", "m_msr", "random_vote:RandomVote"]
    data = tmp_path / "data"
    data.mkdir()
    if (DATASETS / "rte").is_dir():
        (data / "rte").symlink_to(DATASETS / "rte")
    done = bench(*names, "--scenarios", "easy", "spammers_30", "--replicates", "1", "--data", str(data), "--out",
                 str(tmp_path / "out"), "--baselines", str(tmp_path / "b"), cwd=tmp_path)  # fmt: skip
    assert done.returncode == 1, done.stderr  # RandomVote fails contract checks, nobody else does
    contract = [line for line in done.stderr.splitlines() if line.startswith("bench: contract:")]
    assert contract and all(line.startswith("bench: contract: random_vote:RandomVote:") for line in contract)
    summary = pd.read_csv(tmp_path / "out" / "leaderboard.csv")
    accuracy = summary[summary["metric"] == "accuracy"]
    scenarios = {"easy", "spammers_30"} | ({"real:rte"} if (data / "rte").exists() else set())
    for name in names:
        assert set(accuracy.loc[accuracy["aggregator"] == name, "scenario"]) == scenarios, name
    for output in ("leaderboard.md", "leaderboard.html", "junit.xml", "accuracy.png", "log_loss.png"):
        assert (tmp_path / "out" / output).stat().st_size > 0
    assert "random_vote:RandomVote" in done.stdout.strip().splitlines()[-2]  # the last row of the rank table
