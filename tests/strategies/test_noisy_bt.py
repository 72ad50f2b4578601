import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats
from scipy.special import expit, logit

from strategies.aggregation import AnswersError, BradleyTerry, NoisyBradleyTerry
from strategies.aggregation._pairwise import encode_comparisons
from strategies.aggregation.base import _codes
from strategies.aggregation.noisy_bt import _NoisyPosterior


def simulate(
    n_items: int, n_comparisons: int, n_workers: int, seed: int, reversed_workers: int = 0, lefties: int = 0
) -> tuple[pd.DataFrame, np.ndarray]:
    """Workers follow Bradley-Terry (log-strengths N(0, 1.5^2)) with probability U(0.7, 1), else flip a fair coin;
    the first ``reversed_workers`` always answer the model's loser instead, the next ``lefties`` pick the left item
    95% of the time whatever the items."""
    rng = np.random.default_rng(seed)
    strength = rng.normal(0.0, 1.5, n_items)
    left = rng.integers(n_items, size=n_comparisons)
    right = (left + rng.integers(1, n_items, size=n_comparisons)) % n_items
    worker = rng.integers(n_workers, size=n_comparisons)
    follows = rng.random(n_comparisons) < rng.uniform(0.7, 1.0, n_workers)[worker]
    model = rng.random(n_comparisons) < expit(strength[left] - strength[right])
    left_wins = np.where(follows, model, rng.random(n_comparisons) < 0.5)
    left_wins = np.where(worker < reversed_workers, ~model, left_wins)
    lefty = (worker >= reversed_workers) & (worker < reversed_workers + lefties)
    left_wins = np.where(lefty, rng.random(n_comparisons) < 0.95, left_wins)
    frame = pd.DataFrame({"worker": worker, "left": left, "right": right,
                          "label": np.where(left_wins, left, right)})  # fmt: skip
    return frame, strength


def crowdkit_log_likelihood(data: pd.DataFrame, scores: pd.Series, skills: pd.Series, biases: pd.Series) -> float:
    """The model row by row, as crowd-kit 1.4.2 writes it: log(sigma(g) sigma(y (s_l - s_r)) + (1 - sigma(g))
    sigma(y q)), y = +1 when the left item won, -1 when it lost; parameters are the logits of the attributes."""
    total = 0.0
    for row in data.itertuples():
        y = 1.0 if row.label == row.left else -1.0
        difference = logit(scores[row.left]) - logit(scores[row.right])
        skill, bias = skills[row.worker], logit(biases[row.worker])
        total += np.log(skill * expit(y * difference) + (1 - skill) * expit(y * bias))
    return float(total)


def test_objective_is_crowdkits_likelihood_plus_the_phantom_prior_and_its_gradient_is_exact():
    """Three hand-written rows: the vectorised objective equals the row-by-row formula plus
    a * sum(log sigma(x) + log sigma(-x)) over every logit; its gradient matches finite differences."""
    data = pd.DataFrame({"worker": ["u", "u", "v"], "left": ["a", "b", "a"], "right": ["b", "c", "c"],
                         "label": ["a", "c", "c"]})  # fmt: skip
    items, left, right, winner = encode_comparisons(data)
    worker, workers = _codes(data["worker"], "worker")
    objective = _NoisyPosterior(left, right, winner, worker, len(items), len(workers), pseudo_count=0.5)
    logits = np.array([0.3, -0.2, 1.1, 2.0, -1.0, 0.4, -0.7])  # scores a, b, c; skills u, v; biases u, v
    scores = pd.Series(expit(logits[:3]), index=list(items))
    skills = pd.Series(expit(logits[3:5]), index=list(workers))
    biases = pd.Series(expit(logits[5:]), index=list(workers))
    prior = 0.5 * np.sum(np.log(expit(logits)) + np.log(expit(-logits)))
    assert objective(logits)[0] == pytest.approx(crowdkit_log_likelihood(data, scores, skills, biases) + prior)
    gradient_error = optimize.check_grad(lambda x: objective(x)[0], lambda x: objective(x)[1], logits)
    assert gradient_error < 1e-6


