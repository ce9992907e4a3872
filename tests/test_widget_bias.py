"""Notebook 05's comparison helpers and BiasExplorer, headless: set values, read result / error."""

import numpy as np
import pytest
import torch

from lessons.baselines import EASE, Popularity
from lessons.metrics import short_head
from lessons.models import MatrixFactorization
from lessons.recommend import recommend
from lessons.widgets.alpha import ALPHA_TOOLTIP
from lessons.widgets.bias import BiasExplorer, bias_report, compare_models, decile_recall


@pytest.fixture(scope="module")
def split(tiny_split):
    return tiny_split


@pytest.fixture(scope="module")
def models(split):
    x = split.train_matrix()
    torch.manual_seed(0)
    mf = MatrixFactorization(split.n_users, split.n_items, dim=8)
    return {"Popularity": Popularity().fit(x), "EASE": EASE(lam=20.0).fit(x), "MF": mf}


@pytest.fixture(scope="module")
def scores(split, models):
    x = split.train_matrix()
    return {"Popularity": models["Popularity"].scores(x), "EASE": models["EASE"].scores(x)}


def test_compare_models_has_one_row_per_model(split, scores):
    table = compare_models(scores, split, k=5)
    assert list(table.index) == ["Popularity", "EASE"]
    assert list(table.columns) == [
        "recall@20", "ndcg@5", "coverage@5", "arp@5", "gini@5", "aplt@5", "reach@5",
    ]  # fmt: skip
    # Popularity shows one list to (nearly) everyone: coverage at most a few lists' worth,
    # and the most popular items reach every user.
    assert table.loc["Popularity", "coverage@5"] < table.loc["EASE", "coverage@5"]
    assert table.loc["Popularity", "reach@5"] == 1.0
    with pytest.raises(ValueError, match="empty"):
        compare_models({}, split)


def test_decile_recall_popularity_hits_only_the_head(split, scores):
    table = decile_recall(scores, split, k=5)
    assert list(table.index) == list(range(1, 11))
    assert list(table.columns) == ["Popularity", "EASE"]
    # The global top-5 (minus seen items) lies in the two most popular deciles of 80 items.
    assert np.nansum(table.loc[1:8, "Popularity"]) == 0


def test_bias_report_badges_follow_the_short_head(split, models):
    table, metrics = bias_report(models["EASE"], split, 4, k=7)
    assert len(table) == 7 and list(table["rank"]) == list(range(1, 8))
    head = short_head(split.item_popularity())
    expected = np.where(head[table["item"].to_numpy()], "head", "tail")
    assert list(table["badge"]) == list(expected)
    assert set(metrics) == {
        "recall@20", "ndcg@7", "coverage@7", "arp@7", "gini@7", "aplt@7", "reach@7",
    }  # fmt: skip


def test_explorer_switches_model_scoring_and_k(split, models):
    w = BiasExplorer(models, split, user=1, k=5)
    assert w.error is None and list(w.result[0]["rank"]) == [1, 2, 3, 4, 5]
    w.model.value = "MF"
    w.scoring.value = "cosine"
    assert w.error is None
    dot_free = w.result[1]
    w.scoring.value = "dot"
    w.alpha.value = 1.0
    assert w.error is None
    # α = 1 ranks like cosine (the user's norm does not change a user's order).
    assert w.result[1]["ndcg@5"] == pytest.approx(dot_free["ndcg@5"])
    at_1 = recommend(models["MF"], split, 1, 5, alpha=1.0)  # the user's list follows α too
    assert list(w.result[0]["item"]) == list(at_1["item"])
    w.alpha.value = 0.0
    assert list(w.result[0]["item"]) != list(at_1["item"])
    w.alpha.value = 1.0
    w.k.value = 3
    assert len(w.result[0]) == 3 and "coverage@3" in w.result[1]
    assert "badge" in w.output.value and "All test users" in w.output.value


