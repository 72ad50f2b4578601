import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from strategies.aggregation.base import SettingError
from strategies.cleaning.base import DetectionError, default_model, out_of_sample_probabilities
from strategies.cleaning.multi_annotator import MultiAnnotatorScore

# rater accuracies: five fair to good raters, three near-spammers (chance is 1/3)
ACCURACIES = np.array([0.9, 0.8, 0.75, 0.7, 0.6, 0.4, 0.35, 0.35])


def crowd(seed, n_items=1000, n_classes=3, n_features=10, separation=1.5, per_item=3):
    """Gaussian items (class k's mean ``separation`` along feature k) answered by ``per_item`` distinct raters
    drawn at random from ``ACCURACIES``; a wrong answer is uniform over the other classes. The consensus is the
    majority vote (ties to the lowest class). Returns (X, truth, answers, consensus)."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(n_classes, size=n_items)
    means = np.zeros((n_classes, n_features))
    means[np.arange(n_classes), np.arange(n_classes)] = separation
    X = rng.normal(size=(n_items, n_features)) + means[truth]
    raters = np.argsort(rng.random((n_items, len(ACCURACIES))), axis=1)[:, :per_item]
    right = rng.random((n_items, per_item)) < ACCURACIES[raters]
    wrong = (truth[:, None] + rng.integers(1, n_classes, size=(n_items, per_item))) % n_classes
    given = np.where(right, truth[:, None], wrong)
    task = np.repeat(np.arange(n_items), per_item)
    answers = pd.DataFrame({"task": task, "worker": raters.ravel(), "label": given.ravel()})
    votes = np.zeros((n_items, n_classes))
    np.add.at(votes, (task, given.ravel()), 1)
    return X, truth, answers, votes.argmax(axis=1)


def model_only_scores(X, labels, seed=0):
    probs = out_of_sample_probabilities(default_model(), X, labels, 3, 5, np.random.default_rng(seed))
    return 1 - probs[np.arange(len(labels)), labels]


def test_hand_computed_ensemble():
    """Three items, two raters, two classes, given model probabilities; every number follows the docstring."""
    labels = np.array([0, 1, 0])
    answers = pd.DataFrame(
        {"task": [0, 0, 1, 1, 2], "worker": ["w1", "w2", "w1", "w2", "w1"], "label": [0, 0, 1, 0, 0]}
    )
    pred_probs = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    detector = MultiAnnotatorScore().fit(np.zeros((3, 1)), labels, answers, pred_probs=pred_probs)
    # reference items 0 and 1: a_w1 = 1, a_w2 = 1/2; A_M = 1; A_MLC = 1/2
    w1, w2 = 1.0, 1e-3  # w2 = 1 - (1/2) / (1/2) = 0, floored
    model_weight = 1.0 * np.sqrt(5 / 3)
    likelihood = (1.0 + 0.5) / 2  # the items' agreement shares 2/2 and 1/2
    vote = {0: np.array([likelihood, 1 - likelihood]), 1: np.array([1 - likelihood, likelihood])}
    expected = np.array(
        [
            (model_weight * pred_probs[0] + w1 * vote[0] + w2 * vote[0]) / (model_weight + w1 + w2),
            (model_weight * pred_probs[1] + w1 * vote[1] + w2 * vote[0]) / (model_weight + w1 + w2),
            (model_weight * pred_probs[2] + w1 * vote[0]) / (model_weight + w1),
        ]
    )
    np.testing.assert_allclose(detector.probas_, expected)
    np.testing.assert_allclose(detector.consensus_quality_, expected[[0, 1, 2], labels])
    np.testing.assert_allclose(detector.scores_, 1 - detector.consensus_quality_)
    assert detector.model_weight_ == pytest.approx(model_weight)
    assert detector.answer_likelihood_ == pytest.approx(likelihood)
    assert detector.annotator_weight_.to_dict() == pytest.approx({"w1": w1, "w2": w2})
    assert detector.annotator_agreement_.to_dict() == pytest.approx({"w1": 1.0, "w2": 0.5})
    blend = model_weight / (model_weight + (w1 + w2) / 2)
    quality_w1 = np.mean([expected[0, 0], expected[1, 1], expected[2, 0]])
    quality_w2 = np.mean([expected[0, 0], expected[1, 0]])
    assert detector.annotator_quality_["w1"] == pytest.approx(blend * quality_w1 + (1 - blend) * 1.0)
    assert detector.annotator_quality_["w2"] == pytest.approx(blend * quality_w2 + (1 - blend) * 0.5)
    np.testing.assert_array_equal(detector.n_answers_, [2, 2, 1])


def test_answers_make_the_score_better_than_the_model_alone():
    """Wrong majority-vote labels (30% of 1,000 items): AUROC 0.925 with the answers, 0.829 from the model alone."""
    X, truth, answers, consensus = crowd(0)
    wrong = consensus != truth
    detector = MultiAnnotatorScore(random_state=0).fit(X, consensus, answers)
    ensemble = roc_auc_score(wrong, detector.scores_)
    model_only = roc_auc_score(wrong, model_only_scores(X, consensus))
    assert ensemble > 0.88 and ensemble > model_only + 0.05
    assert np.allclose(detector.probas_.sum(axis=1), 1.0)
    np.testing.assert_array_equal(detector.issues_, detector.consensus_quality_ < 0.5)
    # raters: the good ones rank above the near-spammers
    quality = detector.annotator_quality_.sort_index().to_numpy()
    assert quality[:5].min() > quality[5:].max()
    assert detector.annotator_quality_.index.name == "worker"


def test_one_answer_per_item_falls_back_on_the_model():
    """With a single answer per item and labels = those answers, the ensemble ranks items as the model does:
    AUROC 0.875 measured, equal to the model-only score's."""
    X, truth, answers, _ = crowd(1)
    single = answers.groupby("task").head(1)
    labels = single.sort_values("task")["label"].to_numpy()
    wrong = labels != truth
    detector = MultiAnnotatorScore(random_state=0).fit(X, labels, single)
    assert np.isfinite(detector.scores_).all()
    assert roc_auc_score(wrong, detector.scores_) == pytest.approx(roc_auc_score(wrong, model_only_scores(X, labels)))
    assert roc_auc_score(wrong, detector.scores_) > 0.8


