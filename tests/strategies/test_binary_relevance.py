"""Binary relevance against a hand count: each label is a separate yes/no vote."""

from __future__ import annotations

import pandas as pd
import pytest

from strategies.aggregation import AnswersError, BinaryRelevance, DawidSkene, MajorityVote


@pytest.fixture
def multi_label() -> pd.DataFrame:
    return pd.DataFrame(
        [("t1", "w1", ["house", "tree"]), ("t1", "w2", ["house"]), ("t1", "w3", ["house", "tree", "grass"]),
         ("t2", "w1", ["car"]), ("t2", "w2", ["car", "human"]), ("t2", "w3", ["train"])],
        columns=["task", "worker", "label"],
    )  # fmt: skip


def test_each_label_is_a_majority_vote_of_yes_and_no(multi_label):
    """t1: house 3 of 3, tree 2 of 3, grass 1 of 3; t2: car 2 of 3, human and train 1 of 3."""
    model = BinaryRelevance(MajorityVote()).fit(multi_label)
    assert model.labels_.to_dict() == {"t1": ["house", "tree"], "t2": ["car"]}
    assert model.labels_.name == "agg_label" and model.labels_.index.name == "task"
    assert sorted(model.aggregators_) == ["car", "grass", "house", "human", "train", "tree"]
    assert model.aggregators_["tree"].probas_.loc["t1", 1] == pytest.approx(2 / 3)


def test_any_aggregator_and_a_fresh_copy_per_label(multi_label):
    base = DawidSkene()
    model = BinaryRelevance(base).fit(multi_label)
    assert model.labels_["t1"] == ["house", "tree"]
    assert not hasattr(base, "labels_"), "the base aggregator itself stays unfitted"
    assert len({id(a) for a in model.aggregators_.values()}) == len(model.aggregators_)


def test_a_label_that_is_not_a_list_is_a_clear_error(multi_label):
    with pytest.raises(AnswersError, match="list of labels per row; row 0 holds 'house'"):
        BinaryRelevance(MajorityVote()).fit(multi_label.assign(label=["house"] * 6))
    with pytest.raises(TypeError, match="base_aggregator"):
        BinaryRelevance(object())
    with pytest.raises(TypeError, match=r"an aggregator instance, e.g. MajorityVote\(\)"):
        BinaryRelevance(MajorityVote)
