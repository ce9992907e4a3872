"""Static figures of notebook 05: recall by popularity decile, and the feedback loop.

Like `lessons.plots`, each function draws on the `ax` it is given (or a new figure's Axes)
and returns it; nothing is shown or saved here.
"""

import pandas as pd
from matplotlib.axes import Axes

from lessons.config import RECALL_K
from lessons.plots.core import PALETTE, _axes

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
    # A marker per model as well as a colour-blind-safe colour, so lines stay apart in grey too.
    for i, name in enumerate(frame.columns):
        style = {"marker": MARKERS[i % len(MARKERS)], "color": PALETTE[i % len(PALETTE)]}
        ax.plot(frame.index, frame[name], **style, label=str(name), ms=5)
    ax.set_xticks(list(frame.index))
    # Symlog: on a linear axis the rare deciles' recalls (0.002 to 0.03) sit on one flat line
    # under the head's 0.5, and which model reaches into the tail is the question asked.
    ax.set_yscale("symlog", linthresh=0.01)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("item-popularity decile (1 = rarest, 10 = most popular)")
    ax.set_ylabel(f"recall@{k} of the decile's test items\n(symlog: linear below 0.01)")
    ax.set_title("Who finds the long tail?")
    ax.legend(fontsize="small")
    return ax


def feedback_loop(frame: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Coverage@k (left axis) and the head share of training interactions (right) per round.

    Args:
        frame: Output of `lessons.evaluation_demos.feedback_loop`.
        ax: Axes to draw on; a new figure's when None.
    """
    cov = [c for c in frame.columns if c.startswith("coverage@")]
    if "round" not in frame or "head_share" not in frame or not cov:
        raise ValueError(
            "frame needs columns 'round', 'head_share' and 'coverage@k'; build it with "
            f"lessons.evaluation_demos.feedback_loop, got {list(frame.columns)}"
        )
    if frame.empty:
        raise ValueError(
            "frame has no rounds; build it with lessons.evaluation_demos.feedback_loop"
        )
    if not frame[cov[0]].iloc[0] > 0:
        raise ValueError(
            f"round {frame['round'].iloc[0]} has {cov[0]} 0: no change can be relative to it"
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
