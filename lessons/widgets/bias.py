"""Notebook 05's comparison of models and its "Try it": how popular is what each model shows?

`compare_models` and `decile_recall` tabulate every model at once from precomputed scores;
`bias_report` is one model's list (with a head / tail badge per item) and its metrics, under
dot, cosine or α scoring. `BiasExplorer` wires a model menu, the scoring, α, k and a user id
to `bias_report`.
"""

import html
from typing import Any

import ipywidgets as widgets
import numpy as np
import pandas as pd
import torch

from lessons.config import DEFAULT_K, ITEM, RECALL_K, USER
from lessons.data import Split
from lessons.evaluation_demos import scores_for
from lessons.metrics import evaluate_dict, recall_by_popularity_decile, short_head, top_k
from lessons.recommend import recommend
from lessons.scoring import SCORINGS, check_int
from lessons.widgets.alpha import ALPHA_TOOLTIP, model_scores
from lessons.widgets.base import Panel, frame_html

BIAS_METRICS = ("recall", "ndcg", "coverage", "arp", "gini", "aplt", "reach")


def compare_models(scores: dict[str, Any], split: Split, k: int = DEFAULT_K) -> pd.DataFrame:
    """One row per model: Recall@20, NDCG@k, coverage@k, ARP@k, Gini@k, APLT@k, reach@k.

    Args:
        scores: Model name -> score matrix (n_users, n_items) on `split`.
        split: The split the models were trained on.
        k: Cut-off of every metric but recall.
    """
    if not scores:
        raise ValueError("scores is empty; pass {model name: score matrix}")
    rows = {name: evaluate_dict(s, split, k=k, metrics=BIAS_METRICS) for name, s in scores.items()}
    return pd.DataFrame(rows).T


def decile_recall(scores: dict[str, Any], split: Split, k: int = RECALL_K) -> pd.DataFrame:
    """Recall@k of the test items of each item-popularity decile (1 = rarest), one column per model.

    Pooled over users (`lessons.metrics.recall_by_popularity_decile`); ranking excludes each
    user's seen items (`split.seen_matrix()`: train, query, validation), as in `evaluate`.
    """
    if not scores:
        raise ValueError("scores is empty; pass {model name: score matrix}")
    seen, truth, counts = split.seen_matrix(), split.test_matrix(), split.item_popularity()
    columns = {}
    for name, s in scores.items():
        lists = top_k(np.asarray(s), k, exclude=seen)
        table = recall_by_popularity_decile(lists, truth, counts, k)
        columns[name] = table.set_index("decile")["recall"]
    return pd.DataFrame(columns)


def _scores(model: Any, split: Split, scoring: str, alpha: float) -> np.ndarray:
    if isinstance(model, torch.nn.Module):
        return model_scores(model, split, alpha=alpha, scoring=scoring)
    return scores_for(model, split)  # baselines: recommend() has already refused α / cosine


def bias_report(
    model: Any, split: Split, user: int, *, scoring: str = "dot", alpha: float = 0.0,
    k: int = DEFAULT_K,
) -> tuple[pd.DataFrame, dict[str, float]]:  # fmt: skip
    """(`user`'s top-k list with a head / tail badge, the metrics of every test user's list).

    The badge is "head" for the 20% most-interacted training items (`short_head`), else "tail".

    Raises:
        ValueError: On an unknown user, k out of range, an unknown scoring, α with cosine, or
            α / cosine with a baseline (it has no embeddings).
    """
    table = recommend(model, split, user, k, alpha=alpha, scoring=scoring).drop(columns=USER)
    head = short_head(split.item_popularity())
    table.insert(4, "badge", np.where(head[table[ITEM].to_numpy()], "head", "tail"))
    metrics = evaluate_dict(_scores(model, split, scoring, alpha), split, k=k, metrics=BIAS_METRICS)
    return table, metrics


