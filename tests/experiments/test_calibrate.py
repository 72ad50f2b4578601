"""crowdlab calibrate: it recovers the parameters of a pilot the simulator drew from a known population, its
configs run with Hydra's search path, bad pilots get a clear error, and (slow) its predictions from a real pilot
against what subsampling the real answers gives."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.calibrate import fit, model_share, predict, read_pilot
from sim import Campaign, RaterPopulation, TaskDesign, simulate

ROOT = Path(__file__).resolve().parents[2]
HONEST = {"honest": 1.0, "expert": 0.0, "spammer": 0.0, "adversary": 0.0}


def simulated_pilot(n_items: int = 1500, seed: int = 3):
    """Three answers per item from a known population with every effect a pilot cannot separate switched off."""
    task = TaskDesign(n_items=n_items, n_classes=2, difficulty_sd=1.0, ambiguous_fraction=0.0,
                      guideline_complexity=0.0, gold_fraction=0.0)  # fmt: skip
    raters = RaterPopulation(n_raters=80, archetypes=HONEST, ability_mean=1.5, ability_sd=0.8, learning_gain=0.0,
                             fatigue_max=0.0, sessions=1000)  # fmt: skip
    result = simulate(task, raters, Campaign(redundancy=3), seed=seed)
    return result, result.worker_answers(), result.truth


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "experiments.calibrate", *args], cwd=cwd, capture_output=True, text=True,
        timeout=600, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "CI": "1"},
    )  # fmt: skip


def test_the_fit_recovers_a_known_population():
    """ability_sd 0.8 and difficulty_sd 1.0 come back within 0.3 from 4,500 answers; the model's share of right
    answers is the pilot's exactly."""
    _, answers, truth = simulated_pilot()
    result, _ = fit(read_pilot(answers, truth))
    assert result.ability_sd == pytest.approx(0.8, abs=0.3)
    assert result.difficulty_sd == pytest.approx(1.0, abs=0.3)
    assert result.ability_mean == pytest.approx(1.5, abs=0.4)
    assert model_share(result.ability_mean, result.ability_sd, result.difficulty_sd, 0.0, 2) == pytest.approx(
        result.share_right, abs=1e-9
    )
    # honest raters of low ability are not above chance either: counted as spammer-like, not modelled as spammers
    assert result.spammer_share == 0.0 and 0.0 <= result.spammer_like_share < 0.3 and result.n_raters == 80


def test_a_prediction_from_the_fit_matches_the_campaign_it_came_from():
    """Majority vote at redundancy 3 predicted from the fit is within 3 points of the true population's campaign,
    which lies inside the predicted 95% interval (bootstrapped fits)."""
    from experiments.calibrate import calibrate

    _, answers, truth = simulated_pilot()
    from strategies.aggregation import MajorityVote

    measured = float((MajorityVote().fit(answers).labels_.reindex(truth.index) == truth).mean())
    whole, fits = calibrate(read_pilot(answers, truth), n_bootstrap=12)
    table = predict(fits, "campaign.redundancy", [3], ["majority_vote"], ["task.n_items=1500", "raters.n_raters=80"],
                    whole=whole)  # fmt: skip
    row = table.iloc[0]
    assert abs(row["accuracy"] - measured) <= 0.03
    assert row["ci_low"] <= measured <= row["ci_high"]


