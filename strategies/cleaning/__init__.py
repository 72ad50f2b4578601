"""Noisy-label detection: which items' labels are likely wrong, from their features (and the raw answers).

One method per file, one contract (:mod:`strategies.cleaning.base`): ``fit(X, labels, ...)`` returns ``self`` and
sets ``scores_`` (higher: more likely mislabeled) and ``issues_`` (the items flagged by the documented threshold).
``conf/detectors/<name>.yaml`` builds each one (``detectors=[name, ...]``); the contract test reads that registry.
"""

from strategies.cleaning.area_under_margin import AreaUnderMargin
from strategies.cleaning.base import BaseDetector, DetectionError
from strategies.cleaning.confident_learning import ConfidentLearning
from strategies.cleaning.data_maps import DataMaps
from strategies.cleaning.forgetting_events import ForgettingEvents
from strategies.cleaning.influence_functions import InfluenceFunctions
from strategies.cleaning.multi_annotator import MultiAnnotatorScore
from strategies.cleaning.noisy_cross_validation import NoisyCrossValidation

__all__ = [
    "AreaUnderMargin", "BaseDetector", "ConfidentLearning", "DataMaps", "DetectionError", "ForgettingEvents",
    "InfluenceFunctions", "MultiAnnotatorScore", "NoisyCrossValidation",
]  # fmt: skip
