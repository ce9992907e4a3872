"""One call from a model's scores (or its top-k lists) and a `Split` to a table of metrics.

Protocol (the one every lesson and the benchmark use):

* Only users with at least one test item are ranked and evaluated — accuracy metrics and
  popularity metrics alike, so both describe the same lists.
* Ranking is over the full catalogue, or over `split.candidates` when the split sets them
  (cold-start items). With `exclude_seen`, each user's `split.seen_matrix()` items are
  removed before ranking: everything known at test time, i.e. train, the revealed query
  (cold-start users) and the validation part, which was carved from the user's own
  interactions. The model's INPUT is train + query only (`split.history_matrix()`).
* Relevant items are the user's test items (binary); popularity is `split.item_popularity()`.
* Coverage and Gini are computed over the rankable catalogue: all items, or the candidates.
"""

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from lessons.config import DEFAULT_K, DEFAULT_SEED, REACH_TOP, RECALL_K
from lessons.data.dataset import Split, check_split
from lessons.metrics.popularity import (
    aplt_at_k,
    arp_at_k,
    coverage_at_k,
    gini_at_k,
    reach_at_k,
)
from lessons.metrics.ranking import (
    hit_rate_at_k,
    map_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    recall_at_k_capped,
)
from lessons.metrics.topk import PAD, check_k, to_numpy, top_k, validate_candidates, validate_topk

ACCURACY_METRICS = {
    "recall": recall_at_k,
    "recall_capped": recall_at_k_capped,
    "ndcg": ndcg_at_k,
    "precision": precision_at_k,
    "map": map_at_k,
    "hit_rate": hit_rate_at_k,
}
POPULARITY_METRICS = ("coverage", "arp", "gini", "aplt")
# On request only: the share of users shown one of the REACH_TOP most popular items (NaN for
# a catalogue of at most REACH_TOP items and for a cold-start-items split, where it cannot vary).
METRIC_NAMES = (*ACCURACY_METRICS, *POPULARITY_METRICS, "reach")
DEFAULT_METRICS = ("recall", "ndcg", "precision", "map", "hit_rate", *POPULARITY_METRICS)
# These read the cut-off `recall_k` when no "@k" is given; every other metric reads `k`.
_RECALL_FAMILY = ("recall", "recall_capped")


def parse_metrics(
    metrics: Sequence[str] | str | None, k: int, recall_k: int
) -> list[tuple[str, int]]:
    """Turn metric specs ("ndcg", "recall@50", ...) into unique (name, cut-off) pairs.

    A bare name uses `recall_k` for recall and `k` for everything else; "name@n" sets n.
    """
    k, recall_k = check_k(k), check_k(recall_k, "recall_k")
    specs = (
        DEFAULT_METRICS if metrics is None else [metrics] if isinstance(metrics, str) else metrics
    )
    if not isinstance(specs, Iterable):
        raise ValueError(f"metrics must be a name, a list of names or None, got {metrics!r}")
    pairs: list[tuple[str, int]] = []
    for spec in specs:
        name, has_cut, cut = str(spec).partition("@")
        if name not in METRIC_NAMES:
            raise ValueError(
                f"unknown metric {spec!r}; choose from {', '.join(METRIC_NAMES)}, "
                "optionally with a cut-off such as 'ndcg@20'"
            )
        if has_cut:
            if not (cut.isascii() and cut.isdigit()) or int(cut) == 0:  # not "²"
                raise ValueError(f"cut-off in {spec!r} must be a positive integer, e.g. 'ndcg@20'")
            n = int(cut)
        else:
            n = recall_k if name in _RECALL_FAMILY else k
        if (name, n) not in pairs:
            pairs.append((name, n))
    if not pairs:
        raise ValueError(f"metrics is empty; pass names from {', '.join(METRIC_NAMES)} or None")
    return pairs


def _lists(
    scores_or_topk: Any, split: Split, users: np.ndarray, max_k: int, exclude_seen: bool
) -> np.ndarray:
    """Top-max_k lists of `users`, ranked from scores or sliced from precomputed lists.

    An integer array is read as precomputed item lists, used as given: no exclusion or
    candidate filtering is applied (with candidates, coverage and Gini then ignore any
    listed item outside them). A floating array or tensor is read as scores.
    """
    arr = to_numpy(scores_or_topk, "scores_or_topk")
    if arr.ndim != 2:
        raise ValueError(
            f"expected a 2-D score matrix or top-k array, got shape {arr.shape}; "
            f"scores must be ({split.n_users}, {split.n_items})"
        )
    if np.issubdtype(arr.dtype, np.integer):
        if arr.shape[0] != split.n_users or arr.shape[1] < max_k:
            raise ValueError(
                f"top-k lists have shape {arr.shape}; expected ({split.n_users}, >= {max_k}): "
                "one row per user of the split and at least as many items as the largest k"
            )
        try:  # here, not in each metric: with candidates the ids are re-indexed first
            return validate_topk(arr[users], max_k, split.n_items)
        except ValueError as err:
            if arr.shape[1] != split.n_items:
                raise
            # A full (n_users, n_items) integer matrix is more likely scores than lists.
            raise ValueError(
                f"{err}. An integer array is read as top-k item lists; if these are "
                "integer scores (counts, say), pass them as floats: scores.astype(float)"
            ) from None
    if arr.shape != (split.n_users, split.n_items):
        raise ValueError(
            f"scores have shape {arr.shape}; expected (n_users, n_items) = "
            f"({split.n_users}, {split.n_items}) for this split"
        )
    exclude = split.seen_matrix()[users] if exclude_seen else None
    return top_k(arr[users], max_k, exclude=exclude, candidates=split.candidates)