def test_explorer_reports_refused_settings_and_recovers(split, models):
    w = BiasExplorer(models, split, user=0, k=5)
    before = w.result
    w.user.value = 10_000
    assert "unknown user" in w.error and w.result is before
    assert "unknown user" in w.status.value
    w.user.value = 2
    assert w.error is None and w.status.value == ""


def test_controls_that_cannot_apply_are_disabled_not_refused(split, models):
    """Bug: a baseline with cosine, or α with cosine, was refused after the move, with a
    message, though the panel knew beforehand: those controls are now greyed out, keep their
    values for the model or scoring they apply to, and the panel computes what they show."""
    w = BiasExplorer(models, split, user=1, k=5)
    assert w.scoring.disabled and w.alpha.disabled  # Popularity: its own scores
    w.alpha.value, w.scoring.value = 1.5, "cosine"
    assert w.error is None
    popular = recommend(models["Popularity"], split, 1, 5)
    assert list(w.result[0]["item"]) == list(popular["item"])
    w.model.value = "MF"  # cosine now applies, α still not (cosine divides by ‖V_j‖ itself)
    assert not w.scoring.disabled and w.alpha.disabled and w.error is None
    cosine = recommend(models["MF"], split, 1, 5, scoring="cosine")
    assert list(w.result[0]["item"]) == list(cosine["item"])
    w.scoring.value = "dot"  # α is back, at the value the learner left it
    assert not w.alpha.disabled and w.alpha.value == 1.5
    at_15 = recommend(models["MF"], split, 1, 5, alpha=1.5)
    assert list(w.result[0]["item"]) == list(at_15["item"])
    assert "<b>MF, dot, α = 1.50: user 1's top 5</b>" in w.output.value


def test_explorer_needs_models(split):
    with pytest.raises(ValueError, match="empty"):
        BiasExplorer({}, split)


def test_explorer_keeps_the_k_it_is_given_or_refuses_it(split, models):
    """Bug: the k slider's range was 1..50 and ipywidgets clamps silently, so BiasExplorer(k=80)
    showed @50 lists (and k=0 showed @1) while the notebook's own K was 80 or 0."""
    wide = BiasExplorer(models, split, k=60)  # above the slider's usual 50, within 80 items
    assert wide.k.value == 60 and wide.error is None
    assert {"ndcg@60", "coverage@60"} <= set(wide.result[1])
    for bad in (0, split.n_items + 1):
        with pytest.raises(ValueError, match="k must be an integer"):
            BiasExplorer(models, split, k=bad)


def test_the_controls_say_what_they_do_where_the_learner_moves_them(split, models):
    """A teacher projecting the panel has the notebook's text out of view: α and the scoring
    explain themselves in a tooltip."""
    w = BiasExplorer(models, split)
    assert w.alpha.tooltip == ALPHA_TOOLTIP and "‖V_j‖^α" in ALPHA_TOOLTIP
    assert "cosine: the angle" in w.scoring.tooltip


def test_the_list_names_its_settings_so_a_kept_one_is_not_misread(split, models):
    """Bug: after a refused input the panel kept the last list under controls that now read
    otherwise, and nothing in it said which model, scoring, k or user it was."""
    w = BiasExplorer(models, split, user=0, k=5)
    assert "<b>Popularity: user 0's top 5</b>" in w.output.value  # its own scores: no dot, no α
    w.model.value = "MF"
    assert "<b>MF, dot, α = 0.00: user 0's top 5</b>" in w.output.value
    w.scoring.value = "cosine"
    assert "<b>MF, cosine: user 0's top 5</b>" in w.output.value
    w.user.value = 10_000  # refused
    assert w.error and "last valid input" in w.status.value
    assert "<b>MF, cosine: user 0's top 5</b>" in w.output.value  # kept, and says so
    w.user.value = 3
    assert "<b>MF, cosine: user 3's top 5</b>" in w.output.value
    w.model.value = "Popularity"  # the scoring stays "cosine", greyed out: not in the heading
    assert "<b>Popularity: user 3's top 5</b>" in w.output.value
