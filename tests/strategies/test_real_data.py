"""Acceptance on the real data sets of ../shared/datasets (INDEX.md), scored on the gold tasks only.

Published numbers: Crowd-Kit's table (Ustalov, Pavlichenko, Tseitlin, "Learning from Crowds with Crowd-Kit", JOSS
2024, joss/paper.md of Toloka/crowd-kit), computed on these same product and relevance files; INDEX.md's majority
vote with ties broken to the lowest label (every categorical data set) and its plain Dawid-Skene reference (full
confusion matrices, soft majority-vote start, smoothing 0.01, at most 100 iterations).
"""

from __future__ import annotations

import importlib

import pytest

from strategies.aggregation.scoring import evaluate

BELOW = 0.010  # ours may be at most 1.0 point below the published accuracy
EXPLAIN_ABOVE = 0.020  # more than 2 points above must be explained in test_published_accuracy's docstring

PUBLISHED = [
    ("MajorityVote", "product", 0.897), ("MajorityVote", "relevance", 0.536),
    ("Wawa", "product", 0.897), ("Wawa", "relevance", 0.557),
    ("DawidSkene", "product", 0.940), ("DawidSkene", "relevance", 0.615),
    ("GLAD", "product", 0.928), ("GLAD", "relevance", 0.511),
    ("KOS", "product", 0.895),
    ("MACE", "product", 0.929), ("MACE", "relevance", 0.501),
    ("MMSR", "relevance", 0.425),
    # INDEX.md: majority vote, ties -> lowest label
    ("MajorityVote", "bluebirds", 0.7593), ("MajorityVote", "rte", 0.9187), ("MajorityVote", "zencrowd_all", 0.8382),
    ("MajorityVote", "dog", 0.8178), ("MajorityVote", "web", 0.7765), ("MajorityVote", "music", 0.7114),
    # INDEX.md: plain Dawid-Skene
    ("DawidSkene", "rte", 0.928), ("DawidSkene", "bluebirds", 0.898), ("DawidSkene", "dog", 0.843),
    ("DawidSkene", "web", 0.822),
]  # fmt: skip
# Rows where ours is more than 1.0 point below the published number and the published number is not a converged
# fit of the method: the reference we check against instead (reproduced here), explained in the docstring below.
BELOW_EXPLAINED = {("GLAD", "relevance"): 0.500}
SLOW: set[tuple[str, str]] = set()  # (method, data set) pairs whose fit takes > 5 s on this 2-core machine


def aggregator_class(name: str) -> type:
    """The class ``strategies.aggregation.<name>``; skips the calling test while it is not written yet."""
    module = importlib.import_module("strategies.aggregation")
    if not hasattr(module, name):
        pytest.skip(f"strategies.aggregation.{name} is not importable yet")
    return getattr(module, name)


def rows(table: list[tuple[str, str, float]]) -> list:
    return [
        pytest.param(*row, id=f"{row[0]}-{row[1]}", marks=[pytest.mark.slow] if row[:2] in SLOW else [])
        for row in table
    ]


@pytest.mark.parametrize(("method", "dataset", "published"), rows(PUBLISHED))
def test_published_accuracy(method, dataset, published, load_real_dataset):
    """Ours is at most 1.0 point below the published accuracy; more than 2 points above, or a row of
    ``BELOW_EXPLAINED``, is explained here.

    Explanations (one entry per ``method/dataset:``, each measured before it was written):

    MACE/relevance: ours 0.622, published 0.501 (majority vote 0.536). The published number comes from crowd-kit
    1.4.2's misaligned MACE estimates (workers and labels indexed in order of first appearance, filled in sorted
    order): crowd-kit gives 0.501 on relevance as given and 0.387 on the same rows sorted by worker. Ours with the
    paper's uniform class prior gives 0.608, with the learned prior (default) 0.622; see tests/strategies/test_mace.py.

    GLAD/relevance: ours 0.5004 at convergence, 1.06 points below the published 0.511, checked against 0.500 instead.
    On relevance GLAD's accuracy falls as EM climbs its objective: 0.556 after 1 iteration, 0.524 after 10, 0.508
    after 20, 0.500 at convergence (the same with crowd-kit's 25 conjugate-gradient M-step rounds: 0.5007).
    crowd-kit 1.4.2 itself stops after 2 iterations on relevance.csv (its rule compares a normalised Q with an
    unnormalised one and stops on any decrease) at 0.5646, so the published 0.511 is a not-yet-converged value of
    the same model. Learning GLAD's class prior does not help (0.274). See tests/strategies/test_glad.py.
    """
    answers, gold = load_real_dataset(dataset)
    accuracy = evaluate(aggregator_class(method)(), answers, gold).accuracy
    print(f"{method} on {dataset}: {accuracy:.4f} (published {published:.3f}, difference {accuracy - published:+.4f})")
    doc = test_published_accuracy.__doc__ or ""
    if (method, dataset) in BELOW_EXPLAINED:
        assert f"{method}/{dataset}:" in doc, f"{method}/{dataset} is in BELOW_EXPLAINED but not explained"
        reference = BELOW_EXPLAINED[method, dataset]
        assert accuracy >= reference - BELOW, f"{method} on {dataset}: {accuracy:.4f} < reference {reference} - {BELOW}"
        return
    assert accuracy >= published - BELOW, f"{method} on {dataset}: {accuracy:.4f} < published {published} - {BELOW}"
    if accuracy > published + EXPLAIN_ABOVE:
        assert f"{method}/{dataset}:" in doc, (
            f"{method} on {dataset} scores {accuracy:.4f}, {100 * (accuracy - published):.1f} points above the "
            f"published {published}: add a checked explanation line '{method}/{dataset}: ...' to this docstring"
        )


