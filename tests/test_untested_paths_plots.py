"""Paths of lessons.plots that a mutation run found untested: each test names the mutant it
catches, which passed every other test. A mutant here draws another series than the figure's
labels say (another model's deciles, train loss as the validation curve, coverage on the axis
named for the head's share); the tests read the data of each drawn artist.
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.container import ErrorbarContainer  # noqa: E402

from lessons.history import History  # noqa: E402
from lessons.plots import (  # noqa: E402
    alpha_sweep,
    bias,
    long_tail,
    metric_bars,
    norm_vs_popularity,
)
from lessons.plots import serving as sv  # noqa: E402
from lessons.plots import training as pt  # noqa: E402
from lessons.plots.core import PALETTE  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# --- lessons.plots ------------------------------------------------------------------------


def test_decile_recall_draws_each_model_at_its_deciles():
    """Mutants plots/bias.py:30 (every line drawn from the first column), :30 (labels in reverse)
    and :31 (ticks at 0..9, not at the deciles 1..10): nb05's "who finds the long tail"."""
    frame = pd.DataFrame({"EASE": np.linspace(0.0, 0.5, 10), "MF": np.linspace(0.2, 0.3, 10),
                          "Pop": np.zeros(10)}, index=range(1, 11))  # fmt: skip
    ax = bias.decile_recall(frame)
    for line, name in zip(ax.lines, frame.columns, strict=True):
        assert line.get_label() == name
        np.testing.assert_allclose(line.get_ydata(), frame[name])
        np.testing.assert_allclose(line.get_xdata(), frame.index)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(frame.columns)
    assert list(ax.get_xticks()) == list(range(1, 11))


def _twin(ax):
    (other,) = [a for a in ax.figure.axes if a is not ax]
    return other


def test_feedback_loop_plot_draws_coverage_left_and_head_share_right():
    """Mutants plots/bias.py:65 (the left line is the head share) and :69 (the right line is the
    coverage): the axis labels then name the other series."""
    frame = pd.DataFrame({"round": [0, 1, 2], "coverage@10": [0.238, 0.225, 0.214],
                          "head_share": [0.647, 0.653, 0.659]})  # fmt: skip
    ax = bias.feedback_loop(frame)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), frame["coverage@10"])
    assert ax.get_ylabel() == "coverage@10"
    right = _twin(ax)
    np.testing.assert_allclose(right.lines[0].get_ydata(), frame["head_share"])
    assert "head" in right.get_ylabel()


def test_alpha_sweep_draws_coverage_on_the_right_axis():
    """Mutant plots/core.py:125 (the right axis draws the ARP again): nb01's coverage curve."""
    frame = pd.DataFrame({"alpha": [0, 0.5, 1], "arp@10": [200.0, 150.0, 100.0],
                          "coverage@10": [0.2, 0.3, 0.4]})  # fmt: skip
    ax = alpha_sweep(frame)
    np.testing.assert_allclose(_twin(ax).lines[0].get_ydata(), frame["coverage@10"])


def test_metric_bars_put_each_row_beside_the_others_under_its_metric():
    """Mutants plots/core.py:159 (every row's bar at the same x: the later ones hide the earlier),
    :162 (group labels off centre) and :161 (the Gini note dropped)."""
    table = pd.DataFrame({"recall@20": [0.3, 0.5], "gini@10": [0.9, 0.8]}, index=["a", "b"])
    ax = metric_bars(table, ["recall@20", "gini@10"])
    width = 0.8 / 2
    centres = sorted((round(p.get_x() + p.get_width() / 2, 6), round(p.get_height(), 6))
                     for p in ax.patches)  # fmt: skip
    assert centres == [(0.0, 0.3), (0.4, 0.5), (1.0, 0.9), (1.4, 0.8)]
    np.testing.assert_allclose(ax.get_xticks(), [width / 2, 1 + width / 2])
    assert "lower = more even" in ax.get_xticklabels()[1].get_text()


def test_norm_vs_popularity_keeps_each_item_s_pair():
    """Mutant plots/core.py:93 (the norms sorted apart from the counts): every dot of nb01's cloud
    must be one item's (c_j, ‖V_j‖)."""
    pop = np.array([5.0, 1.0, 9.0, 3.0])
    norms = np.array([0.2, 0.9, 0.1, 0.5])
    ax = norm_vs_popularity(norms, pop)
    np.testing.assert_allclose(ax.collections[0].get_offsets(), np.column_stack([pop, norms]))


