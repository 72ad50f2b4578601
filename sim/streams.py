"""Named random streams from one integer seed (SPEC 7; STYLE.md "How randomness flows").

``SeedSequence(seed, spawn_key=(replicate, stream, *key))`` gives each part of a run its own independent stream:
rater profiles, items, each rater's answers, arrivals, assignment, aggregation, each rater's ability drift, collusion
groups, quality control, items' groups and features, and the downstream models. Each rater's stream is keyed by the
rater's index, so adding a rater or changing the redundancy does not reshuffle anyone else's draws and every design
in a sweep sees the same raters and items (common random numbers).
"""

from __future__ import annotations

import numpy as np

STREAM_IDS: dict[str, int] = {
    "raters": 1,
    "items": 2,
    "answers": 3,
    "arrivals": 4,
    "assignment": 5,
    "aggregation": 6,
    "drift": 7,
    "collusion": 8,
    "quality": 9,
    "calibration": 10,  # crowdlab calibrate: the bootstrap of a pilot and its indirect inference
    "groups": 11,  # each item's group (fairness)
    "group_gap": 12,  # each rater's accuracy gap on group 1
    "features": 13,  # items' features and the clean test set (sim.features)
    "downstream": 14,  # the downstream model and the noisy-label detectors (experiments.downstream)
    "relabel": 15,  # which items a relabeling pass sends back (random selection)
    "competence": 16,  # each item's competence quantile (raters.accuracy_correlation)
    "kind_traits": 17,  # each rater's pairwise and rating traits (position and verbosity bias, severity, scale use)
}


def stream(seed: int, replicate: int, name: str, *key: int) -> np.random.Generator:
    """The generator of stream ``name`` (one of :data:`STREAM_IDS`) for ``(seed, replicate, *key)``."""
    if name not in STREAM_IDS:
        raise KeyError(f"unknown random stream {name!r}; known streams are {sorted(STREAM_IDS)}")
    sequence = np.random.SeedSequence(int(seed), spawn_key=(int(replicate), STREAM_IDS[name], *map(int, key)))
    return np.random.default_rng(sequence)
