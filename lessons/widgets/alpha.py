"""Notebook 01's "Try it": the norm exponent α of s_uj = ⟨U_u, V_j⟩ / ‖V_j‖^α.

`alpha_report` does the work with library calls: one user's list from
`lessons.recommend.recommend`, and metrics over every test user from
`lessons.metrics.evaluate_dict` on the α-discounted scores of `lessons.scoring`.
`AlphaExplorer` wires a slider and a user box to it.
"""

from collections.abc import Sequence

import ipywidgets as widgets
import numpy as np
import pandas as pd
import torch

from lessons.config import DEFAULT_K, USER
from lessons.data import Split
from lessons.metrics import evaluate_dict
from lessons.recommend import recommend
from lessons.scoring import all_user_scores
from lessons.widgets.base import Panel, frame_html

ALPHA_METRICS = ("recall", "ndcg", "coverage", "arp", "gini", "aplt")


# Said where a learner moves α (here and in the bias panel), not only in the notebook's text.
ALPHA_TOOLTIP = ("score_j / ‖V_j‖^α: 0 is the dot product; a larger α favours short item "
                 "vectors, mostly the less popular items")  # fmt: skip


def model_scores(
    model: torch.nn.Module, split: Split, *, alpha: float = 0.0, scoring: str = "dot"
) -> np.ndarray:
    """Scores of every (user, item), shape (n_users, n_items), under `scoring` and α (−inf
    rows for users with no input and nothing to evaluate: `lessons.scoring.all_user_scores`).

    s_uj = ⟨ψ(x_u), V_j⟩ / ‖V_j‖^α ("dot"), or the cosine ⟨ψ, V_j⟩ / (‖ψ‖ ‖V_j‖) ("cosine").

    Raises:
        ValueError: On a model sized for another catalogue, users it has no input for (MF on
            a cold-start-users split), an unknown scoring, a non-finite α, or α with cosine.
    """
    return all_user_scores(model, split, alpha=alpha, scoring=scoring).numpy()


def alpha_metrics(
    model: torch.nn.Module, split: Split, alpha: float, k: int = DEFAULT_K
) -> dict[str, float]:
    """Recall@20, NDCG@k, coverage@k, ARP@k, Gini@k and APLT@k at norm exponent α."""
    scores = model_scores(model, split, alpha=alpha)
    return evaluate_dict(scores, split, k=k, metrics=ALPHA_METRICS)


def alpha_sweep(
    model: torch.nn.Module, split: Split, alphas: Sequence[float], k: int = DEFAULT_K
) -> pd.DataFrame:
    """`alpha_metrics` for each α, one row per α (column `alpha` first)."""
    if not len(alphas):
        raise ValueError("alphas is empty; pass values such as (0, 0.5, 1, 1.5, 2)")
    rows = [{"alpha": float(a), **alpha_metrics(model, split, float(a), k)} for a in alphas]
    return pd.DataFrame(rows)


def alpha_report(
    model: torch.nn.Module, split: Split, user: int, alpha: float, k: int = DEFAULT_K
) -> tuple[pd.DataFrame, dict[str, float]]:
    """(top-k list of `user` at α, `alpha_metrics` over every test user at α)."""
    table = recommend(model, split, user, k, alpha=alpha)
    return table.drop(columns=USER), alpha_metrics(model, split, alpha, k)


class AlphaExplorer(Panel):
    """α slider + user id -> that user's list with popularity, and the metrics of all lists.

    Headless use: `w = AlphaExplorer(model, split); w.alpha.value = 1.0`; `w.result` is
    `(table, metrics)`; an unknown user id leaves its message in `w.error`.
    """

    def __init__(self, model: torch.nn.Module, split: Split, user: int = 0, k: int = DEFAULT_K):
        self.model, self.split, self.k = model, split, k
        self.alpha = widgets.FloatSlider(
            value=0.0, min=0.0, max=2.0, step=0.25, description="α",
            tooltip=ALPHA_TOOLTIP,
            continuous_update=False, readout_format=".2f",
        )  # fmt: skip
        self.user = widgets.IntText(value=user, description="user id")
        super().__init__([self.alpha, self.user])
        self.refresh()

    def compute(self) -> tuple[pd.DataFrame, dict[str, float]]:
        return alpha_report(self.model, self.split, self.user.value, self.alpha.value, self.k)

    def render(self, result: tuple[pd.DataFrame, dict[str, float]]) -> str:
        table, metrics = result
        summary = pd.DataFrame([{"mean popularity of this list": table["popularity"].mean()}])
        return (
            f"<b>User {self.user.value}, α = {self.alpha.value:.2f}</b>"
            + frame_html(table[["rank", "title", "score", "popularity"]])
            + frame_html(summary, "{:.1f}")
            + "<b>All test users</b>" + frame_html(pd.DataFrame([metrics]))
        )  # fmt: skip


__all__ = [
    "ALPHA_METRICS",
    "AlphaExplorer",
    "alpha_metrics",
    "alpha_report",
    "alpha_sweep",
    "model_scores",
]
