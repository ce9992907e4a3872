"""The lessons' figures, by topic: `core` (data and recommendation lists), `training`
(History curves, live curves, the depth grid, embedding maps), `bias` (popularity deciles,
the feedback loop) and `serving` (an index's recall against latency, the softmax step cost).
Every function that draws takes the `ax` to draw on (`history_curves`: `axes`, one per panel)
or makes a new figure's, and returns it; none calls `plt.show`. `project_2d` returns
coordinates and `figure_html` an HTML string.
"""

from lessons.plots.core import FIGSIZE, alpha_sweep, long_tail, metric_bars, norm_vs_popularity

__all__ = ["FIGSIZE", "alpha_sweep", "long_tail", "metric_bars", "norm_vs_popularity"]
