"""Notebook 00's "Try it": choose a split protocol and test share, see sizes and a baseline score.

`split_report` is the whole computation (a split from `lessons.data`, the Popularity baseline
from `lessons.baselines`, metrics from `lessons.metrics`); `SplitExplorer` only wires controls
to it.
"""

import ipywidgets as widgets
import numpy as np
import pandas as pd

from lessons.baselines import Popularity
from lessons.config import DEFAULT_K, DEFAULT_SEED, ITEM, RECALL_K, USER
from lessons.data import (
    Dataset,
    Split,
    cold_start_items,
    cold_start_users,
    random_split,
    temporal_split,
)
from lessons.metrics import evaluate_dict
from lessons.widgets.base import Panel, frame_html

PROTOCOLS = ("random", "temporal", "cold_users", "cold_items")
QUERY_FRAC = 0.5  # share of each cold user's history revealed as the query
# What the one "test share" slider holds out under each protocol: at 0.9, cold_users puts 44%
# of the interactions in test on ML-100K, random 90%.
HELD_OUT = {
    "random": "{:.0%} of each user's interactions held out at random",
    "temporal": "the latest {:.0%} of each user's interactions held out",
    "cold_users": "{:.0%} of the users held out whole (the first "
    f"{QUERY_FRAC:.0%} of each one's history revealed as query)",
    "cold_items": "{:.0%} of the items held out whole",
}
REPORT_METRICS = ("recall", "ndcg", "coverage", "arp")
MAX_TEST_FRAC = 0.9  # the slider's end: a larger test share leaves too little to train on


def make_split(data: Dataset, protocol: str, test_frac: float, seed: int = DEFAULT_SEED) -> Split:
    """The `protocol` split of `data` holding out `test_frac`.

    For "random" and "temporal" `test_frac` is the share of each user's interactions held out;
    for "cold_users" / "cold_items" it is the share of users / items held out whole.

    Raises:
        ValueError: On an unknown protocol, or a fraction the split rejects.
    """
    if protocol == "random":
        return random_split(data, test_frac, seed=seed)
    if protocol == "temporal":
        return temporal_split(data, test_frac)
    if protocol == "cold_users":
        return cold_start_users(data, user_frac=test_frac, query_frac=QUERY_FRAC, seed=seed)
    if protocol == "cold_items":
        return cold_start_items(data, item_frac=test_frac, seed=seed)
    raise ValueError(f"unknown split protocol {protocol!r}; choose one of {PROTOCOLS}")


def split_sizes(split: Split) -> pd.DataFrame:
    """Rows, users and items of each non-empty part of `split` (train, query, test)."""
    parts = {"train": split.train, "query": split.query, "test": split.test}
    rows = [
        {
            "part": name,
            "interactions": len(frame),
            "users": frame[USER].nunique(),
            "items": frame[ITEM].nunique(),
        }
        for name, frame in parts.items()
        if frame is not None
    ]
    return pd.DataFrame(rows)


def popularity_metrics(split: Split, seed: int = DEFAULT_SEED) -> dict[str, float]:
    """Recall@20, NDCG@10, coverage@10 and ARP@10 of the Popularity baseline on `split`.

    The baseline counts training interactions only. Equal counts are ordered at random (a
    jitter in [0, 0.5) drawn with `seed`, which never reorders different counts): in a
    cold-items split every candidate has count 0, and ranking them by item id instead would
    score whatever the id order happens to correlate with.
    """
    cut_off = max(DEFAULT_K, RECALL_K)
    if split.candidates is not None and len(split.candidates) < cut_off:
        # The panel has no k to lower, so say which of its own controls helps.
        raise ValueError(
            f"only {len(split.candidates)} cold items are held out, fewer than the "
            f"Recall@{cut_off} cut-off: raise the test share"
        )
    scores = Popularity().fit(split.train_matrix()).scores(split.history_matrix())
    jitter = np.random.default_rng(seed).random(split.n_items, dtype=np.float32) * 0.5
    return evaluate_dict(scores + jitter, split, metrics=REPORT_METRICS)


def split_report(
    data: Dataset, protocol: str, test_frac: float, seed: int = DEFAULT_SEED
) -> tuple[pd.DataFrame, dict[str, float]]:
    """(`split_sizes`, `popularity_metrics`) of `make_split(data, protocol, test_frac, seed)`."""
    split = make_split(data, protocol, test_frac, seed)
    return split_sizes(split), popularity_metrics(split, seed)


def protocol_table(data: Dataset, test_frac: float = 0.2, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Popularity-baseline metrics under every protocol, one row per protocol."""
    rows = {p: split_report(data, p, test_frac, seed)[1] for p in PROTOCOLS}
    return pd.DataFrame.from_dict(rows, orient="index")


class SplitExplorer(Panel):
    """Protocol dropdown + test-share slider -> split sizes and Popularity's metrics.

    Headless use: `w = SplitExplorer(data); w.protocol.value = "temporal"` recomputes;
    `w.result` is `(sizes, metrics)`, `w.error` the message of a rejected setting.

    Args:
        data: The dataset to split.
        test_frac: The slider's first test share: the notebook's, so the panel opens on the
            split of the table above it.
        seed: Seed of every split.
    """

    def __init__(self, data: Dataset, test_frac: float = 0.2, seed: int = DEFAULT_SEED):
        self.data, self.seed = data, seed
        # Checked here: a slider clamps a value outside its range without a word, so 0.95
        # would have opened at 0.9, unlike the table above the panel.
        real = isinstance(test_frac, int | float | np.number) and not isinstance(test_frac, bool)
        if not real or not 0 < test_frac <= MAX_TEST_FRAC:
            raise ValueError(f"test_frac must lie in (0, {MAX_TEST_FRAC}] for this panel, got "
                             f"{test_frac!r}")  # fmt: skip
        self.protocol = widgets.Dropdown(options=PROTOCOLS, value="random", description="split")
        self.test_frac = widgets.FloatSlider(
            value=test_frac, min=0.0, max=MAX_TEST_FRAC, step=0.05, description="test share",
            continuous_update=False, readout_format=".2f",
            tooltip="share held out: of each user's interactions (random, temporal), of the "
                    "users (cold_users) or of the items (cold_items)",
        )  # fmt: skip
        super().__init__([self.protocol, self.test_frac])
        self.refresh()

    def compute(self) -> tuple[pd.DataFrame, dict[str, float]]:
        share = float(self.test_frac.value)
        if not 0 < share < 1:  # the split's own message names test_frac / user_frac / item_frac
            raise ValueError(f"test share must lie strictly between 0 and 1, got {share:.2f}")
        return split_report(self.data, self.protocol.value, share, self.seed)

    def render(self, result: tuple[pd.DataFrame, dict[str, float]]) -> str:
        sizes, metrics = result
        scores = pd.DataFrame([metrics])
        return (
            f"<b>Split sizes</b> ({self.protocol.value}: "
            f"{HELD_OUT[self.protocol.value].format(self.test_frac.value)})"
            + frame_html(sizes, "{:.0f}")
            + "<b>Popularity baseline on this split</b>" + frame_html(scores)
        )  # fmt: skip


__all__ = [
    "PROTOCOLS",
    "SplitExplorer",
    "make_split",
    "popularity_metrics",
    "protocol_table",
    "split_report",
    "split_sizes",
]
