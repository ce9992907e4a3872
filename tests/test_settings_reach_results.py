"""Settings, defaults and boundaries that must reach what a learner or a caller sees.

Each test guards a plausible bug that still looked right (found by mutation testing): an
argument passed on as a constant, a documented default that drifted, a boundary the panel
states but refuses, or a number computed from the wrong input. The expected values come from
the library function called directly with the setting, or from the documented value.
"""

import copy
import dataclasses

import numpy as np
import pandas as pd
import pytest

from lessons.baselines import EASE, Popularity
from lessons.config import DEFAULT_K, RECALL_K
from lessons.data import random_split
from lessons.evaluation_demos import scores_for
from lessons.experiments import textbook_dnn
from lessons.features import ad_hoc_query, query_features
from lessons.models import MatrixFactorization, SoftmaxDNN
from lessons.recommend import recommend, similar_items
from lessons.scoring import split_features
from lessons.train import fit
from lessons.widgets import AlphaExplorer, IVFExplorer, SplitExplorer, alpha_metrics, alpha_sweep
from lessons.widgets.bias import decile_recall
from lessons.widgets.build_user import build_user_report, title_options
from lessons.widgets.followed import FollowedUser
from lessons.widgets.logq import MAX_BATCH, logq_run
from lessons.widgets.split import make_split, popularity_metrics, split_report

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread is fastest


@pytest.fixture(scope="module")
def valid_split(tiny_data):
    """`tiny_data` with a validation part: 20% test, 10% validation."""
    return random_split(tiny_data, 0.2, valid_frac=0.1, seed=0)


# --- training ---------------------------------------------------------------------------------


def _first_loss(split, **kwargs) -> float:
    import torch

    torch.manual_seed(0)
    model = SoftmaxDNN(split.n_items, dim=8, hidden=(8,))
    history = fit(copy.deepcopy(model), split, epochs=1, eval_every=None, progress=False, **kwargs)
    return history.rows[0]["train_loss"]


def test_fit_divides_histories_at_the_target_share_given_default_one_half(tiny_split):
    """Catches: fit ignored `target_share` (the recipes' 0.6 / 0.2 trained at 0.5), or its
    documented default 0.5 drifted: the loss of a history model did not move with the share."""
    default, half = _first_loss(tiny_split), _first_loss(tiny_split, target_share=0.5)
    assert default == half
    assert _first_loss(tiny_split, target_share=0.2) != half


def test_fit_trains_twelve_epochs_by_default(tiny_split):
    """Catches: the documented default of 12 epochs changed: `fit(model, split)` trained fewer."""
    model = MatrixFactorization(tiny_split.n_users, tiny_split.n_items, dim=4)
    assert len(fit(model, tiny_split, eval_every=None, progress=False)) == 12


# --- recommend --------------------------------------------------------------------------------


def test_recommend_lists_default_k_items(tiny_split):
    """Catches: recommend's default k was not `DEFAULT_K`: a learner got a shorter list."""
    pop = Popularity().fit(tiny_split.train_matrix())
    assert len(recommend(pop, tiny_split, 0)) == DEFAULT_K == 10


def test_a_baselines_list_is_scored_from_the_history_evaluation_reads(valid_split):
    """Catches: recommend fed a baseline the validation items too, so its scores (and list) were
    not the ones evaluation ranked for that user."""
    ease = EASE(lam=10.0).fit(valid_split.train_matrix())
    users = np.arange(20)
    table = recommend(ease, valid_split, users, k=10)
    expected = scores_for(ease, valid_split)[table["user"], table["item"]]
    np.testing.assert_allclose(table["score"], expected, rtol=1e-5)


def test_similar_items_on_a_dataset_shows_item_interaction_counts(tiny_data, tiny_mf):
    """Catches: on a Dataset the popularity column counted the user column's ids, not the items'."""
    table = similar_items(tiny_mf, tiny_data, 0, k=tiny_data.n_items - 1)
    counts = np.bincount(tiny_data.interactions["item"], minlength=tiny_data.n_items)
    assert table["popularity"].tolist() == counts[table["item"]].tolist()


