"""Reading answer and gold files: both common layouts, all three formats, and a clear error for each malformed input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from strategies.aggregation import AnswersError
from strategies.io import read_answers, read_gold

DATASETS = Path(__file__).resolve().parents[3] / "shared" / "datasets"  # as tests/conftest.py: beside the checkout

ANSWERS = pd.DataFrame({"task": ["t1", "t1", "t2", "t2"], "worker": ["w1", "w2", "w1", "w2"], "label": [1, 1, 0, 1]})


def write(table: pd.DataFrame, path: Path) -> Path:
    """Write ``table`` in the format the suffix of ``path`` names."""
    if path.suffix == ".parquet":
        table.to_parquet(path, index=False)
    else:
        table.to_csv(path, sep="\t" if path.suffix == ".tsv" else ",", index=False)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet"])
@pytest.mark.parametrize(
    "names",
    [("task", "worker", "label"), ("task", "worker", "output"), ("question", "worker", "answer"),
     ("Item_ID", "Annotator", "Response"), ("!amt_worker_ids", "orig_id", "response")],
    ids=["crowdkit", "crowdkit-output", "research", "mixed-case", "snow-rte"],
)  # fmt: skip
def test_every_layout_and_format_reads_back_the_same_answers(tmp_path, suffix, names):
    if names[0] == "!amt_worker_ids":  # Snow et al.'s files put the worker first: the order of columns is free
        table = ANSWERS[["worker", "task", "label"]].set_axis(list(names), axis=1)
        expected_mapping = {"!amt_worker_ids": "worker", "orig_id": "task", "response": "label"}
    else:
        table = ANSWERS.set_axis(list(names), axis=1)
        expected_mapping = dict(zip(names, ("task", "worker", "label"), strict=True))
    answers = read_answers(write(table, tmp_path / f"answers{suffix}"))
    pd.testing.assert_frame_equal(answers, ANSWERS)
    assert answers.attrs["column_mapping"] == expected_mapping


def test_extra_columns_are_dropped_and_an_explicit_mapping_wins(tmp_path):
    table = ANSWERS.rename(columns={"label": "answer"}).assign(label=9, t_start=0.0)
    path = write(table, tmp_path / "answers.csv")
    assert read_answers(path)["label"].tolist() == [9, 9, 9, 9]  # the canonical name beats a synonym
    answers = read_answers(path, columns={"answer": "label"})
    pd.testing.assert_frame_equal(answers, ANSWERS)


def test_layout_restricts_detection(tmp_path):
    path = write(ANSWERS.set_axis(["question", "worker", "answer"], axis=1), tmp_path / "answers.csv")
    pd.testing.assert_frame_equal(read_answers(path, layout="research"), ANSWERS)
    with pytest.raises(AnswersError, match=r"no 'task' column.*\['task'\]"):
        read_answers(path, layout="crowdkit")


def test_format_argument_overrides_the_suffix(tmp_path):
    path = write(ANSWERS, tmp_path / "answers.csv")
    renamed = path.rename(tmp_path / "answers.txt")
    pd.testing.assert_frame_equal(read_answers(renamed, format="csv"), ANSWERS)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet"])
@pytest.mark.parametrize("label_name", ["label", "answer", "truth", "true_label"])
def test_read_gold(tmp_path, suffix, label_name):
    table = pd.DataFrame({"question": ["t1", "t2", "t2"], label_name: [1, 0, 0]})  # t2 repeated, same label
    gold = read_gold(write(table, tmp_path / f"gold{suffix}"))
    pd.testing.assert_series_equal(gold, pd.Series([1, 0], index=pd.Index(["t1", "t2"], name="task"), name="label"))


def test_gold_with_two_labels_for_one_task_is_an_error(tmp_path):
    path = write(pd.DataFrame({"task": ["t1", "t1"], "label": [1, 0]}), tmp_path / "gold.csv")
    with pytest.raises(AnswersError, match=r"\['t1'\] have more than one gold label"):
        read_gold(path)


def test_missing_file(tmp_path):
    with pytest.raises(AnswersError, match="does not exist"):
        read_answers(tmp_path / "nowhere.csv")


def test_unknown_format_lists_the_accepted_ones(tmp_path):
    path = tmp_path / "answers.json"
    path.write_text("{}")
    with pytest.raises(AnswersError, match=r"\.csv.*\.parquet.*\.tsv"):
        read_answers(path)
    with pytest.raises(AnswersError, match=r"unknown format 'xlsx'.*\['csv', 'parquet', 'tsv'\]"):
        read_answers(path, format="xlsx")


def test_missing_column_names_it_and_lists_found_columns_and_synonyms(tmp_path):
    path = write(ANSWERS.drop(columns="worker").assign(colour="red"), tmp_path / "answers.csv")
    with pytest.raises(AnswersError) as error:
        read_answers(path)
    message = str(error.value)
    assert "no 'worker' column" in message
    assert "['task', 'label', 'colour']" in message  # what the file has
    assert "'annotator'" in message and "'rater'" in message  # what would have been accepted


def test_explicit_mapping_to_a_column_the_file_lacks(tmp_path):
    path = write(ANSWERS, tmp_path / "answers.csv")
    with pytest.raises(AnswersError, match=r"'ans'.*does not have"):
        read_answers(path, columns={"ans": "label"})
    with pytest.raises(AnswersError, match="the roles are"):
        read_answers(path, columns={"label": "class"})


def test_empty_file_and_header_only_file(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(AnswersError, match="empty"):
        read_answers(empty)
    header_only = tmp_path / "header.csv"
    header_only.write_text("task,worker,label\n")
    with pytest.raises(AnswersError, match="header but no rows"):
        read_answers(header_only)


def test_nan_label_names_the_rows(tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text("question,worker,answer\nt1,w1,1\nt1,w2,\nt2,w1\n")  # an empty field, then a short row
    with pytest.raises(AnswersError, match=r"'answer' \(read as 'label'\) has 2 missing value\(s\).*\[2, 3\]"):
        read_answers(path)


def test_row_with_too_many_fields_names_file_and_line(tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text("task,worker,label\nt1,w1,1\nt1,w2,1,extra\n")
    with pytest.raises(AnswersError, match=r"answers\.csv.*line 3"):
        read_answers(path)


def test_not_a_parquet_file(tmp_path):
    path = tmp_path / "answers.parquet"
    path.write_text("task,worker,label\n")
    with pytest.raises(AnswersError, match="not a readable parquet file"):
        read_answers(path)


@pytest.mark.parametrize(
    "name", sorted(p.name for p in DATASETS.iterdir() if p.is_dir()) if DATASETS.is_dir() else ["(absent)"]
)
def test_reads_every_shared_data_set(name, load_real_dataset):
    """The reader gives the same answers and gold as the plain pandas loader of tests/conftest.py."""
    expected_answers, expected_gold = load_real_dataset(name)  # skips when the shared data sets are absent
    answers = read_answers(DATASETS / name / "labels.csv")
    gold = read_gold(DATASETS / name / "gold.csv")
    pd.testing.assert_frame_equal(answers, expected_answers)
    pd.testing.assert_series_equal(gold, expected_gold)
    assert answers.attrs["column_mapping"] == {"task": "task", "worker": "worker", "label": "label"}
    assert np.isin(gold.index, answers["task"].unique()).mean() > 0.99


def test_reading_problems_get_a_hint(tmp_path):
    """A header separated by ';' (hint: delimiter=';'), which delimiter= then reads; duplicate column names; a
    directory instead of a file; a file that is not UTF-8 (hint: encoding=), which encoding= then reads; ids of
    mixed signs beyond 64 bits, read exactly."""
    semi = tmp_path / "semi.csv"
    semi.write_text("task;worker;label\n1;a;0\n2;b;1\n")
    with pytest.raises(AnswersError, match=r"looks delimited by ';', not ','; pass delimiter=';'"):
        read_answers(semi)
    assert read_answers(semi, delimiter=";")["label"].tolist() == [0, 1]
    duplicate = tmp_path / "duplicate.csv"
    duplicate.write_text("task,task,label\n1,a,0\n")
    with pytest.raises(AnswersError, match=r"duplicate column names \['task'\]"):
        read_answers(duplicate)
    with pytest.raises(AnswersError, match=r"is a directory; expected an answer file in it"):
        read_answers(tmp_path)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("task,worker,label\n1,Jos\xe9,0\n".encode("latin-1"))
    with pytest.raises(AnswersError, match=r"is not UTF-8 text .*pass encoding="):
        read_answers(latin)
    assert read_answers(latin, encoding="latin-1")["worker"].tolist() == ["José"]
    wide = tmp_path / "wide.csv"
    wide.write_text("task,worker,label\n-1,a,0\n18446744073709551615,b,1\n")
    assert [str(task) for task in read_answers(wide)["task"]] == ["-1", "18446744073709551615"]
