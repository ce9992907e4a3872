"""Static lesson figures: they draw what they are given, label it, and reject bad input."""

import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from lessons.plots import (  # noqa: E402
    alpha_sweep,
    bias,  # noqa: E402
    long_tail,
    metric_bars,
    norm_vs_popularity,
)
from lessons.plots import serving as sv  # noqa: E402
from lessons.plots import training as pt  # noqa: E402


@pytest.fixture(autouse=True)
def _draw_and_close_figures():
    """Render every figure a test made with warnings as errors (e.g. a missing glyph)."""
    yield
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for number in plt.get_fignums():
            plt.figure(number).canvas.draw()
    plt.close("all")


def test_long_tail_sorts_and_reports_head_share():
    counts = np.array([1, 50, 0, 10, 4, 30, 2, 2, 1, 0])  # total 100; top 2 items hold 80
    ax = long_tail(counts, share=0.2)
    y = ax.lines[0].get_ydata()
    assert y[0] == 50 and y[1] == 30 and np.all(np.diff(y) <= 0)
    assert "80%" in ax.get_title() and ax.get_xlabel() and ax.get_ylabel()


def test_long_tail_rejects_bad_input():
    with pytest.raises(ValueError, match="non-negative counts"):
        long_tail([])
    with pytest.raises(ValueError, match="share"):
        long_tail([1, 2], share=1.5)


def test_norm_vs_popularity_medians():
    pop = np.arange(20, dtype=float)
    norms = np.where(pop < 10, 5.0, 1.0)  # rare items long, popular short
    ax = norm_vs_popularity(norms, pop)
    med = ax.lines[0].get_ydata()
    assert med[0] == 5.0 and med[-1] == 1.0  # bins run from rare to popular
    with pytest.raises(ValueError, match="one norm"):
        norm_vs_popularity(norms[:5], pop)


def test_alpha_sweep_and_metric_bars():
    frame = pd.DataFrame({"alpha": [0, 1], "arp@10": [200.0, 100.0], "coverage@10": [0.2, 0.4]})
    ax = alpha_sweep(frame)
    assert list(ax.lines[0].get_ydata()) == [200.0, 100.0] and "alpha" in ax.get_xlabel()
    with pytest.raises(ValueError, match="alpha_sweep"):
        alpha_sweep(frame.drop(columns="arp@10"))
    table = pd.DataFrame({"recall@20": [0.3, 0.5], "ndcg@10": [0.2, 0.4]}, index=["a", "b"])
    ax = metric_bars(table, ["recall@20", "ndcg@10"], title="t")
    heights = sorted(round(p.get_height(), 2) for p in ax.patches)
    assert heights == [0.2, 0.3, 0.4, 0.5] and ax.get_title() == "t"
    with pytest.raises(ValueError, match="not columns"):
        metric_bars(table, ["map@10"])
    one = metric_bars(table, "recall@20")  # one name, not its letters
    assert sorted(round(p.get_height(), 2) for p in one.patches) == [0.3, 0.5]
    with pytest.raises(ValueError, match=r"\['map@10'\] are not columns"):
        metric_bars(table, "map@10")


def test_embedding_map_gives_every_named_category_its_own_colour():
    rng = np.random.default_rng(0)
    for named in (4, 11, 19):  # 19: every ML-100K genre
        labels = [f"genre {i}" for i in range(named)] + ["other"]
        codes = np.arange(200) % len(labels)
        ax = pt.embedding_map(rng.normal(size=(200, 2)), codes, labels=labels, title="t")
        colours = {tuple(c.get_facecolor()[0]) for c in ax.collections}
        assert len(colours) == named + 1  # the named ones, and grey for "other"
        plt.close(ax.figure)
    labels = [f"genre {i}" for i in range(21)]
    with pytest.raises(ValueError, match="21 categories"):
        pt.embedding_map(rng.normal(size=(21, 2)), np.arange(21), labels=labels, title="t")


def test_embedding_map_draws_small_categories_on_top_of_big_ones():
    """Romance (the biggest genre of the map) drawn last once hid most children's films."""
    labels = ["small", "big", "other", "middle"]
    codes = np.repeat([0, 1, 2, 3], [5, 50, 80, 20])
    ax = pt.embedding_map(np.zeros((len(codes), 2)), codes, labels=labels, title="t")
    drawn = [len(c.get_offsets()) for c in ax.collections]
    assert drawn == [80, 50, 20, 5]  # grey "other" first, then the named ones largest first


