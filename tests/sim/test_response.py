"""The answer model's curves, each checked against its documented closed form (pure functions, no SimPy)."""

import math

import numpy as np
import pytest
from scipy.special import expit

from sim.raters import RaterPopulation, sample_raters
from sim.response import (
    Situation,
    comprehension_penalty,
    fatigue_penalty,
    label_probabilities,
    learning_boost,
    recovered_time_on_task,
    sample_labels,
)
from sim.tasks import TaskDesign, effective_difficulty, median_item_seconds


def test_power_law_of_practice_rises_to_the_gain():
    population = RaterPopulation(learning_curve="power", learning_gain=0.8, learning_exponent=0.5, learning_scale=20)
    boost = learning_boost(np.array([0, 20, 60, 1e9]), population)
    assert boost[0] == 0
    assert boost[1] == pytest.approx(0.8 * (1 - 2**-0.5))  # n = scale: (1 + 1)^-beta of the way left
    assert boost[2] == pytest.approx(0.8 * (1 - 4**-0.5))
    assert boost[3] == pytest.approx(0.8, abs=1e-3)
    assert np.all(np.diff(boost) > 0)


def test_exponential_learning_and_none():
    population = RaterPopulation(learning_curve="exponential", learning_gain=1.0, learning_scale=10)
    assert learning_boost(10, population) == pytest.approx(1 - math.exp(-1))
    assert learning_boost(50, RaterPopulation(learning_curve="none")) == 0


def test_fatigue_saturates_and_breaks_restore():
    population = RaterPopulation(fatigue_max=1.2, fatigue_tau_minutes=30, recovery_tau_minutes=10)
    assert fatigue_penalty(0.0, population) == 0
    assert fatigue_penalty(30 * 60.0, population) == pytest.approx(1.2 * (1 - math.exp(-1)))
    assert fatigue_penalty(1e7, population) == pytest.approx(1.2)
    assert fatigue_penalty(30 * 60.0, population, scale=0.5) == pytest.approx(0.6 * (1 - math.exp(-1)))
    # a break as long as the recovery time constant leaves 1/e of the time on task
    assert recovered_time_on_task(3600.0, 600.0, population) == pytest.approx(3600 * math.exp(-1))
    assert recovered_time_on_task(3600.0, 0.0, population) == 3600.0


def test_training_halves_the_comprehension_penalty_per_half_life():
    design = TaskDesign(guideline_complexity=0.5, comprehension_penalty=2.0, training_half_life_minutes=10)
    assert comprehension_penalty(design, 0.0) == pytest.approx(1.0)
    assert comprehension_penalty(design, 10.0) == pytest.approx(0.5)
    assert comprehension_penalty(design, 30.0) == pytest.approx(0.125)
    assert comprehension_penalty(TaskDesign(guideline_complexity=0.0), 0.0) == 0


def test_complexity_resolves_ambiguity_and_lengthens_time():
    difficulty = np.array([0.5, 0.5])
    ambiguous = np.array([False, True])
    simple = TaskDesign(guideline_complexity=0.0, ambiguity_penalty=2.0, guideline_resolution=0.8)
    complex_ = TaskDesign(guideline_complexity=1.0, ambiguity_penalty=2.0, guideline_resolution=0.8)
    assert effective_difficulty(difficulty, ambiguous, simple).tolist() == [0.5, 2.5]
    assert effective_difficulty(difficulty, ambiguous, complex_) == pytest.approx([0.5, 0.5 + 2.0 * 0.2])
    time_simple = median_item_seconds(np.zeros(1), TaskDesign(guideline_complexity=0.0, complexity_time=1.5))
    time_complex = median_item_seconds(np.zeros(1), TaskDesign(guideline_complexity=1.0, complexity_time=1.5))
    assert time_complex / time_simple == pytest.approx(2.5)


def _situation(population, design, n=4, archetype_rows=None):
    raters = sample_raters(population, design.n_classes, seed=0, replicate=0)
    true = np.arange(n) % design.n_classes
    return Situation(
        worker=np.zeros(n, dtype=np.int64) if archetype_rows is None else archetype_rows,
        raters=raters,
        population=population,
        design=design,
        true_label=true,
        confuser=(true + 1) % design.n_classes,
        difficulty=np.zeros(n),
        practice=np.zeros(n),
        time_on_task=np.zeros(n),
        training_minutes=np.zeros(n),
    )


@pytest.mark.parametrize("archetype", ["honest", "expert", "spammer", "lazy", "adversary", "condorcet", "confusion"])
def test_every_archetype_gives_distributions(archetype):
    design = TaskDesign(n_classes=3)
    accuracy = 0.6 if archetype == "condorcet" else None
    population = RaterPopulation(
        n_raters=1, archetypes={archetype: 1.0}, accuracy=accuracy, confusion=np.eye(3) * 0.7 + 0.1
    )
    probabilities = label_probabilities(_situation(population, design))
    assert probabilities.shape == (4, 3)
    assert np.allclose(probabilities.sum(axis=1), 1.0) and (probabilities >= 0).all()
    rows = np.arange(4)
    true = rows % 3
    expected_correct = {"spammer": 1 / 3, "adversary": 0.0, "condorcet": 0.6, "confusion": 0.8}
    if archetype in expected_correct:
        assert probabilities[rows, true] == pytest.approx(expected_correct[archetype])


def test_honest_rater_matches_the_logistic_model_and_confuser_mixture():
    design = TaskDesign(n_classes=4, guideline_complexity=0.0, confuser_weight=0.6)
    population = RaterPopulation(n_raters=1, archetypes={"honest": 1.0}, learning_gain=0.0, fatigue_max=0.0)
    situation = _situation(population, design)
    probabilities = label_probabilities(situation)
    ability = situation.raters.ability[0]
    rows = np.arange(4)
    assert probabilities[rows, situation.true_label] == pytest.approx(np.full(4, expit(ability)))
    # the confuser gets its share of the wrong mass plus its share of the bias over wrong labels
    assert (probabilities[rows, situation.confuser] >= 0.6 * (1 - expit(ability)) - 1e-12).all()


def test_sample_labels_follows_the_probabilities():
    rng = np.random.default_rng(0)
    probabilities = np.tile([0.2, 0.5, 0.3], (200_000, 1))
    labels = sample_labels(probabilities, rng.random(200_000))
    assert np.bincount(labels, minlength=3) / 200_000 == pytest.approx([0.2, 0.5, 0.3], abs=0.005)
