"""Worker agreement with reference labels: the skill estimate shared by GoldMajorityVote, Wawa and
ZeroBasedSkill.

The reference is one label code per task: a gold label (GoldMajorityVote) or the current aggregate (Wawa,
ZBS). Tasks without a reference carry :data:`NO_REFERENCE` and do not count; a reference label that no worker
gave carries :data:`UNSEEN_LABEL`, which counts as answered but never as correct.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from strategies.aggregation.base import EncodedAnswers

NO_REFERENCE = -1
UNSEEN_LABEL = -2


def reference_codes(answers: EncodedAnswers, reference: pd.Series) -> np.ndarray:
    """(n_tasks,) label code of ``reference`` (a Series task -> label) per task of ``answers``.

    Tasks of ``answers`` missing from ``reference`` (or whose reference is NaN) get :data:`NO_REFERENCE`;
    reference tasks that are not in ``answers`` are ignored.
    """
    if reference.index.has_duplicates:
        duplicated = list(reference.index[reference.index.duplicated()].unique()[:5])
        raise ValueError(f"reference labels give more than one label to task(s) {duplicated}")
    reference = reference[reference.notna()]
    task_codes = answers.tasks.get_indexer(pd.Index(reference.index))
    known = task_codes >= 0
    label_codes = answers.labels.get_indexer(pd.Index(reference.to_numpy()[known]))
    codes = np.full(answers.n_tasks, NO_REFERENCE, dtype=np.int64)
    codes[task_codes[known]] = np.where(label_codes >= 0, label_codes, UNSEEN_LABEL)
    return codes


def agreement_counts(answers: EncodedAnswers, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per worker: (answers equal to the reference label, answers on tasks that have a reference), as floats.

    ``reference`` is an (n_tasks,) array of label codes as returned by :func:`reference_codes` or an
    aggregator's argmax. Duplicate answers of a worker to a task count separately, as they do in the vote.
    """
    task_reference = reference[answers.task]
    has_reference = task_reference != NO_REFERENCE
    answered = np.bincount(answers.worker, weights=has_reference, minlength=answers.n_workers)
    correct = np.bincount(answers.worker, weights=answers.label == task_reference, minlength=answers.n_workers)
    return correct, answered
