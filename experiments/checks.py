"""The checks ``crowdlab run`` makes of its command line before Hydra starts, so that no job of a sweep fails after
others spent simulated money, and every mistake gets one line naming the key, the value and the accepted values.

:func:`check_command_line` is the entry: it reads the command line as Hydra does (its flags, ``-m``, the overrides),
checks every key and group option, every swept value (each with the other sweeps pinned to their first value), the
launcher's settings and the sweep folder (a rerun resumes only the same sweep). Add a check here, not in the task
function: the task function runs once per job, in the launcher's workers."""

from __future__ import annotations

import re
import sys
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from experiments.run import CONF, available, fix_shares, prepare
from sim.validation import ConfigError

SWEEP_WORDS = frozenset({"choice", "range", "interval", "glob", "sort", "shuffle", "tag", "null"})
LIST_GROUPS: dict[str, str] = {
    "aggregators": "aggregator", "pairwise_aggregators": "pairwise aggregator",
    "numeric_aggregators": "numeric aggregator", "quality": "quality option", "detectors": "detector",
}  # fmt: skip
THOUSANDS = re.compile(r"^[^=]+=(\d{1,3}(,\d{3})+)$")
LAUNCHER_EXTRAS = {"ray": "ray", "submitit_local": "submitit", "submitit_slurm": "submitit"}


def group_options(group: str) -> list[str]:
    """The options of a config group: its files in conf/ and, for Hydra's own groups, those plugins register."""
    from hydra.core.config_store import ConfigStore
    from hydra.core.plugins import Plugins

    Plugins.instance()  # plugins register their configs when first discovered
    try:
        stored = [name.removesuffix(".yaml") for name in ConfigStore.instance().list(group)]
    except OSError:  # no such group in the store
        stored = []
    return sorted(set(available(group)) | set(stored))


