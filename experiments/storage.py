"""Atomic writes: every result file is written under a temporary name in its folder, then renamed into place, so an
interrupted run or sweep never leaves a half-written table (``os.replace`` is atomic on POSIX and Windows)."""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pandas as pd


def atomic_write(path: str | Path, write: Callable[[IO[Any]], Any], binary: bool = False) -> Path:
    """Call ``write(file)`` on a temporary file beside ``path`` (text, or bytes if ``binary``), then rename it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") if binary else os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; a result file gets the usual umask mode
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Remove the temporary files (``.NAME.*.tmp``) that a killed writer left in ``folder``; returns them."""
    stale = sorted(folder.glob(".*.tmp")) if folder.is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def _umask() -> int:
    """The process's umask (read by setting and restoring it: there is no getter)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_csv(table: pd.DataFrame | pd.Series, path: str | Path, index: bool = False) -> Path:
    return atomic_write(path, lambda file: table.to_csv(file, index=index, lineterminator="\n"))


TABLE_FORMATS: tuple[str, ...] = ("parquet", "csv")


def write_parquet(table: pd.DataFrame, path: str | Path) -> Path:
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    return atomic_write(path, lambda file: file.write(buffer.getvalue()), binary=True)


def write_table(table: pd.DataFrame, folder: str | Path, name: str, format: str = "parquet") -> Path:
    """``table`` as ``folder/name.parquet`` (or ``.csv``), atomically."""
    path = Path(folder) / f"{name}.{format}"
    return write_parquet(table, path) if format == "parquet" else write_csv(table, path)


def read_table(folder: str | Path, name: str) -> pd.DataFrame:
    """``folder/name.parquet`` or, failing that, ``folder/name.csv`` (results written in either format)."""
    folder = Path(folder)
    if (folder / f"{name}.parquet").is_file():
        return pd.read_parquet(folder / f"{name}.parquet")
    if (folder / f"{name}.csv").is_file():
        return pd.read_csv(folder / f"{name}.csv")
    raise FileNotFoundError(f"no {name}.parquet or {name}.csv in {folder}")


def write_json(data: Any, path: str | Path) -> Path:
    return atomic_write(path, lambda file: json.dump(data, file, indent=2, sort_keys=True, default=_plain))


def write_text(text: str, path: str | Path) -> Path:
    return atomic_write(path, lambda file: file.write(text))


def _plain(value: Any) -> Any:
    """numpy scalars and other number-likes as plain JSON numbers."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
