"""Interactive "Try it" panels of the lessons, thin wrappers over library functions.

Each panel is an ipywidgets VBox (`lessons.widgets.base.Panel`): change a control (sliders
fire on release) and it recomputes through the library; bad input shows its message in the
panel, which keeps working. `result` and `error` make every panel testable without a browser.
"""

from lessons.widgets.alpha import (
    AlphaExplorer,
    alpha_metrics,
    alpha_report,
    alpha_sweep,
    model_scores,
)
from lessons.widgets.base import Panel
from lessons.widgets.bias import BiasExplorer
from lessons.widgets.build_user import BuildAUser
from lessons.widgets.logq import LogQExplorer
from lessons.widgets.playground import DNNPlayground
from lessons.widgets.serving import IVFExplorer
from lessons.widgets.split import SplitExplorer, protocol_table, split_report

__all__ = [
    "AlphaExplorer",
    "BiasExplorer",
    "BuildAUser",
    "DNNPlayground",
    "IVFExplorer",
    "LogQExplorer",
    "Panel",
    "SplitExplorer",
    "alpha_metrics",
    "alpha_report",
    "alpha_sweep",
    "model_scores",
    "protocol_table",
    "split_report",
]
