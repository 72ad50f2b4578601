"""The campaign engine checked against closed forms, its own model (honesty), and properties."""

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy.special import expit
from scipy.stats import binom

from sim import Campaign, ConfigError, RaterPopulation, TaskDesign, simulate
from strategies.aggregation import MajorityVote


def condorcet_design(n_items: int, n_classes: int = 2) -> TaskDesign:
    """Items with no difficulty, no ambiguity and no gold: only the raters' constant accuracy matters."""
    return TaskDesign(
        n_items=n_items, n_classes=n_classes, difficulty_sd=0.0, ambiguous_fraction=0.0, gold_fraction=0.0
    )


def condorcet_raters(accuracy: float, n_raters: int = 30) -> RaterPopulation:
    return RaterPopulation(n_raters=n_raters, archetypes={"condorcet": 1.0}, accuracy=accuracy, sessions=10_000)


@pytest.mark.parametrize(("redundancy", "published"), [(3, 0.784), (5, 0.8369), (11, 0.9218)])
def test_condorcet_majority_vote_matches_the_binomial_closed_form(redundancy, published):
    """Condorcet's jury theorem: P(majority right) = P(Binomial(n, p) > n/2); 0.784, 0.8369, 0.9218 for p = 0.7."""
    p, n_items = 0.7, 20_000
    closed_form = binom.sf(redundancy // 2, redundancy, p)
    assert closed_form == pytest.approx(published, abs=5e-4)
    result = simulate(condorcet_design(n_items), condorcet_raters(p), Campaign(redundancy=redundancy), seed=11)
    assert result.ledger["stop_reason"] == "complete"
    assert (result.items.loc[~result.items.is_gold, "answers"] == redundancy).all()
    labels = MajorityVote().fit_predict(result.worker_answers())
    accuracy = (labels.reindex(result.truth.index) == result.truth).mean()
    standard_error = np.sqrt(closed_form * (1 - closed_form) / n_items)
    assert abs(accuracy - closed_form) < 3 * standard_error


def test_the_simulator_is_honest_about_p_correct():
    """Across answers, and within bins of p_correct, the observed rate of correct answers matches mean p_correct."""
    result = simulate(TaskDesign(n_items=6000), RaterPopulation(n_raters=60), Campaign(redundancy=3), seed=3)
    answers = result.answers
    truth = result.items["true_label"].to_numpy()[answers["task"].to_numpy()]
    correct = (answers["label"].to_numpy() == truth).astype(float)
    p = answers["p_correct"].to_numpy()
    assert abs(correct.mean() - p.mean()) < 4 * np.sqrt((p * (1 - p)).sum()) / len(p)
    bins = np.digitize(p, np.linspace(0, 1, 11)[1:-1])
    for b in np.unique(bins):
        in_bin = bins == b
        if in_bin.sum() < 50:
            continue
        sd = np.sqrt((p[in_bin] * (1 - p[in_bin])).sum()) / in_bin.sum()
        assert abs(correct[in_bin].mean() - p[in_bin].mean()) < 4 * sd + 1e-9, b


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_items=st.integers(1, 60),
    n_raters=st.integers(1, 12),
    redundancy=st.integers(1, 4),
    pay=st.sampled_from([0.0, 0.01, 0.03, 0.1, 0.07, 1 / 3]),
    budget_answers=st.floats(1.0, 200.0),
    training_minutes=st.sampled_from([0.0, 0.5, 5.0]),
    gold_fraction=st.sampled_from([0.0, 0.1, 0.5]),
    page_size=st.integers(1, 7),
    horizon_hours=st.sampled_from([None, 0.05, 1.0]),
    seed=st.integers(0, 2**16),
)
def test_spend_never_exceeds_the_budget(
    n_items, n_raters, redundancy, pay, budget_answers, training_minutes, gold_fraction, page_size, horizon_hours, seed
):
    assume(horizon_hours is None or training_minutes < 60 * horizon_hours)  # else refused: no time left for work
    redundancy = min(redundancy, n_raters)
    campaign_kwargs = dict(
        redundancy=redundancy, pay_per_answer=pay, training_minutes=training_minutes, hourly_wage=9.0,
        page_size=page_size, horizon_hours=horizon_hours,
    )  # fmt: skip
    training = float(Fraction(9.0) * Fraction(training_minutes) / 60)
    budget = training + max(pay, 0.01) * budget_answers + 1e-9  # float sums may fall short of the exact minimum
    campaign = Campaign(budget=budget, **campaign_kwargs)
    result = simulate(
        TaskDesign(n_items=n_items, gold_fraction=gold_fraction, n_gold=5),
        RaterPopulation(n_raters=n_raters, sessions=2),
        campaign,
        seed=seed,
    )
    ledger = result.ledger
    exact_spend = Fraction(pay) * len(result.answers) + Fraction(9.0) * Fraction(training_minutes) / 60 * int(
        result.raters["trained"].sum()
    )
    assert exact_spend <= Fraction(budget)
    assert ledger["spend"] <= budget
    assert ledger["spend"] == pytest.approx(float(exact_spend))
    assert ledger["stop_reason"] in {"complete", "budget", "time_horizon", "raters_exhausted"}
    if ledger["stop_reason"] == "complete":
        assert ledger["items_complete"] == n_items