def test_the_prior_moves_a_large_pilots_spreads_little_and_a_small_ones_to_the_normal_posterior():
    """The shrinkage is the normal-normal posterior on the log scale: a precise pilot (bootstrap spread far below the
    prior's) keeps its spreads; an uninformative one lands on the prior; in between, the weight is s^2 / (s^2 + v)
    and the bootstrap fits spread as the posterior does (sd sqrt(w v)). The mean ability keeps the share of right
    answers."""
    import dataclasses

    from experiments.calibrate import SPREAD_PRIOR_MEAN, SPREAD_PRIOR_SD, shrink_spreads

    _, answers, truth = simulated_pilot()
    whole, _ = fit(read_pilot(answers, truth))
    rng = np.random.default_rng(5)

    def spread_out(log_sd: float) -> list:
        steps = rng.standard_normal((40, 2))
        steps = (steps - steps.mean(axis=0)) / steps.std(axis=0, ddof=1) * log_sd  # exactly that spread, centred
        return [
            dataclasses.replace(whole, ability_sd=whole.ability_sd * float(np.exp(a)),
                                difficulty_sd=whole.difficulty_sd * float(np.exp(d)))
            for a, d in steps
        ]  # fmt: skip

    precise, _ = shrink_spreads(whole, spread_out(0.01))
    assert precise.ability_sd == pytest.approx(whole.ability_sd, rel=0.01)
    assert precise.difficulty_sd == pytest.approx(whole.difficulty_sd, rel=0.01)
    vague, _ = shrink_spreads(whole, spread_out(30.0))
    assert np.log(vague.ability_sd) == pytest.approx(SPREAD_PRIOR_MEAN[0], abs=0.01)
    assert np.log(vague.difficulty_sd) == pytest.approx(SPREAD_PRIOR_MEAN[1], abs=0.01)
    moved, fits = shrink_spreads(whole, spread_out(0.4))
    for column, (prior_mean, prior_sd), before in ((0, (SPREAD_PRIOR_MEAN[0], SPREAD_PRIOR_SD[0]), whole.ability_sd),
                                                   (1, (SPREAD_PRIOR_MEAN[1], SPREAD_PRIOR_SD[1]),
                                                    whole.difficulty_sd)):  # fmt: skip
        weight = prior_sd**2 / (prior_sd**2 + 0.4**2)
        after = moved.ability_sd if column == 0 else moved.difficulty_sd
        assert np.log(after) == pytest.approx(weight * np.log(before) + (1 - weight) * prior_mean, abs=1e-9)
        logs = np.log([f.ability_sd if column == 0 else f.difficulty_sd for f in fits])
        assert logs.std(ddof=1) == pytest.approx(np.sqrt(weight) * 0.4, rel=1e-6)
    assert moved.pilot_ability_sd == whole.ability_sd and moved.pilot_difficulty_sd == whole.difficulty_sd
    assert model_share(moved.ability_mean, moved.ability_sd, moved.difficulty_sd, 0.0, 2) == pytest.approx(
        whole.share_right, abs=1e-9
    )


def test_the_debiasing_maps_the_pilot_to_its_estimate_and_knows_a_small_pilot_less():
    """A bootstrap resample with the pilot's own raw estimate gets the pilot's debiased estimate; a raw deviation
    becomes deviation / slope; and the parametric sampling variance of both spreads is larger on 100 items than on
    1,500 (a fifteenth of the answers)."""
    from experiments.calibrate import crossed_effects, debiased_effects
    from sim.streams import stream

    variances = []
    for n_items in (100, 1500):
        _, answers, truth = simulated_pilot(n_items=n_items)
        pilot = read_pilot(answers, truth)
        right = (pilot.label == pilot.truth[pilot.item]).astype(float)
        theta, debiasing = debiased_effects(right, pilot.rater, pilot.item, stream(0, 0, "calibration", 1))
        raw = crossed_effects(right, pilot.rater, pilot.item)
        assert debiasing.apply(raw) == pytest.approx(theta, abs=1e-12)
        moved = debiasing.apply(raw + np.array([0.0, 0.01, -0.01]))
        assert moved[1:] - theta[1:] == pytest.approx(np.array([0.01, -0.01]) / debiasing.slope, rel=1e-9)
        assert (debiasing.slope > 0).all() and (debiasing.variance > 0).all()
        variances.append(debiasing.variance)
    assert (variances[0] > 2 * variances[1]).all()


@pytest.mark.slow
def test_the_spreads_prior_is_the_one_the_real_pools_give():
    """SPREAD_PRIOR_MEAN and SPREAD_PRIOR_SD are what ``python -m experiments.benchmarks.calibration --prior``
    computes from the real sets that do not validate pilots (none of them is eligible for validation)."""
    from experiments.benchmarks import calibration
    from experiments.calibrate import SPREAD_PRIOR_MEAN, SPREAD_PRIOR_SD

    if not calibration.DATASETS.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"real data sets not found at {calibration.DATASETS}")
        pytest.skip(f"real data sets not found at {calibration.DATASETS}")
    assert not set(calibration.PRIOR_SETS) & set(calibration.eligible())
    mean, sd = calibration.spread_prior()
    assert mean == pytest.approx(SPREAD_PRIOR_MEAN, abs=5e-4)
    assert sd == pytest.approx(SPREAD_PRIOR_SD, abs=5e-4)


