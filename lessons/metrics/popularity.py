"""Beyond accuracy: how much of the catalogue is recommended, and how popular it is.

All functions read the first k columns of a top-k array (n_users, >= k) of item ids, where
-1 is an empty slot that is skipped. `train_counts[j]` is the number of training
interactions of item j (`split.item_popularity()`), written c_j below. L_u is the list of
user u (its non-empty slots among the first k).
"""

import numpy as np
import pandas as pd
import scipy.sparse as sp

from lessons.config import REACH_TOP, SHORT_HEAD_SHARE
from lessons.metrics.ranking import hits_matrix, relevant_matrix
from lessons.metrics.topk import PAD, check_k, to_numpy, validate_topk


def _counts(train_counts: np.ndarray) -> np.ndarray:
    counts = to_numpy(train_counts, "train_counts")
    if counts.ndim != 1 or counts.size == 0:
        raise ValueError(
            f"train_counts must be a non-empty 1-D array (one count per item), got shape "
            f"{counts.shape}; use split.item_popularity()"
        )
    if not np.issubdtype(counts.dtype, np.number):
        raise ValueError(f"train_counts must hold numbers (interaction counts), got {counts.dtype}")
    bad = np.flatnonzero(~np.isfinite(counts) | (counts < 0))
    if bad.size:  # name the first bad item: a NaN from a division, a -1 used as a marker
        raise ValueError(f"train_counts must hold finite, non-negative interaction counts per "
                         f"item, got {counts[bad[0]]} for item {bad[0]}")  # fmt: skip
    # Signed, because orderings negate the counts and -c wraps around for unsigned integers
    # (the column sums of a uint8 matrix are uint64).
    return counts.astype(np.int64) if counts.dtype.kind == "u" else counts


def _n_items(n_items: int) -> int:
    return check_k(n_items, "n_items")


def popularity_order(train_counts: np.ndarray) -> np.ndarray:
    """Item ids from most to least interacted; equal counts are ordered by lower item id."""
    return np.argsort(-_counts(train_counts), kind="stable")


def short_head(train_counts: np.ndarray, share: float = SHORT_HEAD_SHARE) -> np.ndarray:
    """Boolean mask (n_items,) of the short head: the ceil(share · n_items) most-interacted items.

    At the boundary, items with equal counts are taken by lower item id, so the head always
    has exactly ceil(share · n_items) items and the mask is deterministic. Everything
    outside the head is the long tail.

    Raises:
        ValueError: If `share` is not strictly between 0 and 1.
    """
    if not 0 < share < 1:
        raise ValueError(f"share must be strictly between 0 and 1 (e.g. 0.2), got {share!r}")
    counts = _counts(train_counts)
    return _top_mask(counts, int(np.ceil(share * counts.size)))


def _top_mask(counts: np.ndarray, n: int) -> np.ndarray:
    """Boolean (n_items,): the n most interacted items, ties by lower id (`popularity_order`)."""
    mask = np.zeros(counts.size, dtype=bool)
    mask[popularity_order(counts)[:n]] = True
    return mask


def coverage_at_k(topk: np.ndarray, n_items: int, k: int) -> float:
    """Catalogue coverage@k = |∪_u L_u| / n_items.

    The denominator is the whole catalogue (n_items), so items a model can never reach
    (e.g. items absent from train) count as uncovered: coverage answers "how much of what we
    sell is ever shown?". microsoft/recommenders' `catalog_coverage` divides by the number
    of distinct items in train instead, which reads higher when the catalogue has items
    without training interactions.
    """
    lists = validate_topk(topk, k, _n_items(n_items))
    shown = np.unique(lists[lists != PAD])
    return shown.size / n_items


def exposure_counts(topk: np.ndarray, n_items: int, k: int) -> np.ndarray:
    """How many lists each item appears in (within their first k), shape (n_items,)."""
    lists = validate_topk(topk, k, _n_items(n_items))
    return np.bincount(lists[lists != PAD], minlength=n_items)


def gini_at_k(topk: np.ndarray, n_items: int, k: int) -> float:
    """Gini index of recommendation exposure over the whole catalogue.

    x_i = number of lists item i appears in, for all n_items items (never recommended
    items have x_i = 0). With x sorted ascending, x_(1) <= ... <= x_(n):

        G = Σ_{i=1..n} (2i − n − 1) · x_(i) / (n · Σ_i x_i)

    0 means every item is shown equally often; values near 1 mean exposure is concentrated
    on a few items (maximum (n − 1) / n when a single item gets it all).
    """
    exposure = np.sort(exposure_counts(topk, n_items, k)).astype(np.float64)
    total = exposure.sum()
    if total == 0:
        raise ValueError("topk holds no recommendation (every slot is -1); Gini is undefined")
    n = exposure.size
    weights = 2 * np.arange(1, n + 1) - n - 1
    return float(weights @ exposure / (n * total))


def _lists_and_mask(topk: np.ndarray, train_counts: np.ndarray, k: int):
    counts = _counts(train_counts)
    lists = validate_topk(topk, k, counts.size)
    filled = lists != PAD
    list_len = filled.sum(axis=1)
    if not list_len.any():
        raise ValueError("topk holds no recommendation (every slot is -1)")
    return counts, lists, filled, list_len


