import math

import numpy as np
import pandas as pd
import pytest

from strategies.aggregation import AnswersError, DawidSkene, MajorityVote


def reference_dawid_skene(answers: pd.DataFrame, n_e_steps: int, smoothing: float):
    """Plain-loop Dawid-Skene EM written from the 1979 paper, independent of the vectorised code.

    Soft majority vote start, M-step with additive smoothing, then ``n_e_steps`` rounds of E-step (M-step
    between).
    """
    tasks = sorted(answers.task.unique())
    workers = sorted(answers.worker.unique())
    labels = sorted(answers.label.unique())
    k = len(labels)
    rows = list(answers.itertuples(index=False))
    post = {t: [0.0] * k for t in tasks}
    for r in rows:
        post[r.task][labels.index(r.label)] += 1
    post = {t: [v / sum(p) for v in p] for t, p in post.items()}

    def m_step(post):
        conf = {w: [[smoothing] * k for _ in range(k)] for w in workers}  # conf[w][l][c]
        for r in rows:
            for c in range(k):
                conf[r.worker][labels.index(r.label)][c] += post[r.task][c]
        for w in workers:
            for c in range(k):
                total = sum(conf[w][a][c] for a in range(k))
                for a in range(k):
                    conf[w][a][c] /= total
        mass = [sum(post[t][c] for t in tasks) + smoothing for c in range(k)]
        return conf, [m / sum(mass) for m in mass]

    conf, priors = m_step(post)
    for _ in range(n_e_steps):
        joint = {t: [math.log(priors[c]) for c in range(k)] for t in tasks}
        for r in rows:
            for c in range(k):
                joint[r.task][c] += math.log(conf[r.worker][labels.index(r.label)][c])
        post = {t: [math.exp(v - max(j)) / sum(math.exp(u - max(j)) for u in j) for v in j] for t, j in joint.items()}
        conf, priors = m_step(post)  # the reported parameters: the M-step on the last posteriors (crowd-kit's)
    return post, conf, priors, labels, workers


@pytest.fixture
def small_answers(toy_answers):
    extra = pd.DataFrame(
        [("t4", "w1", "b"), ("t4", "w3", "b"), ("t5", "w2", "a"), ("t5", "w3", "b"), ("t5", "w1", "a")],
        columns=["task", "worker", "label"],
    )
    return pd.concat([toy_answers, extra], ignore_index=True)


@pytest.mark.parametrize("n_iter", [1, 3])
def test_matches_plain_loop_reference(small_answers, n_iter):
    ds = DawidSkene(n_iter=n_iter, tol=0.0, smoothing=0.01).fit(small_answers)
    post, conf, priors, labels, workers = reference_dawid_skene(small_answers, n_iter, 0.01)
    for task, row in post.items():
        assert ds.probas_.loc[task].to_numpy() == pytest.approx(row, rel=1e-9)
    for w in workers:
        for code, label in enumerate(labels):
            assert ds.errors_.loc[(w, label)].to_numpy() == pytest.approx(conf[w][code], rel=1e-9)
    assert ds.priors_.to_numpy() == pytest.approx(priors, rel=1e-9)
    assert len(ds.loss_history_) == n_iter


def test_result_layout_follows_crowd_kit(toy_answers):
    ds = DawidSkene().fit(toy_answers)
    assert ds.labels_.to_dict() == {"t1": "a", "t2": "b", "t3": "a"}
    assert ds.errors_.index.names == ["worker", "label"]
    assert list(ds.errors_.columns) == ["a", "b"]
    # each worker's confusion column (true class) is a distribution over answered labels
    assert ds.errors_.groupby(level="worker").sum().to_numpy() == pytest.approx(1.0)
    assert ds.priors_.name == "prior" and ds.priors_.sum() == pytest.approx(1.0)
    assert ds.probas_.sum(axis=1).to_numpy() == pytest.approx(1.0)
    assert ds.fit_predict(toy_answers).equals(ds.labels_)


