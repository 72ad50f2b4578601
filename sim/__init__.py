"""The campaign simulator: task designs, rater populations, the answer model and the SimPy campaign engine.

>>> from sim import Campaign, RaterPopulation, TaskDesign, simulate
>>> result = simulate(TaskDesign(n_items=200), RaterPopulation(n_raters=20), Campaign(redundancy=3), seed=1)
>>> result.ledger["stop_reason"]
'complete'
"""

from sim.campaign import Campaign, simulate
from sim.raters import ARCHETYPES, RaterPopulation
from sim.records import CampaignResult
from sim.tasks import TaskDesign
from sim.validation import ConfigError

__all__ = ["ARCHETYPES", "Campaign", "CampaignResult", "ConfigError", "RaterPopulation", "TaskDesign", "simulate"]
