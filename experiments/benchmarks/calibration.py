"""Pilot validation on real data: can ``crowdlab calibrate`` predict, from a small pilot, what a full campaign's
answers give?

    python -m experiments.benchmarks.calibration [--pilots 3 --bootstrap 20 --subsamples 10]

For every categorical data set in ../shared/datasets with at least 10 answers per item on average: take a pilot of 3
answers per item on a random 20% of the items (with those items' gold), calibrate on it, and predict majority-vote
and Dawid-Skene accuracy at redundancy 1, 3, 5 and 7 on all the set's items (its number of items and of workers);
compare with the accuracy measured by subsampling the real answers at that redundancy (each item's answers drawn
without replacement, averaged over ``--subsamples`` draws). Each of ``--pilots`` pilots is another random draw.
Prints the table, then a last line ``cases=N mean_absolute_error_points=E coverage=C`` (targets, issue 9: E at most
3, C at least 0.8).

``floor_points`` is what no predictor from such a pilot can beat without knowing the other items: the expected
error of predicting a set's accuracy at a redundancy from its pilot items' own accuracies at that redundancy, known
exactly (see :func:`sampling_floor`). It is large where the pilot is small and the items differ: bluebirds' 22
pilot items leave 3 to 5 points.

Answers per item count distinct (task, worker) pairs: a rater's repeated answer to an item is not another rater's
answer, and subsampling draws raters without replacement. So zencrowd_all (10.71 rows per item in its file, with
repeated pairs; 9.87 distinct) is not eligible; ``--sets zencrowd_all`` runs it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.calibrate import calibrate, debiased_effects, predict, read_pilot
from sim.streams import stream
from strategies.aggregation import DawidSkene, MajorityVote

DATASETS = Path(__file__).resolve().parents[3] / "shared" / "datasets"
REDUNDANCIES = (1, 3, 5, 7)
# the sets the spreads' prior comes from (experiments.calibrate.SPREAD_PRIOR_MEAN): those not eligible for validation
PRIOR_SETS = ("music", "product", "relevance", "web", "zencrowd_all")
AGGREGATORS = {"majority_vote": MajorityVote, "dawid_skene": DawidSkene}


def eligible(root: Path = DATASETS) -> list[str]:
    """Categorical sets with at least 10 answers per item on average."""
    names = []
    for folder in sorted(root.iterdir()):
        if not (folder / "labels.csv").is_file() or folder.name == "emotion":  # emotion is numeric
            continue
        answers = pd.read_csv(folder / "labels.csv").drop_duplicates(["task", "worker"])
        if len(answers) / answers["task"].nunique() >= 10:
            names.append(folder.name)
    return names


def real_accuracy(answers: pd.DataFrame, gold: pd.Series, redundancy: int, subsamples: int,
                  rng: np.random.Generator) -> dict[str, np.ndarray]:  # fmt: skip
    """Each aggregator's accuracy on each gold item (in ``gold``'s order) when every item keeps ``redundancy`` of its
    real answers: the share of ``subsamples`` subsamples in which the item is labeled right. Its mean over items is
    the set's accuracy at that redundancy."""
    scores: dict[str, list[np.ndarray]] = {name: [] for name in AGGREGATORS}
    for _ in range(subsamples):
        order = rng.permutation(len(answers))
        sub = answers.iloc[order].groupby("task", sort=False).head(redundancy)
        for name, make in AGGREGATORS.items():
            labels = make().fit(sub).labels_
            scores[name].append((labels.reindex(gold.index) == gold).to_numpy(dtype=float))
    return {name: np.mean(values, axis=0) for name, values in scores.items()}


def sampling_floor(per_item: np.ndarray, sample: int, draws: int | None = None) -> float:
    """Expected absolute error of the mean of ``per_item`` over a simple random sample of ``sample`` of its values
    (without replacement) as an estimate of its mean over all: the error a pilot on ``sample`` items leaves even if it
    knew each of its items' accuracy exactly. The sample mean's variance is ``s^2 (N - n) / (N n)`` with ``s^2``
    the population variance with divisor ``N - 1`` (Cochran, *Sampling Techniques*, 3rd ed., 1977, eq. 2.8); the
    error is taken as normal, so E|error| = sd sqrt(2 / pi).

    ``draws``: each value is a share of right answers over this many independent subsamples, so its spread holds
    their binomial noise too; the mean of ``v (1 - v) / (draws - 1)``, the unbiased estimate of that noise's
    variance, is taken off ``s^2`` (not below 0)."""
    n_items = per_item.shape[0]
    if not 0 < sample <= n_items:
        raise ValueError(f"sample = {sample} must be in 1..{n_items} (the number of items)")
    if draws is not None and draws < 2:
        raise ValueError(f"draws = {draws} must be at least 2 to estimate the subsamples' noise (or None)")
    if sample == n_items:
        return 0.0
    spread = float(np.var(per_item, ddof=1))
    if draws is not None:
        spread = max(0.0, spread - float(np.mean(per_item * (1.0 - per_item))) / (draws - 1))
    return float(np.sqrt(2.0 * spread * (n_items - sample) / (n_items * sample) / np.pi))