def test_negative_counts_are_refused():
    """Mutant plots/core.py:37 (negative counts accepted): long_tail's log axis drew them at 0.8."""
    with pytest.raises(ValueError, match="non-negative counts"):
        long_tail([3, -1, 2])


def test_recall_latency_labels_recall_at_its_own_k():
    """Mutant plots/serving.py:70 the label fixed at recall@10 (nb06 passes k=K)."""
    table = pd.DataFrame({"method": ["brute force", "IVF"], "n_clusters": [0, 8], "nprobe": [0, 1],
                          "recall": [1.0, 0.7], "ms_per_query": [0.3, 0.05]})  # fmt: skip
    assert sv.recall_latency(table, k=5).get_ylabel() == "recall@5 vs brute force"


def test_history_curves_draw_each_series_at_its_evaluated_epochs():
    """Mutants plots/training.py:41 (the evaluation loss line drawn from train_loss), :46 (both
    metric lines drawn from recall) and :40 (every epoch kept, so the evaluated points sit
    between NaNs and the curves break into lone markers)."""
    history = History()
    for epoch in range(1, 7):
        evaluated = epoch % 2 == 0
        history.rows.append({"epoch": epoch, "train_loss": 1.0 / epoch,
                             "valid_loss": 2.0 + epoch if evaluated else None,
                             "recall@10": 0.1 * epoch if evaluated else None,
                             "ndcg@10": 0.01 * epoch if evaluated else None,
                             "coverage@10": 0.5, "seconds": 0.1})  # fmt: skip
    loss_ax, metric_ax = pt.history_curves(history)
    train_line, valid_line = loss_ax.lines
    np.testing.assert_allclose(train_line.get_ydata(), [1.0 / e for e in range(1, 7)])
    np.testing.assert_allclose(valid_line.get_xdata(), [2, 4, 6])
    np.testing.assert_allclose(valid_line.get_ydata(), [4.0, 6.0, 8.0])
    recall, ndcg = metric_ax.lines
    assert (recall.get_label(), ndcg.get_label()) == ("recall@10", "ndcg@10")
    np.testing.assert_allclose(recall.get_ydata(), [0.2, 0.4, 0.6])
    np.testing.assert_allclose(ndcg.get_ydata(), [0.02, 0.04, 0.06])


def test_grid_bars_sit_side_by_side_with_their_seed_spread():
    """Mutants plots/training.py:130 (every feature set at the same x) and :131 (no error bars,
    though the title says "mean ± std over seeds")."""
    summary = pd.DataFrame({"depth": [0, 0, 1, 1], "features": ["history", "all"] * 2,
                            "mean": [0.40, 0.42, 0.41, 0.43],
                            "std": [0.01, 0.02, 0.03, 0.04]})  # fmt: skip
    ax = pt.grid_bars(summary)
    lefts = [round(p.get_x() + p.get_width() / 2, 6) for p in ax.patches]
    assert sorted(lefts) == [0.0, 0.4, 1.0, 1.4]
    spans = []
    for container in ax.containers:
        if isinstance(container, ErrorbarContainer):  # lines: (data line, caps, bar lines)
            (segments,) = [c.get_segments() for c in container.lines[2]]
            spans += [round(float(s[1][1] - s[0][1]) / 2, 6) for s in segments]
    assert sorted(spans) == [0.01, 0.02, 0.03, 0.04]


def test_embedding_map_colours_counts_on_the_log_scale_it_names():
    """Mutants plots/training.py:180 (log=True ignored: one blockbuster flattens every other
    colour) and :182 (the colour bar not saying log10(1 + popularity))."""
    counts = np.array([0, 9, 99, 999])
    ax = pt.embedding_map(np.zeros((4, 2)), counts, title="t", log=True)
    np.testing.assert_allclose(ax.collections[0].get_array(), [0.0, 1.0, 2.0, 3.0])
    colourbar_ax = [a for a in ax.figure.axes if a is not ax][0]
    assert colourbar_ax.get_ylabel() == "log10(1 + popularity)"


def test_eight_named_categories_still_take_the_colour_blind_safe_palette():
    """Mutant plots/training.py:173 `< len(PALETTE)`: exactly eight genres (the palette's size)
    switched the whole map to tab20, whose pairs a deuteranope cannot tell apart."""
    labels = [f"genre {i}" for i in range(8)] + ["other"]
    codes = np.arange(90) % 9
    ax = pt.embedding_map(np.zeros((90, 2)), codes, labels=labels, title="t")
    named = {matplotlib.colors.to_hex(c.get_facecolor()[0]) for c in ax.collections} - {"#cccccc"}
    assert named == {c.lower() for c in PALETTE}
