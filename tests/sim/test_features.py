"""Items with features (sim.features) and item groups: features agree with labels and difficulty, groups change
what raters do only through the traits that say so, and bad settings are refused by name."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import logit
from sklearn.linear_model import LogisticRegression

from sim import Campaign, ConfigError, RaterPopulation, TaskDesign, simulate
from sim.features import DatasetFeatures, GaussianFeatures

HONEST = {"honest": 1.0}


def _run(features=None, task=None, raters=None, seed=3):
    task = task or TaskDesign(n_items=1500, gold_fraction=0.0)
    raters = raters or RaterPopulation(n_raters=40, archetypes=HONEST)
    return simulate(task, raters, Campaign(redundancy=3), seed=seed, features=features)


def _answer_accuracy(result, by: str) -> pd.Series:
    columns = list(dict.fromkeys(["task", "true_label", by]))
    answers = result.answers.merge(result.items[columns], on="task")
    return (answers["label"] == answers["true_label"]).groupby(answers[by]).mean()


def test_gaussian_features_leave_the_campaign_unchanged():
    """Features are drawn from a stream of their own: the same items, raters and answers as without them."""
    plain, featured = _run(), _run(GaussianFeatures())
    pd.testing.assert_frame_equal(plain.answers, featured.answers)
    pd.testing.assert_frame_equal(plain.items, featured.items)
    again = _run(GaussianFeatures())
    assert np.array_equal(featured.features.X, again.features.X)
    assert np.array_equal(featured.features.X_test, again.features.X_test)


def test_gaussian_features_agree_with_labels_and_difficulty():
    """A model trained on the true labels is far above chance on the clean test set, and it is least sure where the
    raters are: its log-probability of the true label falls with item difficulty, and ambiguous items (placed on the
    boundary with their confuser) are harder for it than the rest."""
    result = _run(GaussianFeatures(n_test=3000))
    features, items = result.features, result.items[~result.items["is_gold"]]
    X, y = features.X[: len(items)], items["true_label"].to_numpy()
    model = LogisticRegression(max_iter=1000).fit(X, y)
    assert model.score(features.X_test, features.y_test) > 0.65  # 3 classes: chance is 1/3 (measured 0.75)
    log_p = np.log(model.predict_proba(X)[np.arange(len(y)), y])
    assert np.corrcoef(items["difficulty"], log_p)[0, 1] < -0.2  # measured -0.33
    right = model.predict(X) == y
    ambiguous = items["ambiguous"].to_numpy()
    assert right[ambiguous].mean() < right[~ambiguous].mean() - 0.1


def test_group_gap_lowers_every_honest_answer_by_its_logits():
    """With ``group_gap = 1`` and no spread, an honest rater's P(correct) on a group-1 item is the same answer's
    P(correct) without the gap lowered by exactly one logit; on group 0 it is unchanged; the answers' own draws
    are the same uniforms, so accuracy on group 1 falls."""
    task = TaskDesign(n_items=1500, gold_fraction=0.0, group_share=0.4)
    fair = _run(task=task)
    unfair = _run(task=task, raters=RaterPopulation(n_raters=40, archetypes=HONEST, group_gap=1.0))
    group = fair.answers["task"].map(fair.items.set_index("task")["group"]).to_numpy()
    p_fair, p_unfair = fair.answers["p_correct"].to_numpy(), unfair.answers["p_correct"].to_numpy()
    assert 0.3 < group.mean() < 0.5
    np.testing.assert_allclose(logit(p_unfair[group == 1]), logit(p_fair[group == 1]) - 1.0, atol=1e-9)
    np.testing.assert_allclose(p_unfair[group == 0], p_fair[group == 0])
    accuracy = _answer_accuracy(unfair, "group")
    assert accuracy[1] < accuracy[0] - 0.1


def test_group_bias_pulls_wrong_answers_on_group_one_to_its_label():
    """``group_bias = 0.8`` sends most wrong answers on group-1 items (whose true label is another) to label 0."""
    task = TaskDesign(n_items=2000, gold_fraction=0.0, group_share=0.5, n_classes=4)
    result = _run(task=task, raters=RaterPopulation(n_raters=40, archetypes=HONEST, group_bias=0.8))
    answers = result.answers.merge(result.items[["task", "true_label", "group"]], on="task")
    wrong = answers[(answers["label"] != answers["true_label"]) & (answers["true_label"] != 0)]
    to_zero = (wrong["label"] == 0).groupby(wrong["group"]).mean()
    assert to_zero[1] > 0.8  # 0.8 + 0.2 x the share the usual mixture sends there
    assert to_zero[0] < 0.45  # the confuser-or-bias mixture alone over three wrong labels


@pytest.mark.parametrize(("name", "n_classes", "size"), [("wine", 3, 178), ("breast_cancer", 2, 569)])
def test_a_dataset_sets_items_classes_and_a_disjoint_test_set(name, n_classes, size):
    result = _run(DatasetFeatures(name=name), task=TaskDesign(n_items=5000, gold_fraction=0.0))
    items = result.items
    assert items["true_label"].max() == n_classes - 1
    assert result.features.X_test.shape[0] + len(items) == size  # every item in the pool, the rest held out
    assert set(np.unique(result.features.y_test)) == set(range(n_classes))


def test_a_dataset_brings_its_class_shares_and_keeps_gold_apart_from_the_items():
    """breast_cancer's classes are 37% and 63% (the oracle's prior follows); the gold questions are other items of
    the pool than the regular ones, at most a fifth of it."""
    result = _run(DatasetFeatures(name="breast_cancer"), task=TaskDesign(n_items=5000, gold_fraction=0.05))
    items = result.items
    regular, gold = (result.features.X[: len(items)][items["is_gold"].to_numpy() == flag] for flag in (False, True))
    assert 0 < len(gold) <= (len(regular) + len(gold)) // 5
    assert not (regular[:, None, :] == gold[None, :, :]).all(axis=2).any()  # no gold row repeats an item
    from sim.features import DatasetFeatures as Source

    design = Source(name="breast_cancer").adapt(TaskDesign())
    assert design.class_priors == pytest.approx((212 / 569, 357 / 569))
    assert Source(name="breast_cancer").adapt(design) == design  # an adapted design passes again (as run.py does)


def test_dataset_difficulty_follows_the_reference_model():
    """On digits, raters are least accurate on the items a reference model finds hardest: answer accuracy falls
    from the easiest third of items (by the model's margin) to the hardest."""
    result = _run(DatasetFeatures(name="digits"), task=TaskDesign(n_items=5000, gold_fraction=0.0))
    items = result.items
    assert len(items) == 1258 and items["true_label"].nunique() == 10
    third = pd.qcut(items.set_index("task")["difficulty"], 3, labels=False)
    by_third = _answer_accuracy(result, "task").groupby(third).mean()
    assert by_third[0] > by_third[1] > by_third[2]


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: _run(GaussianFeatures(n_features=2), task=TaskDesign(n_items=50, n_classes=3)), "features.n_features"),
        (lambda: _run(GaussianFeatures(), task=TaskDesign(n_items=50, revision_hours=1.0)), "task.revision_hours"),
        (lambda: DatasetFeatures(name="mnist"), "features.name"),
        (lambda: DatasetFeatures(test_fraction=1.0), "features.test_fraction"),
        (lambda: TaskDesign(group_share=1.5), "task.group_share"),
        (lambda: RaterPopulation(group_bias=-0.1), "raters.group_bias"),
        (lambda: _run(raters=RaterPopulation(n_raters=40, group_gap=1.0)), "task.group_share"),
        (
            lambda: _run(
                task=TaskDesign(n_items=50, group_share=0.5),
                raters=RaterPopulation(n_raters=40, group_bias=0.5, group_bias_label=3),
            ),
            "group_bias_label",
        ),
        (lambda: _run(DatasetFeatures(name="wine", test_fraction=0.95)), "features.test_fraction"),
        (
            lambda: DatasetFeatures(name="breast_cancer").adapt(TaskDesign(n_classes=4)),
            r"task.n_classes = 4, and features=breast_cancer has 2 classes, which fix the task's; accepted values: "
            r"task.n_classes=2, or leave it at its default \(3\), which follows the data set",
        ),
        (
            lambda: DatasetFeatures(name="breast_cancer").adapt(TaskDesign(n_classes=2, class_priors=(0.5, 0.5))),
            r"task.class_priors = \[0.5, 0.5\], and features=breast_cancer fixes the class shares",
        ),
        (
            lambda: RaterPopulation(archetypes={"condorcet": 1.0}, accuracy=1.0, accuracy_correlation=0.2),
            "strictly between 0 and 1",
        ),
    ],
)
def test_bad_feature_settings_are_refused_by_name(make, match):
    with pytest.raises(ConfigError, match=match):
        make()
