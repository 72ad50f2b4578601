"""The aggregator contract as executable checks, for our aggregators and any crowd-kit-compatible object.

Like scikit-learn's ``check_estimator``, each ``check_*`` function takes a factory ``make()`` returning a fresh,
unfitted aggregator and raises ``AssertionError`` (or lets an unexpected exception through) when the aggregator
breaks the contract of :mod:`strategies.aggregation.base`. ``fit_kwargs(answers, truth)`` supplies extra ``fit``
arguments where a method needs them (``GoldMajorityVote`` takes ``true_labels``). The data are small synthetic
tables (:func:`synthetic_answers`) with a known truth, so every check is also runnable on crowd-kit's classes.

:data:`CATEGORICAL_CHECKS` and :data:`NUMERIC_CHECKS` list the checks that apply to each kind of aggregator;
``tests/strategies/test_contract.py`` runs them on every YAML in ``conf/aggregators`` and
``conf/numeric_aggregators``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd

from strategies.aggregation.base import AnswersError

Make = Callable[[], Any]
FitKwargs = Callable[[pd.DataFrame, pd.Series], Mapping[str, Any]]
Ids = Literal["int", "str"]


def synthetic_answers(
    n_tasks: int = 40,
    n_workers: int = 10,
    answers_per_task: int = 5,
    n_classes: int = 3,
    ids: Ids = "int",
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.Series]:
    """(answers, truth): workers of accuracy uniform in [0.6, 0.95], errors uniform over the other classes.

    Labels are ints ``0..n_classes-1``; task and worker ids are ints (not starting at 0) or strings.
    """
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_classes, n_tasks)
    accuracy = rng.uniform(0.6, 0.95, n_workers)
    workers = np.argsort(rng.random((n_tasks, n_workers)), axis=1)[:, :answers_per_task].ravel()
    tasks = np.repeat(np.arange(n_tasks), answers_per_task)
    correct = rng.random(tasks.shape[0]) < accuracy[workers]
    wrong = (truth[tasks] + rng.integers(1, n_classes, tasks.shape[0])) % n_classes
    labels = np.where(correct, truth[tasks], wrong)
    task_ids: Any = tasks + 100 if ids == "int" else np.char.add("task-", tasks.astype(str)).astype(object)
    worker_ids: Any = workers + 7 if ids == "int" else np.char.add("w", workers.astype(str)).astype(object)
    answers = pd.DataFrame({"task": task_ids, "worker": worker_ids, "label": labels})
    truth_ids = np.arange(n_tasks) + 100 if ids == "int" else [f"task-{i}" for i in range(n_tasks)]
    return answers, pd.Series(truth, index=pd.Index(truth_ids, name="task"), name="label")


def fit(make: Make, answers: pd.DataFrame, truth: pd.Series, fit_kwargs: FitKwargs | None = None) -> Any:
    """A fresh aggregator fitted on ``answers``; checks that ``fit`` returns the aggregator itself."""
    aggregator = make()
    returned = aggregator.fit(answers, **(fit_kwargs(answers, truth) if fit_kwargs else {}))
    assert returned is aggregator, f"{type(aggregator).__name__}.fit must return self"
    return aggregator


def assert_valid_output(aggregator: Any, answers: pd.DataFrame, labels: pd.Index | None = None) -> None:
    """One finite label per task; where there are ``probas_``: task x label, finite, rows summing to one, and
    ``labels_`` a label of maximal probability. ``labels`` is the expected label set (default: the labels seen)."""
    name = type(aggregator).__name__
    result = aggregator.labels_
    tasks = pd.Index(answers["task"].unique())
    assert isinstance(result, pd.Series), f"{name}.labels_ must be a Series"
    assert result.index.is_unique and len(result) == len(tasks), f"{name}: one label per task"
    assert set(result.index) == set(tasks), f"{name}: labels_ indexed by exactly the tasks answered"
    assert not result.isna().any(), f"{name}.labels_ holds NaN"
    labels = pd.Index(sorted(answers["label"].unique())) if labels is None else labels
    assert set(result.unique()) <= set(labels), f"{name}.labels_ holds a label nobody could give"
    probas = getattr(aggregator, "probas_", None)
    if probas is None:
        return
    assert set(probas.index) == set(tasks) and probas.index.is_unique, f"{name}: one probas_ row per task"
    assert set(probas.columns) == set(labels), f"{name}: probas_ columns {list(probas.columns)} != {list(labels)}"
    values = probas.to_numpy(dtype=np.float64)
    assert np.isfinite(values).all(), f"{name}.probas_ holds NaN or infinity"
    assert (values >= 0).all(), f"{name}.probas_ holds negative probabilities"
    np.testing.assert_allclose(values.sum(axis=1), 1.0, atol=1e-8, err_msg=f"{name}: probas_ rows sum to 1")
    chosen = probas.reindex(result.index).to_numpy(dtype=np.float64)[
        np.arange(len(result)), probas.columns.get_indexer(result.to_numpy())
    ]
    best = probas.reindex(result.index).to_numpy(dtype=np.float64).max(axis=1)
    assert np.all(chosen >= best - 1e-9), f"{name}: labels_ is not a label of maximal probas_"


def assert_learned_state_finite(aggregator: Any) -> None:
    """Every numeric learned attribute (``skills_``, ``errors_``, ``priors_``, ``loss_history_``...) is finite."""
    for attribute, value in vars(aggregator).items():
        if not attribute.endswith("_") or attribute.startswith("_"):
            continue
        if isinstance(value, pd.DataFrame | pd.Series):
            numeric = value.select_dtypes("number") if isinstance(value, pd.DataFrame) else value
            if isinstance(numeric, pd.Series) and not pd.api.types.is_numeric_dtype(numeric):
                continue
            assert np.isfinite(numeric.to_numpy(dtype=np.float64)).all(), f"{attribute} holds NaN or infinity"
        elif isinstance(value, list | np.ndarray) and len(value) and np.issubdtype(np.asarray(value).dtype, np.number):
            assert np.isfinite(np.asarray(value, dtype=np.float64)).all(), f"{attribute} holds NaN or infinity"


def _renamed(answers: pd.DataFrame, truth: pd.Series, seed: int) -> tuple[pd.DataFrame, pd.Series, dict, dict]:
    """Answers with tasks and workers renamed by a random permutation (ints -> strings and back)."""
    rng = np.random.default_rng(seed)
    tasks, workers = pd.unique(answers["task"]), pd.unique(answers["worker"])
    as_strings = pd.api.types.is_integer_dtype(answers["task"])

    def new_names(old: Any, prefix: str) -> dict:
        order = rng.permutation(len(old))
        return {o: (f"{prefix}{n:04d}" if as_strings else int(n) * 3 + 11) for o, n in zip(old, order, strict=True)}

    task_map, worker_map = new_names(tasks, "q"), new_names(workers, "annotator-")
    renamed = answers.assign(task=answers["task"].map(task_map), worker=answers["worker"].map(worker_map))
    new_truth = pd.Series(truth.to_numpy(), index=pd.Index(truth.index.map(task_map), name="task"), name=truth.name)
    return renamed, new_truth, task_map, worker_map


def check_fit_output(make: Make, fit_kwargs: FitKwargs | None = None, n_classes: int = 3) -> None:
    """fit returns self; one label per task; valid probas_; input untouched; finite learned state; fit_predict."""
    for ids in ("int", "str"):
        answers, truth = synthetic_answers(n_classes=n_classes, ids=ids)
        before = answers.copy()
        aggregator = fit(make, answers, truth, fit_kwargs)
        pd.testing.assert_frame_equal(answers, before, obj="fit must not modify its input")
        assert_valid_output(aggregator, answers)
        assert_learned_state_finite(aggregator)
        kwargs = fit_kwargs(answers, truth) if fit_kwargs else {}
        pd.testing.assert_series_equal(make().fit_predict(answers, **kwargs), aggregator.labels_)


def check_row_order_invariance(make: Make, fit_kwargs: FitKwargs | None = None, n_classes: int = 3) -> None:
    answers, truth = synthetic_answers(n_classes=n_classes)
    reference = fit(make, answers, truth, fit_kwargs)
    shuffled_answers = answers.sample(frac=1.0, random_state=1)
    shuffled = fit(make, shuffled_answers, truth, fit_kwargs)
    pd.testing.assert_series_equal(shuffled.labels_.sort_index(), reference.labels_.sort_index())
    if hasattr(reference, "probas_"):
        pd.testing.assert_frame_equal(  # the order of probas_ columns is presentation, not part of the contract
            shuffled.probas_.sort_index().sort_index(axis=1),
            reference.probas_.sort_index().sort_index(axis=1),
            atol=1e-6,
        )


def check_renaming_invariance(
    make: Make, fit_kwargs: FitKwargs | None = None, n_classes: int = 3, probas_atol: float = 1e-6
) -> None:
    """Renaming tasks and workers by a permutation (int ids to strings, strings to ints) renames the output only.

    ``probas_atol`` is for methods with random initialisation drawn per worker or task code: renaming reorders the
    codes, so each gets another draw and EM may stop at a slightly different point; the labels must not change.
    """
    for ids in ("int", "str"):
        answers, truth = synthetic_answers(n_classes=n_classes, ids=ids)
        reference = fit(make, answers, truth, fit_kwargs)
        renamed_answers, renamed_truth, task_map, _ = _renamed(answers, truth, seed=2)
        renamed = fit(make, renamed_answers, renamed_truth, fit_kwargs)
        back = {new: old for old, new in task_map.items()}
        labels = renamed.labels_.rename(index=back).sort_index()
        pd.testing.assert_series_equal(labels, reference.labels_.sort_index(), check_index_type=False)
        if hasattr(reference, "probas_"):
            probas = renamed.probas_.rename(index=back).sort_index()
            pd.testing.assert_frame_equal(
                probas, reference.probas_.sort_index(), atol=probas_atol, check_index_type=False
            )


def check_unanimous_answers_win(make: Make, fit_kwargs: FitKwargs | None = None, n_classes: int = 3) -> None:
    answers, truth = synthetic_answers(n_classes=n_classes, answers_per_task=4)
    unanimous = answers.assign(label=answers["task"].map(truth))
    aggregator = fit(make, unanimous, truth, fit_kwargs)
    assert_valid_output(aggregator, unanimous)
    pd.testing.assert_series_equal(
        aggregator.labels_.sort_index(), truth.sort_index(), check_names=False, check_index_type=False
    )


def check_same_random_state_same_output(make: Make, fit_kwargs: FitKwargs | None = None, n_classes: int = 3) -> None:
    """Two fresh objects with the same settings, and one object fitted twice, give identical output."""
    answers, truth = synthetic_answers(n_classes=n_classes, seed=3)
    first = fit(make, answers, truth, fit_kwargs)
    second = fit(make, answers, truth, fit_kwargs)
    pd.testing.assert_series_equal(first.labels_, second.labels_)
    first_probas = first.probas_.copy() if hasattr(first, "probas_") else None
    first.fit(answers, **(fit_kwargs(answers, truth) if fit_kwargs else {}))
    pd.testing.assert_series_equal(first.labels_, second.labels_)
    if first_probas is not None:
        pd.testing.assert_frame_equal(first_probas, second.probas_)
        pd.testing.assert_frame_equal(first.probas_, second.probas_)


def check_malformed_input_errors(make: Make, fit_kwargs: FitKwargs | None = None, n_classes: int = 3) -> None:
    """AnswersError naming the problem for an empty frame, a missing column and a NaN label."""
    answers, truth = synthetic_answers(n_classes=n_classes)
    cases = {
        "empty": answers.iloc[:0],
        "worker": answers.drop(columns="worker"),
        "label": answers.assign(label=answers["label"].astype(np.float64).where(answers.index != 3)),
    }
    assert_each_raises(make, cases, lambda data: fit(make, data, truth, fit_kwargs))


def assert_each_raises(make: Make, cases: Mapping[str, pd.DataFrame], run: Callable[[pd.DataFrame], Any]) -> None:
    """``run(table)`` raises an AnswersError whose message names ``problem`` for each ``problem -> table``."""
    for expected, data in cases.items():
        try:
            run(data)
        except AnswersError as error:
            assert expected in str(error), f"the error {error!r} should mention {expected!r}"
        else:
            raise AssertionError(f"{type(make()).__name__}.fit accepted malformed input ({expected})")


def check_single_worker(make: Make, fit_kwargs: FitKwargs | None = None, n_classes: int = 3) -> None:
    """With one worker, each task gets that worker's answer."""
    answers, truth = synthetic_answers(n_classes=n_classes)
    alone = answers.drop_duplicates("task").assign(worker=answers["worker"].iloc[0])
    aggregator = fit(make, alone, truth, fit_kwargs)
    assert_valid_output(aggregator, alone)
    expected = alone.set_index("task")["label"]
    pd.testing.assert_series_equal(
        aggregator.labels_.sort_index(), expected.sort_index(), check_names=False, check_index_type=False
    )


