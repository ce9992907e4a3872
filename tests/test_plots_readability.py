"""Figures a learner can read: colours that survive colour-vision deficiencies, scales that show
the quantity the text discusses, legends for every series, and refusals that leave no figure."""

import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from lessons.plots import alpha_sweep, bias, metric_bars  # noqa: E402
from lessons.plots import serving as sv  # noqa: E402
from lessons.plots import training as pt  # noqa: E402
from lessons.plots.core import PALETTE  # noqa: E402

# Machado, Oliveira and Fernandes (2009), full severity, acting on linear RGB.
SIMULATIONS = {
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                     [-0.011820, 0.042940, 0.968881]],
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                   [-0.003882, -0.048116, 1.051998]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                   [0.004733, 0.691367, 0.303900]],
}  # fmt: skip


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _lab(colour: str, simulation: list[list[float]]) -> np.ndarray:
    """CIELAB (D65) of `colour` as seen under `simulation`."""
    srgb = np.asarray(mcolors.to_rgb(colour))
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    seen = np.clip(np.asarray(simulation) @ linear, 0.0, 1.0)
    to_xyz = [[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]
    xyz = np.asarray(to_xyz) @ seen / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def _closest_pair(colours, simulation) -> float:
    labs = [_lab(c, simulation) for c in colours]
    return min(np.linalg.norm(a - b) for a, b in itertools.combinations(labs, 2))


@pytest.mark.parametrize("name", SIMULATIONS)
def test_the_palette_stays_distinct_under_each_colour_vision_deficiency(name):
    """Matplotlib's default C2/C3 (nb05's EASE and MF bars) are ΔE 7.3 apart for a
    deuteranope and C1/C2 4.6 for a protanope; every pair of the palette stays above 15."""
    assert _closest_pair(PALETTE, SIMULATIONS[name]) > 15
    assert _closest_pair([f"C{i}" for i in range(6)], SIMULATIONS[name]) < 20  # the test bites


def test_series_told_apart_by_colour_take_the_palette():
    table = pd.DataFrame({"recall@20": np.linspace(0.1, 0.6, 6)}, index=list("abcdef"))
    bars = metric_bars(table, "recall@20")
    assert [mcolors.to_hex(p.get_facecolor()) for p in bars.patches] == [
        c.lower() for c in PALETTE[:6]
    ]
    deciles = pd.DataFrame({name: np.linspace(0, 0.5, 10) for name in "abcdef"}, index=range(1, 11))
    lines = bias.decile_recall(deciles).lines
    assert [mcolors.to_hex(line.get_color()) for line in lines] == [c.lower() for c in PALETTE[:6]]
    labels = ["Romance", "Sci-Fi", "other"]
    genre_map = pt.embedding_map(np.zeros((6, 2)), np.arange(6) % 3, labels=labels, title="t")
    named = {mcolors.to_hex(c.get_facecolor()[0]) for c in genre_map.collections} - {"#cccccc"}
    assert named == {PALETTE[0].lower(), PALETTE[1].lower()}


def test_decile_recall_shows_the_rare_deciles_on_a_symlog_axis():
    """On a linear axis the rare deciles' 0.002-0.03 drew as one flat line under the head's
    0.5, and nb05 asks which model reaches into the tail."""
    frame = pd.DataFrame({"a": [0, 0.003, 0.02, 0.5], "b": [0, 0, 0.01, 0.55]}, index=[1, 2, 3, 4])
    ax = bias.decile_recall(frame)
    assert ax.get_yscale() == "symlog" and ax.get_ylim()[0] == 0
    assert "symlog" in ax.get_ylabel()


def test_alpha_sweep_has_one_legend_for_both_axes():
    frame = pd.DataFrame({"alpha": [0, 1], "arp@10": [200.0, 100.0], "coverage@10": [0.2, 0.4]})
    legend = alpha_sweep(frame).get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["arp@10", "coverage@10"]


def test_softmax_step_cost_names_the_in_batch_loss_as_the_text_does():
    cost = pd.DataFrame({"n_items": [10, 10], "loss": ["full", "sampled"], "seconds": [2e-4, 1e-4]})
    legend = sv.softmax_step_cost(cost).get_legend()
    assert [t.get_text() for t in legend.get_texts()] == [
        "full softmax",
        "in-batch (sampled) softmax",
    ]


def test_refusals_name_the_problem_and_leave_no_blank_figure():
    """Checks that ran after the figure was made left an empty figure under the traceback."""
    rounds = pd.DataFrame({"round": [0, 1], "coverage@10": [0.0, 0.1], "head_share": [0.6, 0.7]})
    with pytest.raises(ValueError, match="coverage@10 0"):
        bias.feedback_loop(rounds)  # was ZeroDivisionError
    with pytest.raises(ValueError, match="no rounds"):
        bias.feedback_loop(rounds.iloc[:0])  # was IndexError
    with pytest.raises(ValueError, match="no rows"):
        alpha_sweep(pd.DataFrame(columns=["alpha", "arp@10", "coverage@10"]))  # was blank
    labels = [f"genre {i}" for i in range(21)]
    with pytest.raises(ValueError, match="21 categories"):
        pt.embedding_map(np.zeros((21, 2)), np.arange(21), labels=labels, title="t")
    assert plt.get_fignums() == []
