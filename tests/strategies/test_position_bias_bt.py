import numpy as np
import pandas as pd
import pytest
from scipy import stats

from strategies.aggregation import AnswersError, BradleyTerry, PositionBiasBradleyTerry
from strategies.aggregation._pairwise import encode_comparisons
from strategies.aggregation.position_bias_bt import _OrderedPairs


def simulate(
    n_items: int, n_comparisons: int, bias: float, seed: int, usually_left_share: float = 0.5
) -> tuple[pd.DataFrame, np.ndarray]:
    """Comparisons of random pairs, logit P(left wins) = s_left - s_right + bias, log-strengths s ~ N(0, 1).

    With ``usually_left_share`` above 1/2, the odd-numbered items are shown on the left in that share of their
    comparisons with even-numbered ones (as when new items are always shown first): position and item confounded.
    """
    rng = np.random.default_rng(seed)
    strength = rng.normal(0.0, 1.0, n_items)
    first = rng.integers(n_items, size=n_comparisons)
    second = (first + rng.integers(1, n_items, size=n_comparisons)) % n_items
    odd_first = first % 2 == 1
    mixed = odd_first != (second % 2 == 1)
    odd_left = rng.random(n_comparisons) < usually_left_share
    swap = mixed & (odd_first != odd_left)
    left, right = np.where(swap, second, first), np.where(swap, first, second)
    left_wins = rng.random(n_comparisons) < 1.0 / (1.0 + np.exp(strength[right] - strength[left] - bias))
    frame = pd.DataFrame({"worker": rng.integers(10, size=n_comparisons), "left": left, "right": right,
                          "label": np.where(left_wins, left, right)})  # fmt: skip
    return frame, strength


def test_two_items_closed_form():
    """a on the left wins 3 of 4; b on the left wins 1 of 2. The model is saturated (two cells, two free
    parameters), so the MLE solves logit(3/4) = d + beta and logit(1/2) = -d + beta with d = theta_a - theta_b:
    beta = d = ln(3)/2, p_a = sqrt(3) / (1 + sqrt(3)); and var(beta) = (1/(4 * 3/4 * 1/4) + 1/(2 * 1/4)) / 4 = 5/6.
    (A pseudo-count of 1e-9 is the MLE to 1e-8.)"""
    rows = [("a", "b", "a")] * 3 + [("a", "b", "b"), ("b", "a", "b"), ("b", "a", "a")]
    model = PositionBiasBradleyTerry(pseudo_count=1e-9).fit(pd.DataFrame(rows, columns=["left", "right", "label"]))
    assert model.position_bias_ == pytest.approx(np.log(3) / 2, abs=1e-6)
    assert model.scores_.to_dict() == pytest.approx({"a": np.sqrt(3) / (1 + np.sqrt(3)), "b": 1 / (1 + np.sqrt(3))})
    assert model.position_bias_se_ == pytest.approx(np.sqrt(5 / 6), rel=1e-6)
    low, high = model.position_bias_interval_
    assert (low, high) == pytest.approx((np.log(3) / 2 - 1.96 * np.sqrt(5 / 6), np.log(3) / 2 + 1.96 * np.sqrt(5 / 6)),
                                        abs=1e-3)  # fmt: skip
    assert model.scores_.name == "agg_score" and model.scores_.index.name is None


def test_standard_error_is_the_inverse_hessian_entry_of_the_joint_fit():
    """The Schur complement with one CG solve equals the bias entry of the inverse of the full Hessian (finite
    differences of the gradient at the maximum, found here by scipy's BFGS), and it is larger than what ignoring the
    scores' uncertainty gives (one over the bias's own curvature)."""
    from scipy import optimize

    comparisons, _ = simulate(25, 1500, bias=0.5, seed=0, usually_left_share=0.8)
    model = PositionBiasBradleyTerry(tol=1e-14).fit(comparisons)
    items, left, right, winner = encode_comparisons(comparisons)
    objective = _OrderedPairs(left, right, winner, len(items), phantom=0.1)
    found = optimize.minimize(lambda x: tuple(-part for part in objective(x)), np.zeros(len(items) + 1), jac=True,
                              method="BFGS", options={"gtol": 1e-9})  # fmt: skip
    optimum = found.x
    assert model.position_bias_ == pytest.approx(optimum[-1], abs=1e-6)
    step = 1e-5
    hessian = np.array([(objective(optimum + step * e)[1] - objective(optimum - step * e)[1]) / (2 * step)
                        for e in np.eye(optimum.size)])  # fmt: skip
    assert model.position_bias_se_ == pytest.approx(np.sqrt(np.linalg.inv(-hessian)[-1, -1]), rel=1e-5)
    assert model.position_bias_se_ > 1.01 / np.sqrt(-hessian[-1, -1])


