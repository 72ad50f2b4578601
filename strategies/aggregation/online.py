"""The aggregators with an online model (``online_model``), by their name in ``conf/aggregators``: what the
campaign's adaptive policies and quality control can follow answer by answer."""

from __future__ import annotations

from typing import Any

from strategies.aggregation.dawid_skene import DawidSkene
from strategies.aggregation.majority_vote import MajorityVote
from strategies.aggregation.one_coin_dawid_skene import OneCoinDawidSkene

ONLINE_AGGREGATORS: dict[str, type] = {
    "majority_vote": MajorityVote,
    "one_coin_dawid_skene": OneCoinDawidSkene,
    "dawid_skene": DawidSkene,
}


def online_aggregator(key: str, aggregator: Any) -> Any:
    """An aggregator object from a name of :data:`ONLINE_AGGREGATORS` (default settings), or ``aggregator`` itself
    if it has ``online_model``; otherwise a configuration error naming ``key`` and the accepted values."""
    from sim.validation import ConfigError, check_choice  # (sim imports the strategies: import when called)

    if isinstance(aggregator, str):
        check_choice(key, aggregator, ONLINE_AGGREGATORS)
        return ONLINE_AGGREGATORS[aggregator]()
    if not hasattr(aggregator, "online_model"):
        raise ConfigError(
            f"{key} must name one of {list(ONLINE_AGGREGATORS)} or have online_model(), got {aggregator!r}"
        )
    return aggregator
