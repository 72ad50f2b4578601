"""Truth-inference (label aggregation) methods with crowd-kit's interface; one algorithm per module."""

from strategies.aggregation.base import AnswersError, BaseAggregator, BaseClassificationAggregator, encode_answers
from strategies.aggregation.majority_vote import MajorityVote

__all__ = [
    "AnswersError",
    "BaseAggregator",
    "BaseClassificationAggregator",
    "MajorityVote",
    "encode_answers",
]