@pytest.mark.parametrize("dataset", ["rte", "dog", "web", "bluebirds"])
def test_dawid_skene_at_least_as_good_as_majority_vote(dataset, load_real_dataset):
    answers, gold = load_real_dataset(dataset)
    majority = evaluate(aggregator_class("MajorityVote")(), answers, gold).accuracy
    dawid_skene = evaluate(aggregator_class("DawidSkene")(), answers, gold).accuracy
    print(f"{dataset}: DawidSkene {dawid_skene:.4f}, MajorityVote {majority:.4f}")
    assert dawid_skene >= majority


# Li, Rubinstein and Cohn (ICML 2019), INDEX.md: exact duplicate rows dropped, an m-way tie credited 1/m
LI_RUBINSTEIN_COHN = [
    ("IBCC", "bluebirds", 0.8889), ("IBCC", "rte", 0.9275), ("IBCC", "product", 0.9383),
    ("IBCC", "zencrowd_all", 0.7951), ("IBCC", "dog", 0.8389), ("IBCC", "web", 0.7508), ("IBCC", "music", 0.7900),
    ("BWA", "bluebirds", 0.7593), ("BWA", "rte", 0.9275), ("BWA", "product", 0.9194), ("BWA", "zencrowd_all", 0.8348),
    ("BWA", "dog", 0.8315), ("BWA", "web", 0.8225), ("BWA", "music", 0.7857),
    ("EBCC", "bluebirds", 0.8611), ("EBCC", "rte", 0.9313), ("EBCC", "product", 0.9349),
    ("EBCC", "zencrowd_all", 0.8623), ("EBCC", "dog", 0.8401), ("EBCC", "music", 0.7871),
]  # fmt: skip
EBCC_WEB = 0.7686  # their EBCC on web: see test_ebcc_finds_the_published_optimum_on_web


def fractional_tie_accuracy(probas, gold) -> float:
    """The share of gold tasks right, an m-way tie at the top posterior credited 1/m (Li et al.'s scoring)."""
    aligned = probas.reindex(gold.index)
    top = aligned.max(axis=1)
    tied = aligned.ge(top - 1e-12, axis=0) & aligned.notna()
    right = [float(tied.at[task, label]) / tied.loc[task].sum() if label in tied.columns and tied.loc[task].any()
             else 0.0 for task, label in gold.items()]  # fmt: skip
    return sum(right) / len(right)


@pytest.mark.parametrize(("method", "dataset", "published"), rows(LI_RUBINSTEIN_COHN))
def test_li_rubinstein_cohn_published_accuracy(method, dataset, published, load_real_dataset):
    """Within 1.0 point of the accuracy Li, Rubinstein and Cohn's notebooks print, scored their way."""
    answers, gold = load_real_dataset(dataset)
    aggregator = aggregator_class(method)().fit(answers.drop_duplicates())
    accuracy = fractional_tie_accuracy(aggregator.probas_, gold)
    print(f"{method} on {dataset}: {accuracy:.4f} (published {published:.4f})")
    assert abs(accuracy - published) <= BELOW, f"{method} on {dataset}: {accuracy:.4f}, published {published}"


@pytest.mark.slow
def test_ebcc_finds_the_published_optimum_on_web(load_real_dataset):
    """On web the bound has an optimum that about one random start in sixty reaches: the default 40 restarts keep
    a lower one (about 0.744). With 200 restarts the kept run is that optimum, within 1.0 point of the published
    accuracy, and its bound is the highest the 40 restarts found or higher."""
    answers, gold = load_real_dataset("web")
    answers = answers.drop_duplicates()
    default = aggregator_class("EBCC")().fit(answers)
    searched = aggregator_class("EBCC")(n_restarts=200).fit(answers)
    accuracy = fractional_tie_accuracy(searched.probas_, gold)
    print(
        f"EBCC on web: {accuracy:.4f} with 200 restarts (bound {searched.elbo_:.1f}), "
        f"{fractional_tie_accuracy(default.probas_, gold):.4f} with 40 (bound {default.elbo_:.1f})"
    )
    assert searched.elbo_ >= default.elbo_
    assert abs(accuracy - EBCC_WEB) <= BELOW