def test_the_pigeonhole_bootstrap_resamples_items_and_raters_whole():
    """Every answer of a resample is an answer of the pilot (same label, same truth), items and raters are renumbered
    densely, and over many draws each answer appears once on average (item and rater copies are 1 each on average)."""
    from experiments.calibrate import resample

    _, answers, truth = simulated_pilot(n_items=200)
    pilot = read_pilot(answers, truth)
    rng = np.random.default_rng(0)
    sizes = []
    for _ in range(200):
        draw = resample(pilot, rng)
        assert np.array_equal(np.unique(draw.item), np.arange(draw.truth.size))
        assert np.array_equal(np.unique(draw.rater), np.arange(draw.rater.max() + 1))
        sizes.append(draw.item.size)
    assert np.mean(sizes) == pytest.approx(pilot.item.size, rel=0.05)


def test_the_configs_run_from_hydras_search_path(tmp_path):
    _, answers, truth = simulated_pilot(n_items=300)
    answers.to_csv(tmp_path / "pilot.csv", index=False)
    truth.rename("label").rename_axis("task").reset_index().to_csv(tmp_path / "gold.csv", index=False)
    done = cli(str(tmp_path / "pilot.csv"), "--gold", str(tmp_path / "gold.csv"), "--name", "mine", "--out",
               str(tmp_path / "conf"), "--predict", "campaign.redundancy=1,3", "--bootstrap", "4",
               cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    prediction = pd.read_csv(tmp_path / "conf" / "prediction.csv")
    assert list(prediction.columns) == ["campaign.redundancy", "aggregator", "accuracy", "ci_low", "ci_high"]
    assert len(prediction) == 4 and (prediction["ci_low"] <= prediction["ci_high"]).all()
    assert "n_items: 300" in (tmp_path / "conf" / "task" / "mine.yaml").read_text()
    run = subprocess.run(
        [sys.executable, "-m", "experiments.run", f"hydra.searchpath=[file://{tmp_path / 'conf'}]", "raters=mine",
         "task=mine", "aggregators=[majority_vote]", f"hydra.run.dir={tmp_path / 'run'}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "CI": "1"},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("300 items")


BAD = [
    ("one_rater", "the pilot has answers from 1 rater; calibration needs at least two raters"),
    ("no_overlap", "no item has answers from two raters (no overlap between raters)"),
    ("gold_elsewhere", "--gold: none of its tasks is in the pilot's answers"),
    ("bad_predict", "--predict must be KEY=V1,V2,..."),
    ("unknown_set", "unknown key 'redundancy'"),
    ("one_class", "every answer is 1; calibration needs answers of at least two classes"),
    ("foreign_gold", "--gold: label 7 is not among the labels of the pilot's answers; accepted values: 0, 1"),
    ("continuous", "its labels look continuous"),
    ("bad_name", "--name '../evil' must be a config name"),
    ("oracle", "--aggregators: oracle reads the truth"),
]


@pytest.mark.parametrize(("case", "message"), BAD, ids=[case for case, _ in BAD])
def test_a_pilot_that_cannot_be_calibrated_on_gets_one_line(tmp_path, case, message):
    answers = pd.DataFrame({"task": [1, 1, 2, 2, 3], "worker": ["a", "b", "a", "b", "a"], "label": [0, 1, 1, 1, 0]})
    gold = pd.DataFrame({"task": [1, 2], "label": [0, 1]})
    extra: list[str] = []
    if case == "one_rater":
        answers = answers.assign(worker="a").drop_duplicates(["task"])
    elif case == "no_overlap":
        answers = answers.assign(task=range(len(answers)), worker=[f"w{i}" for i in range(len(answers))])
        gold = gold.assign(task=[0, 1])
    elif case == "gold_elsewhere":
        gold = gold.assign(task=[8, 9])
    elif case == "unknown_set":
        extra = ["--set", "redundancy=5", "--bootstrap", "2"]
    elif case == "one_class":
        answers = answers.assign(label=1)
    elif case == "foreign_gold":
        gold = gold.assign(label=[0, 7])
    elif case == "continuous":
        answers = answers.assign(label=[0.5, 1.25, 3.5, 7.75, 2.0])
    elif case == "bad_name":
        extra = ["--name", "../evil"]
    elif case == "oracle":
        extra = ["--aggregators", "majority_vote,oracle"]
    else:
        extra = ["--predict", "campaign.redundancy"]
    answers.to_csv(tmp_path / "pilot.csv", index=False)
    gold.to_csv(tmp_path / "gold.csv", index=False)
    done = cli(str(tmp_path / "pilot.csv"), "--gold", str(tmp_path / "gold.csv"), "--out", str(tmp_path / "out"),
               *(extra if "--name" in extra else ["--name", "x", *extra]), cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_the_sampling_floor_is_the_error_of_a_random_share_of_the_items():
    """The floor of the pilot benchmark against enumeration of every sample: its variance is the sample mean's
    (exact, by the finite-population formula) and its expected absolute error is close to the enumerated one."""
    from itertools import combinations

    from experiments.benchmarks.calibration import sampling_floor

    values = np.random.default_rng(3).beta(2.0, 1.0, 16)  # per-item accuracies of a small set
    sample = 5
    means = np.array([values[list(chosen)].mean() for chosen in combinations(range(values.size), sample)])
    floor = sampling_floor(values, sample)
    assert (floor**2 * np.pi / 2) == pytest.approx(np.mean((means - values.mean()) ** 2), rel=1e-9)
    assert floor == pytest.approx(np.mean(np.abs(means - values.mean())), rel=0.05)
    assert sampling_floor(values, values.size) == 0.0
    with pytest.raises(ValueError, match=r"sample = 0 must be in 1\.\.16"):
        sampling_floor(values, 0)


def test_the_sampling_floor_takes_the_subsamples_noise_off_the_items_spread():
    """Shares of right answers over a few subsamples spread more than the items' accuracies; with ``draws`` the
    floor is the one of the accuracies themselves, on average over many sets of draws."""
    from experiments.benchmarks.calibration import sampling_floor

    rng = np.random.default_rng(4)
    accuracy = rng.beta(3.0, 1.5, 400)
    exact = sampling_floor(accuracy, 80)
    draws = 5
    noisy = [rng.binomial(draws, accuracy) / draws for _ in range(200)]
    corrected = np.mean([sampling_floor(v, 80, draws) ** 2 for v in noisy])
    uncorrected = np.mean([sampling_floor(v, 80) ** 2 for v in noisy])
    assert uncorrected > 1.2 * exact**2  # the noise inflates the spread
    assert corrected == pytest.approx(exact**2, rel=0.03)
    with pytest.raises(ValueError, match="draws = 1 must be at least 2"):
        sampling_floor(accuracy, 80, 1)


@pytest.mark.slow
def test_pilots_of_real_data_sets_predict_the_accuracy_of_their_real_answers():
    """Issue 9's validation: for every set with at least 10 answers per item, a pilot of 3 answers on 20% of the
    items predicts majority vote and Dawid-Skene at redundancy 1, 3, 5 and 7 (``python -m
    experiments.benchmarks.calibration`` prints the table). The real value lies in the 95% interval in at least 80%
    of the cases; the mean absolute error is printed (the issue's 3-point target is not met: see the closing note)."""
    from experiments.benchmarks import calibration

    if not calibration.DATASETS.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"real data sets not found at {calibration.DATASETS}")
        pytest.skip(f"real data sets not found at {calibration.DATASETS}")
    names = calibration.eligible()
    assert {"bluebirds", "rte", "dog"} <= set(names)
    table = pd.concat([calibration.validate(name, pilots=1, bootstrap=15, subsamples=5) for name in names])
    assert len(table) == 8 * len(names)
    print(f"mean absolute error {table['error_points'].abs().mean():.2f} points, coverage {table['covered'].mean()}")
    assert table["covered"].mean() >= 0.8
    assert np.isfinite(table["predicted"]).all()
