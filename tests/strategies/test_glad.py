import math

import numpy as np
import pandas as pd
import pytest

from strategies.aggregation import GLAD
from strategies.aggregation.scoring import gold_accuracy


def test_toy_labels_and_shapes(toy_answers):
    glad = GLAD().fit(toy_answers)
    assert glad.labels_["t1"] == "a" and glad.labels_["t2"] == "b"
    assert np.allclose(glad.probas_.sum(axis=1), 1.0)
    assert list(glad.alphas_.index) == ["w1", "w2", "w3"] and list(glad.betas_.index) == ["t1", "t2", "t3"]
    assert glad.priors_.to_dict() == {"a": 0.5, "b": 0.5}


def test_posteriors_follow_the_model_formula(toy_answers):
    """Recompute P(z_i = c | answers) answer by answer from the learned alpha, log beta and the GLAD likelihood."""
    glad = GLAD().fit(toy_answers)
    labels = list(glad.probas_.columns)
    k = len(labels)
    for task, group in toy_answers.groupby("task"):
        beta = math.exp(glad.betas_[task])
        scores = []
        for true in labels:
            likelihood = 1.0 / k
            for worker, answer in zip(group["worker"], group["label"], strict=True):
                p_right = 1.0 / (1.0 + math.exp(-glad.alphas_[worker] * beta))
                likelihood *= p_right if answer == true else (1.0 - p_right) / (k - 1)
            scores.append(likelihood)
        expected = np.array(scores) / sum(scores)
        assert glad.probas_.loc[task].to_numpy() == pytest.approx(expected, rel=1e-9)


def test_objective_never_decreases_and_reliable_worker_outranks_spammer(follower_and_spammer):
    answers, truth = follower_and_spammer()
    glad = GLAD(tol=0.0, n_iter=30).fit(answers)
    assert np.all(np.diff(glad.loss_history_) >= -1e-9)
    assert glad.alphas_["follower"] > glad.alphas_[[f"good{w}" for w in range(5)]].max()
    assert glad.alphas_[[f"good{w}" for w in range(5)]].min() > glad.alphas_["random"]
    assert glad.alphas_["random"] < 0.5
    assert (glad.labels_.sort_index().to_numpy() == truth).mean() > 0.97


def test_large_ability_does_not_overflow():
    """Unanimous experts drive alpha * beta far up; log_expit keeps every number finite (warnings are errors here)."""
    rows = [(t, w, t % 2) for t in range(200) for w in range(30)]
    glad = GLAD(alphas_priors_mean=pd.Series(50.0, index=range(30)), n_iter=20).fit(
        pd.DataFrame(rows, columns=["task", "worker", "label"])
    )
    assert np.isfinite(glad.probas_.to_numpy()).all() and np.isfinite(glad.alphas_).all()
    assert (glad.labels_.to_numpy() == np.arange(200) % 2).all()


@pytest.mark.parametrize(
    "rows",
    [
        [("t1", "w1", "x")],  # one answer, one class
        [("t1", "w1", "x"), ("t2", "w1", "y"), ("t3", "w1", "x")],  # a single worker
        [("t1", "w1", "x"), ("t1", "w2", "y"), ("t1", "w2", "y")],  # one task, a duplicate answer
    ],
)
def test_degenerate_inputs_stay_finite(rows):
    glad = GLAD().fit(pd.DataFrame(rows, columns=["task", "worker", "label"]))
    assert np.isfinite(glad.probas_.to_numpy()).all()
    assert np.allclose(glad.probas_.sum(axis=1), 1.0)


def test_declared_class_nobody_chose_gets_a_column():
    answers = pd.DataFrame(
        {
            "task": [1, 1, 2],
            "worker": ["a", "b", "a"],
            "label": pd.Categorical(["x", "x", "y"], categories=["x", "y", "z"]),
        }
    )
    glad = GLAD().fit(answers)
    assert list(glad.probas_.columns) == ["x", "y", "z"]
    assert glad.probas_["z"].max() < 0.5


def test_real_data_product(load_real_dataset):
    """Published (Crowd-Kit, JOSS 2024): GLAD 0.928 on product; ours 0.928."""
    answers, gold = load_real_dataset("product")
    assert gold_accuracy(GLAD().fit_predict(answers), gold) >= 0.928 - 0.01


@pytest.mark.slow
def test_real_data_relevance(load_real_dataset):
    """Published (Crowd-Kit, JOSS 2024): GLAD 0.511 on relevance (98k answers; about 5-10 s with loading).

    Ours: 0.500 at convergence, 1.1 points below the published 0.511. On relevance GLAD's accuracy falls as EM
    converges: ours gives 0.556 after 1 EM iteration, 0.539 after 5, 0.524 after 10, 0.508 after 20 and 0.500 at
    convergence (38 E-steps; crowd-kit's m_step_max_iter=25 instead of our 5: 0.5007, same). crowd-kit 1.4.2 itself,
    run here on relevance.csv as given, stops after 2 iterations (its stopping rule compares a normalised Q with an
    unnormalised one and stops on any decrease) at 0.5646; the published 0.511 is also a not-yet-converged value. We
    report the converged maximum of GLAD's objective and check against it.
    """
    answers, gold = load_real_dataset("relevance")
    assert gold_accuracy(GLAD().fit_predict(answers), gold) >= 0.500 - 0.01
