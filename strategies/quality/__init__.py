"""Quality control: rater quality scores on any answer table, and the quality-control policies the campaign engine
calls."""

from strategies.quality.agreement_blocking import AgreementBlocking
from strategies.quality.base import Calibration, Qualification, QualityControl
from strategies.quality.gold_blocking import GoldBlocking
from strategies.quality.scores import (
    SCORE_COLUMNS,
    flag_precision_recall,
    flag_raters,
    leave_one_out_agreement,
    rater_scores,
    spammer_scores,
    worker_confusions,
)

__all__ = [
    "SCORE_COLUMNS",
    "AgreementBlocking",
    "Calibration",
    "GoldBlocking",
    "Qualification",
    "QualityControl",
    "flag_precision_recall",
    "flag_raters",
    "leave_one_out_agreement",
    "rater_scores",
    "spammer_scores",
    "worker_confusions",
]