def check_single_task(make: Make, fit_kwargs: FitKwargs | None = None, n_classes: int = 3) -> None:
    """One task answered 1, 1, 1, 0 by four workers gets label 1."""
    single = pd.DataFrame({"task": ["only"] * 4, "worker": ["a", "b", "c", "d"], "label": [1, 1, 1, 0]})
    truth = pd.Series([1], index=pd.Index(["only"], name="task"), name="label")
    aggregator = fit(make, single, truth, fit_kwargs)
    assert_valid_output(aggregator, single)
    assert aggregator.labels_["only"] == 1


def check_class_nobody_chose(make: Make, fit_kwargs: FitKwargs | None = None, n_classes: int = 3) -> None:
    """A categorical label column declaring an extra class: it gets a probas_ column of about zero, never a label."""
    answers, truth = synthetic_answers(n_classes=n_classes)
    declared = list(range(n_classes + 1))
    categorical = answers.assign(label=pd.Categorical(answers["label"], categories=declared))
    aggregator = fit(make, categorical, truth, fit_kwargs)
    assert_valid_output(aggregator, answers, labels=pd.Index(declared))
    assert (aggregator.labels_ != n_classes).all(), "the class nobody chose must not win"
    if hasattr(aggregator, "probas_"):
        unused = aggregator.probas_[n_classes].to_numpy(dtype=np.float64)
        assert unused.max() < 0.01, f"probas_ of the class nobody chose should be ~0, got up to {unused.max():.3g}"