def check_list_groups(overrides: list[str], multirun: bool) -> None:
    """``aggregators=...`` and ``quality=...`` name known options (Hydra's own message for a list of options names
    neither the key's options nor the alternatives), and a list is written as one (``aggregators=a,b`` is a sweep)."""
    searched = searchpath_folders(overrides)
    for argument in overrides:
        key, _, value = argument.lstrip("+~").partition("=")
        if key not in LIST_GROUPS:
            continue
        known = sorted(set(available(key)) | {p.stem for folder in searched for p in (folder / key).glob("*.yaml")})
        for name in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", value):
            if name not in known and name not in SWEEP_WORDS:
                near = get_close_matches(name, known, n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                raise ConfigError(
                    f"{key}: unknown {LIST_GROUPS[key]} {name!r}{hint}; accepted values: {', '.join(known)}"
                )
        if not multirun and "," in value and not value.lstrip().startswith("["):
            raise ConfigError(
                f"{argument} is a sweep of several values (Hydra splits on commas); for one list of them write "
                f"{key}=[{value}], or add -m to sweep them"
            )


def searchpath_folders(overrides: list[str]) -> list[Path]:
    """The local folders a ``hydra.searchpath=[file://DIR, ...]`` override adds (their options count as known)."""
    folders = []
    for argument in overrides:
        key, _, value = argument.lstrip("+").partition("=")
        if key == "hydra.searchpath":
            folders += [Path(m) for m in re.findall(r"file://([^,\]\s'\"]+)", value)]
    return folders


def full_mix(argument: str) -> str:
    """``raters.archetypes={condorcet: 1}`` means that mix: the archetypes it does not name get share 0 (a Hydra
    map override would otherwise be merged into the default mix). Unknown names are refused with the nearest."""
    key, _, value = argument.partition("=")
    if key.lstrip("+") != "raters.archetypes" or not value.strip().startswith("{"):
        return argument
    from sim.raters import ARCHETYPES

    named = re.findall(r"([A-Za-z_]\w*)\s*:", value)
    for name in named:
        if name not in ARCHETYPES:
            near = get_close_matches(name, ARCHETYPES, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ConfigError(
                f"raters.archetypes: unknown archetype {name!r}{hint}; accepted values: {', '.join(ARCHETYPES)}"
            )
    missing = [f"{name}: 0" for name in ARCHETYPES if name not in named]
    return f"{key}={value.strip()[:-1].rstrip()}{', ' if named and missing else ''}{', '.join(missing)}}}"


def config_keys(cfg: Any, prefix: str = "") -> list[str]:
    """Every key of a composed config, dotted."""
    keys = []
    for key, value in cfg.items():
        dotted = f"{prefix}{key}"
        keys.append(dotted)
        if isinstance(value, dict):
            keys.extend(config_keys(value, f"{dotted}."))
    return keys


def keys_of_other_options() -> dict[str, list[str]]:
    """A key of a group option not chosen -> the options that have it (``assignment.threshold`` ->
    ``assignment=posterior``), over crowdlab's groups and Hydra's launchers."""
    elsewhere: dict[str, list[str]] = {}
    for group in ("assignment", "quality", "aggregators", "hydra/launcher"):
        for option in available(group):
            node = OmegaConf.to_container(OmegaConf.load(CONF / group / f"{option}.yaml"))
            base = {"assignment": group, "hydra/launcher": "hydra.launcher"}.get(group, f"{group}.{option}")
            for other in config_keys(node, f"{base}."):  # type: ignore[arg-type]
                elsewhere.setdefault(other, []).append(f"{group}={option}")
    return elsewhere


def unknown_key(key: str, chosen: list[str]) -> ConfigError:
    """The error for a key the composed config does not have: the option that has it, or the nearest key."""
    from hydra import compose

    known = config_keys(OmegaConf.to_container(compose(config_name="config", return_hydra_config=True)))
    elsewhere = keys_of_other_options()
    group, _, name = key.partition(".")
    if group in LIST_GROUPS and name.split(".")[0] in available(group):  # a setting of a list entry not chosen
        option = name.split(".")[0]
        listed = ",".join([*chosen, option])
        return ConfigError(
            f"{key}: {option} is not among the {group} chosen ({', '.join(chosen) or 'none'}); add it, e.g. "
            f"{group}=[{listed}] {key}=..."
        )
    if key in elsewhere:
        return ConfigError(
            f"{key} is not a setting of the option chosen; options that have it: {', '.join(elsewhere[key])} "
            f"(e.g. {elsewhere[key][0]} {key}=...)"
        )
    near = get_close_matches(key, sorted(set(known) | set(elsewhere)), n=1)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    return ConfigError(f"unknown key {key!r}{hint} (crowdlab run --cfg job lists the keys)")


def compose_checked(overrides: list[str]) -> DictConfig:
    """The job config these overrides compose (no sweeps, Hydra's settings included), or a :class:`ConfigError`
    naming the unknown key (with the nearest known one) or the unknown group option (with the accepted ones)."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        try:
            return compose(config_name="config", overrides=overrides, return_hydra_config=True)
        except HydraException as error:
            message = str(error).splitlines()[0]
            missing = re.match(r"Could not override '([^']+)'", message)
            if missing:
                chosen = [o.partition("=")[2].strip("[]") for o in overrides if o.startswith("aggregators=")]
                names = chosen[-1].split(",") if chosen else list(compose(config_name="config").aggregators)
                raise unknown_key(missing.group(1), [n.strip() for n in names if n.strip()]) from None
            not_found = re.search(r"Could not find '(.+)/([^'/]+)'", message)
            if not_found:
                raise ConfigError(
                    f"{not_found.group(1)}: unknown option {not_found.group(2)!r}; accepted values: "
                    f"{', '.join(group_options(not_found.group(1)))}"
                ) from None
            merging = re.search(r"Error merging override (\S+)", message)
            if merging:  # a value of the wrong type: the cause is on the next lines
                cause = next((line for line in str(error).splitlines()[1:] if line.strip()), "")
                raise ConfigError(f"{merging.group(1)}: {cause.strip()}") from None
            raise ConfigError(message) from None


def compose_job(overrides: list[str]) -> DictConfig:
    """The job config these overrides compose (see :func:`compose_checked`), without Hydra's settings, progress bars
    off, the archetype shares set one by one fixed (:func:`experiments.run.fix_shares`): what ``prepare`` takes
    outside Hydra (the planner, the calibration's predictions, the bench)."""
    cfg = compose_checked(overrides)
    with open_dict(cfg):
        del cfg["hydra"]
        cfg.progress = False
    return fix_shares(cfg, overrides)


def check_launcher(cfg: DictConfig) -> None:
    """The multirun launcher builds from its settings, and its plugin is installed (else the extra to install)."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    choice = OmegaConf.select(cfg, "hydra.runtime.choices", default={}).get("hydra/launcher", "basic")
    if str(cfg.hydra.launcher.get("_target_", "")).startswith("hydra._internal."):  # basic: no settings to check
        return
    if choice == "joblib":  # joblib reads n_jobs only when the sweep starts, and -1, -2, ... count back from all cores
        n_jobs = cfg.hydra.launcher.get("n_jobs")
        if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0:
            raise ConfigError(
                f"hydra.launcher.n_jobs must be a nonzero integer (-1 = every core, -2 = all but one), got {n_jobs!r}"
            )
    try:
        instantiate(cfg.hydra.launcher)
    except InstantiationException as error:
        cause = error.__cause__
        if isinstance(cause, ImportError) or "Error locating target" in str(error):
            extra = LAUNCHER_EXTRAS.get(choice)
            install = f"pip install 'crowdlab[{extra}]'" if extra else "install its Hydra plugin"
            raise ConfigError(f"hydra/launcher={choice} needs its plugin, which is not installed: {install}") from None
        raise ConfigError(f"hydra.launcher ({choice}): {cause if cause is not None else error}") from None


def check_sweep_dir(cfg: DictConfig, overrides: list[str]) -> None:
    """A sweep rerun into a folder that holds another sweep would mix their jobs (and collect would summarise both):
    refused, naming the sweep that is there. The same sweep resumes."""
    record = Path(str(cfg.hydra.sweep.dir)) / "multirun.yaml"
    if not record.is_file():
        return
    old = OmegaConf.load(record)
    old_overrides = [str(o) for o in OmegaConf.select(old, "hydra.overrides.task", default=[]) or []]
    old_params, new_params = sweeper_params(old), sweeper_params(cfg)
    if old_overrides == overrides and old_params == new_params:
        return
    if sorted(old_overrides) == sorted(overrides) and old_params == new_params:
        raise ConfigError(
            f"hydra.sweep.dir={cfg.hydra.sweep.dir} holds this sweep with its overrides in another order, which "
            f"numbers its jobs differently; to resume it give them in its order: {' '.join(old_overrides)}"
        )
    raise ConfigError(
        f"hydra.sweep.dir={cfg.hydra.sweep.dir} holds another sweep ({' '.join(old_overrides) or 'no overrides'}"
        + (f"; swept by its preset: {old_params}" if old_params else "")
        + "); rerun that command to resume it, or choose another hydra.sweep.dir"
    )


def sweeper_params(cfg: Any) -> dict[str, Any]:
    """A preset's sweeps (``hydra.sweeper.params``), as a dict."""
    params = OmegaConf.select(cfg, "hydra.sweeper.params", default=None)
    return OmegaConf.to_container(params) if isinstance(params, DictConfig) else {}  # type: ignore[return-value]


def read_command_line(arguments: list[str]) -> Any:
    """The command line as Hydra reads it (its flags and the overrides), or a :class:`ConfigError`."""
    from hydra._internal.utils import get_args_parser

    parser = get_args_parser()

    def refuse(message: str) -> None:
        raise ConfigError(f"cannot read the command line: {message} (Hydra's flags go before or after all overrides)")

    parser.error = refuse  # type: ignore[method-assign,assignment]
    args = parser.parse_args(arguments)
    modes = [flag for flag, on in (("--run", args.run), ("--multirun", args.multirun),
                                   ("--cfg", args.cfg), ("--info", args.info)) if on]  # fmt: skip
    if len(modes) > 1:
        raise ConfigError(f"give only one of --run, --multirun (-m), --cfg, --info; got {', '.join(modes)}")
    return args


def check_command_line(arguments: list[str]) -> list[str]:
    """Check ``crowdlab run``'s command line before Hydra runs (see the module's docstring). Returns the arguments,
    with map overrides of ``raters.archetypes`` made whole (:func:`full_mix`). Raises :class:`ConfigError` with a
    one-line message naming the key."""
    args = read_command_line(arguments)
    overrides = [str(o) for o in args.overrides]
    whole = {o: full_mix(o) for o in overrides}
    arguments = [whole.get(a, a) for a in arguments]
    if args.help or args.hydra_help or args.cfg or args.info or args.shell_completion:
        return arguments  # Hydra prints something and runs nothing; it reports the overrides it cannot apply
    check_list_groups(overrides, args.multirun)
    check_overrides([whole[o] for o in overrides], args.multirun)
    return arguments


def check_overrides(overrides: list[str], multirun: bool) -> None:
    """Sweeps of numbers written with thousands separators (a warning), every key and group option (composing the
    config with each sweep pinned to its first value), and every job's objects (:func:`prepare`) for the first value
    of each sweep and each other value with the rest pinned, the sweeps of a preset (``hydra.sweeper.params``)
    included."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    for argument in overrides:
        if THOUSANDS.match(argument) and not argument.lstrip("+~").startswith(("hydra.", "hydra/")):
            key, value = argument.split("=", 1)
            if multirun:
                print(f"crowdlab: warning: {argument} sweeps {value.split(',')} (Hydra splits on commas); for one "
                      f"number write {key}={value.replace(',', '')}", file=sys.stderr)  # fmt: skip
            else:
                raise ConfigError(f"{argument} is a sweep of several values (Hydra splits on commas); for one number "
                                  f"write {key}={value.replace(',', '')}")  # fmt: skip
    parser = OverridesParser.create()
    try:
        parsed = parser.parse_overrides(overrides)
    except HydraException as error:
        raise ConfigError(f"cannot read the overrides: {str(error).splitlines()[0]}") from None
    sweeps = [p.input_line for p in parsed if p.is_sweep_override()]
    if sweeps and not multirun:
        raise ConfigError(
            f"{sweeps[0]} is a sweep of several values (Hydra splits on commas); add -m to sweep them, or give one "
            "value (a number is written without thousands separators)"
        )
    for override in parsed:
        if override.is_sweep_override() and "interval(" in str(override.input_line):
            raise ConfigError(
                f"{override.input_line}: the sweeper takes lists of values and range(start, stop, step), not "
                "interval() (that is for Optuna-style sweepers)"
            )
    first = compose_checked(pinned_overrides(parsed))
    groups = {path.name for path in CONF.iterdir() if path.is_dir() and not path.name.startswith("_")}
    top = sorted({str(key) for key in OmegaConf.load(CONF / "config.yaml") if key != "defaults"} | groups)
    added = [p.key_or_group for p in parsed if p.is_add() and p.key_or_group.split(".")[0] not in top]
    if added:
        raise ConfigError(
            f"unknown key {added[0]!r}: + adds a key, and crowdlab reads none outside its groups; accepted top-level "
            f"keys: {', '.join(top)}"
        )
    if multirun:  # the sweeps of a preset, unless the command line sweeps the same key
        typed = {p.key_or_group for p in parsed}
        preset = [f"{k}={v}" for k, v in sweeper_params(first).items() if k not in typed]
        if preset:
            parsed = parser.parse_overrides(overrides + preset)
            first = compose_checked(pinned_overrides(parsed))
        check_launcher(first)
        check_sweep_dir(first, [o for o in overrides if not o.lstrip("+~").startswith(("hydra.", "hydra/"))])
    pinned = pinned_overrides(parsed)
    built: dict[str, Any] = {}
    prepare(fix_shares(first.copy(), pinned), built)  # the first job, built and checked (first stays as composed)
    with open_dict(first):
        del first["hydra"]  # the values below are checked on the job's own config
    for position, override in enumerate(parsed):  # every other swept value, with the rest pinned to their first
        if not override.is_sweep_override() or override.key_or_group.startswith("hydra."):
            continue  # (a launcher's setting: the launcher checks it)
        for value in sweep_values(override)[1:]:
            line = f"{override.get_key_element()}={value}"
            job_overrides = [*pinned[:position], line, *pinned[position + 1 :]]
            if (CONF / override.key_or_group).is_dir():  # a group option: compose it
                job = compose_checked(job_overrides)
                with open_dict(job):
                    del job["hydra"]
            else:  # a value: set on the first job's config, as Hydra applies value overrides after composing
                job = first.copy()
                with open_dict(job):
                    OmegaConf.update(job, override.key_or_group, parser.parse_override(line).value(), merge=True)
            fix_shares(job, job_overrides)
            prepare(job, built)


def sweep_values(override: Any) -> list[str]:
    """The values a sweep override takes, as override strings (a glob over a group's options expanded)."""
    from hydra.core.override_parser.types import Glob

    if isinstance(override.value(), Glob):
        return list(override.value().filter(group_options(override.key_or_group)))
    return list(override.sweep_string_iterator())


def pinned_overrides(parsed: list[Any]) -> list[str]:
    """The overrides with every sweep pinned to its first value."""
    return [f"{p.get_key_element()}={sweep_values(p)[0]}" if p.is_sweep_override() else str(p.input_line)
            for p in parsed]  # fmt: skip
