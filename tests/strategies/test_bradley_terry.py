import numpy as np
import pandas as pd
import pytest
from scipy import stats

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


@pytest.mark.parametrize("pseudo_count", [0.0, 0.1, 1.0])
def test_log_likelihood_never_decreases(pseudo_count):
    """The MM property (Hunter 2004, section 2): every update increases the (penalised) log-likelihood."""
    comparisons, _ = simulate(30, 600, seed=2)
    history = np.array(
        BradleyTerry(n_iter=200, tol=0.0, pseudo_count=pseudo_count).fit(comparisons).loss_history_
    )
    assert len(history) == 201
    assert np.all(np.diff(history) >= -1e-9 * np.abs(history[:-1]))


def test_two_items_closed_form():
    """Items a, b with a winning 3 of 4: the MLE odds are 3:1, so p_a = 3/4 once scaled to sum to one."""
    rows = [("a", "b", "a")] * 3 + [("b", "a", "b")]
    comparisons = pd.DataFrame(rows, columns=["left", "right", "label"])
    model = BradleyTerry(pseudo_count=0.0, tol=1e-12, n_iter=1000).fit(comparisons)
    assert model.scores_.to_dict() == pytest.approx({"a": 0.75, "b": 0.25})
    # with a pseudo-count a the odds solve the phantom-augmented equations: shrunk towards 1:1
    shrunk = BradleyTerry(pseudo_count=1.0, tol=1e-12, n_iter=1000).fit(comparisons).scores_
    assert 0.5 < shrunk["a"] < 0.75


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


def test_bad_comparisons_are_clear_errors():
    with pytest.raises(AnswersError, match="'label' must equal 'left' or 'right'"):
        BradleyTerry().fit(pd.DataFrame({"left": ["a"], "right": ["b"], "label": ["tie"]}))
    with pytest.raises(AnswersError, match="itself"):
        BradleyTerry().fit(pd.DataFrame({"left": ["a"], "right": ["a"], "label": ["a"]}))
    with pytest.raises(AnswersError, match="empty"):
        BradleyTerry().fit(pd.DataFrame(columns=["left", "right", "label"]))
    with pytest.raises(AnswersError, match="missing column"):
        BradleyTerry().fit(pd.DataFrame({"left": ["a"], "label": ["a"]}))
