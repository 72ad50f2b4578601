"""Assignment and redundancy policies: which item a free rater labels next, and when an item is done.

Each policy is one file; ``conf/assignment/<name>.yaml`` builds it (``assignment=<name>``).
"""

from strategies.assignment.base import WAIT, AssignmentPolicy
from strategies.assignment.best_of import BestOf
from strategies.assignment.delta_margin import DeltaMargin
from strategies.assignment.fixed import FixedRedundancy
from strategies.assignment.posterior import PosteriorThreshold
from strategies.assignment.relabel import Relabel
from strategies.assignment.uncertainty import Uncertainty

__all__ = [
    "WAIT", "AssignmentPolicy", "BestOf", "DeltaMargin", "FixedRedundancy", "PosteriorThreshold", "Relabel",
    "Uncertainty",
]  # fmt: skip
