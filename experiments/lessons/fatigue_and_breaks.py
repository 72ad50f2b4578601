r"""Fatigue and breaks: accuracy falls with time on task and a break restores it.

A rater loses :math:`F(\tau) = \phi\,(1 - e^{-\tau/T})` logits after :math:`\tau` minutes on task since the last
break, and a break of :math:`b` minutes shrinks :math:`\tau` by :math:`e^{-b/R}` (``raters.fatigue_max``,
``fatigue_tau_minutes``, ``recovery_tau_minutes``; :mod:`sim.response`; Boksem and Tops 2008 review mental fatigue
as a rise in errors with time on task that rest reverses). The campaign here is long enough for every rater to
work many sessions (20 raters, 4,000 items, 3 answers each: about six hours of work each), so the session length
decides how tired the raters get: the answers' accuracy against time on task, with the answer model's own
probability of a right answer averaged over the same answers beside it (the simulator is honest), and majority
vote's accuracy over the whole campaign against the session length.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import NullFormatter

from experiments.lessons.page import Findings
from sim import Campaign, RaterPopulation, TaskDesign, simulate
from strategies.aggregation import MajorityVote

TITLE = "Fatigue and breaks: accuracy falls with time on task"
CLAIM = (
    "The longer a rater works without a break, the more mistakes it makes; a break restores it. Campaigns with "
    "short sessions and breaks get more accurate labels from the same raters than campaigns of long sessions."
)
TRY = "crowdlab run -m experiment=fatigue_breaks && crowdlab collect <sweep dir>"
SOURCE = (
    "Boksem and Tops, 'Mental fatigue: costs and benefits', Brain Research Reviews 59(1), 2008; the fatigue and "
    "recovery curves of sim/response.py."
)
SESSIONS: tuple[int, ...] = (30, 60, 120, 240)
BINS: list[float] = [float(edge) for edge in range(0, 241, 20)]


def campaign(session_minutes: int, n_items: int, seed: int):
    raters = RaterPopulation(n_raters=20, archetypes={"honest": 1.0}, fatigue_max=1.5, fatigue_tau_minutes=45.0,
                             session_minutes=session_minutes, break_minutes=15.0, sessions=60)  # fmt: skip
    return simulate(TaskDesign(n_items=n_items, gold_fraction=0.0), raters, Campaign(redundancy=3), seed=seed)


def run(small: bool = False, seed: int = 0) -> Findings:
    n_items = 1500 if small else 4000
    by_time, by_session = [], []
    for minutes in SESSIONS:
        result = campaign(minutes, n_items, seed)
        situation = result.answer_situation()
        assert situation is not None
        answers = result.answers.assign(minutes_on_task=situation.time_on_task / 60.0)
        answers = answers.merge(result.items[["task", "true_label"]], on="task")
        answers["right"] = answers["label"] == answers["true_label"]
        bins = pd.cut(answers["minutes_on_task"], BINS, include_lowest=True)
        grouped = answers.groupby(bins, observed=True).agg(accuracy=("right", "mean"), model=("p_correct", "mean"),
                                                            n=("right", "size"))  # fmt: skip
        grouped["minutes_on_task"] = [interval.mid for interval in grouped.index]
        by_time.append(grouped.reset_index(drop=True).assign(session_minutes=minutes))
        labels = MajorityVote().fit_predict(result.worker_answers())
        by_session.append({"session_minutes": minutes, "n_items": n_items,
                           "accuracy": float((labels.reindex(result.truth.index) == result.truth).mean()),
                           "duration_hours": result.ledger["duration_hours"]})  # fmt: skip
    time_table = pd.concat(by_time, ignore_index=True)
    session_table = pd.DataFrame(by_session)
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    for index, (minutes, points) in enumerate(time_table.groupby("session_minutes")):
        points = points[points["n"] >= 30]
        half = 1.96 * np.sqrt(points["accuracy"] * (1 - points["accuracy"]) / points["n"])
        left.errorbar(points["minutes_on_task"], points["accuracy"], yerr=half, fmt="o", color=f"C{index}",
                      capsize=2, markersize=4, label=f"sessions of {minutes} min")  # fmt: skip
        left.plot(points["minutes_on_task"], points["model"], color=f"C{index}", linewidth=1)
    left.plot([], [], color="grey", linewidth=1, label="lines: the answer model's mean P(correct)")
    left.plot([], [], "o", color="grey", markersize=4, label="points: simulated answers")
    left.set(
        title="Answers: accuracy against time on task",
        xlabel="minutes on task since the last break (after recovery)",
        ylabel="share of answers right",
    )
    left.legend(fontsize=7)
    half = 1.96 * np.sqrt(session_table["accuracy"] * (1 - session_table["accuracy"]) / n_items)
    right.errorbar(session_table["session_minutes"], session_table["accuracy"], yerr=half, fmt="o-", capsize=3,
                   label="majority vote of 3 answers")  # fmt: skip
    right.set_xscale("log")
    right.set_xticks(list(SESSIONS), [str(minutes) for minutes in SESSIONS])
    right.xaxis.set_minor_formatter(NullFormatter())
    right.set(
        title="Labels: accuracy against session length",
        xlabel="session length before a break (minutes, log scale)",
        ylabel="share of items labeled right",
    )
    right.legend(fontsize=8)
    figure.suptitle(
        f"Fatigue and breaks: 20 honest raters, {n_items} items, 3 answers each, 15-minute breaks (95% intervals)"
    )
    longest = time_table[time_table["session_minutes"] == max(SESSIONS)]
    longest = longest[longest["n"] >= 30]
    measured = [
        f"Sessions of {max(SESSIONS)} minutes: answers are right {longest['accuracy'].iloc[0]:.3f} of the time in the "
        f"first {BINS[1]} minutes after a break and {longest['accuracy'].iloc[-1]:.3f} after "
        f"{longest['minutes_on_task'].iloc[-1]:.0f} minutes.",
        "Majority vote accuracy by session length: "
        + ", ".join(f"{row.session_minutes} min {row.accuracy:.3f}" for row in session_table.itertuples())
        + ".",
    ]
    table = time_table.merge(session_table.rename(columns={"accuracy": "campaign_accuracy"}), on="session_minutes")
    return Findings({"fatigue_and_breaks": figure}, table, measured)