def test_loss_history_never_decreases(load_real_dataset):
    """EM with additive smoothing is MAP-EM: the smoothed log-likelihood it records cannot go down."""
    answers, _ = load_real_dataset("web")
    history = np.array(DawidSkene().fit(answers).loss_history_)
    assert len(history) > 2 and np.all(np.diff(history) >= -1e-10)


def simulate_dawid_skene(seed: int, n_tasks=2000, n_workers=30, per_task=10, n_classes=3):
    """Answers drawn from the Dawid-Skene model itself, with random diagonal-heavy confusion matrices."""
    rng = np.random.default_rng(seed)
    priors = rng.dirichlet(np.full(n_classes, 5.0))
    concentration = 1.0 + np.eye(n_classes) * rng.uniform(1, 6, (n_workers, 1, 1))  # [worker, label, class]
    confusions = np.stack(
        [np.stack([rng.dirichlet(concentration[w, :, c]) for c in range(n_classes)], axis=1) for w in range(n_workers)]
    )
    truth = rng.choice(n_classes, n_tasks, p=priors)
    chosen = np.argsort(rng.random((n_tasks, n_workers)), axis=1)[:, :per_task]
    task = np.repeat(np.arange(n_tasks), per_task)
    worker = chosen.ravel()
    cumulative = np.cumsum(confusions[worker, :, truth[task]], axis=1)
    label = (rng.random(task.size)[:, None] > cumulative).sum(axis=1)
    answers = pd.DataFrame({"task": task, "worker": worker, "label": label})
    return answers, truth, confusions, priors


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_close_to_bayes_oracle_on_simulated_data(seed):
    """Acceptance line: within 0.5 point of the oracle vote weighted by each worker's true log-odds
    log(a (K - 1) / (1 - a)), a the worker's true accuracy, and of the stronger Bayes oracle (the posterior under
    the true confusions and priors). Measured: Bayes 0.9795 / 0.9890 / 0.9920, Dawid-Skene 0.9775 / 0.9890 /
    0.9910 for seeds 0 / 1 / 2."""
    answers, truth, confusions, priors = simulate_dawid_skene(seed)
    n_classes = priors.size
    log_posterior = np.tile(np.log(priors), (truth.size, 1))
    np.add.at(log_posterior, answers.task.to_numpy(), np.log(confusions[answers.worker, answers.label, :]))
    bayes = (log_posterior.argmax(axis=1) == truth).mean()
    accuracy = np.einsum("wcc,c->w", confusions, priors)  # P(answer = true class) per worker
    weight = np.log(accuracy * (n_classes - 1) / (1 - accuracy))
    votes = np.zeros((truth.size, n_classes))
    np.add.at(votes, (answers.task.to_numpy(), answers.label.to_numpy()), weight[answers.worker])
    log_odds_vote = (votes.argmax(axis=1) == truth).mean()
    ds = DawidSkene().fit(answers)
    ours = (ds.labels_.to_numpy() == truth).mean()
    assert ours >= log_odds_vote - 0.005
    assert ours >= bayes - 0.005
    # the learned confusions recover the true ones
    learned = ds.errors_.to_numpy().reshape(confusions.shape)
    assert np.abs(learned - confusions).mean() < 0.05


def test_known_labels_are_fixed_and_help(load_real_dataset):
    """Dawid-Skene with 30% of web's gold fixed scores at least as well on the other 70% (0.875 vs 0.834
    here)."""
    answers, gold = load_real_dataset("web")
    given = gold.sample(frac=0.3, random_state=0)
    rest = gold.drop(given.index)
    plain = DawidSkene().fit(answers)
    with_gold = DawidSkene().fit(answers, true_labels=given)
    assert (with_gold.labels_.reindex(given.index) == given).all()
    assert with_gold.probas_.loc[given.index].max(axis=1).to_numpy() == pytest.approx(1.0)
    accuracy = {
        name: (m.labels_.reindex(rest.index) == rest).mean() for name, m in [("plain", plain), ("gold", with_gold)]
    }
    assert accuracy["gold"] >= accuracy["plain"]