def test_budget_stops_the_campaign_exactly():
    result = simulate(TaskDesign(n_items=1000, gold_fraction=0.0), RaterPopulation(n_raters=20),
                      Campaign(redundancy=3, budget=10.0, pay_per_answer=0.03), seed=0)  # fmt: skip
    assert result.ledger["stop_reason"] == "budget"
    assert len(result.answers) == 333  # floor(10 / 0.03)
    assert result.ledger["spend"] <= 10.0


@pytest.mark.parametrize(("budget", "pay", "answers"), [(10.0, 0.05, 200), (3.0, 0.1, 30), (0.3, 0.1, 3)])
def test_a_budget_buys_the_answers_its_decimal_amounts_say(budget, pay, answers):
    """0.05 is not a binary float: counted as one (just above 0.05), 10 would buy 199 answers."""
    result = simulate(TaskDesign(n_items=1000, gold_fraction=0.0), RaterPopulation(n_raters=20),
                      Campaign(redundancy=1, budget=budget, pay_per_answer=pay), seed=0)  # fmt: skip
    assert len(result.answers) == answers


def test_time_horizon_stops_the_campaign():
    result = simulate(TaskDesign(n_items=5000), RaterPopulation(n_raters=10),
                      Campaign(redundancy=3, horizon_hours=0.5), seed=0)  # fmt: skip
    assert result.ledger["stop_reason"] == "time_horizon"
    assert result.answers["t_end"].max() <= 0.5 * 3600


def test_no_rater_labels_an_item_twice_and_redundancy_is_exact():
    result = simulate(TaskDesign(n_items=500), RaterPopulation(n_raters=7, sessions=20), Campaign(redundancy=5), seed=4)
    assert result.ledger["stop_reason"] == "complete"
    regular = result.answers[~result.answers["is_gold"]]
    assert not regular.duplicated(["task", "worker"]).any()
    assert not result.answers.duplicated(["task", "worker"]).any()  # gold questions too
    assert (regular.groupby("task").size() == 5).all()


def test_same_seed_same_tables_other_seed_other_tables():
    args = (TaskDesign(n_items=400), RaterPopulation(n_raters=25), Campaign(redundancy=3, budget=50.0))
    first, again, other = simulate(*args, seed=5), simulate(*args, seed=5), simulate(*args, seed=6)
    for name in ("answers", "items", "raters"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(again, name), check_exact=True)
    assert first.ledger == again.ledger
    assert not first.answers["label"].equals(other.answers["label"])


def test_common_random_numbers_adding_raters_keeps_the_first_raters():
    """Rater j's profile comes from its own stream: a larger pool does not reshuffle the first raters' skills."""
    small = simulate(TaskDesign(n_items=50), RaterPopulation(n_raters=10, archetypes={"honest": 1}), seed=2)
    large = simulate(TaskDesign(n_items=50), RaterPopulation(n_raters=20, archetypes={"honest": 1}), seed=2)
    assert np.array_equal(small.raters["ability"].to_numpy(), large.raters["ability"].to_numpy()[:10])
    assert small.items.drop(columns="answers").equals(large.items.drop(columns="answers"))


