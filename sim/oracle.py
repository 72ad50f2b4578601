r"""The oracle: the Bayes posterior of each item's label given its answers, under the simulator's true answer model.

The simulator knows, for every answer, everything that shaped it except the item's label: the rater's parameters
and state (practice, fatigue, training, calibration, drift), the item's difficulty, and which guideline version
the rater worked by. What it must marginalise is the label :math:`z` and the item's confuser :math:`c \ne z` (the
wrong label raters fall for, drawn uniformly among the wrong ones). For item :math:`i` with answers
:math:`y_1 \dots y_m`,

.. math::
    P(z, y) = \sum_{c \ne z} P(z, c) \prod_a P(y_a \mid z, c, \text{situation}_a),

with :math:`P(z, c) = \pi_z / (K - 1)`. A revised item's labels swap at the revision (its label becomes its old
confuser and vice versa), so a rater who worked by the old guidelines answered as if :math:`(z, c)` were
:math:`(c, z)`, and :math:`P(z, c) = \pi_c / (K - 1)`. A colluder who copies its group's first answer :math:`L` with
probability :math:`\kappa` contributes :math:`\kappa [y = L] + (1 - \kappa) P(y \mid z, c)`; answers are
otherwise independent given the item and the raters' states, so this is the exact posterior. It is the upper bound
of every table: no aggregator, which sees only the answers, beats it in expectation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from sim.response import label_probabilities

if TYPE_CHECKING:
    from sim.records import CampaignResult


def class_priors(result: CampaignResult) -> pd.Series:
    situation = result.answer_situation()
    assert situation is not None
    priors = situation.design.priors
    return pd.Series(priors, index=pd.RangeIndex(priors.shape[0], name="label"), name="prior")


def log_joint(result: CampaignResult, answers: pd.DataFrame) -> pd.DataFrame:
    """log P(label = k, the task's answers in ``answers``) per task (rows, sorted) and label (columns).

    ``answers`` must be rows of ``result.answers`` (its index says which, as :meth:`CampaignResult.worker_answers`
    keeps it), with the labels the simulator recorded.
    """
    situation, items = result.answer_situation(), result.items_model
    if situation is None or items is None:
        raise ValueError("the oracle needs a simulated campaign's answer model (CampaignResult from sim.simulate)")
    rows = answers.index.to_numpy()
    if rows.size and (rows.min() < 0 or rows.max() >= len(result.answers)):
        raise ValueError("the oracle scores rows of result.answers: keep the index of result.worker_answers()")
    recorded = result.answers["label"].to_numpy()[rows]
    if not np.array_equal(recorded, answers["label"].to_numpy()):
        raise ValueError("the oracle scores the answers the simulator recorded: labels differ from result.answers")
    k = situation.n_classes
    sub = situation.subset(rows)
    task = result.answers["task"].to_numpy()[rows]
    tasks, task_code = np.unique(task, return_inverse=True)
    label = recorded
    # labels are scored under the final definitions: the revised ones if the revision happened, else the first
    swapped = items.revised if result.revised and items.revised is not None else None
    old_view = np.zeros(rows.shape[0], dtype=bool)  # the rater worked by the old labels of a revised item
    if swapped is not None and items.version_label is not None:
        old_view = swapped[task] & (sub.true_label != items.version_label[1][task])
    follower = None
    if result.leader_label is not None:
        leader = result.leader_label[rows]
        follower = leader >= 0
    priors = situation.design.priors
    item_revised = np.zeros(tasks.shape[0], dtype=bool) if swapped is None else swapped[tasks]
    joint = np.full((tasks.shape[0], k), -np.inf)
    index = np.arange(rows.shape[0])
    for z in range(k):
        terms = []
        for c in range(k):
            if c == z:
                continue
            perceived = np.where(old_view, c, z)
            confuser = np.where(old_view, z, c)
            p = label_probabilities(sub.with_labels(perceived, confuser))[index, label]
            if follower is not None and follower.any():
                kappa = result.copy_probability
                p = np.where(follower, kappa * (label == leader) + (1 - kappa) * p, p)
            with np.errstate(divide="ignore"):
                log_p = np.log(p)
            per_task = np.bincount(task_code, weights=log_p, minlength=tasks.shape[0])
            # bincount turns -inf + finite into -inf but NaN for -inf - -inf never arises: logs are <= 0
            log_prior = np.where(item_revised, np.log(priors[c]), np.log(priors[z])) - np.log(k - 1)
            terms.append(per_task + log_prior)
        joint[:, z] = logsumexp(np.stack(terms), axis=0)
    return pd.DataFrame(joint, index=pd.Index(tasks, name="task"), columns=pd.RangeIndex(k, name="label"))
