"""Run crowd-kit's own aggregation tests with our same-named classes in place of crowd-kit's.

Usage (an environment with crowd-kit and pytest, e.g. ``.venv-compare``)::

    python -m experiments.benchmarks.crowdkit_suite PATH/TO/crowd-kit/tests [--failures]

``PATH`` is a copy of crowd-kit's ``tests`` folder (with its ``conftest.py``); its ``aggregation`` subfolder is run
twice, each time by ``pytest.main`` in a fresh subprocess (pytest keeps the imported test modules, whose parametrize
lists hold the classes, so the two runs cannot share a process):

1. baseline: crowd-kit's own classes;
2. substituted: a plugin object passed as ``pytest.main(plugins=[...])`` (no conftest, no file edits) replaces, in
   ``pytest_configure`` (before collection), the attribute ``NAME`` of ``crowdkit.aggregation``, of the subpackage
   and of the module that define crowd-kit's class, by ``strategies.aggregation.NAME``, for every ``NAME`` in
   :data:`SUBSTITUTED`. crowd-kit's other code keeps its own imports.

Which classes a test exercises, read statically from the collected item: ``NAME`` is exercised if the test function,
or a fixture it requests (directly or through other fixtures), loads the global ``NAME`` (its code object's
``co_names``, nested functions included), or if a parametrize value of the test is a class named ``NAME`` or an
instance of one. Fixtures fetched dynamically with ``request.getfixturevalue`` are not followed.

Counted: tests that exercise at least one substituted class and pass in the baseline. Per class it prints tests run,
passed and failed (a test exercising two classes counts for both), then one total line counting each test once:
``substituted_passed=.. substituted_total=.. share=..``; ``--failures`` lists every failing node id with pytest's
one-line crash message.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from types import CodeType
from typing import Any

SUBSTITUTED: tuple[str, ...] = (
    "BinaryRelevance",
    "BradleyTerry",
    "DawidSkene",
    "GLAD",
    "GoldMajorityVote",
    "KOS",
    "MACE",
    "MMSR",
    "MajorityVote",
    "OneCoinDawidSkene",
    "Wawa",
    "ZeroBasedSkill",
)


def _names(code: CodeType) -> set[str]:
    """Global names a code object (and the code nested in it) loads."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names |= _names(const)
    return names


def _exercised(item: Any) -> list[str]:
    """The names of :data:`SUBSTITUTED` that a collected test exercises (see the module docstring)."""
    codes = [item.function.__code__]
    for defs in item._fixtureinfo.name2fixturedefs.values():
        codes += [d.func.__code__ for d in defs if hasattr(d.func, "__code__")]
    names = set().union(*map(_names, codes))
    for value in getattr(getattr(item, "callspec", None), "params", {}).values():
        names.add(value.__name__ if isinstance(value, type) else type(value).__name__)
    return sorted(names & set(SUBSTITUTED))


class _Recorder:
    """pytest plugin: optionally swaps the classes before collection, records each test's outcome."""

    def __init__(self, substitute: bool) -> None:
        self.substitute = substitute
        self.tests: dict[str, dict[str, Any]] = {}
        self.collect_errors: dict[str, str] = {}

    def pytest_configure(self, config: Any) -> None:
        if not self.substitute:
            return
        import importlib

        import crowdkit.aggregation as ck

        import strategies.aggregation as ours

        for name in SUBSTITUTED:
            defining = sys.modules[getattr(ck, name).__module__]
            package = importlib.import_module(defining.__name__.rpartition(".")[0])
            for module in {ck, package, defining}:
                setattr(module, name, getattr(ours, name))

    def pytest_collection_modifyitems(self, items: list[Any]) -> None:
        for item in items:
            self.tests[item.nodeid] = {"classes": _exercised(item), "outcome": "not run", "message": ""}

    def pytest_collectreport(self, report: Any) -> None:
        if report.failed:
            self.collect_errors[report.nodeid] = str(report.longrepr).strip().splitlines()[-1]

    def pytest_runtest_logreport(self, report: Any) -> None:
        test = self.tests.setdefault(report.nodeid, {"classes": [], "outcome": "not run", "message": ""})
        if report.failed and test["outcome"] != "failed":
            crash = getattr(report.longrepr, "reprcrash", None)
            message = crash.message if crash is not None else str(report.longrepr)
            if hasattr(report.longrepr, "errorstring"):  # a missing fixture: pytest's repr is the test's source
                message = report.longrepr.errorstring.splitlines()[0]
            test.update(outcome="failed", message=f"[{report.when}] " + " ".join(message.split())[:300])
        elif report.when == "call" and test["outcome"] == "not run":
            test["outcome"] = report.outcome
        elif report.skipped and test["outcome"] == "not run":
            test["outcome"] = "skipped"


