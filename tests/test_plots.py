"""Static lesson figures: they draw what they are given, label it, and reject bad input."""

import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from lessons.plots import alpha_sweep, long_tail, metric_bars, norm_vs_popularity  # noqa: E402
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