class BiasExplorer(Panel):
    """Model, scoring, α, k and a user id -> the list with popularity badges, and all metrics.

    Headless use: `w = BiasExplorer({"EASE": ease, "MF": mf}, split); w.model.value = "MF";
    w.scoring.value = "cosine"`; `w.result` is `(table, metrics)`, and a refused setting (e.g.
    an unknown user id) leaves its message in `w.error`. The scoring is disabled for a
    baseline, and α for a baseline or cosine: they do not apply there.
    """

    def __init__(self, models: dict[str, Any], split: Split, user: int = 0, k: int = DEFAULT_K):
        if not models:
            raise ValueError("models is empty; pass {name: trained model or fitted baseline}")
        self.models, self.split = dict(models), split
        self.model = widgets.Dropdown(options=list(self.models), description="model")
        self.scoring = widgets.Dropdown(
            options=SCORINGS,
            value="dot",
            description="scoring",
            tooltip="dot: the inner product with V_j, which grows with ‖V_j‖; cosine: the angle "
            "only (models with embeddings)",
        )
        self.alpha = widgets.FloatSlider(
            value=0.0, min=0.0, max=2.0, step=0.25, description="α",
            tooltip=ALPHA_TOOLTIP,
            continuous_update=False, readout_format=".2f",
        )  # fmt: skip
        # Checked here: an IntSlider clamps a value outside its range without a word, so a
        # notebook's K = 100 would have shown @50 lists beside @100 metrics elsewhere.
        k = check_int("k", k, 1, split.n_items, hint=" (at most the catalogue size)")
        self.k = widgets.IntSlider(value=k, min=1, max=max(50, k), description="k",
                                   continuous_update=False)  # fmt: skip
        self.user = widgets.IntText(value=user, description="user id")
        super().__init__([self.model, self.scoring, self.alpha, self.k, self.user])
        self._enable_scoring_controls()
        self.refresh()

    def _baseline(self) -> bool:
        """A baseline has its own scores (a count, an item-item regression): no embeddings."""
        return not isinstance(self.models[self.model.value], torch.nn.Module)

    def _enable_scoring_controls(self) -> None:
        # Greyed out where they cannot apply, rather than refused after the move: cosine
        # already divides by ‖V_j‖, and a baseline has no V_j. Their values are kept for later.
        self.scoring.disabled = self._baseline()
        self.alpha.disabled = self._baseline() or self.scoring.value == "cosine"

    def _on_change(self, change: Any = None) -> None:
        self._enable_scoring_controls()  # before the refresh, which reads the enabled ones
        super()._on_change(change)

    def compute(self) -> tuple[pd.DataFrame, dict[str, float]]:
        scoring = "dot" if self.scoring.disabled else self.scoring.value
        alpha = 0.0 if self.alpha.disabled else self.alpha.value
        return bias_report(
            self.models[self.model.value], self.split, self.user.value,
            scoring=scoring, alpha=alpha, k=self.k.value,
        )  # fmt: skip

    def render(self, result: tuple[pd.DataFrame, dict[str, float]]) -> str:
        table, metrics = result
        # Named, because after a refused input the panel keeps this output under other controls.
        how = ""
        if not self.scoring.disabled:
            alpha = "" if self.alpha.disabled else f", α = {self.alpha.value:.2f}"
            how = f", {self.scoring.value}{alpha}"
        heading = (f"<b>{html.escape(self.model.value)}{how}: "
                   f"user {self.user.value}'s top {self.k.value}</b>")  # fmt: skip
        tail = (table["badge"] == "tail").mean()
        summary = pd.DataFrame([{"mean popularity": table["popularity"].mean(),
                                 "tail items": f"{tail:.0%}"}])  # fmt: skip
        return (
            heading + frame_html(table[["rank", "title", "popularity", "badge", "score"]])
            + frame_html(summary, "{:.1f}")
            + "<b>All test users</b>" + frame_html(pd.DataFrame([metrics]))
        )  # fmt: skip


__all__ = ["BIAS_METRICS", "BiasExplorer", "bias_report", "compare_models", "decile_recall"]
