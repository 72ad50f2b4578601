"""Rater quality scores: hand-checked fixtures, the spammer score's closed form, synthetic extremes, real data."""

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from strategies.aggregation import AnswersError, DawidSkene
from strategies.aggregation.checks import synthetic_answers
from strategies.quality import (
    SCORE_COLUMNS,
    flag_precision_recall,
    flag_raters,
    rater_scores,
    spammer_scores,
)


@pytest.fixture
def hand_answers() -> pd.DataFrame:
    """Five tasks, four workers; ``gold`` says t1 'b', t2 'b', t4 'b' (t9 is gold but nobody answered it).

    ========  ====  ====  ====  ====
    task      w1    w2    w3    w4
    ========  ====  ====  ====  ====
    t1        a     a     b
    t2        b     b     b
    t3        a     b     a
    t4                    a
    t5                          b
    ========  ====  ====  ====  ====

    Leave-one-out agreement (majority of the *other* answers; an m-way tie gives 1/m if the answer is tied):

    * w1: t1 others {a, b} tie, a tied: 1/2; t2 others {b, b}: 1; t3 others {b, a} tie: 1/2.  -> 2/3
    * w2: t1 others {a, b} tie: 1/2; t2: 1; t3 others {a, a}, answered b: 0.                 -> 1/2
    * w3: t1 others {a, a}, answered b: 0; t2: 1; t3 others {a, b} tie: 1/2; t4 nobody else. -> 1/2 (3 compared)
    * w4: t5 nobody else.                                                                     -> NaN

    Gold accuracy: w1 t1 wrong, t2 right -> 1/2; w2 the same -> 1/2; w3 t1, t2 right, t4 wrong -> 2/3 on 3;
    w4 answered no gold task -> 0 gold answers, NaN.
    """
    rows = [
        ("t1", "w1", "a"), ("t1", "w2", "a"), ("t1", "w3", "b"),
        ("t2", "w1", "b"), ("t2", "w2", "b"), ("t2", "w3", "b"),
        ("t3", "w1", "a"), ("t3", "w2", "b"), ("t3", "w3", "a"),
        ("t4", "w3", "a"),
        ("t5", "w4", "b"),
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=["task", "worker", "label"])


HAND_GOLD = pd.Series({"t1": "b", "t2": "b", "t4": "b", "t9": "a"})


def test_hand_checked_counts_gold_accuracy_and_agreement(hand_answers):
    scores = rater_scores(hand_answers, gold=HAND_GOLD)
    assert tuple(scores.columns) == SCORE_COLUMNS
    assert scores.index.name == "worker" and list(scores.index) == ["w1", "w2", "w3", "w4"]
    assert scores["n_answers"].tolist() == [3, 3, 4, 1]
    assert scores["gold_answers"].tolist() == [2, 2, 3, 0]
    np.testing.assert_allclose(scores["gold_accuracy"], [1 / 2, 1 / 2, 2 / 3, np.nan])
    np.testing.assert_allclose(scores["agreement"], [2 / 3, 1 / 2, 1 / 2, np.nan])
    assert scores.loc[["w1", "w2", "w3"], ["estimated_accuracy", "spammer_score"]].notna().all().all()


def test_given_consensus_replaces_the_leave_one_out_vote(hand_answers):
    """Consensus t1 'a', t2 'b', t3 'a': w1 agrees 3/3; w2 2/3 (t3); w3 2/3 (t1 wrong, t4 has none); w4 none."""
    consensus = pd.Series({"t1": "a", "t2": "b", "t3": "a"})
    scores = rater_scores(hand_answers, consensus=consensus)
    np.testing.assert_allclose(scores["agreement"], [1.0, 2 / 3, 2 / 3, np.nan])


def test_without_gold_the_gold_columns_are_zero_and_nan(hand_answers):
    scores = rater_scores(hand_answers)
    assert (scores["gold_answers"] == 0).all()
    assert scores["gold_accuracy"].isna().all()


def test_own_duplicate_answers_do_not_vote_for_themselves():
    """w1 answers t1 'a' twice, w2 'b' once: w1's consensus is w2's 'b' (0 for both of w1's answers); w2's is
    {a, a} (0)."""
    answers = pd.DataFrame(
        [("t1", "w1", "a"), ("t1", "w1", "a"), ("t1", "w2", "b")], columns=["task", "worker", "label"]
    )
    scores = rater_scores(answers)
    assert scores["n_answers"].tolist() == [2, 1]
    np.testing.assert_allclose(scores["agreement"], [0.0, 0.0])


