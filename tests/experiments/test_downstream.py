"""The downstream model (experiments.downstream): trained on a campaign's labels, scored on clean data; its training
rows follow the target, its calibration error is the textbook one, and better labels train a better model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from experiments.downstream import Downstream, expected_calibration_error
from sim import Campaign, ConfigError, RaterPopulation, TaskDesign, simulate
from sim.features import GaussianFeatures
from strategies.aggregation import DawidSkene, MajorityVote


@pytest.fixture(scope="module")
def campaign():
    task = TaskDesign(n_items=1500, gold_fraction=0.0, group_share=0.3)
    return simulate(task, RaterPopulation(n_raters=40), Campaign(redundancy=3), seed=5, features=GaussianFeatures())


def test_expected_calibration_error_by_hand():
    """Two bins: confidences 0.95 and 0.95 (one right: |0.5 - 0.95|) and 0.55 and 0.55 (both right: |1 - 0.55|),
    each half of the items: ECE = (0.45 + 0.45) / 2."""
    probs = np.array([[0.95, 0.05], [0.95, 0.05], [0.55, 0.45], [0.45, 0.55]])
    truth = np.array([0, 1, 0, 1])
    assert expected_calibration_error(probs, truth) == pytest.approx(0.45)
    assert expected_calibration_error(np.eye(2)[truth], truth) == 0.0  # sure and right: calibrated


def test_training_rows_follow_the_target(campaign):
    """hard: one row per labeled item; soft: one per item and class, weights the posterior (summing to one per
    item); raw: one row per answer, the answer's label."""
    aggregator = DawidSkene().fit(campaign.worker_answers())
    features = campaign.features
    X, y, w = Downstream(target="hard").training_rows(campaign, features, aggregator.labels_, aggregator.probas_)
    assert X.shape[0] == len(aggregator.labels_) and w is None
    X, y, w = Downstream(target="soft").training_rows(campaign, features, aggregator.labels_, aggregator.probas_)
    assert X.shape[0] == 3 * len(aggregator.labels_)
    np.testing.assert_allclose(w.reshape(-1, 3).sum(axis=1), 1.0)
    X, y, w = Downstream(target="raw").training_rows(campaign, features, aggregator.labels_, aggregator.probas_)
    answers = campaign.worker_answers()
    assert X.shape[0] == len(answers) and np.array_equal(y, answers["label"].to_numpy())
    assert np.array_equal(X, features.X[answers["task"].to_numpy()])


def test_true_labels_give_the_ceiling_and_better_labels_a_better_model(campaign):
    """Trained on the truth itself (as labels), the model scores exactly its ceiling; and on these answers the
    ordering of label quality (truth > Dawid-Skene > majority vote here) carries over downstream, with a margin."""
    downstream = Downstream()
    ceiling = downstream.ceiling(campaign, seed=5, replicate=0)["downstream_accuracy_true_labels"]
    truth = campaign.truth
    as_labels = downstream.evaluate(campaign, truth, None, seed=5, replicate=0)
    assert as_labels["downstream_accuracy"] == ceiling
    scores = {}
    for aggregator in (MajorityVote(), DawidSkene()):
        aggregator.fit(campaign.worker_answers())
        accuracy = float((aggregator.labels_.reindex(truth.index) == truth).mean())
        scores[type(aggregator).__name__] = (
            accuracy,
            downstream.evaluate(campaign, aggregator.labels_, aggregator.probas_, seed=5, replicate=0)[
                "downstream_accuracy"
            ],
        )
    assert scores["DawidSkene"][0] > scores["MajorityVote"][0]
    assert ceiling > scores["DawidSkene"][1] > scores["MajorityVote"][1]
    assert {"downstream_accuracy_group0", "downstream_accuracy_gap"} <= set(as_labels)


@pytest.mark.parametrize("model", ["logistic", "gradient_boosting", "mlp"])
def test_every_model_trains_on_hard_and_raw_labels(campaign, model):
    labels = MajorityVote().fit_predict(campaign.worker_answers())
    for target in ("hard", "raw"):
        scores = Downstream(model=model, target=target).evaluate(campaign, labels, None, seed=1, replicate=0)
        assert 0.4 < scores["downstream_accuracy"] <= 1.0  # three classes: chance is a third
        assert 0 <= scores["downstream_ece"] <= 1


def test_unlabeled_items_are_left_out_of_training(campaign):
    labels = MajorityVote().fit_predict(campaign.worker_answers())
    half = labels.iloc[: len(labels) // 2]
    scores = Downstream().evaluate(campaign, half, None, seed=1, replicate=0)
    assert scores["downstream_training_items"] == len(half)


@pytest.mark.parametrize(
    ("settings", "match"),
    [({"model": "svm"}, "downstream.model"), ({"target": "fuzzy"}, "downstream.target"), ({"C": 0}, "downstream.C")],
)
def test_bad_settings_are_refused_by_name(settings, match):
    with pytest.raises(ConfigError, match=match):
        Downstream(**settings)


def test_a_campaign_without_features_is_refused():
    result = simulate(TaskDesign(n_items=50), RaterPopulation(n_raters=10), Campaign(redundancy=1), seed=0)
    with pytest.raises(ConfigError, match="features=gaussian"):
        Downstream().evaluate(result, pd.Series([0] * 50), None, seed=0, replicate=0)


def test_collect_summarises_downstream_scores_as_metrics_not_designs():
    """``downstream_accuracy`` is a score to average; ``downstream`` and ``downstream.model`` name the design."""
    from experiments.collect import summarise

    metrics = pd.DataFrame({"aggregator": ["mv"] * 4, "downstream": ["logistic"] * 2 + ["mlp"] * 2,
                            "downstream.model": ["logistic"] * 2 + ["mlp"] * 2, "replicate": [0, 1, 0, 1],
                            "accuracy": [0.7, 0.8, 0.7, 0.8], "downstream_accuracy": [0.6, 0.7, 0.5, 0.6]})  # fmt: skip
    summary = summarise(metrics)
    rows = summary[summary["metric"] == "downstream_accuracy"].set_index("downstream")["mean"]
    assert rows.to_dict() == pytest.approx({"logistic": 0.65, "mlp": 0.55})