def test_history_curves_tick_whole_epochs_on_one_range():
    """The epoch axis read 2.5, 5.0, 7.5, and with evaluation every few epochs the metric
    panel started at a later epoch than the loss panel beside it."""
    from lessons.history import History

    history = History()
    for epoch in range(1, 21):
        evaluated = epoch % 5 == 0
        history.rows.append({"epoch": epoch, "train_loss": 1.0 / epoch, "valid_loss": 1.0,
                             "recall@10": 0.1 if evaluated else None,
                             "ndcg@10": 0.1 if evaluated else None, "coverage@10": 0.1,
                             "seconds": 0.1})  # fmt: skip
    loss_ax, metric_ax = pt.history_curves(history)
    loss_ax.figure.canvas.draw()
    for ax in (loss_ax, metric_ax):
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks)
        # The integer locator alone ticked 3, 6, ..., 18: not the epochs evaluated here.
        assert ticks == [5, 10, 15, 20]
    assert metric_ax.get_xlim() == loss_ax.get_xlim()
    assert loss_ax.get_ylabel() == "loss"  # model.loss: MF's adds its L2 term to the softmax's


def test_history_curves_of_one_epoch_tick_that_epoch_only():
    """One epoch spans less than 1 on the axis: the integer locator gave 0.95, 1.0, 1.05."""
    from lessons.history import History

    history = History(rows=[{"epoch": 1, "train_loss": 1.0, "valid_loss": 1.0, "recall@10": 0.1,
                             "ndcg@10": 0.1, "coverage@10": 0.1, "seconds": 0.1}])  # fmt: skip
    for ax in pt.history_curves(history):
        ax.figure.canvas.draw()
        assert list(ax.get_xticks()) == [1]


def test_a_redraw_that_fails_leaves_no_figure_open():
    """LiveCurves.draw on an empty History (after an interrupt in epoch 1) raised and left its
    figure open: five calls, five figures that a widget loop would pile up."""
    import ipywidgets as widgets

    from lessons.history import History

    plt.close("all")
    curves = pt.LiveCurves(widgets.HTML())
    for _ in range(3):
        with pytest.raises(ValueError, match="no epoch yet"):
            curves.draw(History())
    assert plt.get_fignums() == []
    fig = plt.figure()
    with pytest.raises(ValueError):
        pt.figure_html(fig, dpi=-1)  # savefig refuses the resolution
    assert plt.get_fignums() == []


def test_feedback_loop_states_the_size_of_both_changes():
    """Each y-axis fits its own data, so a +1.2-point head share climbed as steeply as a
    -10 % coverage fell: the title now gives both sizes."""
    frame = pd.DataFrame({"round": [0, 1, 2], "coverage@10": [0.238, 0.225, 0.214],
                          "head_share": [0.647, 0.653, 0.659]})  # fmt: skip
    title = bias.feedback_loop(frame).get_title()
    assert "coverage@10 0.238 → 0.214 (-10%)" in title
    assert "head share 64.7% → 65.9% (+1.2 points)" in title


def test_grid_bars_start_at_zero_so_bar_lengths_are_the_values():
    """A cut axis (it once started 0.05 below the lowest bar) stretched seed-sized gaps."""
    summary = pd.DataFrame({
        "depth": [0, 0, 1, 1], "features": ["history", "all"] * 2,
        "mean": [0.406, 0.407, 0.402, 0.406], "std": [0.006, 0.0004, 0.003, np.nan],
    })  # fmt: skip
    ax = pt.grid_bars(summary)
    heights = sorted(round(p.get_height(), 3) for p in ax.patches)
    assert heights == sorted(summary["mean"])
    assert ax.get_ylim()[0] == 0.0
    plt.close(ax.figure)


def test_grid_bars_name_the_columns_a_raw_grid_lacks():
    """run_grid's table (one row per run) passed for grid_summary's: say what is missing."""
    runs = pd.DataFrame({"depth": [0, 1], "features": ["history"] * 2, "ndcg@10": [0.4, 0.41]})
    with pytest.raises(ValueError, match="missing mean, std .use grid_summary"):
        pt.grid_bars(runs)


def _ivf_table(ms=(0.29, 0.035, 0.034, 0.037, 0.06, 0.108), clusters=128):
    return pd.DataFrame({
        "method": ["brute force"] + ["IVF"] * (len(ms) - 1),
        "n_clusters": [0] + [clusters] * (len(ms) - 1),
        "nprobe": [0, 1, 2, 4, 8, 16][: len(ms)],
        "recall": [1.0, 0.68, 0.80, 0.88, 0.94, 0.96][: len(ms)],
        "ms_per_query": list(ms),
    })  # fmt: skip


