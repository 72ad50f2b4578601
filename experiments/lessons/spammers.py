r"""Spammers: how many answers per item a target accuracy costs as the share of informative raters falls.

A share ``s`` of the raters are spammers (uniform answers), the others are right with probability ``p`` on a
two-class item. Karger, Oh and Shah (Operations Research 62(1), 2014) show that the answers per item needed for an
error rate :math:`\varepsilon` grow like :math:`\frac{1}{q}\log\frac{1}{\varepsilon}` for the best methods, with
:math:`q = E[(2p_j - 1)^2] = (1 - s)(2p - 1)^2` the crowd's quality, but like :math:`1/\mu^2`,
:math:`\mu = E[2p_j - 1] = (1 - s)(2p - 1)`, for majority vote: against the share of informative raters
:math:`1 - s`, a slope of -1 on a log-log plot for the best methods and -2 for majority vote.

One campaign per spammer share gives every item many answers; the answers per item ``l`` are then subsampled at
random per item, majority vote, Dawid-Skene and the oracle (the vote weighted by the true log-odds, 0 for a
spammer: the Bayes rule here) are scored at each ``l``, and the ``l`` that reaches the target error is read off by
interpolating log(error) between grid points.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import NullFormatter, ScalarFormatter

from experiments.lessons.page import Findings
from sim import Campaign, RaterPopulation, TaskDesign, simulate
from strategies.aggregation import DawidSkene, MajorityVote

TITLE = "Spammers: answers per item needed for 1% error as the share of informative raters falls"
CLAIM = (
    "Majority vote needs answers per item in proportion to one over the square of the informative raters' share; "
    "methods that learn who is informative (Dawid-Skene) need them only in proportion to one over the share, as "
    "the oracle does. With half the crowd spamming, that is, in theory, four times the answers against two."
)
TRY = "crowdlab run -m experiment=spammers"
SOURCE = (
    "Karger, Oh and Shah, 'Budget-optimal task allocation for reliable crowdsourcing systems', Operations Research "
    "62(1), 2014; Dawid and Skene, Applied Statistics 28(1), 1979."
)
ACCURACY = 0.75
TARGET_ERROR = 0.01
METHODS: tuple[str, ...] = ("majority vote", "Dawid-Skene", "oracle")


def answers_needed(lengths: np.ndarray, errors: np.ndarray, target: float) -> float:
    """The answers per item at which ``errors`` (measured at ``lengths``) first reach ``target``, by linear
    interpolation of log(error) between the grid points around it; NaN if the grid never reaches it."""
    below = np.flatnonzero(errors <= target)
    if below.size == 0:
        return float("nan")
    first = int(below[0])
    if first == 0:
        return float(lengths[0])
    low, high = np.log(np.maximum(errors[first - 1 : first + 1], 1e-6))
    share = (np.log(target) - low) / (high - low)
    return float(np.exp(np.log(lengths[first - 1]) + share * np.log(lengths[first] / lengths[first - 1])))


def campaign(spammer_share: float, n_items: int, n_raters: int, seed: int):
    task = TaskDesign(n_items=n_items, n_classes=2, difficulty_sd=0.0, ambiguous_fraction=0.0, gold_fraction=0.0)
    shares = {"condorcet": 1.0 - spammer_share, "spammer": spammer_share}
    raters = RaterPopulation(n_raters=n_raters, archetypes={k: v for k, v in shares.items() if v > 0},
                             accuracy=ACCURACY, sessions=100_000)  # fmt: skip
    return simulate(task, raters, Campaign(redundancy=n_raters - 10), seed=seed)


def errors_by_length(result, lengths: np.ndarray, seed: int) -> pd.DataFrame:
    """Error of each method on ``l`` answers per item, drawn at random among the item's answers."""
    answers = result.worker_answers().reset_index(drop=True)
    rank = np.random.default_rng(seed).permutation(len(answers))
    order = answers.assign(draw=rank).sort_values(["task", "draw"])
    order["position"] = order.groupby("task").cumcount()
    archetype = result.raters.set_index("worker")["archetype"]
    skills = pd.Series(np.where(archetype == "spammer", 0.0, np.log(ACCURACY / (1 - ACCURACY))), index=archetype.index)
    truth = result.truth
    rows = []
    for length in lengths:
        sample = order.loc[order["position"] < length, ["task", "worker", "label"]]
        labels = {
            "majority vote": MajorityVote().fit_predict(sample),
            "Dawid-Skene": DawidSkene().fit_predict(sample),
            "oracle": MajorityVote().fit_predict(sample, skills=skills),
        }
        for method, estimate in labels.items():
            rows.append({"answers_per_item": int(length), "method": method,
                         "error": float((estimate.reindex(truth.index) != truth).mean())})  # fmt: skip
    informative = float((archetype.loc[answers["worker"]] != "spammer").mean())
    return pd.DataFrame(rows).assign(informative_share=informative)


