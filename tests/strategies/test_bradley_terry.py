import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from strategies.aggregation import AnswersError, BradleyTerry


def simulate(n_items: int, n_comparisons: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    strength = np.exp(rng.normal(0.0, 1.0, n_items))
    left = rng.integers(n_items, size=n_comparisons)
    right = (left + rng.integers(1, n_items, size=n_comparisons)) % n_items
    left_wins = rng.random(n_comparisons) < strength[left] / (strength[left] + strength[right])
    frame = pd.DataFrame({"worker": rng.integers(20, size=n_comparisons), "left": left, "right": right,
                          "label": np.where(left_wins, left, right)})  # fmt: skip
    return frame, strength


def test_recovers_simulated_strengths():
    comparisons, strength = simulate(50, 5000, seed=1)
    model = BradleyTerry().fit(comparisons)
    assert stats.spearmanr(model.scores_.reindex(range(50)), strength)[0] > 0.95
    assert model.scores_.sum() == pytest.approx(1.0)
    assert model.scores_.name == "agg_score"


@pytest.mark.parametrize("method", ["newman", "mm"])
@pytest.mark.parametrize("pseudo_count", [0.1, 1.0])
def test_log_likelihood_never_decreases(pseudo_count, method):
    """The MM property (Hunter 2004, section 2): every MM update increases the (penalised) log-likelihood; Newman's
    steps keep it by the MM fallback. (pseudo_count=0 needs every item to win and lose: see the next test.)"""
    comparisons, _ = simulate(30, 600, seed=2)
    model = BradleyTerry(n_iter=200, tol=0.0, pseudo_count=pseudo_count, method=method).fit(comparisons)
    history = np.array(model.loss_history_)
    assert len(history) == 201
    assert np.all(np.diff(history) >= -1e-9 * np.abs(history[:-1]))


def test_newman_reaches_the_mm_fixed_point_in_far_fewer_iterations():
    """Both updates share their fixed points (Newman 2023, eq. 3 and Hunter 2004): the same scores and the same
    maximum of the objective, Newman's in a small fraction of MM's iterations (here 1,000 comparisons per item)."""
    comparisons, _ = simulate(40, 40_000, seed=4)
    newman = BradleyTerry(tol=1e-10, n_iter=20_000).fit(comparisons)
    mm = BradleyTerry(tol=1e-10, n_iter=20_000, method="mm").fit(comparisons)
    assert newman.scores_.to_numpy() == pytest.approx(mm.scores_.to_numpy(), rel=1e-6)
    assert newman.loss_history_[-1] == pytest.approx(mm.loss_history_[-1], rel=1e-9)
    assert newman.n_iter_ * 5 < mm.n_iter_, (newman.n_iter_, mm.n_iter_)


def test_newman_cycle_is_broken_by_the_mm_fallback():
    """Two items, a winning 3 of 4: plain Newman steps alternate (1, 1) -> (3, 1/3) -> (1, 1); ours converges."""
    comparisons = pd.DataFrame([("a", "b", "a")] * 3 + [("b", "a", "b")], columns=["left", "right", "label"])
    model = BradleyTerry(pseudo_count=0.0, tol=1e-12, n_iter=1000).fit(comparisons)
    assert model.n_iter_ < 1000 and model.scores_.to_dict() == pytest.approx({"a": 0.75, "b": 0.25})


def test_two_items_closed_form():
    """Items a, b with a winning 3 of 4: the MLE odds are 3:1, so p_a = 3/4 once scaled to sum to one."""
    rows = [("a", "b", "a")] * 3 + [("b", "a", "b")]
    comparisons = pd.DataFrame(rows, columns=["left", "right", "label"])
    for method in ("newman", "mm"):
        model = BradleyTerry(pseudo_count=0.0, tol=1e-12, n_iter=1000, method=method).fit(comparisons)
        assert model.scores_.to_dict() == pytest.approx({"a": 0.75, "b": 0.25})
        # with a pseudo-count of 1 the stationary equations, solved here by scipy's root finder, are
        # p_a (4 / (p_a + p_b) + 2 / (p_a + 1)) = 3 + 1 and p_b (4 / (p_a + p_b) + 2 / (p_b + 1)) = 1 + 1
        root = optimize.fsolve(
            lambda p: [p[0] * (4 / p.sum() + 2 / (p[0] + 1)) - 4, p[1] * (4 / p.sum() + 2 / (p[1] + 1)) - 2],
            x0=[1.0, 1.0],
            xtol=1e-13,
        )
        shrunk = BradleyTerry(pseudo_count=1.0, tol=1e-12, n_iter=1000, method=method).fit(comparisons).scores_
        assert shrunk.to_numpy() == pytest.approx(root / root.sum(), rel=1e-8)
        assert 0.5 < shrunk["a"] < 0.75  # shrunk towards 1:1


def test_tie_equal_wins_give_equal_scores_and_stopping_rule():
    comparisons = pd.DataFrame([("x", "y", "x"), ("x", "y", "y"), ("y", "z", "y"), ("y", "z", "z")],
                               columns=["left", "right", "label"])  # fmt: skip
    model = BradleyTerry(tol=1e-8).fit(comparisons)
    assert model.scores_.to_numpy() == pytest.approx(np.full(3, 1 / 3))
    assert model.n_iter_ == 1  # the uniform start is already the fixed point: relative change 0 < tol


def test_item_that_never_wins_and_disconnected_graph_stay_finite():
    """'loser' never wins (its MLE is 0); {p, q} is never compared with {a, b, loser} (a disconnected
    graph)."""
    comparisons = pd.DataFrame(
        [("a", "loser", "a"), ("b", "loser", "b"), ("a", "b", "a"), ("b", "a", "a"), ("p", "q", "q")],
        columns=["left", "right", "label"],
    )  # fmt: skip
    scores = BradleyTerry().fit(comparisons).scores_
    assert np.isfinite(scores).all() and (scores > 0).all()
    assert scores["a"] > scores["b"] > scores["loser"] and scores["q"] > scores["p"]
    with pytest.raises(ValueError, match="never win"):
        BradleyTerry(pseudo_count=0.0).fit(comparisons)
    with pytest.raises(ValueError, match=r"\['a'\] never lose, so their MLE score is infinite"):
        unbeaten = [("a", "b", "a"), ("b", "c", "b"), ("c", "b", "c"), ("a", "c", "a")]
        BradleyTerry(pseudo_count=0.0).fit(pd.DataFrame(unbeaten, columns=["left", "right", "label"]))
    with pytest.raises(ValueError, match=r"method must be one of \['newman', 'mm'\]"):
        BradleyTerry(method="lsr").fit(comparisons)  # type: ignore[arg-type]


def test_bad_comparisons_are_clear_errors():
    with pytest.raises(AnswersError, match="'label' must equal 'left' or 'right'"):
        BradleyTerry().fit(pd.DataFrame({"left": ["a"], "right": ["b"], "label": ["tie"]}))
    with pytest.raises(AnswersError, match="itself"):
        BradleyTerry().fit(pd.DataFrame({"left": ["a"], "right": ["a"], "label": ["a"]}))
    with pytest.raises(AnswersError, match="empty"):
        BradleyTerry().fit(pd.DataFrame(columns=["left", "right", "label"]))
    with pytest.raises(AnswersError, match="missing column"):
        BradleyTerry().fit(pd.DataFrame({"left": ["a"], "label": ["a"]}))
