"""Figures of notebooks 02 and 03: training curves, the depth × feature grid, a 2-D map of V.

Functions draw on the axes they are given (or a new figure) and return them; `LiveCurves` is
a `fit` callback that redraws the curves of a History into an ipywidgets HTML area after each
epoch, so a widget shows training as it happens and a test can read the result headless.
"""

import base64
import io
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, MaxNLocator
from sklearn.decomposition import PCA

from lessons.config import DEFAULT_K, DEFAULT_SEED
from lessons.history import History
from lessons.plots.core import PALETTE, _axes

CURVES_FIGSIZE = (9.0, 3.2)  # loss and metric side by side


def history_curves(history: History, axes: Sequence[Axes] | None = None) -> Sequence[Axes]:
    """Left: training (and evaluation) loss per epoch. Right: Recall@k and NDCG@k per epoch.

    Raises:
        ValueError: For a History with no completed epoch.
    """
    frame = history.to_frame()
    if frame.empty:
        raise ValueError("the History has no epoch yet; train first (fit or recipes.train)")
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=CURVES_FIGSIZE, layout="constrained")
    loss_ax, metric_ax = axes
    loss_ax.plot(frame["epoch"], frame["train_loss"], "o-", ms=3, label="train")
    evaluated = frame.dropna(subset=[f"ndcg@{history.k}"])
    loss_ax.plot(evaluated["epoch"], evaluated["valid_loss"], "s--", ms=3, label=history.monitor)
    # model.loss: the cross-entropy plus whatever penalty the model adds (MF's L2, gravity).
    loss_ax.set(xlabel="epoch", ylabel="loss", title="Loss")
    loss_ax.legend(fontsize="small")
    for name in (f"recall@{history.k}", f"ndcg@{history.k}"):
        metric_ax.plot(evaluated["epoch"], evaluated[name], "o-", ms=3, label=name)
    metric_ax.set(xlabel="epoch", ylabel="value", title=f"Ranking metrics ({history.monitor})")
    metric_ax.legend(fontsize="small")
    # Whole epochs only (the default locator put ticks at 2.5, 7.5, ...), and one epoch range
    # for both panels even when evaluation skipped the first epochs.
    metric_ax.set_xlim(loss_ax.get_xlim())
    for ax in axes:  # a single epoch spans less than 1: the locator would tick 0.95, 1.0, 1.05
        ax.xaxis.set_major_locator(
            FixedLocator(frame["epoch"])
            if len(frame) == 1
            # steps 1, 2, 5: over 20 epochs, ticks 5, 10, 15, 20, where the playground evaluates
            else MaxNLocator(integer=True, steps=[1, 2, 5, 10])
        )
    return axes


def figure_html(fig: Figure, dpi: int = 80) -> str:
    """A figure as an inline PNG <img> (for an HTML widget); the figure is closed."""
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=dpi)
    finally:  # a widget redraws in a loop: a figure left open on an error would pile up
        plt.close(fig)
    return f"<img src='data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}'/>"


class LiveCurves:
    """`fit` callback: redraw `history_curves` into `target.value` (an HTML widget).

    It redraws every `every` epochs, after epoch `last` and after the epoch where early
    stopping ends the run (drawing takes ~0.2–0.5 s on a busy 2-core machine, which would
    double a 2-second training run if done every epoch). An interrupted run ends between
    callbacks: call `draw(history)` afterwards to show its last epochs.
    """

    def __init__(self, target, every: int = 1, last: int | None = None) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive integer, got {every!r}")
        self.target, self.every, self.last, self.calls = target, every, last, 0
        self.drawn: int | None = None  # the last epoch on the figure

    def __call__(self, history: History, model) -> None:
        epoch = history.rows[-1]["epoch"]
        if epoch % self.every == 0 or epoch == self.last or history.stopped_early:
            self.draw(history)

    def draw(self, history: History) -> None:
        """Redraw the curves of every epoch in `history` now.

        Raises:
            ValueError: For a History with no completed epoch (no figure is left open).
        """
        # A fixed layout: constrained layout takes most of a redraw's time (~0.5 s).
        fig, axes = plt.subplots(1, 2, figsize=CURVES_FIGSIZE)
        fig.subplots_adjust(left=0.08, right=0.98, bottom=0.16, top=0.9, wspace=0.25)
        try:
            history_curves(history, axes)
        except BaseException:  # an interrupt too: the figure must not outlive the redraw
            plt.close(fig)
            raise
        self.target.value = figure_html(fig)  # 80 dpi: at 60 the legend text was ~7 px
        self.calls += 1
        self.drawn = history.rows[-1]["epoch"] if history.rows else None


