"""Assignment and redundancy policies: which item a free rater labels next, and when an item is done.

Each policy is one file; ``conf/assignment/<name>.yaml`` builds it (``assignment=<name>``). The pair policies of a
pairwise task (``random_pairs``, ``adjacent_pairs``, ``active_pairs``) share :mod:`strategies.assignment._pairs`.
"""

from strategies.assignment.active_pairs import ActivePairs
from strategies.assignment.adjacent_pairs import AdjacentPairs
from strategies.assignment.base import WAIT, AssignmentPolicy
from strategies.assignment.best_of import BestOf
from strategies.assignment.delta_margin import DeltaMargin
from strategies.assignment.fixed import FixedRedundancy
from strategies.assignment.posterior import PosteriorThreshold
from strategies.assignment.random_pairs import RandomPairs
from strategies.assignment.relabel import Relabel
from strategies.assignment.uncertainty import Uncertainty

__all__ = [
    "WAIT", "ActivePairs", "AdjacentPairs", "AssignmentPolicy", "BestOf", "DeltaMargin", "FixedRedundancy",
    "PosteriorThreshold", "RandomPairs", "Relabel", "Uncertainty",
]  # fmt: skip
