"""The lessons' figures, by topic: `core` (data and recommendation lists), `training`
(History curves, live curves, the depth grid, embedding maps), `bias` (popularity deciles,
the feedback loop) and `serving` (an index's recall against latency, the softmax step cost).
Every function draws on the `ax` it is given, or a new figure's Axes, and returns it; none
calls `plt.show`.
"""

from lessons.plots.core import FIGSIZE, alpha_sweep, long_tail, metric_bars, norm_vs_popularity

__all__ = ["FIGSIZE", "alpha_sweep", "long_tail", "metric_bars", "norm_vs_popularity"]
