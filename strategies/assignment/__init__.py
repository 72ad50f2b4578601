"""Assignment and redundancy policies: which item a free rater labels next."""

from strategies.assignment.base import AssignmentPolicy
from strategies.assignment.fixed import FixedRedundancy

POLICIES: dict[str, type[AssignmentPolicy]] = {"fixed": FixedRedundancy}

__all__ = ["POLICIES", "AssignmentPolicy", "FixedRedundancy"]
