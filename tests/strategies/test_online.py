"""Online aggregation: ``OnlineModel`` (the engine's integer-coded fast path) and ``partial_fit`` (pandas).

Checked against independent references: the batch ``fit`` of the same answers (exactly for majority vote, within
half an accuracy point on the gold tasks for the Dawid-Skene models), sequential ``add`` for ``add_many``, and
``posterior`` for ``probas``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from strategies.aggregation import AnswersError, DawidSkene, MajorityVote, OneCoinDawidSkene, encode_answers
from strategies.aggregation._em import normalised_log_counts, run_confusion_em
from strategies.aggregation._online import OnlineConfusionEM, OnlineMajorityVote, OnlineModel
from strategies.aggregation.base import argmax_rows

CATEGORICAL = ["bluebirds", "rte", "product", "zencrowd_all", "dog", "web", "music", "relevance"]
CONFUSION_MODELS = [DawidSkene, OneCoinDawidSkene]


def random_codes(seed: int, n_answers: int, n_tasks: int, n_workers: int, n_labels: int) -> tuple[np.ndarray, ...]:
    """Answers of workers of accuracy 0.8 (errors uniform), in random order, as integer codes."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(n_labels, size=n_tasks)
    task = rng.integers(n_tasks, size=n_answers)
    worker = rng.integers(n_workers, size=n_answers)
    wrong = (truth[task] + rng.integers(1, n_labels, size=n_answers)) % n_labels
    label = np.where(rng.random(n_answers) < 0.8, truth[task], wrong)
    return task, worker, label


def gold_accuracy(labels: pd.Series, gold: pd.Series) -> float:
    return float((labels.reindex(gold.index) == gold).mean())


def chunks(answers: pd.DataFrame, n_chunks: int, seed: int = 0) -> list[pd.DataFrame]:
    shuffled = answers.sample(frac=1.0, random_state=seed)
    return [shuffled.iloc[rows] for rows in np.array_split(np.arange(len(shuffled)), n_chunks)]


def online_models(n_tasks: int, n_workers: int, n_labels: int, **schedule: float) -> dict[str, OnlineModel]:
    return {
        "MajorityVote": MajorityVote().online_model(n_tasks, n_workers, n_labels),
        "DawidSkene": DawidSkene().online_model(n_tasks, n_workers, n_labels, **schedule),  # type: ignore[arg-type]
        "OneCoinDawidSkene": OneCoinDawidSkene().online_model(n_tasks, n_workers, n_labels, **schedule),  # type: ignore[arg-type]
    }


# OnlineModel: the integer-coded interface


@pytest.mark.parametrize("name", ["MajorityVote", "DawidSkene", "OneCoinDawidSkene"])
def test_add_many_equals_repeated_add(name):
    """Bit for bit, with refits falling inside the add_many calls (min_answers 50, growth 0.3)."""
    task, worker, label = random_codes(0, 3000, 400, 30, 3)
    one_by_one = online_models(400, 30, 3, min_answers=50, refit_growth=0.3)[name]
    for t, w, lab in zip(task.tolist(), worker.tolist(), label.tolist(), strict=True):
        one_by_one.add(t, w, lab)
    batched = online_models(400, 30, 3, min_answers=50, refit_growth=0.3)[name]
    for rows in np.array_split(np.arange(3000), [7, 60, 61, 900, 2000]):
        batched.add_many(task[rows], worker[rows], label[rows])
    np.testing.assert_array_equal(batched.probas(), one_by_one.probas())
    assert batched.refits == one_by_one.refits
    assert batched.n_answers == one_by_one.n_answers == 3000
    np.testing.assert_array_equal(batched.mean_confusion(), one_by_one.mean_confusion())
    if name != "MajorityVote":
        assert one_by_one.refits > 5


@pytest.mark.parametrize("name", ["MajorityVote", "DawidSkene", "OneCoinDawidSkene"])
def test_probas_posterior_and_top_agree(name):
    task, worker, label = random_codes(1, 2000, 300, 20, 4)
    model = online_models(350, 20, 4)[name]  # tasks 300..349 get no answers
    model.add_many(task, worker, label)
    probas = model.probas()
    assert probas.shape == (350, 4)
    np.testing.assert_allclose(probas.sum(axis=1), 1.0, rtol=1e-12)
    for t in range(350):
        posterior = model.posterior(t)
        np.testing.assert_allclose(posterior, probas[t], rtol=1e-12, atol=1e-300)
        code, probability = model.top(t)
        assert code == int(argmax_rows(probas[t : t + 1])[0])
        assert probability == pytest.approx(max(posterior), rel=1e-12)
    confusion = model.mean_confusion()
    assert confusion.shape == (4, 4)
    np.testing.assert_allclose(confusion.sum(axis=1), 1.0, rtol=1e-12)
    assert (np.diag(confusion) > 0.5).all()  # workers of accuracy 0.8


