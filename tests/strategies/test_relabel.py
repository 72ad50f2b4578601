"""The relabeling policy: a first pass at fixed redundancy, then extra answers for exactly the share of items its
selection sends back, never from a rater who labeled the item; and a clear error where it cannot run."""

from __future__ import annotations

import numpy as np
import pytest

from sim import Campaign, ConfigError, RaterPopulation, TaskDesign, simulate
from sim.features import GaussianFeatures
from strategies.assignment import Relabel


def _run(policy, features=None, seed=2, n_items=600):
    task = TaskDesign(n_items=n_items, gold_fraction=0.05)
    return simulate(task, RaterPopulation(n_raters=30), Campaign(redundancy=3), seed=seed, assignment=policy,
                    features=features)  # fmt: skip


@pytest.mark.parametrize("selection", ["random", "uncertainty"])
def test_the_share_sent_back_gets_exactly_the_extra_answers(selection):
    result = _run(Relabel(share=0.2, extra_answers=2, selection=selection))
    items = result.items[~result.items["is_gold"]]
    counts = items["answers"].value_counts()
    assert counts.to_dict() == {3: 480, 5: 120}
    assert result.ledger["stop_reason"] == "complete" and items["done"].all()
    answers = result.worker_answers()
    assert not answers.duplicated(["task", "worker"]).any()  # no rater labels an item twice


def test_share_zero_is_the_first_pass_alone():
    items = _run(Relabel(share=0.0)).items
    assert (items.loc[~items["is_gold"], "answers"] == 3).all()


def test_uncertainty_sends_back_the_items_with_the_least_agreement():
    """Items the aggregator is least sure of after the first pass are mostly those whose three answers disagree
    (measured: 1.81 answers agree with the first pass's majority on the items sent back, 2.21 on the others;
    Dawid-Skene weighs raters, so agreement alone does not decide)."""
    result = _run(Relabel(share=0.2, selection="uncertainty"))
    first = result.answers.sort_values("t_start").groupby("task").head(3)
    first = first[~first["is_gold"]]
    agreement = first.groupby("task")["label"].agg(lambda labels: labels.value_counts().iloc[0])
    sent_back = result.items.set_index("task").loc[agreement.index, "answers"] == 5
    assert agreement[sent_back].mean() < agreement[~sent_back].mean() - 0.25


def test_the_detector_selection_needs_features_and_runs_with_them():
    with pytest.raises(ConfigError, match=r"assignment\.selection=detector"):
        _run(Relabel(share=0.1, selection="detector"))
    result = _run(Relabel(share=0.1, selection="detector"), features=GaussianFeatures())
    assert (result.items.loc[~result.items["is_gold"], "answers"] == 5).sum() == 60


def test_same_seed_same_relabeled_items():
    first, second = (_run(Relabel(share=0.2, selection="random")).items for _ in range(2))
    assert np.array_equal(first["answers"], second["answers"])


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"share": 1.5}, "assignment.share"),
        ({"extra_answers": 0}, "assignment.extra_answers"),
        ({"selection": "oracle"}, "assignment.selection"),
        ({"aggregator": "glad"}, "assignment.aggregator"),
        ({"extra_answers": 40}, "assignment.extra_answers = 40"),
    ],
)
def test_bad_settings_are_refused_by_name(settings, match):
    with pytest.raises(ConfigError, match=match):
        _run(Relabel(**settings), n_items=20)