def _single_honest(**population) -> RaterPopulation:
    defaults = dict(n_raters=40, archetypes={"honest": 1.0}, ability_sd=0.0, ability_mean=1.0, learning_gain=0.0,
                    fatigue_max=0.0, sessions=10_000)  # fmt: skip
    return RaterPopulation(**{**defaults, **population})


def _plain_items(n_items: int, **design) -> TaskDesign:
    return TaskDesign(n_items=n_items, difficulty_sd=0.0, ambiguous_fraction=0.0, gold_fraction=0.0, **design)


def _observed(result):
    answers = result.answers
    truth = result.items["true_label"].to_numpy()[answers["task"].to_numpy()]
    return answers.assign(correct=answers["label"].to_numpy() == truth)


def test_learning_raises_accuracy_by_the_power_law():
    population = _single_honest(learning_gain=1.5, learning_scale=20, learning_exponent=0.5)
    result = simulate(_plain_items(8000, guideline_complexity=0.0), population, Campaign(redundancy=1), seed=0)
    answers = _observed(result).sort_values(["worker", "t_start"])
    practice = answers.groupby("worker").cumcount().to_numpy()
    early, late = answers[practice < 10], answers[practice >= 150]
    for group in (early, late):
        expected = expit(1.0 + 1.5 * (1 - (1 + practice[group.index.map(answers.index.get_loc)] / 20) ** -0.5))
        assert group["p_correct"].to_numpy() == pytest.approx(expected)
        assert abs(group["correct"].mean() - expected.mean()) < 4 * np.sqrt(expected.mean() * 0.5 / len(group))
    assert late["correct"].mean() > early["correct"].mean() + 0.1


def test_fatigue_lowers_accuracy_within_a_session_and_breaks_restore_it():
    population = _single_honest(fatigue_max=2.0, fatigue_tau_minutes=20, recovery_tau_minutes=5,
                                session_minutes=60, break_minutes=30, sessions=3)  # fmt: skip
    result = simulate(_plain_items(20_000, guideline_complexity=0.0), population, Campaign(redundancy=1), seed=1)
    answers = _observed(result)
    minutes_into_session = (answers["t_start"] % (90 * 60)) / 60  # sessions start every 60 + 30 minutes
    start = answers[minutes_into_session < 5]
    end = answers[(minutes_into_session > 45) & (minutes_into_session < 60)]
    # documented amount: p = expit(1 - 2 (1 - exp(-tau / 20 min))) at the start of each answer
    assert end["p_correct"].mean() < expit(1.0 - 2.0 * (1 - np.exp(-45 / 20))) + 1e-9
    assert end["correct"].mean() < start["correct"].mean() - 0.15
    after_break = answers[(answers["t_start"] >= 90 * 60) & (minutes_into_session < 2)]
    # 30 minutes of break with a 5-minute recovery constant leave exp(-6) of the time on task: nearly fresh
    assert after_break["p_correct"].mean() > expit(1.0 - 2.0 * (1 - np.exp(-(60 * np.exp(-6) + 2) / 20))) - 1e-9
    assert after_break["correct"].mean() > end["correct"].mean() + 0.15


def test_guideline_complexity_trades_clarity_against_burden():
    """At c = 1 ambiguous items get easier (resolution), untrained raters pay the comprehension penalty and every
    answer takes (1 + complexity_time) times longer."""
    design = dict(
        n_items=6000, difficulty_sd=0.0, ambiguous_fraction=0.5, ambiguity_penalty=3.0,
        guideline_resolution=1.0, comprehension_penalty=0.5, complexity_time=1.0, gold_fraction=0.0,
    )  # fmt: skip
    population = _single_honest(ability_mean=2.0, answer_time_sd=0.0, speed_sd=0.0)
    simple = simulate(TaskDesign(guideline_complexity=0.0, **design), population, Campaign(redundancy=1), seed=2)
    complex_ = simulate(TaskDesign(guideline_complexity=1.0, **design), population, Campaign(redundancy=1), seed=2)
    duration = lambda r: (r.answers["t_end"] - r.answers["t_start"]).median()  # noqa: E731
    assert duration(complex_) / duration(simple) == pytest.approx(2.0)
    for result, clear_p, ambiguous_p in [(simple, expit(2.0), expit(2.0 - 3.0)), (complex_, expit(1.5), expit(1.5))]:
        answers = _observed(result).merge(result.items[["task", "ambiguous"]], on="task")
        by_kind = answers.groupby("ambiguous")["p_correct"].mean()
        assert by_kind[False] == pytest.approx(clear_p) and by_kind[True] == pytest.approx(ambiguous_p)
    assert _observed(complex_)["correct"].mean() > _observed(simple)["correct"].mean() + 0.1


