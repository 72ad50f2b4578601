"""Lessons on the wisdom of crowds: where it holds and where it breaks, each claim simulated, drawn and tested.

A lesson is one module here with ``TITLE``, ``CLAIM`` (two sentences), ``TRY`` (a ``crowdlab`` command to go on
with), ``SOURCE`` (the literature) and ``run(small: bool, seed: int) -> Findings`` (its simulations and figures).
:func:`lessons` finds every module, so a new lesson is one new file. ``crowdlab lesson NAME`` writes its page
(:mod:`experiments.lessons.page`).
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

PRIVATE = frozenset({"page"})  # modules here that are not lessons


def lessons() -> dict[str, ModuleType]:
    """Every lesson module by name, in alphabetical order."""
    names = sorted(info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_"))
    return {name: importlib.import_module(f"{__name__}.{name}") for name in names if name not in PRIVATE}