def test_recovers_simulated_scores_better_than_plain_bradley_terry():
    comparisons, strength = simulate(40, 4000, n_workers=8, seed=1, reversed_workers=1)
    model = NoisyBradleyTerry().fit(comparisons)
    tau = stats.kendalltau(model.scores_.reindex(range(40)), strength)[0]
    plain = stats.kendalltau(BradleyTerry().fit(comparisons).scores_.reindex(range(40)), strength)[0]
    assert tau > 0.85 and tau > plain + 0.02, (tau, plain)
    assert model.scores_.name == "agg_score" and model.scores_.between(0, 1).all()
    assert model.skills_.index.name == "worker" and model.skills_.name == "skill" and model.biases_.name == "bias"


def test_flags_a_reversed_worker_and_a_left_clicker():
    """Worker 0 always answers the model's loser, worker 1 picks the left item 95% of the time: both get a skill
    near 0 (a negative logit) while the others, who follow the model 70-100% of the time, get more than 0.6. Worker
    1's bias is about 0.95; a reversed worker, as far as this model can tell, guesses without a side (bias 0.5)."""
    comparisons, _ = simulate(40, 4000, n_workers=8, seed=3, reversed_workers=1, lefties=1)
    model = NoisyBradleyTerry().fit(comparisons)
    assert model.skills_[0] < 0.05 and model.skills_[1] < 0.05
    assert (model.skills_.drop([0, 1]) > 0.6).all(), model.skills_
    assert model.biases_[1] == pytest.approx(0.95, abs=0.03)
    assert model.biases_[0] == pytest.approx(0.5, abs=0.1)


def test_log_posterior_never_decreases_and_fit_is_deterministic():
    comparisons, _ = simulate(30, 1500, n_workers=6, seed=2)
    model = NoisyBradleyTerry().fit(comparisons)
    history = np.array(model.loss_history_)
    assert len(history) == model.n_iter_ + 1 and np.all(np.diff(history) >= 0)
    again = NoisyBradleyTerry().fit(comparisons.sample(frac=1.0, random_state=0))
    pd.testing.assert_series_equal(again.scores_, model.scores_)  # rows are sorted once: bit-identical
    pd.testing.assert_series_equal(again.skills_, model.skills_)


def test_rows_are_merged_the_same_way_on_both_encodings():
    """Distinct (worker, winner, loser, side) rows come from one int64 key when it fits, else from np.unique over
    rows; both give the same rows and counts (here the second path is forced by a huge declared item count)."""
    comparisons, _ = simulate(12, 300, n_workers=3, seed=4)
    comparisons = pd.concat([comparisons, comparisons.iloc[:50]])  # 50 repeated rows
    items, left, right, winner = encode_comparisons(comparisons)
    worker, workers = _codes(comparisons["worker"], "worker")
    keyed = _NoisyPosterior(left, right, winner, worker, len(items), len(workers), 0.1)
    stacked = _NoisyPosterior(left, right, winner, worker, 2**31, len(workers), 0.1)
    for name in ("cell", "winner", "loser", "count"):
        np.testing.assert_array_equal(getattr(keyed, name), getattr(stacked, name))
    assert keyed.count.sum() == len(comparisons) and keyed.count.size < len(comparisons)


def test_bad_comparisons_are_clear_errors():
    with pytest.raises(AnswersError, match="'label' must equal 'left' or 'right'"):
        NoisyBradleyTerry().fit(pd.DataFrame({"worker": [1], "left": ["a"], "right": ["b"], "label": ["tie"]}))
    with pytest.raises(AnswersError, match="itself"):
        NoisyBradleyTerry().fit(pd.DataFrame({"worker": [1], "left": ["a"], "right": ["a"], "label": ["a"]}))
    with pytest.raises(AnswersError, match="'worker'"):
        NoisyBradleyTerry().fit(pd.DataFrame({"left": ["a"], "right": ["b"], "label": ["a"]}))
    with pytest.raises(ValueError, match="pseudo_count must be > 0"):
        NoisyBradleyTerry(pseudo_count=0.0)
