"""crowdlab's Hydra plugins: the ``pool`` launcher (every core of this machine, each worker process running many
jobs) and the ``crowdlab`` sweeper (Hydra's basic sweeper without its second composition of every job).

Hydra imports this package at start-up to discover plugins, so it imports nothing heavy at module level."""
