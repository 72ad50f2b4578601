"""Each lesson's claim, asserted at small size against its closed form; and `crowdlab lesson` writes the page."""

from __future__ import annotations

import numpy as np
import pytest

from experiments.cli import main as crowdlab
from experiments.lessons import (
    adaptive_redundancy,
    condorcet,
    correlated_errors,
    dont_label_twice,
    fatigue_and_breaks,
    gold_and_blocking,
    guideline_complexity,
    heterogeneous_crowd,
    label_noise_and_models,
    lessons,
    spammers,
)
from experiments.lessons.page import notebook


def test_condorcet_points_lie_on_the_binomial_curves():
    """Every simulated majority accuracy is within 3 standard errors of the binomial sum; below p = 1/2 the crowd
    gets worse as it grows, above it better."""
    table = condorcet.run(small=True).table
    z = (table["majority_accuracy"] - table["closed_form"]) / table["standard_error"]
    assert (np.abs(z) < 3).all(), table[np.abs(z) >= 3]
    for p, points in table.groupby("rater_accuracy"):
        ends = points.sort_values("crowd_size")["majority_accuracy"].to_numpy()[[0, -1]]
        assert (ends[1] > ends[0]) == (p > 0.5)


def test_two_weaker_raters_pull_the_majority_below_the_best_one_but_not_the_weighted_vote():
    """At q = 0.55 the closed form puts the majority of (0.9, q, q) at 0.748, below 0.9: the simulated majority is
    there within 3 standard errors and far below the best rater; the log-odds weighted vote matches the best."""
    table = heterogeneous_crowd.run(small=True).table
    at = table[table["weaker_accuracy"] == 0.55].set_index("method")["accuracy"]
    n = table["n_items"].iloc[0]
    closed = float(heterogeneous_crowd.majority_of_three(0.9, 0.55))
    assert abs(at["majority vote"] - closed) < 3 * np.sqrt(closed * (1 - closed) / n)
    assert at["majority vote"] < at["best rater alone"] - 0.1
    assert at["log-odds weighted vote"] >= at["best rater alone"] - 3 * np.sqrt(0.09 / n)
    high = table[table["weaker_accuracy"] == 0.85].set_index("method")["accuracy"]
    assert high["majority vote"] > high["best rater alone"]  # strong enough, they help (closed form 0.948)


def test_spammers_cost_majority_vote_the_square_and_the_best_methods_the_share():
    """Log-log slopes of the answers needed for 1% error against the informative share: -2 for majority vote, -1 for
    the oracle and Dawid-Skene, each within 20% (measured at small size: -2.22, -1.05, -1.16)."""
    findings = spammers.run(small=True)
    slopes = {line.split(" of ")[1].split(":")[0]: float(line.rsplit(" ", 1)[1].rstrip("."))
              for line in findings.measured if line.startswith("Fitted")}  # fmt: skip
    assert slopes["majority vote"] == pytest.approx(-2, rel=0.2)
    assert slopes["oracle"] == pytest.approx(-1, rel=0.2)
    assert slopes["Dawid-Skene"] == pytest.approx(-1, rel=0.2)