def test_scores_do_not_depend_on_row_order_or_ids(hand_answers):
    scores = rater_scores(hand_answers, gold=HAND_GOLD)
    shuffled = hand_answers.sample(frac=1.0, random_state=3).reset_index(drop=True)
    shuffled = shuffled.assign(worker=shuffled["worker"].map({"w1": "z", "w2": "y", "w3": "x", "w4": "v"}))
    renamed = rater_scores(shuffled, gold=HAND_GOLD).rename(index={"z": "w1", "y": "w2", "x": "w3", "v": "w4"})
    pd.testing.assert_frame_equal(renamed.sort_index(), scores.sort_index(), check_exact=False, atol=1e-9)


def pairwise_spammer_score(confusion: np.ndarray) -> float:
    """Raykar and Yu's normalised score in its pairwise form, from ``a[c, k] = Pr(answer k | class c)``."""
    k = confusion.shape[0]
    total = sum(
        (confusion[c, label] - confusion[other, label]) ** 2
        for c, other in itertools.combinations(range(k), 2)
        for label in range(k)
    )
    return total / (k * (k - 1))


def test_spammer_score_closed_forms():
    """Identity 1, rank one 0, a permutation 1, uniform wrong 1/(K-1)^2, binary (alpha + beta - 1)^2, pairwise."""
    rng = np.random.default_rng(0)
    assert spammer_scores(np.eye(3)[None])[0] == pytest.approx(1.0)
    row = rng.dirichlet(np.ones(4))
    assert spammer_scores(np.repeat(row[:, None], 4, axis=1)[None])[0] == pytest.approx(0.0, abs=1e-15)
    assert spammer_scores(np.eye(3)[[2, 0, 1]][None])[0] == pytest.approx(1.0)
    always_wrong = (np.ones((3, 3)) - np.eye(3)) / 2  # a wrong label uniformly: 1 / (K - 1)^2
    assert spammer_scores(always_wrong[None])[0] == pytest.approx(0.25)
    sensitivity, specificity = 0.8, 0.7  # classes (0, 1): Pr(1 | 1) = 0.8, Pr(0 | 0) = 0.7
    binary = np.array([[specificity, 1 - sensitivity], [1 - specificity, sensitivity]])  # [answered, class]
    assert spammer_scores(binary[None])[0] == pytest.approx((sensitivity + specificity - 1) ** 2)
    confusions = rng.dirichlet(np.ones(5), size=(6, 5)).transpose(0, 2, 1)  # [worker, answered, class]
    expected = [pairwise_spammer_score(matrix.T) for matrix in confusions]
    np.testing.assert_allclose(spammer_scores(confusions), expected)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_perfect_worker_scores_one_and_uniform_spammer_zero(n_classes):
    """300 tasks, honest workers of accuracy 0.6-0.95 (5 per task), plus a perfect worker and a uniform spammer who
    answer every task: spammer score ~1 and ~0 (sampling noise ~(K-1)/300), estimated accuracy ~1 and ~1/K."""
    answers, truth = synthetic_answers(n_tasks=300, n_workers=10, answers_per_task=5, n_classes=n_classes, seed=1)
    rng = np.random.default_rng(2)
    extra = pd.DataFrame(
        {
            "task": np.tile(truth.index.to_numpy(), 2),
            "worker": np.repeat([1000, 1001], len(truth)),
            "label": np.concatenate([truth.to_numpy(), rng.integers(0, n_classes, len(truth))]),
        }
    )
    scores = rater_scores(pd.concat([answers, extra], ignore_index=True), gold=truth)
    perfect, spammer = scores.loc[1000], scores.loc[1001]
    assert perfect["spammer_score"] > 0.95 and perfect["estimated_accuracy"] > 0.97
    assert spammer["spammer_score"] < 0.05
    assert spammer["estimated_accuracy"] == pytest.approx(1 / n_classes, abs=0.08)
    assert perfect["gold_accuracy"] == 1.0
    honest = scores.drop(index=[1000, 1001])
    assert (honest["spammer_score"] > spammer["spammer_score"]).all()
    assert (honest["agreement"] > spammer["agreement"]).all()


