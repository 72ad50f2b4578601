"""Smoke tests of the cluster launchers that ship in conf/hydra/launcher/ (slow; they need the extras:
``pip install -e '.[test,ray,submitit]'``, as ``.ci/run`` does in an environment of their own). Each sweep must give
exactly the rows of the same sweep on Hydra's basic launcher."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from experiments.collect import load_metrics

ROOT = Path(__file__).resolve().parents[2]
SWEEP = ["-m", "task.n_items=300", "raters.n_raters=20", "aggregators=[majority_vote,dawid_skene]", "seed=1,2,3"]

pytestmark = pytest.mark.slow


def needs(plugin: str) -> None:
    if importlib.util.find_spec(f"hydra_plugins.{plugin}") is None:
        pytest.skip(f"{plugin} is not installed (pip install -e '.[ray,submitit]')")


def sweep(folder: Path, *launcher: str) -> pd.DataFrame:
    done = subprocess.run(
        [sys.executable, "-m", "experiments.run", *SWEEP, *launcher, f"hydra.sweep.dir={folder}"], cwd=folder.parent,
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "is validated against ConfigStore schema" not in done.stderr
    rows = load_metrics(folder).drop(columns=["fit_seconds"]).sort_values(["run_dir", "aggregator"])
    assert len(rows) == 6
    return rows.reset_index(drop=True)


def same_as_basic(tmp_path: Path, *launcher: str) -> None:
    basic = sweep(tmp_path / "basic", "hydra/launcher=basic")
    pd.testing.assert_frame_equal(sweep(tmp_path / "other", *launcher), basic, check_exact=True)


def test_submitit_local_runs_a_sweep(tmp_path):
    needs("hydra_submitit_launcher")
    same_as_basic(tmp_path, "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10")
    assert list((tmp_path / "other" / ".submitit").iterdir())  # submitit's own logs, per job


def test_ray_runs_a_sweep_on_a_ray_it_starts(tmp_path):
    needs("hydra_ray_launcher")
    same_as_basic(tmp_path, "hydra/launcher=ray", "hydra.launcher.ray.init.num_cpus=2")


def test_ray_connects_to_a_running_cluster(tmp_path):
    """``address=auto`` joins the cluster ``ray start --head`` runs: the plugin's default 75 MB object store, which
    ray.init refuses when connecting, is not asked for."""
    needs("hydra_ray_launcher")
    ray = shutil.which("ray", path=str(Path(sys.executable).parent))
    assert ray is not None
    started = subprocess.run([ray, "start", "--head", "--num-cpus=2", "--include-dashboard=false"],
                             capture_output=True, text=True, timeout=300)  # fmt: skip
    assert started.returncode == 0, started.stderr
    try:
        same_as_basic(tmp_path, "hydra/launcher=ray", "hydra.launcher.ray.init.address=auto")
    finally:
        subprocess.run([ray, "stop", "--force"], capture_output=True, timeout=300)