def test_string_ids_tasks_and_an_item_without_answers():
    X, _, answers, consensus = crowd(2, n_items=200)
    names = np.array(["cat", "dog", "emu"])
    answers = answers.assign(task="t" + answers["task"].astype(str), label=names[answers["label"]])
    tasks = np.array([f"t{i}" for i in range(200)])
    unanswered = answers[answers["task"] != "t0"]
    detector = MultiAnnotatorScore(random_state=0).fit(X, names[consensus], unanswered, tasks=tasks)
    assert list(detector.classes_) == ["cat", "dog", "emu"] and detector.n_answers_[0] == 0
    assert np.isfinite(detector.scores_).all() and np.allclose(detector.probas_.sum(axis=1), 1.0)
    # rows of X in another order, tasks permuted alike: the same scores per task
    order = np.random.default_rng(0).permutation(200)
    shuffled = MultiAnnotatorScore(random_state=0).fit(
        X[order], names[consensus][order], unanswered, tasks=tasks[order], pred_probs=detector.probas_[order]
    )
    again = MultiAnnotatorScore(random_state=0).fit(
        X, names[consensus], unanswered, tasks=tasks, pred_probs=detector.probas_
    )
    np.testing.assert_allclose(shuffled.scores_, again.scores_[order])


def test_same_random_state_same_scores():
    X, _, answers, consensus = crowd(3, n_items=300)
    first = MultiAnnotatorScore(random_state=4).fit(X, consensus, answers)
    again = MultiAnnotatorScore(random_state=4).fit(X, consensus, answers)
    np.testing.assert_array_equal(first.scores_, again.scores_)


def test_bad_answers_name_the_column():
    X, _, answers, consensus = crowd(4, n_items=60)
    detector = MultiAnnotatorScore()
    with pytest.raises(DetectionError, match=r"missing column.*'worker'"):
        detector.fit(X, consensus, answers.drop(columns="worker"))
    with pytest.raises(DetectionError, match=r"column 'task' holds 1 answer.*not in tasks.*999"):
        detector.fit(X, consensus, pd.concat([answers, pd.DataFrame({"task": [999], "worker": [0], "label": [0]})]))
    with pytest.raises(DetectionError, match=r"column 'label' holds 1 label.*not among the classes.*7"):
        detector.fit(X, consensus, pd.concat([answers, pd.DataFrame({"task": [0], "worker": [0], "label": [7]})]))
    with pytest.raises(DetectionError, match="column 'label' has 1 missing"):
        missing = answers.astype({"label": float})
        missing.loc[0, "label"] = np.nan
        detector.fit(X, consensus, missing)
    with pytest.raises(DetectionError, match="tasks must be unique"):
        detector.fit(X, consensus, answers, tasks=np.zeros(60))
    with pytest.raises(DetectionError, match="tasks has 59 entries"):
        detector.fit(X, consensus, answers, tasks=np.arange(59))
    with pytest.raises(DetectionError, match="pred_probs must have shape"):
        detector.fit(X, consensus, answers, pred_probs=np.full((60, 2), 0.5))


def test_bad_features_and_labels_name_the_argument():
    X, _, answers, consensus = crowd(5, n_items=60)
    detector = MultiAnnotatorScore()
    with pytest.raises(DetectionError, match="labels has 59 entries but X has 60"):
        detector.fit(X, consensus[:-1], answers)
    with pytest.raises(DetectionError, match="single class"):
        detector.fit(X, np.zeros(60, dtype=int), answers)
    X_nan = X.copy()
    X_nan[0, 0] = np.inf
    with pytest.raises(DetectionError, match="X has 1 NaN or infinite"):
        detector.fit(X_nan, consensus, answers)


@pytest.mark.parametrize(("setting", "value"), [("threshold", 1.2), ("threshold", -0.5), ("n_folds", 1)])
def test_settings_outside_their_range(setting, value):
    with pytest.raises(SettingError, match=setting):
        MultiAnnotatorScore(**{setting: value})


def test_an_aggregators_labels_are_read_by_task_id_not_position():
    """MajorityVote's ``labels_`` for string task ids comes sorted as text (t0, t1, t10, ...), not in the order of
    the rows of X: with ``tasks`` given, the scores are those of the labels aligned by hand."""
    from strategies.aggregation import MajorityVote

    rng = np.random.default_rng(3)
    truth = rng.integers(3, size=120)
    X = 3.0 * np.eye(3, 4)[truth] + rng.standard_normal((120, 4))
    tasks = np.array([f"t{i}" for i in range(120)])
    given = np.where(rng.random(360) < 0.75, np.repeat(truth, 3), rng.integers(3, size=360))
    answers = pd.DataFrame({"task": np.repeat(tasks, 3), "worker": rng.integers(10, size=360), "label": given})
    labels = MajorityVote().fit_predict(answers)
    assert list(labels.index[:3]) == ["t0", "t1", "t10"]
    by_id = MultiAnnotatorScore(random_state=0).fit(X, labels, answers=answers, tasks=tasks).scores_
    by_hand = MultiAnnotatorScore(random_state=0).fit(X, labels.loc[tasks].to_numpy(), answers=answers, tasks=tasks)
    np.testing.assert_array_equal(by_id, by_hand.scores_)