def inject_spammers(
    answers: pd.DataFrame, n_spammers: int = 10, per_spammer: int = 50, seed: int = 0
) -> tuple[pd.DataFrame, pd.Index]:
    """``answers`` plus ``n_spammers`` uniform-random workers, each answering ``per_spammer`` distinct tasks."""
    rng = np.random.default_rng(seed)
    tasks = answers["task"].unique()
    labels = np.sort(answers["label"].unique())
    if answers["worker"].dtype.kind in "iu":
        ids = pd.Index(answers["worker"].max() + 1 + np.arange(n_spammers))
    else:
        ids = pd.Index([f"injected-spammer-{i}" for i in range(n_spammers)], dtype=object)
    chosen = np.argsort(rng.random((n_spammers, len(tasks))), axis=1)[:, :per_spammer]
    spam = pd.DataFrame(
        {
            "task": tasks[chosen.ravel()],
            "worker": np.repeat(ids.to_numpy(), per_spammer),
            "label": rng.choice(labels, n_spammers * per_spammer),
        }
    )
    return pd.concat([answers, spam], ignore_index=True), ids


# Spammer-score thresholds: a uniform spammer's score from n answers is about (K - 1)/n by sampling noise alone,
# 0.02 (binary) and 0.06 (4 classes) at 50 answers; each threshold sits ~3-5x above that and below the honest workers.
SPAMMER_THRESHOLD = {"rte": 0.1, "dog": 0.2}


@pytest.mark.parametrize("name", ["rte", "dog"])
def test_injected_spammers_rank_below_real_workers_and_are_flagged(load_real_dataset, name):
    """Measured (seeds 0-9): rte recall 0.9-1.0, precision against the injected alone 0.33-0.36 (18 real workers
    flagged, every one with gold accuracy <= 0.7: rte's crowd holds workers near chance, three of them with 540-800
    answers at 0.50 on gold), precision counting those as bad 1.0; dog precision and recall 1.0."""
    answers, gold = load_real_dataset(name)
    data, injected = inject_spammers(answers, seed=0)
    scores = rater_scores(data, gold=gold)
    is_injected = pd.Series(scores.index.isin(injected), index=scores.index)
    real, spam = scores[~is_injected], scores[is_injected]
    assert (spam["spammer_score"] < real["spammer_score"].quantile(0.25)).all()
    assert (spam["agreement"] < real["agreement"].quantile(0.25)).all()

    flagged = flag_raters(scores, "spammer_score", SPAMMER_THRESHOLD[name])
    against_injected = flag_precision_recall(flagged, is_injected)
    assert against_injected["recall"] >= 0.9
    # A flagged real worker is a false alarm unless the gold shows them near chance (at most 14 of 20 right is not
    # significantly better than a coin at the 5% level); on dog no real worker is flagged, so this is the same test.
    near_chance = is_injected | (scores["gold_accuracy"] <= 0.7)
    assert flag_precision_recall(flagged, near_chance)["precision"] >= 0.9
    if name == "dog":
        assert against_injected["precision"] >= 0.9


@pytest.mark.parametrize(("name", "minimum"), [("rte", 0.7), ("dog", 0.75)])
def test_estimated_accuracy_tracks_gold_accuracy(load_real_dataset, name, minimum):
    """Spearman correlation across real workers with >= 20 answers, the fit never seeing gold: measured rte 0.757
    (164 workers), dog 0.828 (69 workers); the brief's bar is 0.5, the asserted minimum sits just below the value."""
    answers, gold = load_real_dataset(name)
    scores = rater_scores(answers, gold=gold)
    experienced = scores[scores["n_answers"] >= 20]
    rho = spearmanr(experienced["estimated_accuracy"], experienced["gold_accuracy"]).statistic
    assert rho > minimum


def test_malformed_tables_raise_answers_error(hand_answers):
    with pytest.raises(AnswersError, match="empty"):
        rater_scores(hand_answers.iloc[:0])
    with pytest.raises(AnswersError, match="missing column"):
        rater_scores(hand_answers.drop(columns="label"))
    with pytest.raises(AnswersError, match="missing"):
        rater_scores(hand_answers.assign(label=hand_answers["label"].where(hand_answers["task"] != "t1")))
    with pytest.raises(AnswersError, match="single label"):
        rater_scores(hand_answers.assign(label="a"))
    with pytest.raises(TypeError, match="gold must be a pandas Series"):
        rater_scores(hand_answers, gold={"t1": "a"})  # type: ignore[arg-type]


