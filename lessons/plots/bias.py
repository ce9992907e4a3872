"""Static figures of notebook 05: recall by popularity decile, and the feedback loop.

Like `lessons.plots`, each function draws on the `ax` it is given (or a new figure's Axes)
and returns it; nothing is shown or saved here.
"""

import pandas as pd
from matplotlib.axes import Axes

from lessons.config import RECALL_K
from lessons.plots.core import _axes

MARKERS = "osD^vPX*"  # one per line, cycled


def decile_recall(frame: pd.DataFrame, *, k: int = RECALL_K, ax: Axes | None = None) -> Axes:
    """One line per model: recall@k of the test items in each popularity decile (1 = rarest).

    Args:
        frame: Index = decile, one column per model (`lessons.widgets.bias.decile_recall`).
        k: The cut-off, for the labels.
        ax: Axes to draw on; None makes a new figure.
    """
    if frame.empty or frame.shape[1] == 0:
        raise ValueError("frame is empty; build it with lessons.widgets.bias.decile_recall")
    ax = _axes(ax)
    # A marker per model as well as a colour: six lines of the default palette include pairs
    # (green and red, red and brown) that colour-blind readers cannot tell apart.
    for i, name in enumerate(frame.columns):
        marker = MARKERS[i % len(MARKERS)]
        ax.plot(frame.index, frame[name], marker=marker, color=f"C{i}", label=str(name), ms=5)
    ax.set_xticks(list(frame.index))
    ax.set_xlabel("item-popularity decile (1 = rarest, 10 = most popular)")
    ax.set_ylabel(f"recall@{k} of the decile's test items")
    ax.set_title("Who finds the long tail?")
    ax.legend(fontsize="small")
    return ax


def feedback_loop(frame: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Coverage@k (left axis) and the head share of training interactions (right) per round.

    Args:
        frame: Output of `lessons.evaluation_demos.feedback_loop`.
    """
    cov = [c for c in frame.columns if c.startswith("coverage@")]
    if "round" not in frame or "head_share" not in frame or not cov:
        raise ValueError(
            "frame needs columns 'round', 'head_share' and 'coverage@k'; build it with "
            f"lessons.evaluation_demos.feedback_loop, got {list(frame.columns)}"
        )
    ax = _axes(ax)
    ax.plot(frame["round"], frame[cov[0]], "o-", color="C0", label=cov[0])
    ax.set_xlabel("round (retrained on its own recommendations)")
    ax.set_ylabel(cov[0], color="C0")
    right = ax.twinx()
    right.plot(frame["round"], frame["head_share"], "s--", color="C3")
    right.set_ylabel("share of training on the short head", color="C3")
    # Each axis is zoomed to its own data, so equal slopes can be very unequal changes: the
    # subtitle gives their sizes (on ML-100K coverage -10 %, the head share +1.2 points).
    (c0, c1), (h0, h1) = frame[cov[0]].iloc[[0, -1]], frame["head_share"].iloc[[0, -1]]
    ax.set_title(
        "Feedback loop: coverage falls, the head grows\n"
        f"{cov[0]} {c0:.3f} → {c1:.3f} ({c1 / c0 - 1:+.0%}), head share {h0:.1%} → {h1:.1%} "
        f"({100 * (h1 - h0):+.1f} points)",
        fontsize="medium",
    )
    return ax


__all__ = ["decile_recall", "feedback_loop"]