def gold_answers(name: str, root: Path = DATASETS) -> tuple[pd.DataFrame, pd.Series]:
    """A set's distinct (task, worker) answers to its gold items, and the gold labels."""
    answers = pd.read_csv(root / name / "labels.csv").drop_duplicates(["task", "worker"])
    gold = pd.read_csv(root / name / "gold.csv").set_index("task")["label"]
    return answers[answers["task"].isin(gold.index)], gold


def spread_prior(names: tuple[str, ...] = PRIOR_SETS, root: Path = DATASETS) -> tuple[np.ndarray, np.ndarray]:
    """The mean and standard deviation, over ``names``, of the (log ability_sd, log difficulty_sd) fitted as
    ``crowdlab calibrate`` fits a pilot (debiased crossed effects) on all of each set's answers to gold items."""
    fitted = []
    for name in names:
        answers, gold = gold_answers(name, root)
        right = (answers["label"].to_numpy() == gold.reindex(answers["task"]).to_numpy()).astype(float)
        theta, _ = debiased_effects(right, answers["worker"].to_numpy(), answers["task"].to_numpy(),
                                    stream(0, 0, "calibration", 1))  # fmt: skip
        fitted.append(theta[1:])
    values = np.array(fitted)
    return values.mean(axis=0), values.std(axis=0, ddof=1)


def validate(name: str, pilots: int, bootstrap: int, subsamples: int, spammers: bool = False,
             root: Path = DATASETS) -> pd.DataFrame:  # fmt: skip
    answers, gold = gold_answers(name, root)
    rng = np.random.default_rng([7, len(name)])
    real = {r: real_accuracy(answers, gold, r, subsamples, rng) for r in REDUNDANCIES}
    items = answers["task"].unique()
    pilot_items = max(2, round(0.2 * len(items)))
    draws = subsamples if subsamples > 1 else None
    floors = {(r, name): sampling_floor(per_item, pilot_items, draws) for r, by in real.items()
              for name, per_item in by.items()}  # fmt: skip
    rows = []
    for draw in range(pilots):
        chosen = rng.choice(items, size=pilot_items, replace=False)
        pool = answers[answers["task"].isin(chosen)]
        pilot_answers = pool.iloc[rng.permutation(len(pool))].groupby("task", sort=False).head(3)
        pilot = read_pilot(pilot_answers, gold[gold.index.isin(chosen)], name)
        whole, fits = calibrate(pilot, bootstrap, seed=draw, spammers=spammers)
        settings = [f"task.n_items={len(items)}", f"raters.n_raters={answers['worker'].nunique()}"]
        predicted = predict(
            fits, "campaign.redundancy", list(REDUNDANCIES), list(AGGREGATORS), settings, seed=draw, whole=whole
        )
        for row in predicted.to_dict("records"):
            redundancy, aggregator = int(row["campaign.redundancy"]), str(row["aggregator"])
            measured, point = float(real[redundancy][aggregator].mean()), float(row["accuracy"])
            low, high = float(row["ci_low"]), float(row["ci_high"])
            rows.append({
                "data set": name, "pilot": draw, "redundancy": redundancy, "aggregator": aggregator,
                "real": measured, "predicted": point, "ci_low": low, "ci_high": high,
                "error_points": 100 * (point - measured), "covered": low <= measured <= high,
                "floor_points": 100 * floors[redundancy, aggregator],
            })  # fmt: skip
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pilots", type=int, default=3)
    parser.add_argument("--bootstrap", type=int, default=20)
    parser.add_argument("--subsamples", type=int, default=10)
    parser.add_argument("--spammers", action="store_true", help="model spammer-like raters as spammers")
    parser.add_argument("--sets", nargs="*", help="data sets (default: every eligible one)")
    parser.add_argument("--prior", action="store_true", help="print the spreads' prior from PRIOR_SETS and stop")
    args = parser.parse_args(argv)
    if args.prior:
        mean, sd = spread_prior()
        print(f"spread prior from {', '.join(PRIOR_SETS)}: log ability_sd, log difficulty_sd")
        print(f"SPREAD_PRIOR_MEAN = ({mean[0]:.3f}, {mean[1]:.3f})\nSPREAD_PRIOR_SD = ({sd[0]:.3f}, {sd[1]:.3f})")
        return 0
    names = args.sets or eligible()
    table = pd.concat([validate(n, args.pilots, args.bootstrap, args.subsamples, args.spammers)
                       for n in names], ignore_index=True)  # fmt: skip
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        print(table.round(3).to_string(index=False))
        errors = table.assign(absolute_error_points=table["error_points"].abs())
        print(errors.groupby(["data set", "aggregator"])[["absolute_error_points", "floor_points", "covered"]]
              .mean().round(3))  # fmt: skip
    print(f"floor_points={table['floor_points'].mean():.2f} (item sampling alone: each pilot item's accuracy known)")
    print(
        f"cases={len(table)} mean_absolute_error_points={table['error_points'].abs().mean():.2f} "
        f"coverage={table['covered'].mean():.3f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