def arp_at_k(topk: np.ndarray, train_counts: np.ndarray, k: int) -> float:
    """Average Recommendation Popularity (Abdollahpouri et al.):

        ARP = (1/|U|) Σ_u Σ_{j∈L_u} c_j / |L_u|

    i.e. the mean training popularity of a recommended item, averaged per user. Users with
    an empty list (all slots -1) are left out of |U|.
    """
    counts, lists, filled, list_len = _lists_and_mask(topk, train_counts, k)
    popularity = np.where(filled, counts[np.maximum(lists, 0)], 0)
    keep = list_len > 0
    return float((popularity.sum(axis=1)[keep] / list_len[keep]).mean())


def aplt_at_k(
    topk: np.ndarray, train_counts: np.ndarray, k: int, short_head_share: float = SHORT_HEAD_SHARE
) -> float:
    """Average Percentage of Long Tail items (Abdollahpouri et al.):

        APLT = (1/|U|) Σ_u |{i ∈ L_u : i ∉ Φ}| / |L_u|

    where the short head Φ is `short_head(train_counts, short_head_share)` (the 20% most
    interacted items by default, boundary ties by lower item id) and the long tail is the
    rest. Users with an empty list are left out of |U|.
    """
    counts, lists, filled, list_len = _lists_and_mask(topk, train_counts, k)
    tail = ~short_head(counts, short_head_share)
    in_tail = filled & tail[np.maximum(lists, 0)]
    keep = list_len > 0
    return float((in_tail.sum(axis=1)[keep] / list_len[keep]).mean())


def reach_at_k(topk: np.ndarray, train_counts: np.ndarray, k: int, top: int = REACH_TOP) -> float:
    """Share of users shown at least one of the `top` most interacted items:

        reach = (1/|U|) Σ_u 1[L_u ∩ T ≠ ∅],  T = the first `top` items of `popularity_order`

    How far the very head of the catalogue reaches: Popularity shows it to everyone (1.0).
    Users with an empty list are left out of |U|.

    Raises:
        ValueError: If `top` is not an integer in [1, n_items].
    """
    counts, lists, filled, list_len = _lists_and_mask(topk, train_counts, k)
    top = check_k(top, "top")
    if top > counts.size:
        raise ValueError(f"top={top} exceeds the {counts.size} items; choose top <= {counts.size}")
    shown = (filled & _top_mask(counts, top)[np.maximum(lists, 0)]).any(axis=1)
    return float(shown[list_len > 0].mean())


def popularity_bins(train_counts: np.ndarray, n_bins: int = 10) -> np.ndarray:
    """Popularity bin of each item, 1 (least interacted) .. n_bins (most interacted).

    Items are ranked by `popularity_order` (ties by lower id = more popular) and cut into
    n_bins groups of (nearly) equal numbers of items, not of interactions.
    """
    order = popularity_order(train_counts)
    n = order.size
    n_bins = check_k(n_bins, "n_bins")
    if n_bins > n:
        raise ValueError(f"n_bins={n_bins} exceeds the {n} items; choose n_bins <= {n}")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)  # 0 = most popular
    return n_bins - rank * n_bins // n


def recall_by_popularity_decile(
    topk: np.ndarray,
    truth: sp.spmatrix | sp.sparray,
    train_counts: np.ndarray,
    k: int,
    n_bins: int = 10,
) -> pd.DataFrame:
    """Recall@k restricted to the test items of each item-popularity bin.

    For bin d (see `popularity_bins`: 1 = least popular items, n_bins = most popular),
    pooled over all users:

        recall_d = Σ_u |top-k_u ∩ rel_u ∩ D| / Σ_u |rel_u ∩ D|

    Pooling (rather than averaging per user) keeps every bin defined even though most
    users have no test item in most bins. A bin without test items gets NaN.

    Returns:
        DataFrame with columns decile, n_items, n_test_items, n_hits, recall (one row per bin).
    """
    counts = _counts(train_counts)
    if not sp.issparse(truth) or truth.shape[1] != counts.size:
        raise ValueError(
            f"truth must be a scipy.sparse (n_users, {counts.size}) matrix (one column per "
            "item of train_counts); use split.test_matrix()"
        )
    hits = hits_matrix(topk, truth, k)
    lists = validate_topk(topk, k, counts.size)
    bins = popularity_bins(counts, n_bins)
    rel = relevant_matrix(truth, truth.shape[0])
    minlength = n_bins + 1  # bin ids start at 1
    n_test = np.bincount(bins[rel.indices], minlength=minlength)[1:]
    n_hits = np.bincount(bins[lists[hits]], minlength=minlength)[1:]
    recall = np.where(n_test > 0, n_hits / np.maximum(n_test, 1), np.nan)
    return pd.DataFrame(
        {
            "decile": np.arange(1, n_bins + 1),
            "n_items": np.bincount(bins, minlength=minlength)[1:],
            "n_test_items": n_test,
            "n_hits": n_hits,
            "recall": recall,
        }
    )


__all__ = [
    "aplt_at_k",
    "arp_at_k",
    "coverage_at_k",
    "exposure_counts",
    "gini_at_k",
    "popularity_bins",
    "popularity_order",
    "reach_at_k",
    "recall_by_popularity_decile",
    "short_head",
]