def check_duplicate_answers(make: Make, fit_kwargs: FitKwargs | None = None, n_classes: int = 3) -> None:
    """Duplicate answers of one worker to one task are accepted; the output stays one valid label per task."""
    answers, truth = synthetic_answers(n_classes=n_classes)
    doubled = pd.concat([answers, answers.iloc[::4]], ignore_index=True)
    aggregator = fit(make, doubled, truth, fit_kwargs)
    assert_valid_output(aggregator, doubled)
    assert_learned_state_finite(aggregator)


def check_workers_who_answer_once(make: Make, fit_kwargs: FitKwargs | None = None, n_classes: int = 3) -> None:
    """Twenty extra workers with a single answer each leave the output valid and the learned state finite."""
    answers, truth = synthetic_answers(n_classes=n_classes)
    rows = answers.iloc[:20]
    once = rows.assign(worker=[f"once-{i}" for i in range(len(rows))] if answers["worker"].dtype == object
                       else np.arange(len(rows)) + 10_000)  # fmt: skip
    mixed = pd.concat([answers, once], ignore_index=True)
    aggregator = fit(make, mixed, truth, fit_kwargs)
    assert_valid_output(aggregator, mixed)
    assert_learned_state_finite(aggregator)


def check_accuracy_beats_chance(make: Make, fit_kwargs: FitKwargs | None = None, n_classes: int = 3) -> None:
    """On 200 tasks x 5 answers from workers of accuracy 0.6-0.95 every sensible method is right >= 80% of the time."""
    answers, truth = synthetic_answers(n_tasks=200, n_workers=20, n_classes=n_classes, seed=5)
    aggregator = fit(make, answers, truth, fit_kwargs)
    accuracy = float((aggregator.labels_.reindex(truth.index) == truth).mean())
    assert accuracy >= 0.8, f"accuracy {accuracy:.3f} on easy synthetic data"


