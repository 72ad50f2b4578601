import math

import numpy as np
import pandas as pd
import pytest

from strategies.aggregation import MACE
from strategies.aggregation.scoring import gold_accuracy


def test_toy_labels_and_shapes(toy_answers):
    mace = MACE().fit(toy_answers)
    assert mace.labels_["t1"] == "a" and mace.labels_["t2"] == "b"
    assert np.allclose(mace.probas_.sum(axis=1), 1.0)
    assert np.allclose(mace.strategy_.sum(axis=1), 1.0)
    assert list(mace.skills_.index) == ["w1", "w2", "w3"] and ((mace.skills_ > 0) & (mace.skills_ < 1)).all()
    # crowd-kit's arrays: spamming_ (workers x [spam, know]), thetas_ (workers x labels), workers in sorted order
    assert mace.spamming_.shape == (3, 2) and mace.thetas_.shape == (3, 2)
    assert mace.skills_.to_numpy() == pytest.approx(mace.spamming_[:, 1] / mace.spamming_.sum(axis=1))
    assert mace.strategy_.to_numpy() == pytest.approx(mace.thetas_ / mace.thetas_.sum(axis=1, keepdims=True))


@pytest.mark.parametrize("method", ["em", "vb"])
def test_posteriors_follow_the_model_formula(toy_answers, method):
    """P(T = t | answers) recomputed answer by answer with crowd-kit's E-step formula on ``spamming_``/``thetas_``.

    P(t) * prod P(a | t), P(a | t) = spamming_[j, 0] * thetas_[j, a] + spamming_[j, 1] * [a = t], row j = the
    worker's sorted position, P(t) = priors_ (the learned class prior).
    In EM the arrays are normalised, so the same holds with skills_ and strategy_; in VB they are the sub-normalised
    exp-digamma values that MACE (and crowd-kit) plug into the E-step.
    """
    mace = MACE(method=method).fit(toy_answers)
    labels = list(mace.probas_.columns)
    workers = sorted(toy_answers["worker"].unique())
    for task, group in toy_answers.groupby("task"):
        scores = []
        for true in labels:
            likelihood = mace.priors_[true]
            for worker, answer in zip(group["worker"], group["label"], strict=True):
                j, a = workers.index(worker), labels.index(answer)
                likelihood *= mace.spamming_[j, 0] * mace.thetas_[j, a] + mace.spamming_[j, 1] * (answer == true)
            scores.append(likelihood)
        expected = np.array(scores) / sum(scores)
        assert mace.probas_.loc[task].to_numpy() == pytest.approx(expected, rel=1e-9)
        if method == "em":
            skill, strategy = mace.skills_, mace.strategy_
            check = [
                mace.priors_[t]
                * np.prod(
                    [
                        skill[w] * (a == t) + (1 - skill[w]) * strategy.loc[w, a]
                        for w, a in zip(group["worker"], group["label"], strict=True)
                    ]
                )
                for t in labels
            ]
            assert mace.probas_.loc[task].to_numpy() == pytest.approx(np.array(check) / sum(check), rel=1e-9)


@pytest.mark.parametrize("method", ["em", "vb"])
def test_spammer_gets_low_skill_and_follower_high(method, follower_and_spammer):
    answers, truth = follower_and_spammer()
    mace = MACE(method=method).fit(answers)
    assert mace.skills_["follower"] > 0.95
    assert mace.skills_["follower"] > mace.skills_["random"]
    assert mace.skills_["random"] < 0.25
    assert (mace.labels_.sort_index().to_numpy() == truth).mean() > 0.97


def test_short_restarts_then_best_run_to_convergence(follower_and_spammer):
    """The kept run is continued to convergence: with tol=0 its history has n_iter + 1 E-steps whatever restart_iter,
    and a single restart gives the same fit whether it is cut into a short restart plus a continuation or not."""
    answers, _ = follower_and_spammer(seed=2)
    short = MACE(n_restarts=1, restart_iter=3, n_iter=20, tol=0.0).fit(answers)
    full = MACE(n_restarts=1, restart_iter=20, n_iter=20, tol=0.0).fit(answers)
    assert len(short.loss_history_) == len(full.loss_history_) == 21
    pd.testing.assert_frame_equal(short.probas_, full.probas_)
    several = MACE(n_restarts=4, restart_iter=3, n_iter=20, tol=0.0).fit(answers)
    assert len(several.loss_history_) == 21


def test_em_likelihood_never_decreases_and_restarts_are_reproducible(follower_and_spammer):
    answers, _ = follower_and_spammer(seed=1)
    mace = MACE(method="em", smoothing=0.0, n_iter=40, tol=0.0, n_restarts=3, random_state=5).fit(answers)
    assert np.all(np.diff(mace.loss_history_) >= -1e-12)  # plain EM (no smoothing) is monotone in the likelihood
    assert math.isclose(mace.log_marginal_likelihood_, mace.loss_history_[-1] * len(answers))
    again = MACE(method="em", smoothing=0.0, n_iter=40, tol=0.0, n_restarts=3, random_state=5).fit(answers)
    pd.testing.assert_frame_equal(mace.probas_, again.probas_)


