"""Checks for configuration values that fail with a message naming the key and the accepted values."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from typing import Any


class ConfigError(ValueError):
    """A configuration value outside its accepted range or set; the message names the key."""


def check_kind_settings(settings: Any, prefix: str, by_kind: Mapping[str, Iterable[str]], kind: str) -> None:
    """Refuse a setting that would have no effect: each field of ``settings`` (a dataclass) that ``by_kind`` lists
    under another task kind than ``kind`` must keep its default."""
    defaults = {item.name: item.default for item in dataclasses.fields(settings)}
    for owner, names in by_kind.items():
        if owner == kind:
            continue
        for name in names:
            value = getattr(settings, name)
            if value != defaults[name]:
                raise ConfigError(
                    f"{prefix}.{name} = {value!r} is for task.kind={owner}, and task.kind = {kind}: it would have no "
                    f"effect; accepted values: leave it at its default ({defaults[name]!r}), or task.kind={owner}"
                )


def check_int(key: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int in [low, high] (either bound optional)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not float(value).is_integer():
        raise ConfigError(f"{key} must be an integer{_range_text(low, high)}, got {value!r}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ConfigError(f"{key} must be an integer{_range_text(low, high)}, got {value}")
    return value


def check_float(
    key: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a finite float in the interval given by ``low``/``high`` (open ends where flagged)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        interval = _interval_text(low, high, low_open, high_open)
        raise ConfigError(f"{key} must be a finite number{interval}, got {value!r}")
    value = float(value)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        raise ConfigError(f"{key} must be{_interval_text(low, high, low_open, high_open)}, got {value}")
    return value


def check_probability(key: str, value: Any) -> float:
    return check_float(key, value, 0.0, 1.0)


def check_choice(key: str, value: Any, choices: Iterable[str]) -> str:
    options = list(choices)
    if value not in options:
        raise ConfigError(f"{key} must be one of {options}, got {value!r}")
    return str(value)


def _range_text(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f" in [{low}, {high}]"
    if low is not None:
        return f" >= {low}"
    if high is not None:
        return f" <= {high}"
    return ""


def _interval_text(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is None and high is None:
        return ""
    left = "(" if low_open else "["
    right = ")" if high_open else "]"
    return f" in {left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