def test_task_without_answers_and_ties_go_to_lowest_code():
    majority = MajorityVote().online_model(3, 3, 3)
    assert majority.top(0) == (0, pytest.approx(1 / 3)) and majority.posterior(0) == pytest.approx([1 / 3] * 3)
    majority.add(1, 0, 2)
    majority.add(1, 1, 1)
    assert majority.top(1) == (1, 0.5)
    assert majority.refits == 0

    model = DawidSkene().online_model(3, 3, 3)
    assert model.top(0) == (0, pytest.approx(1 / 3))  # the uniform prior before the first refit
    model.add(1, 0, 2)
    model.add(1, 1, 1)  # every worker has the symmetric start: a one-one tie
    code, probability = model.top(1)
    assert code == 1 and probability == pytest.approx(model.posterior(1)[2])
    assert model.refits == 0


def test_task_without_answers_has_the_priors_top():
    """After a refit, an unanswered task's posterior is the learned prior."""
    task, worker, label = random_codes(2, 1000, 100, 10, 3)
    label = np.where(label == 1, 2, label)  # class 1 is rare: only the workers' errors give it
    model = DawidSkene().online_model(101, 10, 3)
    model.add_many(task, worker, label)
    assert model.refits > 0
    assert model.posterior(100) == pytest.approx(model.priors().tolist(), rel=1e-12)
    assert model.top(100)[0] == int(np.argmax(model.priors()))


def test_refit_schedule():
    """First refit at min_answers, then whenever the answers have grown by refit_growth; between refits only the
    answered task's posterior moves."""
    task, worker, label = random_codes(3, 400, 80, 10, 2)
    model = DawidSkene().online_model(80, 10, 2, min_answers=100, refit_growth=0.5)
    seen = []
    for t, w, lab in zip(task.tolist(), worker.tolist(), label.tolist(), strict=True):
        before, refits = model.probas(), model.refits
        model.add(t, w, lab)
        if model.refits > refits:
            seen.append(model.n_answers)
        else:
            changed = np.flatnonzero((model.probas() != before).any(axis=1))
            assert set(changed.tolist()) <= {t}
    assert seen == [100, 150, 225, 338]


def test_codes_outside_the_model_raise():
    for model in online_models(5, 2, 2).values():
        with pytest.raises(IndexError, match="outside"):
            model.add(5, 0, 0)
        with pytest.raises(IndexError, match="outside"):
            model.add(-1, 0, 0)
        with pytest.raises(IndexError, match="label"):
            model.add_many([0, 1], [0, 1], [0, 2])
        assert model.n_answers == 0


def test_warm_start_at_the_batch_fit_reproduces_it(load_real_dataset):
    """One E-step from the batch fit's own parameters (the M-step on its last posteriors) is the batch fit's next
    iteration: the warm start continues EM where it stopped."""
    answers = encode_answers(load_real_dataset("dog")[0])

    def m_step(counts: np.ndarray) -> np.ndarray:
        return normalised_log_counts(counts, 0.01)

    batch = run_confusion_em(answers, m_step, n_iter=100, tol=1e-5, smoothing=0.01)
    warm = run_confusion_em(
        answers, m_step, n_iter=1, tol=1e-5, smoothing=0.01, warm_start=(batch.log_confusions, np.log(batch.priors))
    )
    longer = run_confusion_em(answers, m_step, n_iter=len(batch.loss_history) + 1, tol=0.0, smoothing=0.01)
    np.testing.assert_allclose(warm.probas, longer.probas, rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="warm_start"):
        run_confusion_em(answers, m_step, 1, 1e-5, 0.01, warm_start=(batch.log_confusions[1:], batch.priors))


# partial_fit: majority vote equals the batch fit exactly


