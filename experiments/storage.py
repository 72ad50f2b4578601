"""Atomic writes: every result file is written under a temporary name in its folder, then renamed into place, so an
interrupted run or sweep never leaves a half-written table (``os.replace`` is atomic on POSIX and Windows)."""

from __future__ import annotations

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


def _umask() -> int:
    """The process's umask (read by setting and restoring it: there is no getter)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_csv(table: pd.DataFrame | pd.Series, path: str | Path, index: bool = False) -> Path:
    return atomic_write(path, lambda file: table.to_csv(file, index=index, lineterminator="\n"))


def write_json(data: Any, path: str | Path) -> Path:
    return atomic_write(path, lambda file: json.dump(data, file, indent=2, sort_keys=True, default=_plain))


def write_text(text: str, path: str | Path) -> Path:
    return atomic_write(path, lambda file: file.write(text))


def _plain(value: Any) -> Any:
    """numpy scalars and other number-likes as plain JSON numbers."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