@pytest.mark.parametrize(
    "rows",
    [
        [("t1", "w1", "x")],
        [("t1", "w1", "x"), ("t2", "w1", "y"), ("t3", "w1", "x")],
        [("t1", "w1", "x"), ("t1", "w2", "y"), ("t1", "w2", "y")],
    ],
)
def test_degenerate_inputs_stay_finite(rows):
    mace = MACE(n_restarts=2).fit(pd.DataFrame(rows, columns=["task", "worker", "label"]))
    assert np.isfinite(mace.probas_.to_numpy()).all()
    assert np.allclose(mace.probas_.sum(axis=1), 1.0)


def test_bad_method_is_rejected(toy_answers):
    with pytest.raises(ValueError, match="method"):
        MACE(method="gibbs").fit(toy_answers)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"class_prior must be one of \['learned', 'uniform'\]"):
        MACE(class_prior="dirichlet").fit(toy_answers)  # type: ignore[arg-type]


def test_real_data_product(load_real_dataset):
    """Published (Crowd-Kit, JOSS 2024): MACE 0.929 on product. Ours: 0.931 with the learned class prior (default);
    0.827 (VB) and 0.828 (EM) with the paper's uniform prior, crowd-kit's model.

    The published number comes from a bug in crowd-kit 1.4.2's MACE: it indexes its parameter arrays by
    ``pd.factorize`` codes (workers in order of first appearance) but fills them from ``groupby("worker")`` sums
    (workers in sorted order), so every worker gets another worker's spamming and strategy estimates unless the worker
    ids happen to appear in sorted order. Measured: crowd-kit's MACE(n_restarts=1) gives 0.929 on product.csv as
    given, but 0.828 (vb) and 0.830 (em) on the same rows sorted by worker, i.e. once the misalignment is removed,
    matching ours with ``class_prior="uniform"``. The uniform-prior model lands there because product is 88% class
    0: most workers' "0" answers are explained as spam (median skill 0.17), so a lone "1" beats two "0"s on 40% of
    the 0-0-1 tasks (89% of which are class 0). Started from the gold labels EM/VB move to the same optimum
    (0.84-0.85 after 500 iterations, no higher likelihood). Learning the class prior removes the failure.
    """
    answers, gold = load_real_dataset("product")
    learned = MACE().fit(answers)
    assert gold_accuracy(learned.labels_, gold) >= 0.929 - 0.01
    assert 0.85 < learned.priors_[0] < 0.95  # product's gold is 88% class 0 (gold covers a sample of the tasks)
    for method in ("vb", "em"):
        assert gold_accuracy(MACE(method=method, class_prior="uniform").fit_predict(answers), gold) >= 0.828 - 0.01


@pytest.mark.slow
def test_real_data_relevance(load_real_dataset):
    """Published (Crowd-Kit, JOSS 2024): MACE 0.501 on relevance. Ours: 0.622 (learned prior, default), 0.608
    (uniform prior); majority vote 0.536.

    crowd-kit 1.4.2's MACE misaligns its estimates (see test_real_data_product): workers, and on this 4-class set also
    labels (its counts are unstacked in sorted label order, its arrays use order of first appearance). Measured with
    MACE(n_restarts=1): 0.501 on relevance as given, 0.387 on the same rows sorted by worker; neither is a bug-free
    MACE, so no crowd-kit number is a reference here. Ours agrees with crowd-kit where its bug cannot act (product
    sorted by worker; synthetic data: 99.5% identical labels) and beats majority vote here.
    """
    answers, gold = load_real_dataset("relevance")
    assert gold_accuracy(MACE().fit_predict(answers), gold) >= 0.61
    assert gold_accuracy(MACE(class_prior="uniform").fit_predict(answers), gold) >= 0.60


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["product", "relevance", "zencrowd_all", "rte", "dog", "bluebirds", "web", "music"])
def test_class_prior_learned_against_uniform(dataset, load_real_dataset):
    """The figures quoted in MACE's docstring: the learned class prior never costs more than 1.5 points on these
    sets (web: 0.826 vs 0.838), and gains 10 on product."""
    answers, gold = load_real_dataset(dataset)
    learned = gold_accuracy(MACE().fit_predict(answers), gold)
    uniform = gold_accuracy(MACE(class_prior="uniform").fit_predict(answers), gold)
    print(f"MACE on {dataset}: learned prior {learned:.4f}, uniform prior {uniform:.4f}")
    assert learned >= uniform - 0.015


def test_learned_prior_recovers_imbalanced_classes():
    """Simulated 80/10/10 classes, three 70%-accurate workers per task: the learned prior is close to the truth and
    beats the uniform prior, which over-calls the rare classes."""
    rng = np.random.default_rng(3)
    truth = rng.choice(3, size=3000, p=[0.8, 0.1, 0.1])
    rows = []
    for task, true in enumerate(truth):
        for worker in rng.choice(30, size=3, replace=False):
            label = true if rng.random() < 0.7 else (true + rng.integers(1, 3)) % 3
            rows.append((task, worker, label))
    answers = pd.DataFrame(rows, columns=["task", "worker", "label"])
    learned = MACE().fit(answers)
    uniform = MACE(class_prior="uniform").fit(answers)
    assert learned.priors_.to_numpy() == pytest.approx([0.8, 0.1, 0.1], abs=0.03)
    assert uniform.priors_.to_numpy() == pytest.approx([1 / 3] * 3)
    accuracy = {
        name: float((m.labels_.sort_index().to_numpy() == truth).mean())
        for name, m in (("learned", learned), ("uniform", uniform))
    }
    assert accuracy["learned"] > accuracy["uniform"], accuracy