def test_interval_covers_the_true_bias_in_most_seeds():
    """A 95% interval should cover beta = 0.5 in about 19 of 20 seeds (at least 17: binomial tail 7.5%)."""
    covered = [
        PositionBiasBradleyTerry().fit(simulate(30, 1500, bias=0.5, seed=seed)[0]).position_bias_interval_
        for seed in range(20)
    ]
    hits = sum(low <= 0.5 <= high for low, high in covered)
    assert hits >= 17, covered


def test_no_bias_gives_an_interval_around_zero():
    model = PositionBiasBradleyTerry().fit(simulate(30, 3000, bias=0.0, seed=7)[0])
    low, high = model.position_bias_interval_
    assert low < 0.0 < high and high - low < 0.25


def test_beats_plain_bradley_terry_when_position_and_item_are_confounded():
    """Odd items are shown first in 80% of their comparisons with even ones and the left item gets +1.5 logits:
    plain Bradley-Terry credits the position to the odd items; the position model removes it."""
    comparisons, strength = simulate(40, 6000, bias=1.5, seed=3, usually_left_share=0.8)
    ours = PositionBiasBradleyTerry().fit(comparisons)
    plain = BradleyTerry().fit(comparisons)

    def centred_log_error(scores: pd.Series) -> float:
        logs = np.log(scores.reindex(range(40)).to_numpy())
        return float(np.sqrt(np.mean(((logs - logs.mean()) - (strength - strength.mean())) ** 2)))

    def tau(scores: pd.Series) -> float:
        return float(stats.kendalltau(scores.reindex(range(40)), strength)[0])

    assert abs(ours.position_bias_ - 1.5) < 3 * ours.position_bias_se_
    assert centred_log_error(ours.scores_) < 0.5 * centred_log_error(plain.scores_)
    assert tau(ours.scores_) > tau(plain.scores_) + 0.05


def test_both_orders_shown_give_no_bias_and_bradley_terry_scores():
    """Every comparison also shown in the other order with the same winner: the objective is even in beta, so
    beta = 0 and what is left is BradleyTerry's objective (same pseudo-count), with the same maximum."""
    comparisons, _ = simulate(20, 800, bias=0.8, seed=5)
    mirrored = pd.concat([comparisons, comparisons.rename(columns={"left": "right", "right": "left"})])
    ours = PositionBiasBradleyTerry(tol=1e-15).fit(mirrored)
    plain = BradleyTerry(tol=1e-12, n_iter=10_000).fit(mirrored)
    assert ours.position_bias_ == pytest.approx(0.0, abs=1e-7)
    pd.testing.assert_series_equal(ours.scores_.sort_index(), plain.scores_.sort_index(), rtol=1e-5)


def test_log_posterior_never_decreases_and_state_is_finite():
    model = PositionBiasBradleyTerry().fit(simulate(30, 900, bias=0.3, seed=1)[0])
    history = np.array(model.loss_history_)
    assert len(history) == model.n_iter_ + 1 and np.all(np.diff(history) >= 0)
    assert np.isfinite([model.position_bias_, model.position_bias_se_, *model.position_bias_interval_]).all()


def test_the_prior_keeps_an_infinite_bias_finite():
    """Each item wins and loses, but always from the left: the MLE of beta is infinite (so pseudo_count must be
    positive); the prior's virtual games keep it finite, large, and far from significant with six comparisons."""
    rows = [("a", "b", "a"), ("b", "a", "b")] * 3
    model = PositionBiasBradleyTerry().fit(pd.DataFrame(rows, columns=["left", "right", "label"]))
    assert 2.0 < model.position_bias_ < 20.0 and model.position_bias_interval_[0] < 0.5
    assert model.scores_.to_dict() == pytest.approx({"a": 0.5, "b": 0.5})
    with pytest.raises(ValueError, match=r"pseudo_count must be > 0"):
        PositionBiasBradleyTerry(pseudo_count=0.0)


def test_bad_comparisons_are_clear_errors():
    with pytest.raises(AnswersError, match="'label' must equal 'left' or 'right'"):
        PositionBiasBradleyTerry().fit(pd.DataFrame({"left": ["a"], "right": ["b"], "label": ["tie"]}))
    with pytest.raises(AnswersError, match="itself"):
        PositionBiasBradleyTerry().fit(pd.DataFrame({"left": ["a", "a"], "right": ["b", "a"], "label": ["a", "a"]}))
    with pytest.raises(AnswersError, match="'right'"):
        PositionBiasBradleyTerry().fit(pd.DataFrame({"left": ["a"], "label": ["a"]}))
