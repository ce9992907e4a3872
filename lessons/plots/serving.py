"""Static figures of notebook 06: an index's recall against its latency, and the cost of one
softmax forward and backward pass against the catalogue size.

Like `lessons.plots`, each function draws on the `ax` it is given (or a new figure's Axes)
and returns it; nothing is shown or saved here.
"""

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FixedLocator, NullLocator

from lessons.plots.core import _axes


def _check_columns(frame: pd.DataFrame, needed: tuple[str, ...], source: str) -> None:
    missing = [c for c in needed if c not in frame.columns]
    if frame.empty or missing:
        raise ValueError(
            f"the table needs rows and the columns {list(needed)} (missing {missing}); build it "
            f"with {source}"
        )


def _log_ticks(values: np.ndarray) -> list[float]:
    """Readable ticks that bracket `values`: matplotlib's log axis labels only powers of ten,
    so a range under a decade (IVF latencies) would carry one label, or none, and its values
    could not be read off. Denser mantissas the narrower the range; the first tick is at or
    below the smallest value and the last at or above the largest."""
    low, high = float(values.min()), float(values.max())
    span = np.log10(high / low)
    mantissas = (1, 2, 3, 5) if span <= 1 else (1, 2, 5) if span <= 2 else (1,)
    decades = range(int(np.floor(np.log10(low))), int(np.floor(np.log10(high))) + 2)
    ticks = [m * 10.0**e for e in decades for m in mantissas]
    first = max(t for t in ticks if t <= low * (1 + 1e-9))
    last = min(t for t in ticks if t >= high * (1 - 1e-9))
    return [t for t in ticks if first <= t <= last]


def recall_latency(table: pd.DataFrame, *, k: int, ax: Axes | None = None, title: str = "") -> Axes:
    """Recall@k against milliseconds per query: the IVF settings as a line, brute force as a point.

    Args:
        table: Output of `lessons.serving.ivf_tradeoff` for one number of lists C.
        k: The list length, for the axis label.
        ax: Axes to draw on; None makes a new figure.
        title: Axes title.
    """
    _check_columns(table, ("method", "n_clusters", "nprobe", "recall", "ms_per_query"),
                   "lessons.serving.ivf_tradeoff")  # fmt: skip
    ivf, brute = table[table["method"] == "IVF"], table[table["method"] == "brute force"]
    ms = table["ms_per_query"].to_numpy(dtype=float)
    if not (np.isfinite(ms) & (ms > 0)).all():
        raise ValueError(f"ms_per_query must be positive and finite on a log axis, got {ms}")
    if ivf["n_clusters"].nunique() > 1:
        several = ", ".join(map(str, sorted(ivf["n_clusters"].unique())))
        raise ValueError(f"the table holds several numbers of lists C ({several}); select "
                         "one C first")  # fmt: skip
    ax = _axes(ax)
    clusters = int(ivf["n_clusters"].iloc[0]) if len(ivf) else 0
    ax.plot(ivf["ms_per_query"], ivf["recall"], "o-", label=f"IVF, C={clusters} (labels: nprobe)")
    for _, row in ivf.iterrows():
        ax.annotate(f" {row['nprobe']}", (row["ms_per_query"], row["recall"]), fontsize=8)
    ax.plot(brute["ms_per_query"], brute["recall"], "s", color="C3", label="brute force")
    ax.set_xscale("log")
    ticks = _log_ticks(ms)
    ax.set_xlim(ticks[0] / 1.1, ticks[-1] * 1.1)  # every point between two labelled ticks
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter("{x:g}")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("ms per query (log scale, one query at a time)")
    ax.set_ylabel(f"recall@{k} vs brute force")
    ax.set_title(title or "Approximate search: recall against latency")
    ax.legend(loc="lower right")
    return ax


def softmax_step_cost(cost: pd.DataFrame, *, ax: Axes | None = None, title: str = "") -> Axes:
    """Milliseconds of one forward + backward pass against the catalogue size n, one line per
    loss (log-log); the optimizer's update is timed apart (`lessons.training_cost.update_cost`).

    Args:
        cost: Output of `lessons.training_cost.softmax_cost`.
        ax: Axes to draw on; None makes a new figure.
        title: Axes title.
    """
    _check_columns(cost, ("n_items", "loss", "seconds"), "lessons.training_cost.softmax_cost")
    ax = _axes(ax)
    names = {"full": "full softmax", "sampled": "in-batch (sampled) softmax"}
    for loss, rows in cost.groupby("loss"):
        ax.plot(rows["n_items"], rows["seconds"] * 1e3, "o-", label=names.get(loss, loss))
    ax.set(xscale="log", yscale="log")
    ax.set_xlabel("catalogue size n (items)")
    ax.set_ylabel("ms per forward + backward (log)")
    ax.set_title(title or "Forward + backward: full against in-batch softmax")
    ax.legend()
    return ax


__all__ = ["recall_latency", "softmax_step_cost"]