def declared_options(make: Make, check: Callable[..., None]) -> dict[str, Any]:
    """The options an aggregator class declares for ``check`` in its ``check_options`` class attribute (a map from
    check name to keyword arguments, e.g. a documented tolerance), used by the contract test and ``crowdlab bench``."""
    declared = getattr(type(make()), "check_options", {})
    return dict(declared.get(check.__name__, {}))


CATEGORICAL_CHECKS: tuple[Callable[..., None], ...] = (
    check_fit_output,
    check_row_order_invariance,
    check_renaming_invariance,
    check_unanimous_answers_win,
    check_same_random_state_same_output,
    check_malformed_input_errors,
    check_single_worker,
    check_single_task,
    check_class_nobody_chose,
    check_duplicate_answers,
    check_workers_who_answer_once,
    check_accuracy_beats_chance,
)


# Numeric aggregators (conf/numeric_aggregators): ``fit(data)`` sets ``labels_``, a float estimate per task.


def numeric_answers(seed: int = 0, ids: Ids = "int", levels: bool = False) -> pd.DataFrame:
    """30 tasks x 6 workers whose noise grows from sd 2 to 40, answers rounded to 0.1; with ``levels``, the same
    answers as ratings on the scale 1..5 (a step per 20 points)."""
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0, 100, 30)
    tasks = np.repeat(np.arange(30), 6)
    workers = np.tile(np.arange(6), 30)
    noise = rng.normal(0, np.array([2, 3, 5, 8, 13, 40])[workers])
    task_ids: Any = tasks + 5 if ids == "int" else [f"t{t}" for t in tasks]
    worker_ids: Any = workers + 5 if ids == "int" else [f"w{w}" for w in workers]
    label = np.round(truth[tasks] + noise, 1)
    if levels:
        label = np.clip(np.rint(1 + label / 25), 1, RATING_LEVELS).astype(np.int64)
    return pd.DataFrame({"task": task_ids, "worker": worker_ids, "label": label})