@pytest.mark.parametrize("tie_break", ["lowest", "random"])
def test_online_majority_vote_equals_batch_after_every_chunk(load_real_dataset, tie_break):
    answers, _ = load_real_dataset("web")
    online = MajorityVote(tie_break=tie_break, random_state=3)
    seen = []
    for chunk in chunks(answers, 7):
        seen.append(chunk)
        online.partial_fit(chunk)
        batch = MajorityVote(tie_break=tie_break, random_state=3).fit(pd.concat(seen))
        pd.testing.assert_series_equal(online.labels_, batch.labels_)
        pd.testing.assert_frame_equal(online.probas_, batch.probas_)


def test_online_majority_vote_is_invariant_to_chunking(load_real_dataset):
    answers, _ = load_real_dataset("dog")
    whole = MajorityVote().partial_fit(answers)
    for n_chunks in (2, 13, 100):
        pieces = MajorityVote()
        for chunk in chunks(answers, n_chunks, seed=n_chunks):
            pieces.partial_fit(chunk)
        pd.testing.assert_series_equal(pieces.labels_, whole.labels_)
        pd.testing.assert_frame_equal(pieces.probas_, whole.probas_)


# partial_fit: Dawid-Skene and one-coin Dawid-Skene close to the batch fit


@pytest.mark.parametrize("model", CONFUSION_MODELS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("name", CATEGORICAL)
def test_partial_fit_close_to_batch_on_real_data(load_real_dataset, name, model):
    """Twenty shuffled chunks (seed 0). Each call ends with a refit from the soft majority vote (the default
    schedule), so the result is the batch fit's up to rounding: measured gold-accuracy difference 0.00 point on
    all eight data sets for both models, the same label on every task, posteriors within 2e-14."""
    answers, gold = load_real_dataset(name)
    online = model()
    for chunk in chunks(answers, 20):
        assert online.partial_fit(chunk) is online
    batch = model().fit(answers)
    assert abs(gold_accuracy(online.labels_, gold) - gold_accuracy(batch.labels_, gold)) <= 0.005
    pd.testing.assert_frame_equal(online.probas_, batch.probas_, rtol=0, atol=1e-9)
    pd.testing.assert_frame_equal(online.errors_, batch.errors_, rtol=0, atol=1e-9)
    pd.testing.assert_series_equal(online.priors_, batch.priors_, rtol=0, atol=1e-9)
    if model is OneCoinDawidSkene:
        pd.testing.assert_series_equal(online.skills_, batch.skills_, rtol=0, atol=1e-9)


@pytest.mark.parametrize("model", CONFUSION_MODELS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("name", ["bluebirds", "rte", "dog", "web", "music"])
def test_answer_by_answer_close_to_batch_on_real_data(load_real_dataset, name, model):
    """Every answer through ``OnlineModel.add`` (shuffled, seed 1). After the last answer the confusions have
    not seen the up to 9% of answers since the last refit; gold accuracy online minus batch, in points,
    Dawid-Skene / one-coin: bluebirds +0.93 / 0.00, rte 0.00 / 0.00, dog 0.00 / -0.25, web -0.15 / -0.57,
    music -0.57 / 0.00 (36 to 54 refits), with smoothing 0.01 (the numbers above). One more ``refit()``, as at a
    campaign's end, gives the batch fit."""
    answers, gold = load_real_dataset(name)
    encoded = encode_answers(answers.sample(frac=1.0, random_state=1))
    online = model(smoothing=0.01).online_model(encoded.n_tasks, encoded.n_workers, encoded.n_labels)
    for t, w, lab in zip(encoded.task.tolist(), encoded.worker.tolist(), encoded.label.tolist(), strict=True):
        online.add(t, w, lab)
    batch = gold_accuracy(model(smoothing=0.01).fit(answers).labels_, gold)
    stale = gold_accuracy(encoded.label_series(argmax_rows(online.probas())), gold)
    assert abs(stale - batch) <= 0.01  # one task of bluebirds' 108
    online.refit()
    assert abs(gold_accuracy(encoded.label_series(argmax_rows(online.probas())), gold) - batch) <= 0.005


def simulated_campaign(seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """3,000 items, 3 classes, 100 raters of the default mix, redundancy 5: answers in submission order, truth."""
    from sim import Campaign, RaterPopulation, TaskDesign, simulate

    result = simulate(TaskDesign(n_items=3000), RaterPopulation(n_raters=100), Campaign(redundancy=5), seed=seed)
    regular = result.answers[~result.answers["is_gold"].to_numpy()]
    order = np.argsort(regular["t_end"].to_numpy(), kind="stable")
    return result.worker_answers().iloc[order].reset_index(drop=True), result.truth


@pytest.mark.parametrize("model", CONFUSION_MODELS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("seed", [0, 1])
def test_close_to_batch_on_simulated_campaigns(model, seed):
    """The engine's case: answers in submission order. Accuracy against the simulated truth, online minus batch
    (batch 0.806 / 0.799 for Dawid-Skene, 0.814 / 0.810 one-coin, seeds 0 / 1): partial_fit in 20 chunks 0.00;
    after the last ``add`` -0.20 / -0.27 (Dawid-Skene), -0.27 / +0.07 (one-coin)."""
    answers, truth = simulated_campaign(seed)
    batch = gold_accuracy(model().fit(answers).labels_, truth)
    online = model()
    for rows in np.array_split(np.arange(len(answers)), 20):
        online.partial_fit(answers.iloc[rows])
    assert abs(gold_accuracy(online.labels_, truth) - batch) <= 0.005
    encoded = encode_answers(answers)
    engine = model().online_model(encoded.n_tasks, encoded.n_workers, encoded.n_labels)
    for t, w, lab in zip(encoded.task.tolist(), encoded.worker.tolist(), encoded.label.tolist(), strict=True):
        engine.add(t, w, lab)
    assert abs(gold_accuracy(encoded.label_series(argmax_rows(engine.probas())), truth) - batch) <= 0.005


def test_warm_refits_and_restarts(load_real_dataset):
    """A warm refit starts from the current parameters: at the batch fit it stops after two E-steps with the
    posteriors within 0.01. Without restarts (``restart_growth=inf``) the warm refits never leave the
    optimum of the first fit on a few answers per task: on rte's shuffled answers, a label-switched one (with
    smoothing 0.01; without smoothing the first fit's optimum is less extreme)."""
    answers, gold = load_real_dataset("rte")
    encoded = encode_answers(answers.sample(frac=1.0, random_state=0))
    sizes = (encoded.n_tasks, encoded.n_workers, encoded.n_labels)
    model = DawidSkene(smoothing=0.01).online_model(*sizes)
    model.add_many(encoded.task, encoded.worker, encoded.label)
    model.refit(restart=True)
    fitted, refits = model.probas(), model.refits
    model.refit(restart=False)
    assert model.refits == refits + 1 and len(model.loss_history) == 2
    np.testing.assert_allclose(model.probas(), fitted, atol=0.01)
    warm_only = DawidSkene(smoothing=0.01).online_model(*sizes, restart_growth=math.inf)
    warm_only.add_many(encoded.task, encoded.worker, encoded.label)
    warm_only.refit()
    batch = gold_accuracy(DawidSkene(smoothing=0.01).fit(answers).labels_, gold)
    assert gold_accuracy(encoded.label_series(argmax_rows(warm_only.probas())), gold) < batch - 0.5


# partial_fit: ids, labels and errors


@pytest.mark.parametrize("model", [MajorityVote, *CONFUSION_MODELS], ids=lambda m: m.__name__)
def test_new_tasks_workers_and_labels_in_later_calls(model, toy_answers):
    online = model().partial_fit(toy_answers)
    later = pd.DataFrame(
        [("t4", "w9", "c"), ("t4", "w1", "c"), ("t1", "w9", "a"), ("t0", "w2", "c")],
        columns=["task", "worker", "label"],
    )
    online.partial_fit(later)
    everything = pd.concat([toy_answers, later], ignore_index=True)
    batch = model().fit(everything)
    pd.testing.assert_index_equal(online.probas_.index, batch.probas_.index)
    assert list(online.probas_.columns) == ["a", "b", "c"]
    np.testing.assert_allclose(online.probas_.sum(axis=1), 1.0)
    if model is MajorityVote:
        pd.testing.assert_frame_equal(online.probas_, batch.probas_)
    else:
        # a new label restarts from the soft majority vote: here a batch fit of all answers
        pd.testing.assert_frame_equal(online.probas_, batch.probas_, rtol=1e-9)
        pd.testing.assert_frame_equal(online.errors_, batch.errors_, rtol=1e-9)
        assert set(online.errors_.index.get_level_values("worker")) == {"w1", "w2", "w3", "w9"}
    if model is OneCoinDawidSkene:
        assert online.skills_.index.equals(batch.skills_.index)


@pytest.mark.parametrize("model", [MajorityVote, *CONFUSION_MODELS], ids=lambda m: m.__name__)
def test_declared_label_that_nobody_chose(model, toy_answers):
    declared = toy_answers.assign(label=pd.Categorical(toy_answers["label"], categories=["a", "b", "c"]))
    online = model().partial_fit(declared.iloc[:4]).partial_fit(declared.iloc[4:])
    batch = model().fit(declared)
    assert list(online.probas_.columns) == list(batch.probas_.columns) == ["a", "b", "c"]
    assert (online.labels_ != "c").all()


@pytest.mark.parametrize("model", [MajorityVote, *CONFUSION_MODELS], ids=lambda m: m.__name__)
def test_fit_starts_over_and_errors_leave_the_stream_unchanged(model, toy_answers):
    online = model().partial_fit(toy_answers)
    with pytest.raises(AnswersError, match="'label'"):
        online.partial_fit(toy_answers.assign(label=toy_answers["label"].where(toy_answers.index != 3)))
    with pytest.raises(AnswersError, match="empty"):
        online.partial_fit(toy_answers.iloc[:0])
    with pytest.raises(AnswersError, match="worker"):
        online.partial_fit(toy_answers.drop(columns="worker"))
    again = online.partial_fit(toy_answers)  # the failed calls added nothing: each answer is now in twice
    doubled = model().fit(pd.concat([toy_answers, toy_answers]))
    pd.testing.assert_series_equal(again.labels_, doubled.labels_)
    online.fit(toy_answers)
    restarted = online.partial_fit(toy_answers.iloc[:2])
    assert list(restarted.labels_.index) == ["t1"]


def test_online_models_share_the_interface():
    for name, model in online_models(4, 3, 2).items():
        assert isinstance(model, OnlineModel)
        assert isinstance(model, OnlineMajorityVote if name == "MajorityVote" else OnlineConfusionEM)
        for attribute in ("add", "add_many", "top", "posterior", "probas", "mean_confusion", "refits"):
            assert hasattr(model, attribute)
    assert math.isclose(MajorityVote().online_model(1, 1, 4).mean_confusion()[0, 0], 0.25)


def test_mean_confusion_is_the_answer_weighted_mean_of_the_batch_confusions(load_real_dataset):
    answers, _ = load_real_dataset("dog")
    encoded = encode_answers(answers)
    model = DawidSkene().online_model(encoded.n_tasks, encoded.n_workers, encoded.n_labels)
    model.add_many(encoded.task, encoded.worker, encoded.label)
    model.refit(restart=True)
    errors = DawidSkene().fit(answers).errors_  # rows (worker, answered label), columns true class
    weights = answers.groupby("worker").size().reindex(errors.index.get_level_values("worker")).to_numpy()
    expected = (errors.mul(weights, axis=0).groupby(level="label").sum() / len(answers)).to_numpy().T
    np.testing.assert_allclose(model.mean_confusion(), expected, atol=1e-9)
    assert model.mean_confusion().sum(axis=1) == pytest.approx(1.0)


@pytest.mark.parametrize("make", [DawidSkene, OneCoinDawidSkene, MajorityVote], ids=lambda m: m.__name__)
def test_dropping_a_worker_is_as_if_its_answers_never_came(make):
    """Quality control drops a blocked rater's answers: after drop_worker and a refit from the start, the model
    equals one that never saw them (majority vote at once: it has no parameters)."""
    rng = np.random.default_rng(3)
    tasks, workers, labels = rng.integers(0, 60, 400), rng.integers(0, 6, 400), rng.integers(0, 3, 400)
    dropped, kept = make().online_model(60, 6, 3), make().online_model(60, 6, 3)
    dropped.add_many(tasks, workers, labels)
    keep = workers != 2
    kept.add_many(tasks[keep], workers[keep], labels[keep])
    dropped.drop_worker(2)
    assert dropped.n_answers == kept.n_answers == int(keep.sum())
    if hasattr(dropped, "refit"):
        dropped.refit(restart=True)
        kept.refit(restart=True)
    np.testing.assert_allclose(dropped.probas(), kept.probas(), atol=1e-12)