def test_gender_alone_changes_the_ad_hoc_query(tiny_data, tiny_split):
    """Catches: a visitor's gender was read as "M" whatever they chose."""
    features = split_features(tiny_split)
    rows = {g: ad_hoc_query(tiny_data, [0, 1], features=features, gender=g).side.tolist()
            for g in ("F", "M")}  # fmt: skip
    assert rows["F"] != rows["M"]


def test_a_bad_user_id_gets_the_lessons_message(tiny_data):
    """Catches: a history naming user n_users slipped past the range check, and scipy's index
    error reached the learner instead of a message saying which users are valid."""
    bad = pd.DataFrame({"user": [0, tiny_data.n_users], "item": [1, 2], "timestamp": [10, 20]})
    with pytest.raises(ValueError, match="user ids outside"):
        query_features(tiny_data, bad)


# --- norm exponent α (notebook 01) ------------------------------------------------------------


def test_alpha_sweep_measures_each_row_at_its_own_alpha(tiny_split, tiny_mf):
    """Catches: every row of the sweep was computed at the first α, so the table looked flat."""
    sweep = alpha_sweep(tiny_mf, tiny_split, [0.0, 2.0])
    for row in sweep.to_dict("records"):
        assert row == {"alpha": row["alpha"], **alpha_metrics(tiny_mf, tiny_split, row["alpha"])}
    assert sweep.iloc[0]["arp@10"] != sweep.iloc[1]["arp@10"]


def test_alpha_metrics_reports_every_metric_the_lesson_reads(tiny_split, tiny_mf):
    """Catches: a metric (APLT) dropped out of the α table and the notebook's column vanished."""
    assert set(alpha_metrics(tiny_mf, tiny_split, 1.0)) == {
        "recall@20", "ndcg@10", "coverage@10", "arp@10", "gini@10", "aplt@10",
    }  # fmt: skip


def test_the_alpha_explorer_list_follows_the_slider(tiny_split, tiny_mf):
    """Catches: the user's list ignored α: only the all-user metrics moved with the slider."""
    w = AlphaExplorer(tiny_mf, tiny_split, user=0)
    lists = []
    for alpha in (0.0, 2.0):
        w.alpha.value = alpha
        expected = recommend(tiny_mf, tiny_split, 0, alpha=alpha).drop(columns="user")
        assert w.error is None
        pd.testing.assert_frame_equal(w.result[0], expected)
        lists.append(w.result[0]["item"].tolist())
    assert lists[0] != lists[1]


# --- popularity bias (notebook 05) ------------------------------------------------------------


def test_decile_recall_leaves_validation_items_out_of_the_lists(valid_split):
    """Catches: only training items were excluded, so validation items took list slots (and
    recall) from the test items, unlike `evaluate`."""
    base = np.random.default_rng(0).random((valid_split.n_users, valid_split.n_items))
    boosted = base + 10 * valid_split.valid_matrix().toarray()  # validation items first
    pd.testing.assert_frame_equal(
        decile_recall({"m": boosted}, valid_split), decile_recall({"m": base}, valid_split)
    )


def test_decile_recall_defaults_to_recall_k(tiny_split):
    """Catches: decile_recall's default cut-off was NDCG's k, not Recall@20 as documented."""
    scores = {"m": np.random.default_rng(1).random((tiny_split.n_users, tiny_split.n_items))}
    default = decile_recall(scores, tiny_split)
    pd.testing.assert_frame_equal(default, decile_recall(scores, tiny_split, k=RECALL_K))
    assert not default.equals(decile_recall(scores, tiny_split, k=DEFAULT_K))


# --- split explorer (notebook 00) -------------------------------------------------------------


def test_split_report_uses_its_seed_for_the_popularity_tie_break(tiny_data):
    """Catches: split_report dropped its seed when scoring Popularity: ties among cold items were
    broken with seed 0 whatever the panel's seed."""
    split = make_split(tiny_data, "cold_items", 0.25, seed=3)
    _, metrics = split_report(tiny_data, "cold_items", 0.25, seed=3)
    assert metrics == popularity_metrics(split, 3) != popularity_metrics(split, 0)


