"""Truth-inference (label aggregation) methods with crowd-kit's interface; one algorithm per module."""

from strategies.aggregation.base import (
    AnswersError,
    BaseAggregator,
    BaseClassificationAggregator,
    MissingColumnError,
    encode_answers,
)
from strategies.aggregation.binary_relevance import BinaryRelevance
from strategies.aggregation.bradley_terry import BradleyTerry
from strategies.aggregation.bwa import BWA
from strategies.aggregation.catd import CATD
from strategies.aggregation.dawid_skene import DawidSkene
from strategies.aggregation.ebcc import EBCC
from strategies.aggregation.glad import GLAD
from strategies.aggregation.gold_majority_vote import GoldMajorityVote
from strategies.aggregation.ibcc import IBCC
from strategies.aggregation.kos import KOS
from strategies.aggregation.m_msr import MMSR
from strategies.aggregation.mace import MACE
from strategies.aggregation.majority_vote import MajorityVote
from strategies.aggregation.mean import Mean
from strategies.aggregation.median import Median
from strategies.aggregation.noisy_bt import NoisyBradleyTerry
from strategies.aggregation.numeric_base import BaseNumericAggregator
from strategies.aggregation.one_coin_dawid_skene import OneCoinDawidSkene
from strategies.aggregation.oracle import Oracle
from strategies.aggregation.ordinal import OrdinalRating
from strategies.aggregation.position_bias_bt import PositionBiasBradleyTerry
from strategies.aggregation.scoring import Evaluation, evaluate
from strategies.aggregation.trimmed_mean import TrimmedMean
from strategies.aggregation.wawa import Wawa
from strategies.aggregation.zero_based_skill import ZeroBasedSkill

__all__ = [
    "BWA",
    "CATD",
    "EBCC",
    "GLAD",
    "IBCC",
    "KOS",
    "MACE",
    "MMSR",
    "AnswersError",
    "BaseAggregator",
    "BaseClassificationAggregator",
    "BaseNumericAggregator",
    "BinaryRelevance",
    "BradleyTerry",
    "DawidSkene",
    "Evaluation",
    "GoldMajorityVote",
    "MajorityVote",
    "Mean",
    "Median",
    "MissingColumnError",
    "NoisyBradleyTerry",
    "OneCoinDawidSkene",
    "Oracle",
    "OrdinalRating",
    "PositionBiasBradleyTerry",
    "TrimmedMean",
    "Wawa",
    "ZeroBasedSkill",
    "encode_answers",
    "evaluate",
]