def test_known_labels_outside_label_set_raise(toy_answers):
    with pytest.raises(AnswersError, match="outside"):
        DawidSkene().fit(toy_answers, true_labels=pd.Series({"t1": "zzz"}))
    # tasks that are not in the answers are ignored
    ds = DawidSkene().fit(toy_answers, true_labels=pd.Series({"t3": "b", "nowhere": "a"}))
    assert ds.labels_["t3"] == "b" and len(ds.labels_) == 3


# INDEX.md: plain Dawid-Skene (soft-MV start, smoothing 0.01, <= 100 iterations); crowd-kit's paper:
# product 0.940, relevance 0.615. Each must be met to within 1.0 point below.
PUBLISHED = {
    "product": 0.940,
    "relevance": 0.615,
    "rte": 0.928,
    "bluebirds": 0.898,
    "dog": 0.843,
    "web": 0.822,
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_real_data_accuracy(load_real_dataset, name):
    answers, gold = load_real_dataset(name)
    ds = DawidSkene().fit(answers)
    accuracy = (ds.labels_.reindex(gold.index) == gold).mean()
    assert accuracy >= PUBLISHED[name] - 0.010
    if name in {"rte", "dog", "web", "bluebirds"}:
        assert accuracy >= (MajorityVote().fit_predict(answers).reindex(gold.index) == gold).mean()


def test_degenerate_inputs(toy_answers):
    single_worker = pd.DataFrame({"task": [1, 2, 3], "worker": ["w"] * 3, "label": [0, 1, 1]})
    assert DawidSkene().fit_predict(single_worker).tolist() == [0, 1, 1]
    single_task = pd.DataFrame({"task": [1, 1, 1], "worker": ["a", "b", "c"], "label": ["x", "y", "y"]})
    assert DawidSkene().fit_predict(single_task).tolist() == ["y"]
    unanimous = pd.DataFrame({"task": [1, 1, 2, 2], "worker": ["a", "b", "a", "b"], "label": ["x"] * 4})
    ds = DawidSkene().fit(unanimous)
    assert ds.labels_.tolist() == ["x", "x"] and ds.probas_.to_numpy() == pytest.approx(1.0)
    # a declared class that nobody chose keeps a column, a positive prior, and is never predicted here
    declared = toy_answers.assign(label=pd.Categorical(toy_answers.label, categories=["a", "b", "c"]))
    ds = DawidSkene().fit(declared)
    assert list(ds.probas_.columns) == ["a", "b", "c"] and 0 < ds.priors_["c"] < 0.01
    assert (ds.labels_ != "c").all()
    # duplicate answers count twice
    duplicated = pd.concat([toy_answers, toy_answers.iloc[[7]]], ignore_index=True)  # w2's 'b' on t3 again
    assert DawidSkene().fit_predict(duplicated)["t3"] == "b"
    for frame in [ds.probas_, DawidSkene(smoothing=0.0).fit(toy_answers).probas_]:
        assert np.isfinite(frame.to_numpy()).all()
    with pytest.raises(AnswersError, match="empty"):
        DawidSkene().fit(pd.DataFrame(columns=["task", "worker", "label"]))
    with pytest.raises(AnswersError, match="'label'"):
        DawidSkene().fit(pd.DataFrame({"task": [1], "worker": [1], "label": [np.nan]}))


def test_invariant_to_row_order_and_renaming(load_real_dataset):
    answers, _ = load_real_dataset("dog")
    base = DawidSkene().fit(answers)
    shuffled = answers.sample(frac=1.0, random_state=1)
    renamed = shuffled.assign(task="t" + shuffled.task.astype(str), worker="w" + shuffled.worker.astype(str))
    other = DawidSkene().fit(renamed)
    assert (
        other.labels_.rename(lambda t: t[1:]).sort_index().to_numpy()
        == base.labels_.rename(str).sort_index().to_numpy()
    ).all()