def test_exactly_twenty_cold_items_are_enough(tiny_data):
    """Catches: 20 cold items, as many as Recall@20 needs, were refused as too few."""
    split = make_split(tiny_data, "cold_items", 0.25)
    assert len(split.candidates) == 20
    assert set(popularity_metrics(split)) == {"recall@20", "ndcg@10", "coverage@10", "arp@10"}


def test_the_split_explorer_opens_at_the_sliders_end(tiny_data):
    """Catches: test_frac=0.9, the slider's own maximum, was refused by the constructor."""
    assert SplitExplorer(tiny_data, test_frac=0.9).test_frac.value == pytest.approx(0.9)


# --- build a user (notebook 03) ---------------------------------------------------------------


def test_occupation_alone_changes_the_dnns_list(tiny_split):
    """Catches: build_user_report passed occupation=None: the occupation menu changed nothing."""
    import torch

    torch.manual_seed(0)
    dnn = textbook_dnn(tiny_split, (16,), dim=8, side=True, dense=False).eval()
    jobs = split_features(tiny_split).occupations
    tables = [build_user_report(dnn, tiny_split, (0, 1), age=30, gender="F", occupation=job)[0]
              for job in (jobs[0], jobs[-1])]  # fmt: skip
    assert tables[0]["score"].tolist() != tables[1]["score"].tolist()


def test_the_liked_movies_menu_is_alphabetical(tiny_split):
    """Catches: the menu listed movies by id ("Movie 10" after "Movie 9"), hard to search."""
    options = title_options(tiny_split)
    labels = [label for label, _ in options]
    assert labels == sorted(labels) and sorted(item for _, item in options) == list(
        range(tiny_split.n_items)
    )
    titles = tiny_split.dataset.items["title"].to_numpy()
    assert all(titles[item] == label for label, item in options)


# --- training panels (notebooks 02, 04) -------------------------------------------------------


class _Prefer:
    """A baseline stand-in whose scores rank `last` below every other item, for every user."""

    uses_history = False

    def __init__(self, n_items: int, last) -> None:
        self.row = -np.isin(np.arange(n_items), last).astype(np.float32)

    def scores(self, x):
        return np.tile(self.row, (x.shape[0], 1))


def test_the_id_legend_stays_while_the_previous_list_shows_an_id(tiny_split, tiny_mf):
    """Catches: the '#id' legend looked at the newest list only: the previous list, still on
    screen, showed 'Title #id' with no legend saying what the number is."""
    top = recommend(tiny_mf, tiny_split, 0, k=5)["item"].tolist()
    items = tiny_split.dataset.items.copy()
    items.loc[top[1], "title"] = items.loc[top[0], "title"]  # two listed movies, one title
    dataset = dataclasses.replace(tiny_split.dataset, items=items)
    followed = FollowedUser(dataclasses.replace(tiny_split, dataset=dataset), 0)
    followed.add(tiny_mf)
    newest = followed.add(_Prefer(tiny_split.n_items, top[:2]))
    assert all("#" not in title for title in newest)
    assert "share a title" in followed.html()
    followed.add(_Prefer(tiny_split.n_items, top[:2]))  # neither list on screen shows an id
    assert "share a title" not in followed.html()


def test_logq_run_accepts_the_stated_maximum_batch_size(tiny_split):
    """Catches: the batch size at the panel's stated maximum (128) was refused as too large."""
    assert MAX_BATCH == 128
    assert logq_run(tiny_split, batch_size=128, epochs=1)["batch_size"] == 128


def test_the_ivf_explorer_refuses_a_cluster_count_off_its_menu():
    """Catches: n_clusters=10 (not a menu entry) got past the check, and the learner saw the
    dropdown's trait error instead of the list of allowed values."""
    rng = np.random.default_rng(0)
    items = rng.normal(size=(300, 8)).astype("float32")
    queries = rng.normal(size=(20, 8)).astype("float32")
    with pytest.raises(ValueError, match=r"n_clusters must be one of \(8, 16"):
        IVFExplorer(items, queries, n_clusters=10)
