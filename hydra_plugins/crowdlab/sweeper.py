"""The ``crowdlab`` sweeper: Hydra's basic sweeper (the same grid, order and ``multirun.yaml``) without composing every
job's config twice.

The basic sweeper composes each job once to validate the batch and the launcher composes it again to run it: for a
sweep of small jobs that is a third of the run time, spent serially in the parent before any worker starts.
``crowdlab run`` checks the command line before Hydra starts (every key, every group option and every swept value,
see :func:`experiments.checks.check_command_line`), so here each job is composed once, by the launcher, in the worker
that runs it. Its config is ``conf/hydra/sweeper/crowdlab.yaml``."""

from collections.abc import Sequence

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper


class CrowdlabSweeper(BasicSweeper):
    def validate_batch_is_legal(self, batch: Sequence[Sequence[str]]) -> None:
        """Checked before Hydra started (:func:`experiments.checks.check_command_line`); composed once, by the
        launcher."""
