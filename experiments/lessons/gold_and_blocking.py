r"""Gold questions and blocking: find the spammers while the campaign runs, and stop paying them.

Spammers answer at random and fast, so they take more than their share of the work and majority vote cannot tell
their answers from anyone's. Gold questions (items with known labels mixed into every page, here 10% of the
answers) let the campaign block a rater once its gold record makes an accuracy below 0.6 more than 95% likely
(a Beta posterior on its accuracy: :class:`strategies.quality.GoldBlocking`); blocking without gold compares each
rater with the online Dawid-Skene consensus instead (:class:`strategies.quality.AgreementBlocking`). A blocked
rater's answers are dropped and its items handed to others. Every campaign here runs to completion, so the price
of control shows in the spend (gold answers are paid too) and its value in majority vote's accuracy.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from experiments.lessons.page import Findings
from experiments.metrics import rater_quality_scores
from sim import Campaign, RaterPopulation, TaskDesign, simulate
from strategies.aggregation import MajorityVote
from strategies.quality import AgreementBlocking, GoldBlocking, QualityControl

TITLE = "Gold questions and blocking: stop paying the spammers"
CLAIM = (
    "As the share of spammers grows, majority vote's labels get worse; blocking raters whose gold answers show "
    "them near chance keeps the labels as good as with no spammers at all, for the price of the gold questions and "
    "of the answers redone. Blocking on agreement with the consensus needs no gold and does as well here."
)
TRY = "crowdlab run -m experiment=quality_control && crowdlab collect <sweep dir>"
SOURCE = (
    "Oleson et al., 'Programmatic gold: targeted and scalable quality assurance in crowdsourcing', HCOMP 2011; "
    "Raykar and Yu, 'Eliminating spammers and ranking annotators for crowdsourced labeling tasks', JMLR 13, 2012."
)
CONTROLS: dict[str, list[QualityControl]] = {
    "no control": [],
    "gold blocking": [GoldBlocking(drop_answers=True)],
    "agreement blocking": [AgreementBlocking(drop_answers=True)],
}


def run(small: bool = False, seed: int = 0) -> Findings:
    n_items = 1500 if small else 3000
    shares = (0.0, 0.2, 0.4) if small else (0.0, 0.1, 0.2, 0.3, 0.4)
    rows = []
    for share in shares:
        for name, quality in CONTROLS.items():
            archetypes = {"honest": 0.9 * (1 - share), "expert": 0.1 * (1 - share), "spammer": share}
            raters = RaterPopulation(archetypes={k: v for k, v in archetypes.items() if v > 0}, sessions=20)
            task = TaskDesign(n_items=n_items, gold_fraction=0.1)
            result = simulate(task, raters, Campaign(redundancy=3), seed=seed, quality=quality)
            labels = MajorityVote().fit_predict(result.worker_answers())
            judged = rater_quality_scores(result)
            rows.append({"spammer_share": share, "control": name, "n_items": n_items,
                         "accuracy": float((labels.reindex(result.truth.index) == result.truth).mean()),
                         "spend": result.ledger["spend"], "raters_turned_away": judged["raters_turned_away"],
                         "qc_precision": judged["qc_precision"], "qc_recall": judged["qc_recall"]})  # fmt: skip
    table = pd.DataFrame(rows)
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    for index, name in enumerate(CONTROLS):
        points = table[table["control"] == name]
        half = 1.96 * np.sqrt(points["accuracy"] * (1 - points["accuracy"]) / n_items)
        left.errorbar(points["spammer_share"], points["accuracy"], yerr=half, fmt="o-", color=f"C{index}",
                      capsize=2, label=str(name))  # fmt: skip
        right.plot(points["spammer_share"], points["spend"], "o-", color=f"C{index}", label=str(name))
    left.set(title="Majority vote of 3 answers: accuracy", xlabel="share of spammers in the rater pool",
             ylabel="share of items labeled right")  # fmt: skip
    right.set(title="Spend to finish the campaign (gold and redone answers included)",
              xlabel="share of spammers in the rater pool",
              ylabel="spend (dollars; 0.05 per answer)")  # fmt: skip
    left.legend(fontsize=8)
    right.legend(fontsize=8)
    figure.suptitle(f"Gold questions and blocking: 100 raters, {n_items} items, 10% gold, 95% intervals")
    worst = {str(row["control"]): row for row in table[table["spammer_share"] == max(shares)].to_dict("records")}
    gold = worst["gold blocking"]
    measured = [
        f"With {max(shares):.0%} spammers: "
        + ", ".join(f"{name} {worst[name]['accuracy']:.3f} at ${worst[name]['spend']:.0f}" for name in CONTROLS)
        + ".",
        f"Raters turned away by gold blocking: precision {gold['qc_precision']:.2f}, recall {gold['qc_recall']:.2f} "
        "against the true spammers.",
    ]
    return Findings({"gold_and_blocking": figure}, table, measured)
