"""The ``pool`` launcher: a multirun on every core of this machine, each worker process running many jobs.

    crowdlab run -m campaign.redundancy=1,3,5 seed='range(10)'                     # every core (the default)
    crowdlab run -m ... hydra.launcher.n_jobs=2                                     # two workers

A sweep of small jobs spends most of its time starting up when each job is a process of its own, and joblib's loky
workers import the project again and receive Hydra's context with every job. Here the workers are forked from the
parent (on Linux; spawned elsewhere), so they start with everything imported, receive the context once, and then take
jobs one after the other. Each job is composed once, in the worker that runs it, and run by Hydra's own ``run_job``
(the same output folder, ``.hydra`` files and logging as with the basic launcher). Results come back in job order;
a job's result depends only on its config, so a parallel sweep gives the same rows as a serial one.

Ctrl-C stops the workers (they ignore SIGINT; the parent terminates them) and ends in one line; a worker whose parent
is killed dies with it (Linux), so no orphan keeps writing into a sweep that is resumed.

Its config is ``conf/hydra/launcher/pool.yaml`` (plain YAML, not a structured config registered here: Hydra's plugin
scan loads this module outside ``sys.modules``, and a config typed by a class from that copy would not pickle). No
``from __future__ import annotations`` either: dataclasses look string annotations up in ``sys.modules``.
"""

import gc
import logging
import multiprocessing
import os
import pickle
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, configure_log, filter_overrides, run_job, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, open_dict

log = logging.getLogger(__name__)

START_METHODS = ("fork", "forkserver", "spawn")


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, which container limits set), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Stop:
    """A job ended the sweep: ``SystemExit`` (a configuration error, already reported) or Ctrl-C."""

    code: Any
    interrupted: bool = False


_STATE: "tuple[HydraContext, DictConfig, TaskFunction] | None" = None


def _die_with_parent(parent: int) -> None:
    """Linux: the kernel kills this worker when the parent dies, so a killed sweep leaves no orphan writing."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except OSError:  # another libc: the worker still exits once the parent's task queue closes
        return
    if os.getppid() != parent:  # the parent died before the call
        os._exit(1)


def _init_worker(state: Any) -> None:
    """A worker's start: the state a forked worker inherits, or (spawned) unpickles once for all its jobs."""
    global _STATE
    if isinstance(state, bytes):
        state = pickle.loads(state)
    hydra_context, config, task_function, singleton, parent = state
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and terminates the pool
    _die_with_parent(parent)
    setup_globals()
    Singleton.set_state(singleton)
    _STATE = (hydra_context, config, task_function)


def _run(job: tuple[int, list[str]]) -> "JobReturn | Stop":
    """Compose one job's config and run it, in a worker (or in the parent when there is one worker)."""
    assert _STATE is not None
    hydra_context, config, task_function = _STATE
    idx, overrides = job
    sweep_config = hydra_context.config_loader.load_sweep_config(config, overrides)
    with open_dict(sweep_config):
        sweep_config.hydra.job.id = idx
        sweep_config.hydra.job.num = idx
    HydraConfig.instance().set_config(sweep_config)
    try:
        return run_job(
            hydra_context=hydra_context,
            task_function=task_function,
            config=sweep_config,
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
        )
    except SystemExit as stop:  # BaseException: a pool worker would die of it and its result never arrive
        return Stop(stop.code)
    except KeyboardInterrupt:
        return Stop(130, interrupted=True)


class PoolLauncher(Launcher):
    def __init__(self, n_jobs: int = -1, start_method: str | None = None) -> None:
        if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or not (n_jobs == -1 or n_jobs >= 1):
            raise ValueError(f"hydra.launcher.n_jobs must be a positive integer or -1 (every core), got {n_jobs!r}")
        if start_method is not None and start_method not in START_METHODS:
            raise ValueError(
                f"hydra.launcher.start_method must be one of {', '.join(START_METHODS)} or null, got {start_method!r}"
            )
        self.n_jobs = n_jobs
        self.start_method = start_method or ("fork" if sys.platform.startswith("linux") else "spawn")
        self.config: DictConfig | None = None
        self.task_function: TaskFunction | None = None
        self.hydra_context: HydraContext | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.task_function = task_function
        self.hydra_context = hydra_context

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        assert self.config is not None and self.task_function is not None and self.hydra_context is not None
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        jobs = [(initial_job_idx + i, list(overrides)) for i, overrides in enumerate(job_overrides)]
        workers = min(usable_cores() if self.n_jobs == -1 else self.n_jobs, len(jobs))
        where = "serially in this process" if workers <= 1 else f"on {workers} worker processes"
        log.info(f"Launching {len(jobs)} jobs {where}")
        for idx, overrides in jobs:
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
        state = (self.hydra_context, self.config, self.task_function, Singleton.get_state(), os.getpid())
        returns: list[JobReturn] = []
        if workers <= 1:
            _init_state(*state)
            for job in jobs:
                returns.append(_finish(_run(job)))
                configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
            return _summarised(returns)
        if self.start_method != "fork":  # a spawned worker gets the task function by value: it may live in __main__
            import cloudpickle

            payload: Any = cloudpickle.dumps(state)
        else:
            payload = state
        gc.freeze()  # the parent's objects stay out of the workers' collections: their pages stay shared
        pool = multiprocessing.get_context(self.start_method).Pool(
            workers, initializer=_init_worker, initargs=(payload,)
        )
        gc.unfreeze()
        try:
            for result in pool.imap(_run, jobs):  # in job order, each job as soon as a worker is free
                returns.append(_finish(result))
            pool.close()
        except BaseException:  # a job stopped the sweep, or Ctrl-C: no worker keeps running
            pool.terminate()
            raise
        finally:
            pool.join()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        return _summarised(returns)


def _summarised(returns: list[JobReturn]) -> list[JobReturn]:
    """Log how many jobs ran and how many were complete already (a resumed sweep); ``experiments.run.main`` returns
    which."""
    complete = sum(1 for r in returns if r.status == JobStatus.COMPLETED and r._return_value == "complete")
    log.info(f"{len(returns)} jobs: {complete} were complete already, {len(returns) - complete} ran")
    return returns


def _init_state(
    hydra_context: HydraContext, config: DictConfig, task_function: TaskFunction, singleton: dict[Any, Any], parent: int
) -> None:
    """One worker: run the jobs in the parent itself, as the basic launcher does."""
    global _STATE
    _STATE = (hydra_context, config, task_function)


def _finish(result: "JobReturn | Stop") -> JobReturn:
    if isinstance(result, Stop):
        if result.interrupted:
            raise KeyboardInterrupt
        raise SystemExit(result.code)
    return result
