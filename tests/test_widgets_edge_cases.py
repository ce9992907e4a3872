"""Edge cases of the widgets' compute helpers and the plots' computations (no ipywidgets).

Each test guards a plausible bug that would still give believable results (found by mutating
the code by hand); the data are tiny hand-made splits and frames, or the package's synthetic
data, and every expected value is worked out by hand.
"""

import types
from dataclasses import replace

import matplotlib
import numpy as np
import pandas as pd
import pytest

from lessons.config import ITEM, RATING, TIMESTAMP, USER
from lessons.data import (
    Split,
    cold_start_items,
    cold_start_users,
    random_split,
    synthetic_movielens,
    temporal_split,
)
from lessons.history import History
from lessons.plots import bias as plots_bias
from lessons.plots import long_tail, norm_vs_popularity
from lessons.plots.training import LiveCurves, grid_bars
from lessons.serving import IVFIndex, brute_force_top_k
from lessons.widgets import logq
from lessons.widgets.alpha import alpha_metrics
from lessons.widgets.bias import decile_recall
from lessons.widgets.build_user import title_options
from lessons.widgets.serving import ivf_report
from lessons.widgets.split import make_split, popularity_metrics, split_sizes

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _frame(pairs: list[tuple[int, int]]) -> pd.DataFrame:
    users, items = zip(*pairs, strict=True) if pairs else ((), ())
    return pd.DataFrame({USER: users, ITEM: items, RATING: 4.0, TIMESTAMP: 1})


@pytest.fixture(scope="module")
def staircase() -> Split:
    """40 users × 30 items. User u (0..29) trained on items 0..u-1, so item j has 29 − j
    training interactions, and user u's most popular unseen item is u, its one test item
    (users 1..28). Users 30..39 only reveal item 28 as a cold-start query."""
    data = synthetic_movielens(n_users=40, n_items=30, seed=0)
    train = _frame([(u, j) for u in range(30) for j in range(u)])
    test = _frame([(u, u) for u in range(1, 29)])
    query = _frame([(u, 28) for u in range(30, 40)])
    return Split(data, train, test, kind="cold_users", query=query)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_popularity_jitter_never_reorders_different_counts(staircase, seed):
    """Bug: a tie-breaking jitter of up to 2 (instead of < 0.5) swapped items whose counts
    differ by one, so the Popularity baseline no longer ranks by popularity."""
    metrics = popularity_metrics(staircase, seed)
    assert metrics["recall@20"] == 1.0 and metrics["ndcg@10"] == pytest.approx(1.0)


def test_popularity_counts_training_interactions_only(staircase):
    """Bug: counting the revealed query too made item 28 (1 training interaction + 10 query
    rows) the most popular item for users 19..27, ahead of their own most popular item."""
    assert popularity_metrics(staircase)["ndcg@10"] == pytest.approx(1.0)


def test_split_sizes_count_items_and_users_of_each_part(staircase):
    """Bug: the items column counted distinct users (or the reverse): in the query part 10
    users reveal one item."""
    sizes = split_sizes(staircase).set_index("part")
    assert sizes.loc["train"].tolist() == [435, 29, 29]  # 0 + 1 + ... + 29 rows, items 0..28
    assert sizes.loc["query"].tolist() == [10, 10, 1]
    assert sizes.loc["test"].tolist() == [28, 28, 28]


def test_decile_recall_excludes_training_items(staircase):
    """Bug: without excluding training items, a model that scores what a user already saw
    highest fills every list with them, and its long-tail recall reads 0."""
    train, test = staircase.train_matrix().toarray(), staircase.test_matrix().toarray()
    table = decile_recall({"m": 10.0 * train + test}, staircase, k=1)
    recall = table["m"].dropna()
    assert len(recall) >= 5 and (recall == 1.0).all()


@pytest.mark.parametrize("protocol", ["random", "temporal", "cold_users", "cold_items"])
def test_make_split_passes_share_and_seed_through(protocol):
    """Bug: one protocol dropped the panel's seed (cold items) or test share (temporal), so
    moving the slider changed nothing for it."""
    data = synthetic_movielens(n_users=30, n_items=40, seed=2)
    direct = {
        "random": lambda: random_split(data, 0.35, seed=7),
        "temporal": lambda: temporal_split(data, 0.35),
        "cold_users": lambda: cold_start_users(data, user_frac=0.35, seed=7),
        "cold_items": lambda: cold_start_items(data, item_frac=0.35, seed=7),
    }[protocol]()
    split = make_split(data, protocol, 0.35, seed=7)
    pd.testing.assert_frame_equal(split.test, direct.test)


def test_alpha_metrics_use_the_given_k(tiny_split, tiny_mf):
    """Bug: k was not passed to the evaluation, so the α panel showed NDCG@10 whatever k."""
    metrics = alpha_metrics(tiny_mf, tiny_split, alpha=0.5, k=5)
    assert {"ndcg@5", "coverage@5", "arp@5"} <= set(metrics)