def grid_bars(
    summary: pd.DataFrame, metric: str = f"ndcg@{DEFAULT_K}", ax: Axes | None = None
) -> Axes:
    """Bars of the mean `metric` per depth, one colour per feature set, ± 1 std over seeds.

    Args:
        summary: `lessons.experiments.grid_summary` output (depth, features, mean, std).
        metric: The summarized metric, for the axis label.
        ax: Axes to draw on; a new figure's when None.
    """
    missing = [c for c in ("depth", "features", "mean", "std") if c not in summary.columns]
    if missing:  # run_grid's own table has one row per run, without mean and std
        raise ValueError(f"summary needs columns depth, features, mean, std; missing "
                         f"{', '.join(missing)} (use grid_summary)")  # fmt: skip
    if summary.empty:
        raise ValueError("summary has no rows: run_grid found nothing to summarize")
    ax = _axes(ax)
    depths, sets = sorted(summary["depth"].unique()), list(summary["features"].unique())
    width = 0.8 / len(sets)
    for i, name in enumerate(sets):
        rows = summary[summary["features"] == name].set_index("depth").reindex(depths)
        x = np.arange(len(depths)) + i * width
        ax.bar(x, rows["mean"], width, yerr=rows["std"].fillna(0), capsize=3, label=name,
               color=PALETTE[i % len(PALETTE)])  # fmt: skip
    ax.set_xticks(np.arange(len(depths)) + width * (len(sets) - 1) / 2, [str(d) for d in depths])
    # From zero: a bar's length is its value, and a cut axis would stretch differences of the
    # size of the seed spread into visible steps (the table beside the plot has the digits).
    ax.set_ylim(0.0, None)
    ax.set(xlabel="hidden layers", ylabel=metric, title="Depth × features (mean ± std over seeds)")
    ax.legend(fontsize="small")
    return ax


def project_2d(vectors: np.ndarray, seed: int = DEFAULT_SEED) -> np.ndarray:
    """PCA of the rows of `vectors` to 2-D, shape (n, 2)."""
    array = np.asarray(vectors, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] < 2 or array.shape[1] < 2:
        raise ValueError(f"vectors must be an (n >= 2, d >= 2) matrix, got shape {array.shape}")
    return PCA(n_components=2, random_state=seed).fit_transform(array)


def embedding_map(coords: np.ndarray, colour: np.ndarray, *, title: str, log: bool = False,
                  labels: Sequence[str] | None = None, ax: Axes | None = None) -> Axes:  # fmt: skip
    """Scatter of 2-D item coordinates coloured by a value (log scale optional) or a category.

    Args:
        coords: (n, 2) coordinates, e.g. `project_2d(V)`.
        colour: (n,) numbers, or category codes when `labels` names them.
        labels: Category names for codes 0..len(labels)-1 (legend instead of a colour bar).
        title: The figure's title.
        log: Colour numbers on a log scale (counts spanning decades, such as popularity).
        ax: Axes to draw on; a new figure's when None.
    """
    coords, colour = np.asarray(coords), np.asarray(colour)  # lists too
    if coords.shape != (len(colour), 2):
        raise ValueError(f"coords {coords.shape} and colour ({len(colour)},) do not match")
    if labels is not None and not np.isin(colour, np.arange(len(labels))).all():
        # A code without a label would be left off the map without a word.
        raise ValueError(
            f"colour holds category codes outside 0..{len(labels) - 1}: give one label per code"
        )
    if labels is not None:
        named = [code for code in range(len(labels)) if labels[code] != "other"]
        # Colour-blind-safe colours while they last, else tab20's (C10 would repeat C0).
        palette = PALETTE if len(named) <= len(PALETTE) else plt.get_cmap("tab20").colors
        if len(named) > len(palette):  # checked before a figure exists: none is left blank
            raise ValueError(f"{len(named)} categories, but only {len(palette)} distinct colours; "
                             "name fewer (the rest fall into 'other')")  # fmt: skip
    if ax is None:
        _, ax = plt.subplots(figsize=(5.0, 4.0), layout="constrained")
    if labels is None:
        values = np.log10(1 + colour) if log else colour
        points = ax.scatter(coords[:, 0], coords[:, 1], c=values, s=6, cmap="viridis")
        plt.colorbar(points, ax=ax, label="log10(1 + popularity)" if log else "value")
    else:
        # "other" first and in grey, then the named categories largest first: drawn the other
        # way round, one big category (romance on ML-100K) hid most points of the small ones.
        sizes = np.bincount(colour.astype(int), minlength=len(labels))
        order = sorted(range(len(labels)), key=lambda code: (labels[code] != "other", -sizes[code]))
        for code in order:
            mask, grey = colour == code, labels[code] == "other"
            ax.scatter(coords[mask, 0], coords[mask, 1], s=4 if grey else 7, label=labels[code],
                       color="#cccccc" if grey else palette[named.index(code)],
                       alpha=1.0 if grey else 0.75, linewidths=0)  # fmt: skip
        ax.legend(fontsize="small", markerscale=2)
    ax.set(xlabel="PC 1", ylabel="PC 2", title=title)
    return ax


__all__ = ["LiveCurves", "embedding_map", "figure_html", "grid_bars", "history_curves",
           "project_2d"]  # fmt: skip
