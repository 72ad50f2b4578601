"""Read answer and gold files (CSV, TSV, Parquet) into the ``task, worker, label`` table aggregators take.

Two layouts are common and both are accepted, their column names detected case-insensitively:

* crowd-kit's: ``task, worker, label`` (crowd-kit's older data sets call the label ``output``);
* the research layout of most truth-inference papers and their released data: ``question, worker, answer``,
  with a separate gold file ``question, answer`` (or ``question, truth``).

Other common synonyms (``item``, ``annotator``, ``rater``, ``response``, ``!amt_worker_ids``, ...) are listed
in :data:`ANSWER_SYNONYMS` and :data:`GOLD_SYNONYMS`. ``columns`` overrides detection: a mapping from the
file's column names to ``task`` / ``worker`` / ``label``. What was mapped is logged (logger ``strategies.io``)
and kept in the returned frame's ``attrs["column_mapping"]`` (file column -> role), with ``attrs["source"]``
the path read.

Malformed input raises :class:`~strategies.aggregation.base.AnswersError` naming the file: a missing file, an
unknown format (the accepted ones listed), missing columns (the missing role, the columns found and the
accepted synonyms), an empty file, missing values (the data rows named), a row with too many fields (the
parser's line number).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import pandas as pd

from strategies.aggregation.base import AnswersError

logger = logging.getLogger(__name__)

Layout = Literal["auto", "crowdkit", "research"]
ROLES: tuple[str, ...] = ("task", "worker", "label")
FORMATS: dict[str, str] = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}
_COMPRESSION_SUFFIXES = frozenset({".gz", ".bz2", ".zip", ".xz", ".zst"})

# Per role, the accepted column names after normalisation (lower case, spaces and dashes as "_", leading "!"
# and "_" dropped). An earlier name wins when a file holds several synonyms of one role.
ANSWER_SYNONYMS: dict[str, tuple[str, ...]] = {
    "task": (
        "task", "question", "task_id", "taskid", "question_id", "questionid", "item", "item_id", "example",
        "example_id", "instance", "instance_id", "object", "object_id", "unit_id", "orig_id", "image",
        "doc_id",
    ),
    "worker": (
        "worker", "worker_id", "workerid", "amt_worker_ids", "annotator", "annotator_id", "rater", "rater_id",
        "labeler", "labeller", "labeler_id", "judge", "judge_id", "user", "user_id", "performer", "assessor",
        "participant",
    ),
    "label": (
        "label", "output", "answer", "response", "annotation", "judgment", "judgement", "rating", "choice",
        "vote",
    ),
}  # fmt: skip
GOLD_SYNONYMS: dict[str, tuple[str, ...]] = {
    "task": ANSWER_SYNONYMS["task"],
    "label": (
        "label", "output", "answer", "truth", "gold", "gold_label", "true_label", "ground_truth",
        "correct_answer", "true", "agg_label",
    ),
}  # fmt: skip
LAYOUT_NAMES: dict[str, dict[str, tuple[str, ...]]] = {
    "crowdkit": {"task": ("task",), "worker": ("worker",), "label": ("label", "output")},
    "research": {"task": ("question",), "worker": ("worker",), "label": ("answer",)},
}
_GOLD_LAYOUT_NAMES: dict[str, dict[str, tuple[str, ...]]] = {
    "crowdkit": {"task": ("task",), "label": ("label", "output", "true_label")},
    "research": {"task": ("question",), "label": ("answer", "truth")},
}


def _normalise(name: object) -> str:
    return str(name).strip().lower().replace(" ", "_").replace("-", "_").lstrip("!_")


def infer_format(path: Path) -> str:
    """``"csv"``, ``"tsv"`` or ``"parquet"`` from the suffix of ``path`` (skipping one such as ``.gz``)."""
    suffixes = [suffix.lower() for suffix in path.suffixes]
    while suffixes and suffixes[-1] in _COMPRESSION_SUFFIXES:
        suffixes.pop()
    if suffixes and suffixes[-1] in FORMATS:
        return FORMATS[suffixes[-1]]
    raise AnswersError(
        f"cannot infer the format of {path} from its suffix; accepted suffixes: {sorted(FORMATS)} "
        f"(optionally compressed: {sorted(_COMPRESSION_SUFFIXES)}), "
        f"or pass format= one of {sorted(set(FORMATS.values()))}"
    )


DELIMITERS: tuple[str, ...] = (",", "\t", ";", "|")


def _read_table(
    path: str | os.PathLike[str], format: str | None, delimiter: str | None = None, encoding: str | None = None
) -> tuple[Path, pd.DataFrame]:
    path = Path(path)
    accepted = sorted(set(FORMATS.values()))
    if path.is_dir():
        raise AnswersError(f"{path} is a directory; expected an answer file in it, e.g. {path / 'labels.csv'}")
    if format is None:
        format = infer_format(path)
    elif format not in accepted:
        raise AnswersError(f"unknown format {format!r} for {path}; accepted formats: {accepted}")
    if not path.is_file():
        raise AnswersError(f"answer file {path} does not exist" if not path.exists() else f"{path} is not a file")
    sep = delimiter if delimiter is not None else ("\t" if format == "tsv" else ",")
    try:
        if format == "parquet":
            table = pd.read_parquet(path)
        else:
            raw_header = pd.read_csv(path, sep=sep, header=None, nrows=1, encoding=encoding, dtype=str)
            names = [str(name) for name in raw_header.iloc[0].tolist()] if len(raw_header) else []
            duplicated = sorted({name for name in names if names.count(name) > 1})
            if duplicated:
                raise AnswersError(f"{path} has duplicate column names {duplicated}; each column must appear once")
            table = pd.read_csv(path, sep=sep, encoding=encoding)
            if len(table.columns) == 1 and delimiter is None:
                other = [d for d in DELIMITERS if d != sep and d in str(table.columns[0])]
                if other:
                    shown = "\\t" if other[0] == "\t" else other[0]
                    raise AnswersError(
                        f"{path} read as one column {str(table.columns[0])!r}: its header looks delimited by "
                        f"{shown!r}, not {sep!r}; pass delimiter={shown!r}"
                    )
    except pd.errors.EmptyDataError as error:
        raise AnswersError(f"{path} is empty: expected a header row and at least one answer") from error
    except UnicodeDecodeError as error:
        raise AnswersError(
            f"{path} is not {encoding or 'UTF-8'} text ({error.reason} at byte {error.start}); pass encoding=, "
            "e.g. encoding='latin-1'"
        ) from error
    except pd.errors.ParserError as error:
        raise AnswersError(
            f"{path}: malformed {format.upper()} (a row with the wrong number of fields?): {error}"
        ) from error
    except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid is a ValueError
        raise AnswersError(f"{path} is not a readable {format} file: {error}") from error
    if len(table.columns) == 0:
        raise AnswersError(f"{path} is empty: expected a header row and at least one answer")
    return path, table


def _resolve_columns(
    path: Path,
    found: Sequence[object],
    roles: Sequence[str],
    synonyms: Mapping[str, tuple[str, ...]],
    columns: Mapping[str, str] | None,
) -> dict[str, str]:
    """file column -> role, from ``columns`` where given and synonyms for the other roles."""
    mapping: dict[str, str] = {}
    if columns:
        for source, role in columns.items():
            if role not in roles:
                raise AnswersError(f"columns maps {source!r} to {role!r}; the roles are {list(roles)}")
            if source not in found:
                raise AnswersError(f"columns names {source!r}, which {path} does not have; found {list(found)}")
            mapping[str(source)] = role
    for role in roles:
        if role in mapping.values():
            continue
        names = synonyms[role]
        candidates = [column for column in found if _normalise(column) in names and str(column) not in mapping]
        candidates.sort(key=lambda column: names.index(_normalise(column)))
        if not candidates:
            raise AnswersError(
                f"{path} has no {role!r} column; found columns {list(found)}; accepted names for {role!r} "
                f"(case-insensitive): {list(names)}; or pass columns={{'<your column>': {role!r}}}"
            )
        mapping[str(candidates[0])] = role
    return mapping


def _finish(path: Path, table: pd.DataFrame, mapping: dict[str, str], roles: Sequence[str]) -> pd.DataFrame:
    source_of = {role: column for column, role in mapping.items()}
    by_name = {str(column): column for column in table.columns}
    data = table[[by_name[source_of[role]] for role in roles]].set_axis(list(roles), axis=1)
    if len(data) == 0:
        raise AnswersError(f"{path} has a header but no rows")
    for role in roles:
        missing = data[role].isna().to_numpy()
        if missing.any():
            rows = (missing.nonzero()[0] + 1)[:10].tolist()
            raise AnswersError(
                f"{path}: column {source_of[role]!r} (read as {role!r}) has {int(missing.sum())} missing "
                f"value(s), in data row(s) {rows} (1-based, header not counted; a short row or empty field)"
            )
    renamed_note = {column: role for column, role in mapping.items() if column != role}
    if renamed_note:
        logger.info("%s: read columns %s", path, ", ".join(f"{c!r} as {r!r}" for c, r in renamed_note.items()))
    data.attrs["column_mapping"] = dict(mapping)
    data.attrs["source"] = str(path)
    return data


def read_answers(
    path: str | os.PathLike[str],
    format: str | None = None,
    columns: Mapping[str, str] | None = None,
    layout: Layout = "auto",
    delimiter: str | None = None,
    encoding: str | None = None,
) -> pd.DataFrame:
    """The answers in ``path`` as a DataFrame with columns ``task, worker, label`` (one row per answer).

    ``format`` is ``"csv"``, ``"tsv"`` or ``"parquet"``, inferred from the suffix by default. ``columns`` maps
    the file's column names to roles, e.g. ``{"question": "task", "annotator": "worker", "answer": "label"}``;
    roles it leaves out are detected. ``layout`` restricts detection: ``"auto"`` accepts every synonym in
    :data:`ANSWER_SYNONYMS`, ``"crowdkit"`` only ``task, worker, label`` (or ``output``), ``"research"`` only
    ``question, worker, answer``. ``delimiter`` overrides the field separator of a text file (``,`` for CSV,
    tab for TSV; a header that looks separated by another one is refused with a hint); ``encoding`` its text
    encoding (UTF-8 by default). Ids and labels keep the types the file gives them (ids too wide for 64-bit
    integers, or of mixed signs beyond them, are read exactly, as strings); rows (duplicates included) are kept
    as they are.
    """
    path_, table = _read_table(path, format, delimiter, encoding)
    synonyms = _synonyms(layout, ANSWER_SYNONYMS, LAYOUT_NAMES)
    mapping = _resolve_columns(path_, list(table.columns), ROLES, synonyms, columns)
    return _finish(path_, table, mapping, ROLES)


def read_gold(
    path: str | os.PathLike[str],
    format: str | None = None,
    columns: Mapping[str, str] | None = None,
    layout: Layout = "auto",
    delimiter: str | None = None,
    encoding: str | None = None,
) -> pd.Series:
    """Gold labels in ``path`` as a Series indexed by ``task`` (named ``label``).

    Accepted columns: a task column (as in :func:`read_answers`) and a label column called ``label``,
    ``answer``, ``truth``, ``gold``, ``true_label``, ... (:data:`GOLD_SYNONYMS`). A task listed twice with the
    same label is kept once; with two different labels it is an error. ``delimiter`` and ``encoding`` as in
    :func:`read_answers`.
    """
    path_, table = _read_table(path, format, delimiter, encoding)
    synonyms = _synonyms(layout, GOLD_SYNONYMS, _GOLD_LAYOUT_NAMES)
    mapping = _resolve_columns(path_, list(table.columns), ("task", "label"), synonyms, columns)
    data = _finish(path_, table, mapping, ("task", "label")).drop_duplicates()
    conflicting = data["task"][data["task"].duplicated()]
    if len(conflicting):
        raise AnswersError(f"{path_}: task(s) {conflicting.unique()[:5].tolist()} have more than one gold label")
    gold = data.set_index("task")["label"]
    gold.attrs = dict(data.attrs)
    return gold


def _synonyms(
    layout: str, synonyms: dict[str, tuple[str, ...]], layouts: dict[str, dict[str, tuple[str, ...]]]
) -> dict[str, tuple[str, ...]]:
    if layout == "auto":
        return synonyms
    if layout not in layouts:
        raise ValueError(f"layout must be one of {['auto', *layouts]}, got {layout!r}")
    return layouts[layout]