RATING_LEVELS = 5


def rates_levels(make: Make) -> bool:
    """Whether the aggregator takes ratings on an integer scale 1..K (``scale_levels``): then the checks give it
    ratings, and its estimates may lie beyond a task's answers (a harsh rater's 3 says more than 3), within the
    scale's bins (half a step beyond its ends)."""
    return bool(getattr(make(), "scale_levels", False))


def check_numeric_fit_output(make: Make) -> None:
    """``fit`` returns self; one finite estimate per task, within the range of the task's answers (integer and
    string ids), or for ratings within the scale."""
    levels = rates_levels(make)
    for ids in ("int", "str"):
        answers = numeric_answers(ids=ids, levels=levels)  # type: ignore[arg-type]
        aggregator = make()
        assert aggregator.fit(answers) is aggregator, "fit must return self"
        labels = aggregator.labels_
        assert labels.index.is_unique and set(labels.index) == set(answers["task"]), "one estimate per task"
        assert np.isfinite(labels.to_numpy(dtype=np.float64)).all(), "estimates must be finite"
        if levels:
            assert labels.between(0.5, RATING_LEVELS + 0.5).all(), "an estimate outside the scale's bins"
            continue
        lo, hi = answers.groupby("task")["label"].agg(["min", "max"]).reindex(labels.index).T.to_numpy()
        assert ((labels >= lo - 1e-9) & (labels <= hi + 1e-9)).all(), "an estimate outside the task's answers"


def check_numeric_row_order_invariance(make: Make) -> None:
    """Shuffled rows and renamed tasks give the same estimates; the same settings give the same output."""
    answers = numeric_answers(levels=rates_levels(make))
    labels = make().fit(answers).labels_
    shuffled = make().fit(answers.sample(frac=1.0, random_state=1)).labels_
    pd.testing.assert_series_equal(shuffled.sort_index(), labels.sort_index(), atol=1e-9)
    task_map = {t: f"renamed-{i}" for i, t in enumerate(pd.unique(answers["task"])[::-1])}
    renamed = make().fit(answers.assign(task=answers["task"].map(task_map))).labels_
    back = renamed.rename(index={v: k for k, v in task_map.items()}).sort_index()
    pd.testing.assert_series_equal(back, labels.sort_index(), check_index_type=False, atol=1e-9)
    pd.testing.assert_series_equal(make().fit(answers).labels_, labels)