def _child(tests: Path, substitute: bool, out: Path) -> int:
    import pytest

    recorder = _Recorder(substitute)
    args = [str(tests / "aggregation"), "-q", "-p", "no:cacheprovider", "-p", "no:crowdlab"]
    args += ["--rootdir", str(tests.parent)]
    code = pytest.main(args, plugins=[recorder])
    out.write_text(json.dumps({"tests": recorder.tests, "collect_errors": recorder.collect_errors}))
    return int(code)


def _run(tests: Path, substitute: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        command = [sys.executable, "-m", "experiments.benchmarks.crowdkit_suite", str(tests), "--child", str(out)]
        subprocess.run(
            command + (["--substitute"] if substitute else []),
            cwd=Path(__file__).parents[2],
            check=False,
            stdout=subprocess.DEVNULL,
        )
        return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tests", type=Path, help="crowd-kit's tests folder (holding conftest.py and aggregation/)")
    parser.add_argument("--failures", action="store_true", help="list every failing test with its crash message")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--substitute", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    tests = args.tests.resolve()
    if args.child:
        return _child(tests, args.substitute, args.child)
    if not (tests / "aggregation").is_dir():
        print(f"crowdkit_suite: {tests} holds no aggregation/ folder; give the tests folder of a crowd-kit source "
              "checkout (github.com/Toloka/crowd-kit, tag v1.4.2: its tests/ holds conftest.py and aggregation/)",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        import crowdkit  # noqa: F401
    except ImportError:
        print("crowdkit_suite: crowd-kit is not installed here; use an environment with the compare extra",
              file=sys.stderr)  # fmt: skip
        return 2

    baseline, ours = _run(tests, substitute=False), _run(tests, substitute=True)
    for label, run in (("baseline", baseline), ("substituted", ours)):
        for node, error in run["collect_errors"].items():
            print(f"collection error ({label}) {node}: {error}")
    counted = {n: t for n, t in baseline["tests"].items() if t["classes"] and t["outcome"] == "passed"}
    excluded = sum(1 for t in baseline["tests"].values() if t["classes"] and t["outcome"] != "passed")
    n_passed = sum(t["outcome"] == "passed" for t in baseline["tests"].values())
    print(
        f"baseline: {len(baseline['tests'])} tests, {n_passed} passed; {len(counted)} exercise a substituted class"
        f" and pass (counted), {excluded} exercise one and fail with crowd-kit (not counted)"
    )
    result = {n: ours["tests"].get(n, {"outcome": "not collected", "message": "not collected"}) for n in counted}
    print(f"{'class':<20}{'run':>5}{'passed':>8}{'failed':>8}")
    for name in SUBSTITUTED:
        nodes = [n for n, t in counted.items() if name in t["classes"]]
        passed = sum(result[n]["outcome"] == "passed" for n in nodes)
        print(f"{name:<20}{len(nodes):>5}{passed:>8}{len(nodes) - passed:>8}")
    passed = sum(r["outcome"] == "passed" for r in result.values())
    share = passed / len(result) if result else float("nan")
    print(f"substituted_passed={passed} substituted_total={len(result)} share={share:.3f}")
    if not result:
        print("crowdkit_suite: no test exercising a substituted class passed with crowd-kit itself", file=sys.stderr)
        return 2
    if args.failures:
        for node, r in result.items():
            if r["outcome"] != "passed":
                print(f"FAILED {node} [{','.join(counted[node]['classes'])}] {r['outcome']}: {r['message']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
