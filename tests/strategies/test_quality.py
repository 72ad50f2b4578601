"""Quality control in the running campaign: gold blocking, qualification and blocking without gold, judged against
the simulator's true archetypes and accuracies; and the oracle as the upper bound."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from sim import Campaign, ConfigError, RaterPopulation, TaskDesign, simulate
from strategies.aggregation import (
    GLAD,
    MACE,
    DawidSkene,
    MajorityVote,
    OneCoinDawidSkene,
    Oracle,
    Wawa,
    ZeroBasedSkill,
)
from strategies.quality import AgreementBlocking, Calibration, GoldBlocking, Qualification

SPAMMY = RaterPopulation(n_raters=100, archetypes={"honest": 0.6, "expert": 0.1, "spammer": 0.3}, sessions=20)


def accuracy(aggregator, result) -> float:
    if isinstance(aggregator, Oracle):
        labels = aggregator.fit_predict(result.worker_answers(), log_joint=result.log_joint)
    else:
        labels = aggregator.fit_predict(result.worker_answers())
    return float((labels.reindex(result.truth.index) == result.truth).mean())


def blocking_quality(result, threshold: float) -> tuple[float, float]:
    """(share of spammers blocked, share of blocked raters that are spammers or below the threshold)."""
    raters = result.raters
    spammer, blocked = raters["archetype"] == "spammer", raters["blocked"]
    deserved = spammer | (raters["expected_accuracy"] < threshold)
    return float((blocked & spammer).sum() / spammer.sum()), float((blocked & deserved).sum() / blocked.sum())


@pytest.mark.parametrize("seed", [1, 2])
def test_gold_blocking_catches_spammers_and_buys_accuracy(seed):
    """30% spammers, gold 10%: blocking by the Beta rule blocks >= 90% of the spammers, >= 90% of those it blocks
    are spammers or below the 0.6 threshold, and accuracy per unit of spend rises (measured: recall 0.97/0.93,
    precision 0.97/0.92, majority-vote accuracy 0.660/0.633 against 0.542/0.546 at the same spend of 500)."""
    design = TaskDesign(n_items=3000, gold_fraction=0.1)
    plain = simulate(design, SPAMMY, Campaign(redundancy=3), seed=seed)
    blocked = simulate(design, SPAMMY, Campaign(redundancy=3), seed=seed, quality=[GoldBlocking()])
    recall, precision = blocking_quality(blocked, 0.6)
    assert recall >= 0.9 and precision >= 0.9
    per_spend = [accuracy(MajorityVote(), r) / r.ledger["spend"] for r in (plain, blocked)]
    assert per_spend[1] > per_spend[0]
    assert blocked.raters.loc[blocked.raters["blocked"], "blocked_at"].notna().all()
    assert (blocked.raters.loc[blocked.raters["blocked"], "left_reason"] == "blocked").all()


def test_dropping_a_blocked_raters_answers_reopens_its_items():
    """With drop_answers the blocked raters' answers are marked dropped, aggregators do not see them, and their
    items are labeled again by others: every item still gets its three answers that count."""
    design = TaskDesign(n_items=1500, gold_fraction=0.1)
    result = simulate(design, SPAMMY, Campaign(redundancy=3), seed=3, quality=[GoldBlocking(drop_answers=True)])
    answers = result.answers
    blocked = set(result.raters.index[result.raters["blocked"]])
    assert blocked and set(answers.loc[answers["dropped"], "worker"]) == blocked
    counting = result.worker_answers()
    assert not set(counting["worker"]) & blocked
    assert (counting.groupby("task").size() == 3).all() and counting["task"].nunique() == 1500
    assert result.ledger["n_dropped_answers"] == int(answers["dropped"].sum())


def test_qualification_turns_away_spammers_and_keeps_good_raters():
    """Ten questions at pass mark 0.7: a spammer (1/3 right) passes with P(Bin(10, 1/3) >= 7) = 0.02, a rater of
    accuracy 0.8 with 0.88. Measured on 400 raters: 96% of spammers turned away, 1.5% of raters of expected
    accuracy >= 0.8."""
    assert binom.sf(6, 10, 1 / 3) == pytest.approx(0.0197, abs=1e-4)
    population = RaterPopulation(n_raters=400, archetypes={"honest": 0.6, "expert": 0.1, "spammer": 0.3}, sessions=2)
    result = simulate(TaskDesign(n_items=3000, gold_fraction=0.05), population, Campaign(), seed=1,
                      quality=[Qualification(n_questions=10, pass_mark=0.7)])  # fmt: skip
    raters = result.raters
    spammer, good = raters["archetype"] == "spammer", raters["expected_accuracy"] >= 0.8
    assert (~raters["qualified"] & spammer).sum() / spammer.sum() >= 0.9
    assert (~raters["qualified"] & good).sum() / good.sum() <= 0.1
    failed = raters[~raters["qualified"]]
    assert (failed["left_reason"] == "failed_qualification").all() and (failed["answers"] == 10).all()
    assert result.ledger["qualification_spend"] == pytest.approx(400 * 10 * 0.05)
    stage = result.answers["stage"]
    assert (result.answers.loc[stage == "qualification", "is_gold"]).all()
    assert not result.worker_answers().index.isin(result.answers.index[stage == "qualification"]).any()


def test_an_unpaid_qualification_costs_nothing():
    result = simulate(TaskDesign(n_items=300), RaterPopulation(n_raters=20), Campaign(), seed=2,
                      quality=[Qualification(n_questions=5, paid=False)])  # fmt: skip
    qualification = result.answers["stage"] == "qualification"
    assert qualification.sum() == 100 and (result.answers.loc[qualification, "cost"] == 0).all()
    assert result.ledger["qualification_spend"] == 0


@pytest.mark.parametrize(("method", "threshold"), [("agreement", 0.5), ("spammer_score", 0.1)])
def test_blocking_without_gold_finds_the_spammers(method, threshold):
    """No gold at all: online Dawid-Skene's consensus (agreement) or its confusion matrices (spammer score) block
    at least 90% of the spammers, and at least 75% of the blocked are spammers or below accuracy 0.6 (measured: 1.00
    and 0.80 for agreement, 0.93 and 0.94 for the spammer score)."""
    design = TaskDesign(n_items=3000, gold_fraction=0.0)
    result = simulate(design, SPAMMY, Campaign(redundancy=3), seed=1,
                      quality=[AgreementBlocking(method=method, threshold=threshold)])  # fmt: skip
    recall, precision = blocking_quality(result, 0.6)
    assert recall >= 0.9 and precision >= 0.75


@pytest.mark.parametrize(
    ("control", "design", "message"),
    [
        (Qualification(n_questions=5), TaskDesign(n_gold=0, gold_fraction=0.0), r"qualification.n_questions = 5 needs"),
        (Qualification(pass_mark=1.2), TaskDesign(), r"quality.qualification.pass_mark must be in \[0.0, 1.0\]"),
        (GoldBlocking(), TaskDesign(gold_fraction=0.0), r"quality.gold_blocking learns from gold answers"),
        (GoldBlocking(confidence=1.0), TaskDesign(), r"quality.gold_blocking.confidence must be in \(0.0, 1.0\)"),
        (GoldBlocking(threshold=-0.1), TaskDesign(), r"quality.gold_blocking.threshold must be in \[0.0, 1.0\]"),
        (Calibration(every_answers=None, every_hours=None), TaskDesign(), r"needs every_answers or every_hours"),
        (Calibration(ability_gain=0.8), TaskDesign(), r"quality.calibration.ability_gain must be in \[0.0, 0.5\]"),
        (AgreementBlocking(method="vote"), TaskDesign(), r"quality.agreement_blocking.method must be one of"),
        (AgreementBlocking(method="spammer_score", aggregator="majority_vote"), TaskDesign(),
         r"needs confusion matrices"),
    ],
)  # fmt: skip
def test_bad_quality_settings_get_a_clear_error(control, design, message):
    with pytest.raises(ConfigError, match=message):
        simulate(design, RaterPopulation(n_raters=10), Campaign(), quality=[control])


def test_two_options_of_one_kind_are_refused():
    with pytest.raises(ConfigError, match="at most one Qualification"):
        simulate(quality=[Qualification(), Qualification(n_questions=3)])


DESIGNS = [
    (TaskDesign(n_items=500, n_classes=k, confuser_weight=w, guideline_complexity=c),
     RaterPopulation(n_raters=30, archetypes=archetypes), Campaign(redundancy=r))
    for k, w, c, r, archetypes in [
        (2, 0.5, 0.3, 3, {"honest": 0.8, "spammer": 0.2}), (3, 0.5, 0.3, 3, {"honest": 0.9, "adversary": 0.1}),
        (3, 0.9, 0.0, 5, {"honest": 1.0}), (4, 0.2, 1.0, 3, {"honest": 0.7, "expert": 0.3}),
        (3, 0.5, 0.5, 1, {"honest": 1.0}), (2, 0.0, 0.3, 5, {"honest": 0.5, "spammer": 0.5}),
        (5, 0.5, 0.3, 3, {"honest": 0.6, "lazy": 0.2, "spammer": 0.2}), (3, 0.3, 0.8, 7, {"honest": 1.0}),
        (2, 0.5, 0.3, 3, {"expert": 0.5, "adversary": 0.5}), (3, 0.5, 0.3, 4, {"honest": 0.8, "expert": 0.2}),
    ]
]  # fmt: skip


def test_the_oracle_is_the_upper_bound_on_average_over_twenty_designs():
    """Ten designs (classes, correlated errors, guidelines, redundancy, archetype mixes) times two seeds: the
    oracle's mean accuracy is at least every aggregator's."""
    aggregators = [MajorityVote(), Wawa(), ZeroBasedSkill(), DawidSkene(), OneCoinDawidSkene(), GLAD(), MACE()]
    scores = np.zeros((len(DESIGNS) * 2, len(aggregators) + 1))
    for i, (design, population, campaign) in enumerate(DESIGNS * 2):
        result = simulate(design, population, campaign, seed=i)
        scores[i] = [accuracy(a, result) for a in aggregators] + [accuracy(Oracle(), result)]
    mean = scores.mean(axis=0)
    assert (mean[-1] >= mean[:-1]).all(), dict(zip([type(a).__name__ for a in aggregators], mean[:-1], strict=True))


def test_the_oracle_beats_the_aggregators_on_the_default_campaign():
    result = simulate(TaskDesign(n_items=2000), RaterPopulation(), Campaign(), seed=1)
    oracle = accuracy(Oracle(), result)
    assert oracle > accuracy(DawidSkene(), result) > accuracy(MajorityVote(), result)


def test_dawid_skene_is_within_a_point_of_the_oracle_on_its_own_model():
    """Raters drawn from the Dawid-Skene model (the confusion archetype, items of no difficulty), each giving at
    least 100 answers: Dawid-Skene's accuracy is within 1 point of the Bayes posterior's."""
    matrices = [
        [[0.8, 0.1, 0.1], [0.1, 0.7, 0.2], [0.2, 0.2, 0.6]],
        [[0.6, 0.3, 0.1], [0.2, 0.6, 0.2], [0.1, 0.1, 0.8]],
        [[0.4, 0.3, 0.3], [0.3, 0.4, 0.3], [0.3, 0.3, 0.4]],
        [[0.9, 0.05, 0.05], [0.05, 0.9, 0.05], [0.3, 0.3, 0.4]],
    ]
    design = TaskDesign(n_items=4000, n_classes=3, difficulty_sd=0.0, ambiguous_fraction=0.0, gold_fraction=0.0)
    population = RaterPopulation(n_raters=20, archetypes={"confusion": 1.0}, confusion=matrices, sessions=1000)
    result = simulate(design, population, Campaign(redundancy=5), seed=4)
    assert result.raters["answers"].min() >= 100
    assert accuracy(Oracle(), result) - accuracy(DawidSkene(), result) <= 0.01


def test_the_beta_rule_blocks_at_the_closed_form():
    """Uniform prior, 0 of 3 gold right: P(accuracy < 0.6) = 1 - 0.4^4 = 0.9744 > 0.95, block; 1 of 4:
    Beta(2, 4), P = 1 - 0.4^5 - 5 * 0.6 * 0.4^4 = 0.9130, not yet."""
    from strategies.quality.gold_blocking import probability_below

    assert probability_below(0.6, 0, 3, 1.0, 1.0) == pytest.approx(1 - 0.4**4)
    assert probability_below(0.6, 1, 3, 1.0, 1.0) == pytest.approx(1 - 0.4**5 - 5 * 0.6 * 0.4**4)


@pytest.mark.parametrize(
    "design",
    [
        (TaskDesign(n_items=2000), RaterPopulation(colluder_share=0.4), Campaign()),
        (TaskDesign(n_items=2000), RaterPopulation(drift_sd=1.0, sessions=20), Campaign()),
        (TaskDesign(n_items=3000, revision_hours=0.3, revised_fraction=0.3), RaterPopulation(), Campaign()),
        (TaskDesign(n_items=1500, revision_hours=50, revised_fraction=0.5), RaterPopulation(),
         Campaign(horizon_hours=0.5)),
    ],
    ids=["colluders", "drift", "revision", "revision never reached"],
)  # fmt: skip
def test_the_oracle_is_calibrated(design):
    """The oracle is the Bayes posterior: its mean top probability equals its accuracy within 4 standard errors,
    with colluders, drift, a revision, and a revision scheduled after the horizon (which must not happen)."""
    result = simulate(*design, seed=2, quality=[Calibration(every_answers=100)])
    answers = result.worker_answers()
    oracle = Oracle().fit(answers, log_joint=result.log_joint)
    top = oracle.probas_.max(axis=1)
    right = (oracle.labels_.reindex(top.index) == result.truth.reindex(top.index)).to_numpy()
    standard_error = np.sqrt((top * (1 - top)).sum()) / len(top)
    assert abs(right.mean() - top.mean()) < 4 * standard_error + 1e-9
