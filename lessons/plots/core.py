"""Small static matplotlib figures for the lessons.

Every function draws on the `ax` it is given (or a new figure's single Axes) and returns the
Axes; nothing is shown or saved here, so a notebook decides when to display. Figures are small
(about 6×3.5 inches) with a title and labelled axes, so they read well on GitHub without a
kernel.
"""

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from lessons.config import SHORT_HEAD_SHARE
from lessons.metrics import popularity_bins

FIGSIZE = (6.0, 3.5)

# Okabe and Ito's colour-blind-safe palette, for figures that tell series apart by colour.
# Matplotlib's default cycle has pairs (green C2 and red C3, blue C0 and purple C4) that a
# deuteranope sees as one colour; these eight stay distinct under the common colour-vision
# deficiencies. Black is last, so only an eighth series draws in it.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#000000")


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=FIGSIZE, layout="constrained")
    return ax


def _counts(popularity: Sequence[float], name: str = "popularity") -> np.ndarray:
    counts = np.asarray(popularity, dtype=np.float64)
    if counts.ndim != 1 or counts.size == 0 or not np.isfinite(counts).all() or (counts < 0).any():
        raise ValueError(
            f"{name} must be a non-empty 1-D array of non-negative counts (one per item), got "
            f"shape {counts.shape}; use split.item_popularity()"
        )
    return counts


def long_tail(
    popularity: Sequence[float], *, share: float = SHORT_HEAD_SHARE, ax: Axes | None = None
) -> Axes:
    """Items ranked by interaction count (log scale), with the short head shaded.

    The head is the ceil(share · n_items) most-interacted items; the title gives the share of
    all interactions they hold, Σ_{i∈head} c_i / Σ_i c_i.

    Args:
        popularity: Interaction count c_i of every item.
        share: Share of items forming the short head, in (0, 1).
        ax: Axes to draw on; None makes a new figure.
    """
    counts = _counts(popularity)
    if not 0 < share < 1:
        raise ValueError(f"share must be strictly between 0 and 1 (e.g. 0.2), got {share!r}")
    ranked = np.sort(counts)[::-1]
    n_head = int(np.ceil(share * ranked.size))
    held = ranked[:n_head].sum() / max(ranked.sum(), 1.0)
    ax = _axes(ax)
    ax.plot(np.arange(1, ranked.size + 1), np.maximum(ranked, 0.8), color="C0")
    ax.axvspan(1, n_head, color="C1", alpha=0.2, label=f"short head: top {share:.0%} of items")
    ax.set_yscale("log")
    ax.set_xlabel("item rank (most interacted first)")
    ax.set_ylabel("interactions (log scale)")
    ax.set_title(f"Long tail: the top {share:.0%} of items hold {held:.0%} of interactions")
    ax.legend(loc="upper right")
    return ax


def norm_vs_popularity(
    norms: Sequence[float], popularity: Sequence[float], *, ax: Axes | None = None
) -> Axes:
    """Scatter of item embedding norm ‖V_j‖ against training popularity c_j (symlog x axis).

    The line joins the median norm of each popularity decile (`lessons.metrics.popularity_bins`)
    at the decile's median popularity, so a non-monotone trend is visible through the cloud.
    """
    norms_ = np.asarray(norms, dtype=np.float64)
    counts = _counts(popularity)
    if norms_.shape != counts.shape:
        raise ValueError(
            f"norms has shape {norms_.shape} but popularity has {counts.shape}: pass one norm "
            "and one count per item"
        )
    bins = popularity_bins(counts, min(10, counts.size))
    med = pd.DataFrame({"bin": bins, "pop": counts, "norm": norms_}).groupby("bin").median()
    ax = _axes(ax)
    ax.scatter(counts, norms_, s=6, alpha=0.35, color="C0", label="items")
    ax.plot(med["pop"], med["norm"], "o-", color="C3", label="median per popularity decile")
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlabel(r"training interactions $c_j$ (symlog)")
    ax.set_ylabel(r"embedding norm $\|V_j\|$")
    ax.set_title("Item embedding norm against popularity")
    ax.legend(loc="upper left")
    return ax


def alpha_sweep(frame: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Mean popularity (ARP@k) and coverage@k of the lists as the norm exponent α grows.

    Args:
        frame: One row per α with columns `alpha`, and `arp@k`, `coverage@k` for one k
            (the output of `lessons.widgets.alpha.alpha_sweep`).
        ax: Axes to draw on; a new figure's when None.
    """
    arp = [c for c in frame.columns if c.startswith("arp@")]
    cov = [c for c in frame.columns if c.startswith("coverage@")]
    if "alpha" not in frame or not arp or not cov:
        raise ValueError(
            "frame needs columns 'alpha', 'arp@k' and 'coverage@k'; build it with "
            f"lessons.widgets.alpha.alpha_sweep, got {list(frame.columns)}"
        )
    if frame.empty:
        raise ValueError("frame has no rows: alpha_sweep was given no α to try")
    ax = _axes(ax)
    ax.plot(frame["alpha"], frame[arp[0]], "o-", color="C0", label=arp[0])
    ax.set_xlabel(r"$\alpha$ in $\langle U_u, V_j\rangle \,/\, \|V_j\|^{\alpha}$")
    ax.set_ylabel(f"{arp[0]} (mean training count)", color="C0")
    right = ax.twinx()
    right.plot(frame["alpha"], frame[cov[0]], "s--", color="C1", label=cov[0])
    right.set_ylabel(cov[0], color="C1")
    # One legend for the two axes: without it only the labels' colours tie a line to its axis.
    ax.legend(handles=ax.lines + right.lines, fontsize="small", loc="center right")
    ax.set_title(r"Discounting $\|V_j\|$: popularity and coverage of the lists")
    return ax


def metric_bars(
    table: pd.DataFrame, metrics: Sequence[str], *, ax: Axes | None = None, title: str = ""
) -> Axes:
    """Grouped bars: one group per metric, one bar per row (model / protocol) of `table`.

    Args:
        table: Rows are the compared settings (the index labels the bars), columns metrics.
        metrics: Columns of `table` to draw (similar scales, e.g. recall@20 and ndcg@10); one
            name alone is fine.
        ax: Axes to draw on; None makes a new figure.
        title: Axes title.
    """
    if table.empty:
        raise ValueError("the table has no rows to draw (was it filtered to nothing?)")
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)  # not its letters
    missing = [m for m in metrics if m not in table.columns]
    if not len(metrics) or missing:
        raise ValueError(
            f"metrics {missing or list(metrics)} are not columns of the table; choose from "
            f"{list(table.columns)}"
        )
    ax = _axes(ax)
    width = 0.8 / len(table)
    x = np.arange(len(metrics))
    for i, (label, row) in enumerate(table[list(metrics)].iterrows()):
        colour = PALETTE[i % len(PALETTE)]
        ax.bar(x + i * width, row.to_numpy(dtype=float), width, label=str(label), color=colour)
    # Gini is the one 0-1 metric where lower is better for the catalogue: say so under it.
    ticks = [f"{m}\n(lower = more even)" if m.startswith("gini") else m for m in metrics]
    ax.set_xticks(x + width * (len(table) - 1) / 2, ticks)
    ax.set_ylabel("value")
    ax.set_title(title or "Metrics compared")
    ax.legend(fontsize="small")
    return ax


__all__ = ["alpha_sweep", "long_tail", "metric_bars", "norm_vs_popularity"]
