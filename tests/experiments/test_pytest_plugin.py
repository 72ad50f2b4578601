"""The pytest plugin as a user meets it: the README's example runs as a test file of its own, in a fresh pytest
process that finds the ``crowdlab_bench`` fixture through the installed ``pytest11`` entry point."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = Path(__file__).resolve().parent


def readme_example() -> str:
    """The python block of the README's ``crowdlab_bench`` section."""
    section = (ROOT / "README.md").read_text().split("the `crowdlab_bench` fixture", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def save_baseline(tmp_path: Path) -> Path:
    baselines = tmp_path / "baselines"
    command = ["-m", "experiments.cli", "bench", "majority_vote", "--scenarios", "easy", "--replicates", "2",
               "--no-data", "--save-baseline", "majority_vote", "--baselines", str(baselines), "--out",
               str(tmp_path / "bench")]  # fmt: skip
    done = run(command, ROOT)
    assert done.returncode == 0, done.stderr
    return baselines


def pytest_in(folder: Path, baselines: Path) -> subprocess.CompletedProcess[str]:
    return run(["-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "-m", "", "--rootdir",
                str(folder), "--crowdlab-baselines", str(baselines), str(folder)], folder)  # fmt: skip


def test_the_readme_example_passes(tmp_path):
    baselines = save_baseline(tmp_path)
    user = tmp_path / "user"
    user.mkdir()
    (user / "test_mine.py").write_text(readme_example())
    done = pytest_in(user, baselines)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def test_a_random_aggregator_fails_against_the_baseline_naming_the_scenario(tmp_path):
    baselines = save_baseline(tmp_path)
    user = tmp_path / "user"
    user.mkdir()
    (user / "test_random.py").write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(TESTS)!r})\n"
        "from random_vote import RandomVote\n\n"
        "def test_random(crowdlab_bench):\n"
        "    crowdlab_bench.assert_no_regression(RandomVote, baseline='majority_vote')\n\n"
        "def test_missing_baseline(crowdlab_bench):\n"
        "    crowdlab_bench.assert_no_regression(RandomVote, baseline='nope')\n"
    )
    done = pytest_in(user, baselines)
    assert done.returncode == 1
    assert "2 failed" in done.stdout
    assert "RandomVote in easy: accuracy" in done.stdout
    assert "baseline nope: no such baseline for standard-1" in done.stdout and "--save-baseline nope" in done.stdout


def test_baselines_saved_from_a_folder_are_found_by_pytest_run_from_it(tmp_path):
    """No --crowdlab-baselines: crowdlab bench and pytest, both run from the user's folder, meet under its
    results/baselines; numeric aggregators work through metric(..., suite="numeric"); a numeric real set asked of
    the standard suite is a clear error."""
    user = tmp_path / "user"
    user.mkdir()
    command = ["-m", "experiments.cli", "bench", "majority_vote", "--scenarios", "easy", "--replicates", "2",
               "--no-data", "--save-baseline", "mine", "--out", str(tmp_path / "bench")]  # fmt: skip
    assert run(command, user).returncode == 0
    (user / "test_here.py").write_text(
        "import pytest\n"
        "from strategies.aggregation import MajorityVote, Median\n\n"
        "def test_here(crowdlab_bench):\n"
        "    crowdlab_bench.assert_no_regression(MajorityVote, baseline='mine')\n"
        "    assert crowdlab_bench.metric(Median, 'outliers_10', suite='numeric', replicates=2) < 4.0\n"
        "    assert crowdlab_bench.metric('median', 'gaussian', 'rmse', replicates=2, suite='numeric') > 0\n"
        "    with pytest.raises(ValueError, match=\"'emotion' is not of the standard suite's kind\"):\n"
        "        crowdlab_bench.accuracy(MajorityVote, 'real:emotion')\n"
    )
    done = run(["-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "-m", "", "--rootdir", str(user),
                str(user)], user)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