def test_training_removes_the_comprehension_penalty_and_is_paid():
    design = _plain_items(3000, guideline_complexity=1.0, comprehension_penalty=2.0, training_half_life_minutes=5)
    population = _single_honest(ability_mean=1.0)
    untrained = simulate(design, population, Campaign(redundancy=1), seed=3)
    trained = simulate(design, population, Campaign(redundancy=1, training_minutes=20, hourly_wage=15), seed=3)
    assert untrained.answers["p_correct"].to_numpy() == pytest.approx(np.full(3000, expit(1.0 - 2.0)))
    assert trained.answers["p_correct"].to_numpy() == pytest.approx(np.full(3000, expit(1.0 - 2.0 / 16)))
    assert _observed(trained)["correct"].mean() > _observed(untrained)["correct"].mean() + 0.2
    assert trained.ledger["training_spend"] == pytest.approx(40 * 15 * 20 / 60)
    assert trained.answers["t_start"].min() == pytest.approx(20 * 60)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Campaign(redundancy=0), r"campaign.redundancy must be an integer >= 1, got 0"),
        (lambda: Campaign(redundancy=-2), r"campaign.redundancy must be an integer >= 1"),
        (lambda: simulate(raters=RaterPopulation(n_raters=3), campaign=Campaign(redundancy=4)),
         r"campaign.redundancy = 4 exceeds the rater pool: it must be at most raters.n_raters = 3"),
        (lambda: RaterPopulation(archetypes={"condorcet": 1}, accuracy=1.5),
         r"raters.accuracy must be in \[0.0, 1.0\]"),
        (lambda: TaskDesign(gold_fraction=-0.1), r"task.gold_fraction must be in \[0.0, 1.0\)"),
        (lambda: TaskDesign(guideline_complexity=2), r"task.guideline_complexity must be in \[0.0, 1.0\]"),
        (lambda: RaterPopulation(archetypes={"sloppy": 1}), r"raters.archetypes must be one of \['honest'"),
        (lambda: Campaign(budget=0.01, pay_per_answer=0.05), r"campaign.budget = 0.01 is too small to buy one answer"),
        (lambda: RaterPopulation(archetypes={"condorcet": 1}), r"raters.accuracy must be set"),
        (lambda: simulate(TaskDesign(n_classes=2), RaterPopulation(archetypes={"confusion": 1}, confusion=[[1.0]])),
         r"raters.confusion must be a 2 x 2 matrix"),
    ],
)  # fmt: skip
def test_bad_configuration_gets_a_clear_error(build, message):
    with pytest.raises(ConfigError, match=message):
        build()


@pytest.mark.parametrize("page_size", [1, 10])
def test_gold_questions_come_at_the_configured_rate(page_size):
    design = TaskDesign(n_items=2000, gold_fraction=0.1, n_gold=200)
    result = simulate(design, RaterPopulation(n_raters=20, sessions=50), Campaign(redundancy=3, page_size=page_size))
    answers = result.answers
    assert answers["is_gold"].mean() == pytest.approx(0.1, abs=0.01)
    assert (answers.loc[answers["is_gold"], "task"] >= 2000).all()
    assert result.ledger["stop_reason"] == "complete"


def test_poisson_arrivals_spread_raters_at_the_configured_rate():
    result = simulate(TaskDesign(n_items=200), RaterPopulation(n_raters=400),
                      Campaign(redundancy=1, arrival="poisson", arrival_rate_per_hour=120.0), seed=9)  # fmt: skip
    arrivals = result.raters["arrival_hours"].to_numpy()
    assert np.all(np.diff(arrivals) > 0)
    gaps = np.diff(arrivals, prepend=0.0)
    assert gaps.mean() == pytest.approx(1 / 120, rel=0.15)  # 400 exponential gaps: sd of the mean 5%
    first_answer = result.answers.groupby("worker")["t_start"].min() / 3600
    assert (first_answer.to_numpy() >= arrivals[first_answer.index] - 1e-12).all()