def test_probing_every_list_scans_the_whole_catalogue():
    """Bug: the scanned share was divided by the number of lists instead of the number of
    items, so probing all lists reported far more than 100% of the catalogue."""
    rng = np.random.default_rng(0)
    items, queries = rng.normal(size=(200, 8)), rng.normal(size=(5, 8))
    index = IVFIndex.build(items, 8, seed=0)
    report = ivf_report(index, queries, brute_force_top_k(queries, items, 10), nprobe=8)
    assert report["scanned"] == pytest.approx(1.0) and report["recall"] == pytest.approx(1.0)


def test_logq_run_trains_with_the_chosen_temperature_and_batch_size(
    tiny_split, monkeypatch, one_thread
):
    """Bug: τ or the batch size was reported in the run table but not passed to training, so
    the learner compared identical models under different labels."""
    calls, real_train = [], logq.train

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real_train(*args, **kwargs)

    monkeypatch.setattr(logq, "train", spy)
    row = logq.logq_run(tiny_split, beta=0.5, temperature=0.05, batch_size=16, epochs=1)
    assert (row["temperature"], row["batch_size"]) == (0.05, 16)
    assert calls[0]["model_kwargs"]["temperature"] == 0.05 and calls[0]["batch_size"] == 16


def test_repeated_titles_get_their_id_in_the_label():
    """Bug: two items sharing a title got the same label, so the learner could not tell which
    one they picked."""
    data = synthetic_movielens(n_users=5, n_items=20, seed=0)
    items = data.items.copy()
    items.loc[[3, 7], "title"] = "Twin (1999)"
    split = Split(replace(data, items=items), data.interactions, data.interactions)
    labels = dict(title_options(split))
    assert labels["Twin (1999) #3"] == 3 and labels["Twin (1999) #7"] == 7
    assert "Twin (1999)" not in labels and len(labels) == 20


def test_long_tail_head_is_rounded_up():
    """Bug: the head was floor(share · n) items, not ceil: with 5 items and share 0.3 it held
    the top 1 item (50%) instead of the top 2 (50 + 30 of 100 = 80%)."""
    ax = long_tail([5, 50, 10, 30, 5], share=0.3)
    assert "hold 80% of interactions" in ax.get_title()
    plt.close(ax.figure)


def test_norm_line_joins_the_median_of_each_decile():
    """Bug: the mean instead of the median per decile, which one outlier drags off the cloud."""
    counts = np.arange(30)  # deciles of three items: counts 0-2, 3-5, ..., 27-29
    norms = np.tile([1.0, 2.0, 30.0], 10)  # median 2, mean 11 in every decile
    ax = norm_vs_popularity(norms, counts)
    line = ax.lines[0]
    assert list(line.get_xdata()) == [1, 4, 7, 10, 13, 16, 19, 22, 25, 28]
    assert list(line.get_ydata()) == [2.0] * 10
    plt.close(ax.figure)


def test_grid_bars_leave_a_gap_for_a_missing_depth():
    """Bug: without aligning each feature set on the depths, a set missing depth 2 drew its
    depth-3 bar over depth 2 (or failed)."""
    summary = pd.DataFrame({"depth": [1, 2, 3, 1, 3], "features": ["A", "A", "A", "B", "B"],
                            "mean": [0.1, 0.2, 0.3, 0.4, 0.6], "std": 0.0})  # fmt: skip
    ax = grid_bars(summary)
    heights = [p.get_height() for p in ax.patches]
    assert heights[:3] == [0.1, 0.2, 0.3]
    assert heights[3] == 0.4 and np.isnan(heights[4]) and heights[5] == 0.6
    plt.close(ax.figure)


def test_live_curves_draw_the_last_epoch():
    """Bug: the curves were redrawn only every `every` epochs, so a 5-epoch run drawn every 3
    epochs ended showing epoch 3."""
    target = types.SimpleNamespace(value="")
    live, history = LiveCurves(target, every=3, last=5), History()
    for epoch in range(1, 6):
        history.rows.append({"epoch": epoch, "train_loss": 1.0 / epoch, "valid_loss": 1.0,
                             "recall@10": 0.1, "ndcg@10": 0.1, "coverage@10": 0.1,
                             "seconds": 0.1})  # fmt: skip
        live(history, None)
    assert (live.calls, live.drawn) == (2, 5) and target.value.startswith("<img")


def test_decile_plot_puts_each_line_point_at_its_decile():
    """Bug: points were placed at 1, 2, 3 … instead of the frame's deciles, shifting a curve
    whose rarest deciles have no test items."""
    ax = plots_bias.decile_recall(pd.DataFrame({"EASE": [0.1, 0.2, 0.3]}, index=[2, 5, 9]))
    assert list(ax.lines[0].get_xdata()) == [2, 5, 9]
    plt.close(ax.figure)