def check_numeric_unanimous_answers(make: Make) -> None:
    """Tasks whose answers all agree get exactly that value; for ratings, a value in that level's bin."""
    answers = numeric_answers()
    if rates_levels(make):
        level = answers["task"].map(lambda t: 1 + t % RATING_LEVELS)
        result = make().fit(answers.assign(label=level)).labels_
        expected = result.index.map(lambda t: 1 + t % RATING_LEVELS).to_numpy(dtype=np.float64)
        assert (np.abs(result.to_numpy(dtype=np.float64) - expected) <= 0.5).all(), "unanimous, outside its bin"
        return
    unanimous = answers.assign(label=answers["task"].map(lambda t: float(t) * 1.5))
    result = make().fit(unanimous).labels_
    np.testing.assert_allclose(result.to_numpy(dtype=np.float64), result.index.map(lambda t: float(t) * 1.5))


def check_numeric_malformed_input_errors(make: Make) -> None:
    """An empty table, a missing column and a missing label raise AnswersError naming the problem."""
    answers = numeric_answers(levels=rates_levels(make))
    cases = {
        "empty": answers.iloc[:0],
        "worker": answers.drop(columns="worker"),
        "label": answers.assign(label=answers["label"].where(answers.index != 2)),
    }
    assert_each_raises(make, cases, lambda data: make().fit(data))


NUMERIC_CHECKS: tuple[Callable[..., None], ...] = (
    check_numeric_fit_output,
    check_numeric_row_order_invariance,
    check_numeric_unanimous_answers,
    check_numeric_malformed_input_errors,
)


# Pairwise aggregators (conf/pairwise_aggregators): columns worker, left, right, label (the winner); ``fit`` sets
# ``scores_``, one score per item, higher for the better item.


def pairwise_answers(seed: int = 0, ids: Ids = "int") -> pd.DataFrame:
    """About 320 comparisons of five items of Bradley-Terry strengths 4, 2, 1, 0.5, 0.25 (in that order)."""
    rng = np.random.default_rng(seed)
    strength = np.array([4.0, 2.0, 1.0, 0.5, 0.25])
    left, right = rng.integers(0, 5, 400), rng.integers(0, 5, 400)
    keep = left != right
    left, right = left[keep], right[keep]
    left_wins = rng.random(left.shape[0]) < strength[left] / (strength[left] + strength[right])
    names = np.array([10, 11, 12, 13, 14]) if ids == "int" else np.array(["a", "b", "c", "d", "e"], dtype=object)
    return pd.DataFrame({"worker": rng.integers(0, 8, left.shape[0]), "left": names[left], "right": names[right],
                         "label": np.where(left_wins, names[left], names[right])})  # fmt: skip


def check_pairwise_fit_output(make: Make) -> None:
    """``fit`` returns self; one finite score per item, ordered as the items' true strengths."""
    for ids in ("int", "str"):
        data = pairwise_answers(ids=ids)  # type: ignore[arg-type]
        model = make()
        assert model.fit(data) is model, "fit must return self"
        scores = model.scores_
        items = list(dict.fromkeys([*data["left"], *data["right"]]))
        assert set(scores.index) == set(items), "one score per compared item"
        assert np.isfinite(scores.to_numpy(dtype=np.float64)).all(), "scores must be finite"
        order = sorted(items)  # the names sort in the order of the strengths, strongest first
        assert list(scores.sort_values(ascending=False).index) == order, "the stronger item must score higher"


def check_pairwise_row_order_invariance(make: Make) -> None:
    """Shuffled rows give the same scores."""
    data = pairwise_answers()
    scores = make().fit(data).scores_
    shuffled = make().fit(data.sample(frac=1.0, random_state=1)).scores_
    pd.testing.assert_series_equal(shuffled.sort_index(), scores.sort_index(), atol=1e-6)


def check_pairwise_malformed_input_errors(make: Make) -> None:
    """An empty table and a missing column raise AnswersError naming the problem."""
    data = pairwise_answers()
    cases = {"empty": data.iloc[:0], "left": data.drop(columns="left")}
    assert_each_raises(make, cases, lambda table: make().fit(table))


PAIRWISE_CHECKS: tuple[Callable[..., None], ...] = (
    check_pairwise_fit_output,
    check_pairwise_row_order_invariance,
    check_pairwise_malformed_input_errors,
)