def test_the_lesson_command_lists_and_writes_a_page(tmp_path, capsys):
    assert crowdlab(["lesson", "--list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in lessons())
    assert crowdlab(["lesson", "heterogeneous_crowd", "--small", "--out", str(tmp_path)]) == 0
    for name in ("lesson.md", "lesson.html", "points.csv", "heterogeneous_crowd.png", "heterogeneous_crowd.svg"):
        assert (tmp_path / name).stat().st_size > 0, name
    page = (tmp_path / "lesson.md").read_text()
    assert heterogeneous_crowd.CLAIM in page and heterogeneous_crowd.TRY in page
    assert crowdlab(["lesson", "no_such_lesson"]) == 2
    assert "accepted values" in capsys.readouterr().err


def test_correlated_errors_follow_the_beta_binomial_curve_toward_its_plateau():
    """Every point within 3 standard errors of the beta-binomial sum; with correlation the curve flattens: the last
    step of crowd size gains less than a tenth of the first per added rater, and with correlation 0.15 or more the
    largest crowd (25) is within 0.03 of the plateau."""
    table = correlated_errors.run(small=True).table
    z = (table["majority_accuracy"] - table["closed_form"]) / table["standard_error"]
    assert (np.abs(z) < 3).all(), table[np.abs(z) >= 3]
    for rho, points in table[table["correlation"] > 0].groupby("correlation"):
        points = points.sort_values("crowd_size")
        gain = np.diff(points["closed_form"].to_numpy()) / np.diff(points["crowd_size"].to_numpy())
        assert gain[-1] < 0.1 * gain[0], rho
        if rho >= 0.15:
            assert abs(points["majority_accuracy"].iloc[-1] - points["plateau"].iloc[0]) < 0.03


def test_fatigue_lowers_answers_with_time_on_task_and_long_sessions_lower_the_labels():
    """Answers right after a break beat those after two hours on task; every bin's accuracy is within 3 standard
    errors of the answer model's own mean P(correct) there; majority vote falls from 30- to 240-minute sessions."""
    table = fatigue_and_breaks.run(small=True).table
    longest = table[(table["session_minutes"] == 240) & (table["n"] >= 30)].sort_values("minutes_on_task")
    assert longest["accuracy"].iloc[0] > longest["accuracy"].iloc[-1] + 0.08
    binned = table[table["n"] >= 30]
    z = (binned["accuracy"] - binned["model"]) / np.sqrt(binned["model"] * (1 - binned["model"]) / binned["n"])
    assert (np.abs(z) < 3.5).all()
    campaign = table.drop_duplicates("session_minutes").set_index("session_minutes")["campaign_accuracy"]
    assert campaign[30] > campaign[240] + 0.08


def test_complex_guidelines_hurt_untrained_raters_and_help_trained_ones():
    """Untrained, majority accuracy falls from complexity 0 to 1; trained for 20 minutes, it rises, and most on the
    ambiguous items the rule book covers (each change beyond 3 standard errors of the difference)."""
    table = guideline_complexity.run(small=True).table.set_index(["training_minutes", "complexity"])
    n = table["n_items"].iloc[0]
    margin = 3 * np.sqrt(2 * 0.25 / n)
    assert table.loc[(0.0, 0.0), "accuracy"] > table.loc[(0.0, 1.0), "accuracy"] + margin
    assert table.loc[(20.0, 1.0), "accuracy"] > table.loc[(20.0, 0.0), "accuracy"] + margin
    gain_ambiguous = table.loc[(20.0, 1.0), "accuracy_ambiguous"] - table.loc[(20.0, 0.0), "accuracy_ambiguous"]
    gain_clear = table.loc[(20.0, 1.0), "accuracy_clear"] - table.loc[(20.0, 0.0), "accuracy_clear"]
    assert gain_ambiguous > gain_clear + 0.1


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(lessons()))
def test_every_lesson_notebook_executes_at_small_size(name, tmp_path):
    """The notebook built from the module runs top to bottom in a fresh kernel and shows its figures (slow: CI's
    slow step runs it; each repeats its lesson's run, which the claim tests above already time)."""
    nbclient = pytest.importorskip("nbclient")
    book = notebook(name, small=True)
    client = nbclient.NotebookClient(book, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})  # fmt: skip
    client.execute()
    outputs = [output for cell in book.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [(output.ename, output.evalue) for output in outputs if output.output_type == "error"]
    assert any("image/png" in output.get("data", {}) for output in outputs)


def test_delta_margin_follows_the_gamblers_ruin_and_beats_fixed_redundancy():
    """Both policies' simulated accuracies are within 3 standard errors of their closed forms, delta margin's
    answers per item within 5% of the gambler's-ruin expectation, and it reaches fixed redundancy 9's accuracy with
    at least 25% fewer answers (measured at small size: delta 3, 6.4 answers, 29% fewer)."""
    table = adaptive_redundancy.run(small=True).table
    se = np.sqrt(table["closed_form"] * (1 - table["closed_form"]) / table["n_items"])
    assert (np.abs(table["accuracy"] - table["closed_form"]) < 3 * se + 1e-9).all()
    margin = table[table["policy"] == "delta margin"]
    np.testing.assert_allclose(margin["answers_per_item"], margin["closed_form_answers"], rtol=0.05)
    fixed_nine = table[(table["policy"] == "fixed redundancy") & (table["setting"] == 9)]["accuracy"].iloc[0]
    reaching = margin[margin["accuracy"] >= fixed_nine]
    assert reaching["answers_per_item"].iloc[0] <= 0.75 * 9


def test_blocking_keeps_the_labels_of_a_crowd_full_of_spammers():
    """With 40% spammers majority vote falls far below its spammer-free accuracy; with gold blocking it stays within
    0.06 of it, turning away nine spammers in ten or more (measured at small size: 0.757 with no spammers; with 40%,
    0.49 without control and 0.715 with gold blocking)."""
    table = gold_and_blocking.run(small=True).table.set_index(["spammer_share", "control"])
    assert table.loc[(0.4, "no control"), "accuracy"] < table.loc[(0.0, "no control"), "accuracy"] - 0.15
    assert table.loc[(0.4, "gold blocking"), "accuracy"] > table.loc[(0.0, "no control"), "accuracy"] - 0.06
    assert table.loc[(0.4, "agreement blocking"), "accuracy"] > table.loc[(0.4, "no control"), "accuracy"] + 0.15
    assert table.loc[(0.4, "gold blocking"), "qc_recall"] >= 0.9
    assert table.loc[(0.4, "gold blocking"), "spend"] > table.loc[(0.4, "no control"), "spend"]


def test_one_label_on_more_items_compares_classifiers_better_than_majority_labels():
    """Every simulated share of right comparisons is within 3 standard errors of the normal approximation, and over
    the budgets single labels rank the two classifiers right more often, by more than 3 standard errors."""
    table = dont_label_twice.run(small=True).table
    se = np.sqrt(table["closed_form"] * (1 - table["closed_form"]) / table["n_comparisons"])
    assert (np.abs(table["right_share"] - table["closed_form"]) < 3 * se).all()
    wide = table.pivot_table(index="budget", columns="redundancy", values="right_share")
    gain = (wide[1] - wide[3]).mean()
    variance = (wide * (1 - wide)).to_numpy().sum() / table["n_comparisons"].iloc[0] / len(wide) ** 2
    assert gain > 3 * np.sqrt(variance)  # measured at small size: 0.073 against 3 standard errors of 0.063


def test_label_noise_costs_flexible_models_more_than_linear_ones():
    """With one answer per item (about 60% right labels), gradient-boosted trees fall much further below their
    ceiling than logistic regression does, and more answers per item bring every model closer to its ceiling
    (measured at small size: logistic 0.015 below, trees 0.09 below)."""
    table = label_noise_and_models.run(small=True).table
    shortfall = (table["ceiling"] - table["downstream_accuracy"]).groupby([table["redundancy"], table["model"]]).first()
    assert shortfall[(1, "gradient_boosting")] > shortfall[(1, "logistic")] + 0.04
    for model in ("logistic", "gradient_boosting", "mlp"):
        assert shortfall[(7, model)] < shortfall[(1, model)]