def run(small: bool = False, seed: int = 0) -> Findings:
    spammer_shares = (0.0, 0.25, 0.5) if small else (0.0, 0.15, 0.3, 0.4, 0.5)
    n_items, n_raters = (1000, 130) if small else (3000, 130)
    lengths = np.array([3, 5, 7, 9, 11, 15, 19, 25, 31, 41, 55, 71, 95, 119])
    lengths = lengths[lengths <= n_raters - 10]
    curves = pd.concat(
        [errors_by_length(campaign(share, n_items, n_raters, seed), lengths, seed).assign(spammer_share=share)
         for share in spammer_shares], ignore_index=True)  # fmt: skip
    half = 1.96 * np.sqrt(curves["error"] * (1 - curves["error"]) / n_items)
    curves = curves.assign(error_low=(curves["error"] - half).clip(lower=0), error_high=curves["error"] + half)
    needed = []
    for (share, method), points in curves.groupby(["spammer_share", "method"], sort=False):
        at = points["answers_per_item"].to_numpy()
        needed.append({"spammer_share": share, "method": method,
                       "informative_share": float(points["informative_share"].iloc[0]),
                       "answers_needed": answers_needed(at, points["error"].to_numpy(), TARGET_ERROR),
                       # where the interval's edges cross the target: the interval of the answers needed
                       "answers_needed_low": answers_needed(at, points["error_low"].to_numpy(), TARGET_ERROR),
                       "answers_needed_high": answers_needed(at, points["error_high"].to_numpy(),
                                                             TARGET_ERROR)})  # fmt: skip
    table = pd.DataFrame(needed)
    slopes = {}
    figure, (left, axes) = plt.subplots(1, 2, figsize=(13, 5))
    for index, (share, points) in enumerate(curves[curves["method"] != "oracle"].groupby("spammer_share")):
        for method, style in (("majority vote", "-"), ("Dawid-Skene", "--")):
            line = points[(points["method"] == method) & (points["error"] > 0)]  # no error: off a log scale
            left.errorbar(line["answers_per_item"], line["error"],
                          yerr=[line["error"] - line["error_low"], line["error_high"] - line["error"]],
                          fmt="o" + style, color=f"C{index}", markersize=3, capsize=2, linewidth=1,
                          label=f"{method}, {float(share):.0%} spammers")  # type: ignore[arg-type]  # fmt: skip
    left.axhline(TARGET_ERROR, color="grey", linestyle=":", label=f"target: {TARGET_ERROR:.0%} error")
    left.set_xscale("log")
    left.set_yscale("log")
    left.set(title="Error against answers per item (95% intervals; points without error left out)",
             xlabel="answers per item, log scale",
             ylabel="share of items labeled wrong, log scale")  # fmt: skip
    left.legend(fontsize=7, ncol=2)
    for index, method in enumerate(METHODS):
        points = table[(table["method"] == method) & table["answers_needed"].notna()]
        x, y = np.log(points["informative_share"]), np.log(points["answers_needed"])
        slope, intercept = np.polyfit(x, y, 1)
        slopes[method] = float(slope)
        error = [
            points["answers_needed"] - points["answers_needed_high"].fillna(points["answers_needed"]),
            points["answers_needed_low"].fillna(points["answers_needed"]) - points["answers_needed"],
        ]
        axes.errorbar(points["informative_share"], points["answers_needed"], yerr=np.abs(np.array(error)),
                      fmt="o", color=f"C{index}", capsize=2,
                      label=f"{method}, simulated (fitted slope {slope:.2f})")  # fmt: skip
        fine = np.linspace(points["informative_share"].min(), 1.0, 50)
        axes.plot(fine, np.exp(intercept) * fine**slope, color=f"C{index}", linewidth=0.8)
    lowest = float(table["informative_share"].min())
    fine = np.linspace(lowest, 1.0, 50)
    anchor = table[(table["method"] == "majority vote") & (table["spammer_share"] == 0.0)]["answers_needed"].iloc[0]
    oracle = table[(table["method"] == "oracle") & (table["spammer_share"] == 0.0)]["answers_needed"].iloc[0]
    axes.plot(fine, anchor * fine**-2.0, "k--", linewidth=0.9, label="slope -2 (Karger, Oh and Shah: majority vote)")
    axes.plot(fine, oracle * fine**-1.0, "k:", linewidth=0.9, label="slope -1 (Karger, Oh and Shah: best methods)")
    axes.set_xscale("log")
    axes.set_yscale("log")
    for axis in (axes.xaxis, axes.yaxis, left.xaxis):
        axis.set_major_formatter(ScalarFormatter())
        axis.set_minor_formatter(NullFormatter())
    axes.set_xticks([0.4, 0.5, 0.6, 0.7, 0.8, 1.0])
    axes.set_yticks([10, 20, 30, 50, 100])
    axes.set(title=f"Answers per item for {TARGET_ERROR:.0%} error", ylabel="answers per item needed, log scale",
             xlabel="share of answers from informative (non-spammer) raters, log scale")  # fmt: skip
    axes.legend(fontsize=8)
    figure.suptitle(f"Spammers (random answers) among raters {ACCURACY:.0%} accurate, two classes, {n_items} items")
    measured = [f"Fitted log-log slope of {method}: {slope:.2f}." for method, slope in slopes.items()]
    worst = table[table["spammer_share"] == max(spammer_shares)].set_index("method")["answers_needed"]
    measured.append(
        f"With {max(spammer_shares):.0%} spammers: majority vote needs {worst['majority vote']:.0f} "
        f"answers per item, Dawid-Skene {worst['Dawid-Skene']:.0f}, the oracle {worst['oracle']:.0f}."
    )
    return Findings({"spammers": figure}, table, measured)