def test_a_declared_second_label_makes_a_one_label_table_scorable(hand_answers):
    scores = rater_scores(hand_answers.assign(label=pd.Categorical(["a"] * len(hand_answers), categories=["a", "b"])))
    assert scores.loc[["w1", "w2", "w3"], ["estimated_accuracy", "spammer_score"]].notna().all().all()


def test_a_worker_nobody_else_checks_gets_nan_model_scores(hand_answers):
    """A single rater, and w4 alone on t5: no other answer constrains their confusion matrix, so NaN (documented),
    while their counts stay numbers."""
    solo = rater_scores(pd.DataFrame({"task": [1, 2, 3, 4], "worker": ["solo"] * 4, "label": [0, 1, 0, 1]}))
    assert solo.loc["solo", "n_answers"] == 4
    assert solo.loc["solo", ["estimated_accuracy", "spammer_score", "agreement"]].isna().all()
    scores = rater_scores(hand_answers)
    assert scores.loc["w4", ["estimated_accuracy", "spammer_score", "agreement"]].isna().all()
    assert not flag_raters(scores, "spammer_score", threshold=1.1, min_answers=0)["w4"]


def test_one_answer_worker_gets_finite_scores_and_is_not_flagged():
    """A worker with one answer on a shared task is scored, and left alone by min_answers."""
    answers = pd.DataFrame({"task": [1, 1, 2, 2, 1], "worker": ["a", "b", "a", "b", "c"], "label": [0, 0, 1, 1, 0]})
    scores = rater_scores(answers)
    assert scores.loc["c", "n_answers"] == 1
    assert scores.loc["c", ["estimated_accuracy", "spammer_score", "agreement"]].notna().all()
    assert scores.loc["c", "agreement"] == 1.0
    assert not flag_raters(scores, "spammer_score", threshold=1.1, min_answers=2)["c"]


def test_model_settings_are_used_and_the_model_is_left_unfitted(hand_answers):
    model = DawidSkene(n_iter=1, smoothing=1.0)
    heavy = rater_scores(hand_answers, model=model)
    light = rater_scores(hand_answers)
    assert not hasattr(model, "errors_")
    shared = ["w1", "w2", "w3"]  # w4 shares no task: NaN either way
    assert (heavy.loc[shared, "spammer_score"] < light.loc[shared, "spammer_score"]).all()  # shrunk to uniform


def test_flag_raters_threshold_min_answers_and_nan():
    scores = pd.DataFrame(
        {"n_answers": [30, 30, 5, 30], "spammer_score": [0.01, 0.5, 0.01, np.nan]},
        index=pd.Index(["low", "high", "few", "unknown"], name="worker"),
    )
    flagged = flag_raters(scores, "spammer_score", threshold=0.1, min_answers=10)
    assert flagged.dtype == bool and flagged.name == "flagged"
    assert flagged.to_dict() == {"low": True, "high": False, "few": False, "unknown": False}
    with pytest.raises(KeyError, match="no column 'agreement'"):
        flag_raters(scores, "agreement", 0.5)
    with pytest.raises(ValueError, match="finite"):
        flag_raters(scores, "spammer_score", float("nan"))


def test_flag_precision_recall_counts_and_empty_cases():
    index = pd.Index(["a", "b", "c", "d"], name="worker")
    flagged = pd.Series([True, True, False, False], index=index)
    bad = pd.Series([True, False, True, False], index=index[::-1].sort_values())  # same workers, any order
    assert flag_precision_recall(flagged, bad) == {"precision": 0.5, "recall": 0.5, "n_flagged": 2, "n_bad": 2}
    nobody = pd.Series(False, index=index)
    assert flag_precision_recall(nobody, bad) == {"precision": 1.0, "recall": 0.0, "n_flagged": 0, "n_bad": 2}
    assert flag_precision_recall(flagged, nobody) == {"precision": 0.0, "recall": 1.0, "n_flagged": 2, "n_bad": 0}
    assert flag_precision_recall(nobody, nobody)["precision"] == 1.0
    with pytest.raises(ValueError, match="different workers"):
        flag_precision_recall(flagged, bad.iloc[:3])
    with pytest.raises(TypeError, match="bools"):
        flag_precision_recall(flagged.astype(float), bad)
