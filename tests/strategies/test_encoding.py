"""The fast encoding in base.py gives exactly pandas' ``factorize(sort=True)`` codes and uniques, for every id type."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from strategies.aggregation.base import encode_answers

rng = np.random.default_rng(0)
COLUMNS = {
    "int64": pd.Series(rng.integers(-5, 50, 300)),
    "int32": pd.Series(rng.integers(0, 50, 300).astype(np.int32)),
    "int8 full range": pd.Series(np.array([-128, 127, 0, -128], dtype=np.int8)),
    "uint8": pd.Series(rng.integers(0, 250, 300).astype(np.uint8)),
    "uint64 beyond int64": pd.Series(np.array([2**64 - 1, 0, 5, 2**63], dtype=np.uint64)),
    "int64 sparse": pd.Series(rng.integers(0, 10**12, 3000)),
    "int64 extremes": pd.Series(np.array([np.iinfo(np.int64).min, np.iinfo(np.int64).max, 0])),
    "nullable Int64": pd.Series([3, 1, 2, 3], dtype="Int64"),
    "float": pd.Series([2.5, 1.0, 2.5, -3.0]),
    "bool": pd.Series([True, False, True]),
    "str": pd.Series(rng.integers(0, 500, 3000)).map("w{}".format),
    "object str": pd.Series(rng.integers(0, 500, 3000)).map("w{}".format).astype(object),
    "object int": pd.Series([3, 1, 2, 3], dtype=object),
    "mixed int and str": pd.Series([1, "a", 2, "b", 1], dtype=object),
    "tuples": pd.Series([(1, 2), (0, 1), (1, 2)], dtype=object),
    "datetime": pd.Series(pd.to_datetime(["2021-01-01", "2020-01-01", "2021-01-01"])),
}


@pytest.mark.parametrize("column", list(COLUMNS), ids=list(COLUMNS))
def test_codes_match_pandas_sorted_factorize(column):
    values = COLUMNS[column].reset_index(drop=True)
    answers = pd.DataFrame({"task": values, "worker": values, "label": values})
    encoded = encode_answers(answers)
    codes, uniques = pd.factorize(values, sort=True)
    for role in ("task", "worker", "label"):
        np.testing.assert_array_equal(getattr(encoded, role), codes)
        assert getattr(encoded, role).dtype == np.int64
    pd.testing.assert_index_equal(encoded.tasks, pd.Index(uniques, name="task"), exact=True)


def test_categorical_codes_follow_the_declared_categories():
    labels = pd.Categorical(["b", "a", "b"], categories=["c", "b", "a"])
    encoded = encode_answers(pd.DataFrame({"task": [1, 2, 3], "worker": [1, 1, 1], "label": labels}))
    assert list(encoded.labels) == ["c", "b", "a"]
    np.testing.assert_array_equal(encoded.label, [1, 2, 1])


@pytest.mark.parametrize(
    "name",
    [
        "MajorityVote",
        "Wawa",
        "ZeroBasedSkill",
        "DawidSkene",
        "OneCoinDawidSkene",
        "GLAD",
        "MACE",
        "Mean",
        "Median",
        "TrimmedMean",
        "CATD",
    ],
)
def test_unused_task_and_worker_categories_are_ignored(name):
    """Filtering a table with categorical ids leaves unused categories behind: they are not tasks or workers."""
    import strategies.aggregation as aggregation

    numeric = name in {"Mean", "Median", "TrimmedMean", "CATD"}
    plain = pd.DataFrame({"task": [1, 1, 2, 2, 2], "worker": list("ababc"),
                          "label": [1.0, 3.0, 10.0, 20.0, 12.0] if numeric else [0, 0, 1, 1, 0]})  # fmt: skip
    filtered = plain.assign(task=pd.Categorical(plain["task"], categories=[0, 1, 2, 3]),
                            worker=pd.Categorical(plain["worker"], categories=list("abcz")))  # fmt: skip
    expected = getattr(aggregation, name)().fit_predict(plain)
    got = getattr(aggregation, name)().fit_predict(filtered)
    assert list(got.index) == [1, 2]
    if numeric:
        assert got.to_numpy() == pytest.approx(expected.to_numpy())
    else:
        assert (got.to_numpy() == expected.to_numpy()).all()


def test_uint64_ids_beyond_int64_and_duplicate_columns():
    import strategies.aggregation as aggregation

    answers = pd.DataFrame({"task": np.array([2**63, 2**63 + 1], dtype=np.uint64), "worker": ["a", "a"],
                            "label": [0, 1]})  # fmt: skip
    labels = aggregation.MajorityVote().fit_predict(answers)
    assert list(labels.index) == [2**63, 2**63 + 1] and labels.tolist() == [0, 1]
    duplicated = pd.DataFrame([[1, "a", 0, 0]], columns=["task", "worker", "label", "label"])
    with pytest.raises(aggregation.AnswersError, match=r"duplicate column\(s\) \['label'\]"):
        aggregation.MajorityVote().fit(duplicated)


def test_vote_weights_must_be_finite_and_non_negative():
    import strategies.aggregation as aggregation

    answers = pd.DataFrame({"task": [1, 1, 1], "worker": list("abc"), "label": [0, 0, 1]})
    for bad in (-0.8, np.inf):
        with pytest.raises(ValueError, match=r"finite and non-negative.*\['c'\]"):
            aggregation.MajorityVote().fit(answers, skills=pd.Series({"a": 1.0, "b": 1.0, "c": bad}))


def test_conflicting_known_labels_are_an_error():
    import strategies.aggregation as aggregation

    answers = pd.DataFrame({"task": [1, 1, 2], "worker": list("aba"), "label": [0, 1, 1]})
    for method in (aggregation.DawidSkene, aggregation.OneCoinDawidSkene):
        with pytest.raises(ValueError, match=r"more than one label to task\(s\) \[1\]"):
            method().fit(answers, pd.Series([0, 1], index=[1, 1]))
