"""Run one campaign design ``n_replicates`` times and score every chosen aggregator.

    python -m experiments.run                                   # the defaults in conf/
    python -m experiments.run campaign.redundancy=5 aggregators=[majority_vote,dawid_skene,glad]
    python -m experiments.run -m campaign.redundancy=1,3,5 task.guideline_complexity=0,0.5,1
    python -m experiments.run experiment=condorcet raters.accuracy=0.6

Writes into the Hydra run directory (``results/runs/<date>/<time>``; one folder per job in a multirun):
``metrics.csv`` (one row per aggregator and replicate, with the config values that define the run), the tables
``answers.csv``, ``truth.csv``, ``items.csv``, ``raters.csv`` (all replicates, with a ``replicate`` column),
``ledger.json`` (one entry per replicate) and the resolved ``config.yaml``. Every file is written atomically.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import pandas as pd
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict
from tqdm import tqdm

from experiments.collect import summarise, wide_view
from experiments.detection import detector_columns
from experiments.downstream import Downstream
from experiments.metrics import evaluate, needs_gold, rater_quality_scores
from experiments.reward_model import RewardModel
from experiments.storage import (
    TABLE_FORMATS,
    remove_stale_temporaries,
    write_csv,
    write_json,
    write_table,
    write_text,
)
from sim import simulate
from sim.campaign import interactive_terminal, validate_design
from sim.validation import ConfigError, check_choice, check_int
from strategies.aggregation.base import SettingError

log = logging.getLogger(__name__)
# conf/hydra/launcher/ray.yaml and submitit_*.yaml carry the names their plugins register, so Hydra checks them against
# the plugins' schemas; its notice that this matching is deprecated tells a user nothing they can act on.
warnings.filterwarnings("ignore", message=r"\s*'hydra/launcher/\w+' is validated against ConfigStore schema")

CONF = Path(__file__).resolve().parents[1] / "conf"
QUALITY_METRICS: tuple[str, ...] = (
    "qc_precision", "qc_recall", "raters_turned_away", "score_precision", "score_recall",
)  # fmt: skip


def available(group: str) -> list[str]:
    return sorted(path.stem for path in (CONF / group).glob("*.yaml"))


def design_values(cfg: DictConfig) -> dict[str, Any]:
    """The config values that define the run, as flat ``group.key`` columns (lists and maps as JSON)."""
    values: dict[str, Any] = {"assignment": option_name("assignment", cfg.assignment)}
    values["quality"] = "+".join(cfg.get("quality") or {}) or "none"
    nodes = {group: cfg[group] for group in ("task", "raters", "campaign", "assignment")}
    nodes.update({f"quality.{name}": node for name, node in (cfg.get("quality") or {}).items()})
    for group in OPTIONAL_GROUPS:
        values[group] = option_name(group, cfg[group]) if cfg.get(group) is not None else "none"
        if cfg.get(group) is not None:
            nodes[group] = cfg[group]
    for group, config in nodes.items():
        node = OmegaConf.to_container(config, resolve=True)
        assert isinstance(node, dict)
        for key, value in node.items():
            key = str(key)
            if key == "_target_":
                continue
            if isinstance(value, dict) and key == "archetypes":
                values.update({f"{group}.{key}.{name}": share for name, share in value.items()})
            elif isinstance(value, list | dict):
                values[f"{group}.{key}"] = json.dumps(value)
            else:
                values[f"{group}.{key}"] = value
    return values


KIND_SHOWN: dict[str, tuple[str, ...]] = {
    "pairwise": ("kendall_tau", "spearman", "top10_recall", "score_rmse", "position_bias", "reward_accuracy",
                 "reward_accuracy_raw", "reward_accuracy_true", "fit_seconds"),
    "rating": ("mae", "rmse", "spearman", "accuracy", "fit_seconds"),
}  # fmt: skip
DOWNSTREAM_SHOWN: tuple[str, ...] = ("downstream_accuracy", "downstream_ece", "downstream_accuracy_gap")
OPTIONAL_GROUPS: tuple[str, ...] = ("features", "downstream")  # option "none" sets the group to null
ARCHETYPE_SHARE = re.compile(r"^\+{0,2}raters\.archetypes\.(\w+)=")


def fix_shares(cfg: DictConfig, overrides: list[str]) -> DictConfig:
    """``raters.archetypes.spammer=0.3`` means 30% spammers: each archetype set on its own this way keeps its share,
    the others are rescaled to fill the rest (the preset's 90% honest and 10% experts become 63% and 7%). Without
    this the shares would be renormalised, and 0.3 next to a mix that sums to 1 would give 23%. Changes ``cfg`` in
    place (and returns it); raises :class:`ConfigError` when the shares set sum to more than 1, or to less with no
    other archetype left to fill the rest."""
    # each name once (an override repeated, or set both on the command line and by a search, is one share)
    fixed = list(dict.fromkeys(match.group(1) for match in map(ARCHETYPE_SHARE.match, overrides) if match))
    shares = cfg.get("raters", {}).get("archetypes")
    if not fixed or not isinstance(shares, DictConfig) or not all(name in shares for name in fixed):
        return cfg  # nothing set one by one, or an unknown name: the population's own check names it
    values = {str(name): float(share) for name, share in shares.items() if isinstance(share, int | float)}
    if len(values) != len(shares) or any(share < 0 for share in values.values()):
        return cfg  # not numbers: the population's own check names them
    total = sum(values[name] for name in fixed)
    rest = sum(share for name, share in values.items() if name not in fixed)
    named = ", ".join(f"raters.archetypes.{name}={values[name]:g}" for name in fixed)
    if total > 1 + 1e-12:
        raise ConfigError(f"{named}: these shares sum to {total:g}; accepted values: shares that sum to at most 1")
    if total < 1 - 1e-12 and rest == 0:
        raise ConfigError(
            f"{named}: these shares sum to {total:g} and no other archetype has a share to fill the rest; give "
            "the others too, e.g. raters.archetypes.honest=" + f"{1 - total:g}"
        )
    scale = (1 - total) / rest if rest else 0.0
    with open_dict(cfg):
        for name, share in values.items():
            if name not in fixed:
                cfg.raters.archetypes[name] = round(share * scale, 12)
    return cfg


def remove_if_empty(folder: Path) -> None:
    """Remove a run folder that holds nothing but Hydra's own record (the run failed before writing a result)."""
    import shutil

    if folder.is_dir() and all(path.name == ".hydra" for path in folder.iterdir()):
        shutil.rmtree(folder)


def option_name(group: str, node: DictConfig) -> str:
    """The name of the ``conf/<group>/`` option whose ``_target_`` built ``node`` (its class name if none)."""
    target = str(OmegaConf.select(node, "_target_", default=""))
    matches: list[tuple[int, str]] = []
    for option in available(group):
        config = OmegaConf.to_container(OmegaConf.load(CONF / group / f"{option}.yaml"), resolve=False)
        if isinstance(config, dict) and str(config.get("_target_", "")) == target:
            # options of one class (downstream models, data sets) differ in a value: the most values in common wins
            same = sum(1 for key, value in config.items() if key in node and str(value) == str(node[key]))
            matches.append((-same, option))
    return min(matches)[1] if matches else target.rsplit(".", 1)[-1]


def _cached(built: dict[str, Any] | None, key: str, node: DictConfig, make: Any) -> Any:
    """``make()``, or the object already built for a node that resolves to the same config."""
    if built is None:
        return make()
    signature = f"{key}:{json.dumps(OmegaConf.to_container(node, resolve=True), sort_keys=True, default=str)}"
    if signature not in built:
        built[signature] = make()
    return built[signature]


def unknown_setting(error: InstantiationException, key: str, node: DictConfig) -> ConfigError | None:
    """For a failed build of ``key``: a :class:`ConfigError` naming the setting the class does not take and the
    ones it does, or None when that is not what went wrong (the caller re-raises the original)."""
    unknown = re.search(r"unexpected keyword argument '([^']+)'", str(error.__cause__))
    if unknown is None:
        return None
    settings = [str(k) for k in node if k not in ("_target_", unknown.group(1))]
    return ConfigError(
        f"{key}.{unknown.group(1)} is not a setting of {key} ({option_name(key.split('.')[0], node)}); "
        f"accepted keys: {', '.join(settings)}"
    )


def build_design(cfg: DictConfig, cache: dict[str, Any] | None = None) -> tuple[Any, Any, Any, Any, list[Any]]:
    """Task design, rater population, campaign, assignment policy and quality-control options from the config
    (``cache``: see :func:`prepare`)."""
    nodes = {"task": cfg.task, "raters": cfg.raters, "campaign": cfg.campaign, "assignment": cfg.assignment}
    nodes.update({f"quality.{name}": node for name, node in (cfg.get("quality") or {}).items()})
    built = {}
    for key, node in nodes.items():
        try:
            built[key] = _cached(cache, key, node, lambda node=node: instantiate(node, _convert_="all"))
        except InstantiationException as error:
            if (named := unknown_setting(error, key, node)) is None:
                raise
            raise named from None
    quality = [built[key] for key in built if key.startswith("quality.")]
    return built["task"], built["raters"], built["campaign"], built["assignment"], quality


# each task kind is scored by the aggregators of its own group; the other groups are not used
AGGREGATOR_GROUPS: dict[str, str] = {
    "categorical": "aggregators", "pairwise": "pairwise_aggregators", "rating": "numeric_aggregators",
}  # fmt: skip


def build_aggregators(
    cfg: DictConfig, cache: dict[str, Any] | None = None, group: str = "aggregators"
) -> dict[str, Any]:
    """Aggregator objects by their config name (conf/<group>/<name>.yaml), in the order chosen (``cache``: see
    :func:`prepare`). ``group``: ``aggregators`` (labels), ``pairwise_aggregators`` or ``numeric_aggregators``."""
    if group not in cfg or not cfg[group]:
        example = available(group)[0] if available(group) else "majority_vote"
        raise ConfigError(f"{group} must name at least one aggregator, e.g. {group}=[{example}]; accepted names: "
                          f"{available(group)}")  # fmt: skip
    built = {}
    for name, node in cfg[group].items():
        if not isinstance(node, DictConfig):  # an option file without its package line merged its keys in here
            raise ConfigError(
                f"{group}.{name} = {node!r} is not an aggregator: an aggregator's YAML file (one added through "
                f"hydra.searchpath, say) starts with the line '# @package {group}.NAME', NAME its file name, as "
                f"conf/{group}/{available(group)[0] if available(group) else 'NAME'}.yaml does"
            )
        try:
            built[str(name)] = _cached(cache, f"{group}.{name}", node, lambda node=node: instantiate(node))
        except InstantiationException as error:
            if isinstance(error.__cause__, SettingError):  # a hyperparameter outside its accepted values
                raise ConfigError(f"{group}.{name}.{error.__cause__}") from None
            raise
    return built


TABLES: tuple[str, ...] = ("answers", "truth", "items", "raters")


def finished(cfg: DictConfig, output_dir: Path) -> pd.DataFrame | None:
    """The metrics of a run already complete in ``output_dir`` with this very config (every file there, the same
    resolved config), else None: rerunning a sweep into its folder redoes only the jobs that did not finish."""
    config, metrics = output_dir / "config.yaml", output_dir / "metrics.csv"
    if not (config.is_file() and metrics.is_file() and (output_dir / "ledger.json").is_file()):
        return None
    if config.read_text(encoding="utf-8") != OmegaConf.to_yaml(cfg, resolve=True):
        return None
    table_format = cfg.get("output", {}).get("format", "parquet")
    if cfg.get("write_tables", True) and not all((output_dir / f"{t}.{table_format}").is_file() for t in TABLES):
        return None
    return pd.read_csv(metrics)


@dataclass(frozen=True)
class Job:
    """Everything one run needs, built from its config and checked: nothing is simulated before this succeeds."""

    seed: int
    n_replicates: int
    task: Any
    raters: Any
    campaign: Any
    assignment: Any
    quality: list[Any]
    aggregators: dict[str, Any]
    progress: bool
    table_format: str
    features: Any = None  # sim.features.FeatureSource, or None for items without features
    downstream: Any = None  # experiments.downstream.Downstream, experiments.reward_model.RewardModel, or None
    detectors: dict[str, Any] | None = None  # noisy-label detectors by config name (strategies.cleaning)


def prepare(cfg: DictConfig, built: dict[str, Any] | None = None) -> Job:
    """Build and check a run's objects (every check that needs no simulation). ``built`` caches objects by their
    resolved config across calls, for checking the many jobs of a sweep cheaply. Raises :class:`ConfigError`."""
    try:
        return _prepare(cfg, built)
    except InstantiationException as error:  # a constructor's own check: its message names the key
        if isinstance(error.__cause__, ConfigError):
            raise error.__cause__ from None
        raise


def _prepare(cfg: DictConfig, built: dict[str, Any] | None) -> Job:
    seed = check_int("seed", cfg.seed, 0)
    n_replicates = check_int("n_replicates", cfg.n_replicates, 1)
    task, raters, campaign, assignment, quality = build_design(cfg, built)
    features, downstream = (_optional(cfg, group, built) for group in OPTIONAL_GROUPS)
    if features is not None:
        task = features.adapt(task)  # a data set fixes the classes: every check below sees them
    aggregators = build_aggregators(cfg, built, AGGREGATOR_GROUPS[task.kind])
    if task.kind != "categorical":
        for group in ("downstream", "detectors"):
            if cfg.get(group):
                raise ConfigError(
                    f"{group} train on categorical labels, and task.kind = {task.kind}"
                    + (" (its reward model is scored in every run)" if task.kind == "pairwise" else "")
                    + f"; accepted values: {group}={'none' if group == 'downstream' else '[]'}"
                )
        validate_design(task, raters, campaign, assignment, quality, features)
        return Job(seed, n_replicates, task, raters, campaign, assignment, quality, aggregators,
                   _progress(cfg), _table_format(cfg), features,
                   RewardModel() if task.kind == "pairwise" else None, None)  # fmt: skip
    binary = [name for name, aggregator in aggregators.items() if getattr(aggregator, "binary_only", False)]
    if binary and task.n_classes > 2:
        raise ConfigError(
            f"aggregators {binary} work on two classes only, but task.n_classes = {task.n_classes}; accepted values: "
            "task.n_classes=2, or leave them out of aggregators"
        )
    gold_users = [name for name, aggregator in aggregators.items() if needs_gold(aggregator)]
    if gold_users and task.gold_fraction == 0:
        raise ConfigError(
            f"aggregators {gold_users} learn from gold answers, but task.gold_fraction is 0; accepted values: "
            "task.gold_fraction in (0, 1], e.g. task.gold_fraction=0.05"
        )
    progress = _progress(cfg)
    table_format = _table_format(cfg)
    if downstream is not None and features is None:
        raise ConfigError(
            f"downstream={option_name('downstream', cfg.downstream)} trains a model on the items' features, and the "
            "items have none (features=none); accepted values: features=gaussian, digits, wine or breast_cancer"
        )
    detectors = build_detectors(cfg, built)
    if detectors and features is None:
        raise ConfigError(
            f"detectors {list(detectors)} score the items' labels from their features, and the items have none "
            "(features=none); accepted values: features=gaussian, digits, wine or breast_cancer, or detectors=[]"
        )
    validate_design(task, raters, campaign, assignment, quality)
    return Job(seed, n_replicates, task, raters, campaign, assignment, quality, aggregators, progress, table_format,
               features, downstream, detectors)  # fmt: skip


def _progress(cfg: DictConfig) -> bool:
    progress = cfg.get("progress")
    if progress is not None and not isinstance(progress, bool):
        raise ConfigError(f"progress must be true, false or null (only on a terminal), got {progress!r}")
    return interactive_terminal() if progress is None else progress


def _table_format(cfg: DictConfig) -> str:
    return check_choice("output.format", cfg.get("output", {}).get("format", "parquet"), TABLE_FORMATS)


def build_detectors(cfg: DictConfig, cache: dict[str, Any] | None = None) -> dict[str, Any]:
    """Noisy-label detectors by their config name (conf/detectors/<name>.yaml), in the order chosen."""
    built = {}
    for name, node in (cfg.get("detectors") or {}).items():
        if not isinstance(node, DictConfig):
            raise ConfigError(
                f"detectors.{name} = {node!r} is not a detector: a detector's YAML file starts with the line "
                "'# @package detectors.NAME', NAME its file name, as conf/detectors/confident_learning.yaml does"
            )
        try:
            built[str(name)] = _cached(cache, f"detectors.{name}", node, lambda node=node: instantiate(node))
        except InstantiationException as error:
            if isinstance(error.__cause__, SettingError):
                raise ConfigError(f"detectors.{name}.{error.__cause__}") from None
            raise
        if getattr(built[str(name)], "score", None) == "test_influence":
            raise ConfigError(
                f"detectors.{name}.score=test_influence needs a test set with labels, which a campaign's detectors "
                "are not given (they score the training labels); accepted values: score=self_influence"
            )
    return built


def _optional(cfg: DictConfig, group: str, built: dict[str, Any] | None) -> Any:
    """The object of an optional group (``features``, ``downstream``), or None for its option ``none``."""
    node = cfg.get(group)
    if node is None:
        return None
    if not isinstance(node, DictConfig) or "_target_" not in node:
        raise ConfigError(f"{group} must be one of the options {available(group)}, got {node!r}")
    try:
        return _cached(built, group, node, lambda: instantiate(node, _convert_="all"))
    except InstantiationException as error:
        if (named := unknown_setting(error, group, node)) is None:
            raise
        raise named from None


def score_replicate(job: Job, replicate: int, rater_scores: bool = False) -> tuple[Any, list[dict[str, Any]]]:
    """Simulate replicate ``replicate`` of a prepared run and score every aggregator on its answers (they all see
    the same campaign): the campaign's result and one metrics row per aggregator."""
    result = simulate(job.task, job.raters, job.campaign, seed=job.seed, replicate=replicate, progress=job.progress,
                      assignment=job.assignment, quality=job.quality, features=job.features)  # fmt: skip
    quality_scores = rater_quality_scores(result, rater_scores) if job.quality or rater_scores else {}
    ceiling = job.downstream.ceiling(result, job.seed, replicate) if isinstance(job.downstream, Downstream) else {}
    rows = []
    for name, aggregator in job.aggregators.items():
        fitted = seeded(aggregator, job.seed, replicate)
        row = {"aggregator": name, **evaluate(fitted, result), **quality_scores}
        if result.kind == "pairwise" and job.downstream is not None:
            row.update(job.downstream.evaluate(result, getattr(fitted, "scores_", None), job.seed, replicate))
        elif job.downstream is not None:
            row.update(downstream_row(job.downstream, fitted, result, job.seed, replicate), **ceiling)
        if job.detectors and not result.worker_answers().empty:
            for detector_name, detector in job.detectors.items():
                mine = seeded(detector, job.seed, replicate)
                row.update(detector_columns(detector_name, mine, result, fitted.labels_))
        rows.append({**row, "seed": job.seed, "replicate": replicate})
    return result, rows


def downstream_row(downstream: Any, fitted: Any, result: Any, seed: int, replicate: int) -> dict[str, Any]:
    """The downstream model's scores trained on ``fitted``'s estimates (none when nothing was collected)."""
    if result.worker_answers().empty:
        return {"downstream_accuracy": 0.0, "downstream_training_items": 0.0}
    return downstream.evaluate(result, fitted.labels_, getattr(fitted, "probas_", None), seed, replicate)


def seeded(aggregator: Any, seed: int, replicate: int) -> Any:
    """A copy of ``aggregator`` whose integer ``random_state`` (its config's value) is combined with the run's seed
    and the replicate, so that replicates differ in the aggregator's own randomness (random restarts, random ties)
    as they do in the campaign's, and the same run gives the same numbers. Others are returned as they are."""
    import copy

    state = getattr(aggregator, "random_state", None)
    if isinstance(state, bool) or not isinstance(state, int):
        return aggregator
    mine = copy.copy(aggregator)
    mine.random_state = int(np.random.SeedSequence([state, seed, replicate]).generate_state(1)[0])
    return mine


def run(cfg: DictConfig, output_dir: str | Path | None = None) -> pd.DataFrame:
    """Simulate, aggregate and score; write the tables to ``output_dir`` if given; return the metrics table.

    With ``output_dir``: temporary files an interrupted write left there are removed first, and a run that is
    already complete there with the same config is not run again (its metrics are returned)."""
    if output_dir is not None:
        remove_stale_temporaries(Path(output_dir))
        done = finished(cfg, Path(output_dir))
        if done is not None:
            log.info("complete with the same config, not run again: %s", output_dir)
            return done
    job = prepare(cfg)
    n_replicates, progress = job.n_replicates, job.progress
    design = design_values(cfg)
    rows: list[dict[str, Any]] = []
    tables: dict[str, list[pd.DataFrame]] = {name: [] for name in TABLES}
    ledgers: list[dict[str, Any]] = []
    for replicate in tqdm(range(n_replicates), desc="replicates", disable=not progress or n_replicates == 1):
        result, scored = score_replicate(job, replicate, bool(cfg.get("rater_scores", False)))
        rows.extend({**row, **design} for row in scored)
        if output_dir is not None and cfg.get("write_tables", True):
            tables["answers"].append(result.answers.assign(replicate=replicate))
            tables["truth"].append(result.truth.reset_index().assign(replicate=replicate))
            tables["items"].append(result.items.assign(replicate=replicate))
            tables["raters"].append(result.raters.assign(replicate=replicate))
        ledgers.append(result.ledger)
    metrics = pd.DataFrame(rows)
    if output_dir is not None:
        output, table_format = Path(output_dir), job.table_format
        for name, parts in tables.items():
            if parts:
                write_table(pd.concat(parts, ignore_index=True), output, name, table_format)
        write_json(ledgers, output / "ledger.json")
        write_text(OmegaConf.to_yaml(cfg, resolve=True), output / "config.yaml")
        if table_format == "parquet":
            write_table(metrics, output, "metrics", "parquet")
        write_csv(metrics, output / "metrics.csv")  # also for spreadsheets; last: its presence marks a finished run
    return metrics


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> str:
    """One job: run it (unless complete already) and print its table. Returns ``"ran"`` or ``"complete"`` (the pool
    launcher counts them). Everything is printed in one write, so parallel jobs' tables do not interleave."""
    hydra_config = HydraConfig.get()
    output_dir = hydra_config.runtime.output_dir
    fix_shares(cfg, list(hydra_config.overrides.task))
    multirun = hydra_config.mode == RunMode.MULTIRUN
    header = f"#{hydra_config.job.num} {' '.join(hydra_config.overrides.task) or '(no overrides)'}" if multirun else ""
    swept = dict(getattr(hydra_config.sweeper, "params", None) or {})
    if swept and not multirun:  # a preset's sweep runs only with -m: say so, rather than run one point silently
        print(f"crowdlab: note: this config sweeps {', '.join(f'{k}={v}' for k, v in swept.items())} only with -m; "
              "this run is one job with the values above (add -m to run the sweep)", file=sys.stderr)  # fmt: skip
    try:
        remove_stale_temporaries(Path(output_dir))
        if finished(cfg, Path(output_dir)) is not None:
            write_out(f"{header}{': ' if header else ''}complete already with the same config, not run again: "
                      f"{output_dir}\n")  # fmt: skip
            return "complete"
        metrics = run(cfg, output_dir)
    except (ConfigError, InstantiationException) as error:
        cause = error.__cause__ if isinstance(error, InstantiationException) and error.__cause__ else error
        print(f"crowdlab: configuration error: {header + ': ' if header else ''}{cause}", file=sys.stderr)
        remove_if_empty(Path(output_dir))
        sys.exit(2)
    except KeyboardInterrupt:
        print(
            f"crowdlab: interrupted; finished runs are kept, the same command resumes ({output_dir})", file=sys.stderr
        )
        sys.exit(130)
    write_out((header + "\n" if header else "") + report(cfg, metrics) + f"results: {output_dir}\n")
    return "ran"


def write_out(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def report(cfg: DictConfig, metrics: pd.DataFrame) -> str:
    """The printed summary of a run: the campaign's first replicate, then every aggregator's scores over all."""
    # accuracy counts an unlabeled item as wrong; accuracy_labeled scores only the labeled ones: shown side by side
    kind = str(OmegaConf.select(cfg, "task.kind", default="categorical"))
    shown: tuple[str, ...] = KIND_SHOWN.get(kind, ())
    if not shown:
        shown = ("accuracy", "accuracy_labeled", "coverage", "macro_f1", "brier", "fit_seconds")
        shown += tuple(column for column in ("accuracy_gap", *DOWNSTREAM_SHOWN) if column in metrics.columns)
    table = wide_view(summarise(metrics, by=["aggregator"]), tuple(c for c in shown if c in metrics.columns))
    ledger = metrics.iloc[0]
    n = int(cfg.n_replicates)
    replicates = f" (first replicate of {n}; the table averages all {n}, ± is the half-width of a 95% interval)"
    per_item = (f"{ledger['comparisons_per_item']:.2f} comparisons per response" if kind == "pairwise"
                else f"{ledger['answers_per_item']:.2f} answers per item")  # fmt: skip
    lines = [
        f"{int(ledger['n_items'])} {'responses' if kind == 'pairwise' else 'items'}, {per_item}, spend "
        f"{ledger['spend']:.2f}, {ledger['duration_hours']:.2f} h, stopped: {ledger['stop_reason']}"
        + (replicates if n > 1 else "")
    ]
    lines.append(table.to_string(index=False))
    aurocs = [column for column in metrics.columns if column.startswith("auroc_")]
    if aurocs:
        by_aggregator = metrics.groupby("aggregator", sort=False)[aurocs].mean()
        by_aggregator.columns = [column.removeprefix("auroc_") for column in aurocs]
        lines.append("noisy-label detectors, AUROC against the labels that are wrong (mean over replicates):")
        lines.append(by_aggregator.round(3).reset_index().to_string(index=False))
    quality = [column for column in QUALITY_METRICS if column in metrics.columns]
    if quality:
        first = metrics.drop_duplicates("replicate")
        lines.append("quality control against the true archetypes (spammer, lazy, adversary): "
                     + ", ".join(f"{column} {first[column].mean():.3g}" for column in quality))  # fmt: skip
    return "\n".join(lines) + "\n"


def cli(arguments: list[str] | None = None) -> int:
    """``crowdlab run`` / ``python -m experiments.run``: check the command line, then hand over to Hydra."""
    if arguments is not None:
        sys.argv = [sys.argv[0], *arguments]
    from experiments.checks import check_command_line  # the checks import this module

    try:
        sys.argv[1:] = check_command_line(sys.argv[1:])
    except ConfigError as error:
        print(f"crowdlab: configuration error: {error}", file=sys.stderr)
        return 2
    try:
        main()
    except KeyboardInterrupt:  # between jobs, or in Hydra: the runs that finished are kept all the same
        print("crowdlab: interrupted; finished runs are kept, the same command resumes", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(cli())