def evaluate(
    scores_or_topk: Any,
    split: Split,
    *,
    k: int = DEFAULT_K,
    recall_k: int = RECALL_K,
    exclude_seen: bool = True,
    metrics: Sequence[str] | str | None = None,
) -> pd.DataFrame:
    """Evaluate a model on the test part of `split` (see the module docstring for the protocol).

    Args:
        scores_or_topk: Scores (n_users, n_items) as a float numpy array or torch tensor, or
            precomputed top-k item ids (n_users, >= every cut-off) as an integer array.
        split: The split whose test items are the targets.
        k: Cut-off of every metric except recall.
        recall_k: Cut-off of recall (and capped recall).
        exclude_seen: Remove each user's seen items before ranking (scores only).
        metrics: Names from `METRIC_NAMES`, each optionally "name@n" for its own cut-off;
            None means `DEFAULT_METRICS`.

    Returns:
        Tidy DataFrame with columns metric, k, value, one row per metric, in the requested
        order. `attrs["n_users"]` holds the number of evaluated users.

    Raises:
        ValueError: On a score matrix of the wrong shape, k <= 0, a cut-off larger than the
            rankable catalogue, an unknown metric, or a split without test interactions.
    """
    check_split(split, "split")
    pairs = parse_metrics(metrics, k, recall_k)
    max_k = max(n for _, n in pairs)
    candidates = split.candidates
    if candidates is not None:  # checked here too: ready-made lists never pass through top_k
        candidates = validate_candidates(candidates, split.n_items)
    n_rankable = split.n_items if candidates is None else candidates.size
    if max_k > n_rankable:
        raise ValueError(
            f"cut-off {max_k} exceeds the {n_rankable} rankable items of this split; "
            f"use k and recall_k <= {n_rankable}"
        )
    truth = split.test_matrix()
    users = np.flatnonzero(np.diff(truth.indptr))
    if users.size == 0:
        raise ValueError(f"{split!r} has no test interactions to evaluate against")
    lists = _lists(scores_or_topk, split, users, max_k, exclude_seen)
    truth = truth[users]
    train_counts = split.item_popularity()
    # Coverage and Gini are shares of the rankable catalogue: re-index lists to candidates.
    exposure_lists, n_catalogue = lists, split.n_items
    if candidates is not None:
        position = np.full(split.n_items + 1, PAD, dtype=np.int64)  # last slot serves -1
        position[candidates] = np.arange(candidates.size)
        exposure_lists, n_catalogue = position[lists], candidates.size

    rows = []
    for name, n in pairs:
        if name in ACCURACY_METRICS:
            value = ACCURACY_METRICS[name](lists, truth, n)
        elif name == "coverage":
            value = coverage_at_k(exposure_lists, n_catalogue, n)
        elif name == "gini":
            value = gini_at_k(exposure_lists, n_catalogue, n)
        elif name == "arp":
            value = arp_at_k(lists, train_counts, n)
        elif name == "aplt":
            value = aplt_at_k(lists, train_counts, n)
        elif split.n_items <= REACH_TOP or candidates is not None:
            # Undefined where the head cannot vary: every item is "top", or (cold-start items)
            # no candidate was ever interacted with, so none is.
            value = float("nan")
        else:
            value = reach_at_k(lists, train_counts, n)
        rows.append({"metric": name, "k": n, "value": float(value)})
    table = pd.DataFrame(rows, columns=["metric", "k", "value"])
    table.attrs["n_users"] = int(users.size)
    return table


def evaluate_dict(
    scores_or_topk: Any,
    split: Split,
    *,
    k: int = DEFAULT_K,
    recall_k: int = RECALL_K,
    exclude_seen: bool = True,
    metrics: Sequence[str] | str | None = None,
) -> dict[str, float]:
    """Same as `evaluate`, as a dict keyed "metric@k" (e.g. "recall@20", "ndcg@10")."""
    table = evaluate(
        scores_or_topk, split, k=k, recall_k=recall_k, exclude_seen=exclude_seen, metrics=metrics
    )
    return {f"{row.metric}@{row.k}": row.value for row in table.itertuples(index=False)}


def chance_recall(
    split: Split, *, k: int = RECALL_K, draws: int = 200, seed: int = DEFAULT_SEED
) -> np.ndarray:
    """Recall@k of random rankings, one random order shared by every user in each draw.

    A random order per user has mean Recall@k = k / n_rankable (each test item lands in the
    top k with that probability). A model whose scores say nothing about the test items but
    are alike across users (untrained item vectors, a prior on the items' features) ranks
    like one shared order instead: same mean, a much wider spread, since one draw decides
    every user's list. Where a score falls in that spread says whether it beats chance.

    Args:
        split: The split to evaluate on (its candidates and seen items are honoured).
        k: Recall's cut-off.
        draws: Number of random orders.
        seed: Seed of the orders.

    Returns:
        Recall@k of each draw, shape (draws,).
    """
    rng = np.random.default_rng(seed)
    shape = (split.n_users, split.n_items)
    return np.array([
        evaluate_dict(np.broadcast_to(rng.random(split.n_items), shape), split, recall_k=k,
                      metrics=["recall"])[f"recall@{k}"]
        for _ in range(draws)
    ])  # fmt: skip


__all__ = [
    "ACCURACY_METRICS",
    "DEFAULT_METRICS",
    "METRIC_NAMES",
    "POPULARITY_METRICS",
    "chance_recall",
    "evaluate",
    "evaluate_dict",
    "parse_metrics",
]
