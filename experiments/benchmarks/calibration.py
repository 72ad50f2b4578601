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
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.calibrate import calibrate, predict, read_pilot
from strategies.aggregation import DawidSkene, MajorityVote

DATASETS = Path(__file__).resolve().parents[3] / "shared" / "datasets"
REDUNDANCIES = (1, 3, 5, 7)
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
                  rng: np.random.Generator) -> dict[str, float]:  # fmt: skip
    """Each aggregator's accuracy on the gold items when every item keeps ``redundancy`` of its real answers."""
    scores: dict[str, list[float]] = {name: [] for name in AGGREGATORS}
    for _ in range(subsamples):
        order = rng.permutation(len(answers))
        sub = answers.iloc[order].groupby("task", sort=False).head(redundancy)
        for name, make in AGGREGATORS.items():
            labels = make().fit(sub).labels_
            scores[name].append(float((labels.reindex(gold.index) == gold).mean()))
    return {name: float(np.mean(values)) for name, values in scores.items()}


def validate(name: str, pilots: int, bootstrap: int, subsamples: int, spammers: bool = False,
             root: Path = DATASETS) -> pd.DataFrame:  # fmt: skip
    answers = pd.read_csv(root / name / "labels.csv").drop_duplicates(["task", "worker"])
    gold = pd.read_csv(root / name / "gold.csv").set_index("task")["label"]
    answers = answers[answers["task"].isin(gold.index)]
    rng = np.random.default_rng([7, len(name)])
    real = {r: real_accuracy(answers, gold, r, subsamples, rng) for r in REDUNDANCIES}
    items = answers["task"].unique()
    rows = []
    for draw in range(pilots):
        chosen = rng.choice(items, size=max(2, round(0.2 * len(items))), replace=False)
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
            measured, point = real[redundancy][aggregator], float(row["accuracy"])
            low, high = float(row["ci_low"]), float(row["ci_high"])
            rows.append({
                "data set": name, "pilot": draw, "redundancy": redundancy, "aggregator": aggregator,
                "real": measured, "predicted": point, "ci_low": low, "ci_high": high,
                "error_points": 100 * (point - measured), "covered": low <= measured <= high,
            })  # fmt: skip
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pilots", type=int, default=3)
    parser.add_argument("--bootstrap", type=int, default=20)
    parser.add_argument("--subsamples", type=int, default=10)
    parser.add_argument("--spammers", action="store_true", help="model spammer-like raters as spammers")
    parser.add_argument("--sets", nargs="*", help="data sets (default: every eligible one)")
    args = parser.parse_args(argv)
    names = args.sets or eligible()
    table = pd.concat([validate(n, args.pilots, args.bootstrap, args.subsamples, args.spammers)
                       for n in names], ignore_index=True)  # fmt: skip
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        print(table.round(3).to_string(index=False))
        errors = table.assign(absolute_error_points=table["error_points"].abs())
        print(errors.groupby(["data set", "aggregator"])[["absolute_error_points", "covered"]].mean().round(3))
    print(
        f"cases={len(table)} mean_absolute_error_points={table['error_points'].abs().mean():.2f} "
        f"coverage={table['covered'].mean():.3f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