def test_recall_latency_names_the_several_c_it_cannot_draw_on_one_curve():
    table = pd.concat([_ivf_table(), _ivf_table(clusters=32).iloc[1:]], ignore_index=True)
    with pytest.raises(ValueError, match=r"several numbers of lists C \(32, 128\)"):
        sv.recall_latency(table, k=10)


def test_recall_latency_labels_enough_ticks_to_read_a_sub_decade_range():
    # The latencies span 0.034-0.29 ms, under one decade: matplotlib's default log axis labels
    # only 10^-1 there, so no point's latency could be read off the figure.
    ax = sv.recall_latency(_ivf_table(), k=10)
    ax.figure.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert labels == ["0.03", "0.05", "0.1", "0.2", "0.3"]  # 0.03 <= every latency <= 0.3
    ivf_line, brute = ax.lines
    np.testing.assert_allclose(ivf_line.get_xdata(), [0.035, 0.034, 0.037, 0.06, 0.108])
    assert list(brute.get_xdata()) == [0.29]
    assert [t.get_text().strip() for t in ax.texts] == ["1", "2", "4", "8", "16"]
    assert "C=128" in ax.get_legend().get_texts()[0].get_text()
    assert "recall@10" in ax.get_ylabel()


def test_recall_latency_ticks_thin_out_over_several_decades():
    ax = sv.recall_latency(_ivf_table(ms=(30.0, 0.01, 0.1, 1.0, 5.0, 10.0)), k=10)
    ax.figure.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert labels == ["0.01", "0.1", "1", "10", "100"]
    wider = sv.recall_latency(_ivf_table(ms=(0.27, 0.022, 0.023, 0.028, 0.05, 0.1)), k=10)
    wider.figure.canvas.draw()
    labels = [t.get_text() for t in wider.get_xticklabels() if t.get_text()]
    assert labels == ["0.02", "0.05", "0.1", "0.2", "0.5"]  # just over a decade: 1-2-5


def test_recall_latency_rejects_mixed_or_foreign_tables():
    mixed = pd.concat([_ivf_table(), _ivf_table(clusters=16).iloc[1:]], ignore_index=True)
    with pytest.raises(ValueError, match="select one C"):
        sv.recall_latency(mixed, k=10)
    with pytest.raises(ValueError, match="ivf_tradeoff"):
        sv.recall_latency(pd.DataFrame({"recall": [1.0]}), k=10)


def test_softmax_step_cost_draws_one_line_per_loss_in_milliseconds():
    cost = pd.DataFrame({
        "n_items": [1_000, 1_000, 100_000, 100_000],
        "loss": ["full", "sampled", "full", "sampled"],
        "seconds": [1e-4, 5e-5, 2e-2, 5e-5],
    })  # fmt: skip
    ax = sv.softmax_step_cost(cost, title="batch 32")
    full, sampled = ax.lines
    np.testing.assert_allclose(full.get_ydata(), [0.1, 20.0])
    np.testing.assert_allclose(sampled.get_ydata(), [0.05, 0.05])
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert ax.get_title() == "batch 32"
    with pytest.raises(ValueError, match="softmax_cost"):
        sv.softmax_step_cost(cost.drop(columns="loss"))


def test_empty_or_mislabelled_input_is_refused_by_name():
    """Bugs: an empty table raised ZeroDivisionError from the bar width, a category code
    without a label vanished from the map, and a latency of 0 broke the log ticks."""
    table = pd.DataFrame({"recall@20": [0.3], "ndcg@10": [0.2]}, index=["a"])
    with pytest.raises(ValueError, match="no rows"):
        metric_bars(table.iloc[:0], ["recall@20"])
    summary = pd.DataFrame(columns=["depth", "features", "mean", "std"])
    with pytest.raises(ValueError, match="no rows"):
        pt.grid_bars(summary)
    with pytest.raises(ValueError, match="outside 0..1"):
        pt.embedding_map(np.zeros((3, 2)), np.array([0, 1, 2]), labels=["a", "b"], title="t")
    drawn = pt.embedding_map([[0.0, 1.0], [1.0, 0.0]], [0, 1], labels=["a", "b"], title="t")
    assert sum(len(c.get_offsets()) for c in drawn.collections) == 2  # a list of points works
    with pytest.raises(ValueError, match="positive and finite"):
        sv.recall_latency(_ivf_table(ms=(0.29, 0.0, 0.034, 0.037, 0.06, 0.108)), k=10)
