"""Notebook 06's "Try it": an IVF index's lists C and probes nprobe → recall against latency.

`ivf_report` does the work with `lessons.serving`: it searches with an `IVFIndex` and scores
the lists against the exact brute-force top-k. `IVFExplorer` wires two controls to it, caches
one index per C (k-means runs once per setting) and keeps a table of every setting tried.
"""

import ipywidgets as widgets
import numpy as np
import pandas as pd

from lessons.config import DEFAULT_K, DEFAULT_SEED
from lessons.serving import IVFIndex, brute_force_ms, brute_force_top_k, ivf_setting
from lessons.widgets.base import Panel, frame_html

CLUSTER_OPTIONS = (8, 16, 32, 64, 128, 256)


def ivf_report(
    index: IVFIndex, queries: np.ndarray, exact: np.ndarray, nprobe: int,
    baseline_ms: float | None = None,
) -> dict:  # fmt: skip
    """Recall@k of the IVF lists against `exact`, share of items scanned, ms per query.

    With `baseline_ms` (brute force's ms per query on the same queries) the report also has
    `speedup` = baseline_ms / ms_per_query, as in `lessons.serving.ivf_tradeoff`.

    Raises:
        ValueError: If nprobe is not in [1, n_clusters] (with the fix), or shapes mismatch.
    """
    report = ivf_setting(index, queries, exact, nprobe)  # as a row of `ivf_tradeoff`
    if baseline_ms is not None:
        report["speedup"] = baseline_ms / report["ms_per_query"]
    return report


class IVFExplorer(Panel):
    """Lists C (dropdown) and probes nprobe (slider) → one more row of recall / latency.

    Headless use: `w = IVFExplorer(items, queries); w.nprobe.value = 8`; `w.result` is the
    report dict of the latest setting (with its speedup over brute force, timed once, when the
    panel is built; every latency is the fastest of `lessons.serving.TIMING_PASSES` passes),
    `w.runs` the table of all of them; an nprobe above C leaves its message in `w.error`.
    """

    def __init__(
        self, items, queries, k: int = DEFAULT_K, n_clusters: int = 32, seed: int = DEFAULT_SEED
    ):
        if n_clusters not in CLUSTER_OPTIONS:
            raise ValueError(f"n_clusters must be one of {CLUSTER_OPTIONS}, got {n_clusters!r}")
        self.items, self.queries, self.seed = items, queries, seed
        self.exact = brute_force_top_k(queries, items, k)
        self.brute_force_ms = brute_force_ms(queries, items, k)  # what each speedup divides
        self.indexes: dict[int, IVFIndex] = {}
        self.runs = pd.DataFrame()
        self.n_clusters = widgets.Dropdown(
            options=CLUSTER_OPTIONS, value=n_clusters, description="lists C",
            tooltip="k-means lists the items are split into",
        )  # fmt: skip
        # Up to the largest C, so every list of every index can be probed (exact recall).
        self.nprobe = widgets.IntSlider(
            value=1, min=1, max=max(CLUSTER_OPTIONS), description="nprobe",
            continuous_update=False, tooltip="lists searched per query; nprobe = C is exact",
        )  # fmt: skip
        super().__init__([self.n_clusters, self.nprobe])
        self.refresh()

    def index(self, n_clusters: int) -> IVFIndex:
        if n_clusters not in self.indexes:  # k-means over the catalogue: 1-3 s on a busy core
            self.status.value = f"<i>building the index with C = {n_clusters} lists…</i>"
            self.indexes[n_clusters] = IVFIndex.build(self.items, n_clusters, self.seed)
        return self.indexes[n_clusters]

    def compute(self) -> dict:
        report = ivf_report(self.index(self.n_clusters.value), self.queries, self.exact,
                            self.nprobe.value, self.brute_force_ms)  # fmt: skip
        self.runs = pd.concat([self.runs, pd.DataFrame([report])], ignore_index=True)
        return report

    def render(self, result: dict) -> str:
        return "<b>Settings tried (latest last)</b>" + frame_html(self.runs)


__all__ = ["CLUSTER_OPTIONS", "IVFExplorer", "ivf_report"]
