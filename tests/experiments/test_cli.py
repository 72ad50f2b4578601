"""The ``crowdlab`` command: its help, its subcommands, the same table as ``python -m experiments.run``, and an
installed (not editable) copy that runs from any folder with the configs and the launcher inside the package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["task.n_items=300", "raters.n_raters=20", "aggregators=[majority_vote,dawid_skene]"]
ENV = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "CI": "1"}


def crowdlab(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "experiments.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=env or ENV)  # fmt: skip


def test_help_lists_the_commands_and_each_has_its_own(tmp_path):
    top = crowdlab("--help", cwd=tmp_path)
    assert top.returncode == 0 and "run" in top.stdout and "collect" in top.stdout
    run_help = crowdlab("run", "--help", cwd=tmp_path)
    assert run_help.returncode == 0 and run_help.stdout.startswith("usage: crowdlab run")
    collect_help = crowdlab("collect", "--help", cwd=tmp_path)
    assert collect_help.returncode == 0 and "--strict" in collect_help.stdout
    unknown = crowdlab("plot", cwd=tmp_path)
    assert unknown.returncode == 2 and "unknown command 'plot'; accepted values: run, collect" in unknown.stderr


def test_crowdlab_run_prints_the_table_of_python_m_experiments_run(tmp_path):
    via_command = crowdlab("run", *SMALL, f"hydra.run.dir={tmp_path / 'a'}", cwd=tmp_path)
    via_module = subprocess.run(
        [sys.executable, "-m", "experiments.run", *SMALL, f"hydra.run.dir={tmp_path / 'b'}"], cwd=tmp_path,
        capture_output=True, text=True, timeout=300, env=ENV,
    )  # fmt: skip
    assert via_command.returncode == 0 and via_module.returncode == 0, via_command.stderr + via_module.stderr

    def table(out: str) -> list[str]:  # fit_seconds is measured, the results folder differs
        lines = [line for line in out.splitlines() if not line.startswith("results:")]
        return [line.rsplit(maxsplit=1)[0] if "majority_vote" in line or "dawid_skene" in line else line
                for line in lines]  # fmt: skip

    assert table(via_command.stdout) == table(via_module.stdout)
    assert "accuracy accuracy_labeled coverage" in via_command.stdout


@pytest.mark.slow
def test_an_installed_copy_runs_a_sweep_from_any_folder(tmp_path):
    """``pip install .`` (here into a folder of its own, without the dependencies this environment has): the configs,
    the presets and the pool launcher come from the installed package, not from a checkout."""
    target = tmp_path / "site"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
         str(target), str(ROOT)], capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    assert (target / "conf" / "hydra" / "launcher" / "pool.yaml").is_file()
    assert (target / "hydra_plugins" / "crowdlab" / "pool_launcher.py").is_file()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PYTHONPATH": str(target), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CI": "1"}
    probe = "import conf, experiments; print(conf.__file__, experiments.__file__)"
    where = subprocess.run([sys.executable, "-c", probe], cwd=elsewhere, capture_output=True, text=True, env=env)
    assert where.stdout.count(str(target)) == 2, where.stdout + where.stderr
    done = crowdlab("run", "-m", *SMALL, "seed=1,2", "hydra.launcher.n_jobs=2", "hydra.sweep.dir=sweep",
                    cwd=elsewhere, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(path.parent.name for path in (elsewhere / "sweep").glob("*/metrics.csv")) == ["0", "1"]
    shutil.rmtree(target)
