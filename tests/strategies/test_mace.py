import math

import numpy as np
import pandas as pd
import pytest

from strategies.aggregation import MACE


def _accuracy(labels: pd.Series, gold: pd.Series) -> float:
    return float((labels.reindex(gold.index) == gold).mean())


def _population(seed: int = 0, n_tasks: int = 150) -> tuple[pd.DataFrame, np.ndarray]:
    """Three classes; five workers right 85% of the time, one who always gives the true label, one uniform spammer."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(3, size=n_tasks)
    rows = []
    for task, true in enumerate(truth):
        for worker in range(5):
            right = rng.random() < 0.85
            rows.append((task, f"good{worker}", true if right else (true + rng.integers(1, 3)) % 3))
        rows.append((task, "follower", true))
        rows.append((task, "random", rng.integers(3)))
    return pd.DataFrame(rows, columns=["task", "worker", "label"]), truth


def test_toy_labels_and_shapes(toy_answers):
    mace = MACE().fit(toy_answers)
    assert mace.labels_["t1"] == "a" and mace.labels_["t2"] == "b"
    assert np.allclose(mace.probas_.sum(axis=1), 1.0)
    assert np.allclose(mace.strategy_.sum(axis=1), 1.0)
    assert np.allclose(mace.thetas_ + mace.spamming_, 1.0)


@pytest.mark.parametrize("method", ["em", "vb"])
def test_posteriors_follow_the_model_formula(toy_answers, method):
    """P(T = t | answers) recomputed answer by answer from the learned theta and xi (EM: exactly the fitted ones)."""
    mace = MACE(method=method).fit(toy_answers)
    labels = list(mace.probas_.columns)
    for task, group in toy_answers.groupby("task"):
        scores = []
        for true in labels:
            likelihood = 1.0
            for worker, answer in zip(group["worker"], group["label"], strict=True):
                theta = mace.thetas_[worker]
                likelihood *= theta * (answer == true) + (1 - theta) * mace.strategy_.loc[worker, answer]
            scores.append(likelihood)
        expected = np.array(scores) / sum(scores)
        if method == "em":  # VB's parameters are sub-normalised exp-digamma values; thetas_ reports them renormalised
            assert mace.probas_.loc[task].to_numpy() == pytest.approx(expected, rel=1e-9)
        else:
            assert mace.probas_.loc[task].idxmax() == labels[int(np.argmax(expected))]


@pytest.mark.parametrize("method", ["em", "vb"])
def test_spammer_gets_low_theta_and_follower_high(method):
    answers, truth = _population()
    mace = MACE(method=method).fit(answers)
    assert mace.thetas_["follower"] > 0.95
    assert mace.thetas_["follower"] > mace.thetas_["random"]
    assert mace.thetas_["random"] < 0.25
    assert (mace.labels_.sort_index().to_numpy() == truth).mean() > 0.97


def test_em_likelihood_never_decreases_and_restarts_are_reproducible():
    answers, _ = _population(seed=1)
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


def test_real_data_product(load_real_dataset):
    """Published (Crowd-Kit, JOSS 2024): MACE 0.929 on product. Ours: 0.827 (VB), 0.829 (EM): 10 points below.

    The published number comes from a bug in crowd-kit 1.4.2's MACE: it indexes its parameter arrays by
    ``pd.factorize`` codes (workers in order of first appearance) but fills them from ``groupby("worker")`` sums
    (workers in sorted order), so every worker gets another worker's spamming and strategy estimates unless the worker
    ids happen to appear in sorted order. Measured: crowd-kit's MACE(n_restarts=1) gives 0.929 on product.csv as
    given, but 0.828 (vb) and 0.830 (em) on the same rows sorted by worker, i.e. once the misalignment is removed,
    matching ours. (MACE assumes a uniform class prior; product is 88% class 0, and with three answers per task the
    model explains many class-0 answers as spam.) We check against the bug-free value.
    """
    answers, gold = load_real_dataset("product")
    assert _accuracy(MACE().fit_predict(answers), gold) >= 0.828 - 0.01


@pytest.mark.slow
def test_real_data_relevance(load_real_dataset):
    """Published (Crowd-Kit, JOSS 2024): MACE 0.501 on relevance. Ours: 0.608, 10.7 points better (MV: 0.536).

    crowd-kit 1.4.2's MACE misaligns its estimates (see test_real_data_product): workers, and on this 4-class set also
    labels (its counts are unstacked in sorted label order, its arrays use order of first appearance). Measured with
    MACE(n_restarts=1): 0.501 on relevance as given, 0.387 on the same rows sorted by worker; neither is a bug-free
    MACE, so no crowd-kit number is a reference here. Ours agrees with crowd-kit where its bug cannot act (product
    sorted by worker; synthetic data: 99.5% identical labels) and beats majority vote here.
    """
    answers, gold = load_real_dataset("relevance")
    assert _accuracy(MACE().fit_predict(answers), gold) >= 0.60
