"""Coverage bought by re-ranking, and what it leaves unchanged (notebook 05, section 2.4).

Coverage@k = |∪_u L_u| / n_items counts an item once, whether one user or five hundred see
it. So it can be raised without making any list less head-heavy: give a few users one
unshown item each in their last slot. `rerank_for_coverage` does exactly that, cheapest swap
first, and `coverage_rerank_table` puts the served and the re-ranked lists side by side
on coverage, NDCG, ARP and Gini. This is the aggregate-diversity re-ranking of Adomavicius &
Kwon (2012) in its simplest form: a real tool when the aim is to show more of the
catalogue, and a warning against reading coverage alone as "less popularity bias".
"""

import numbers
import warnings
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from lessons.config import DEFAULT_K
from lessons.data.dataset import Split, check_split
from lessons.metrics import evaluate_dict, top_k
from lessons.metrics.popularity import exposure_counts
from lessons.metrics.topk import PAD, check_k, to_numpy

# How far down each ranking swaps are looked for: the cheap ones sit near the top, and 100
# ranks already double the softmax DNN's coverage on ML-100K (notebook 05, section 2.4).
DEFAULT_DEPTH = 100
TABLE_METRICS = ("coverage", "ndcg", "arp", "gini", "aplt", "reach")


def rerank_for_coverage(
    scores: Any,
    k: int,
    target: float,
    *,
    exclude: sp.spmatrix | sp.sparray | None = None,
    depth: int = DEFAULT_DEPTH,
) -> np.ndarray:
    """Top-k lists whose last slot is swapped, user by user, until Coverage@k ≥ `target`.

    Greedy: a candidate pairs user u with an item j that no list shows yet, taken from
    ranks k+1..depth of u's ranking, at cost s_u,L_u[k] − s_uj (the score given up in the
    last slot). Cheapest candidates go first, and a swap is made only while the item pushed
    out of slot k stays in some other list, so each swap adds exactly one item to ∪_u L_u.
    The item a swap brings in is then in one list only, so no user changes twice, and slots
    1..k−1 never change. Greedy is a heuristic: one user's cheap swap can take the only new
    item another user had, so the score given up is not always the least possible.

    Args:
        scores: (n_users, n_items) scores, numpy array or torch tensor.
        k: List length.
        target: Coverage@k to reach, in (0, 1]. It may stop below it, with a warning: when
            the candidates run out (each user can add at most one item), and sometimes
            before, for the greedy reason above.
        exclude: Optional sparse (n_users, n_items) matrix of items never to list (seen ones).
        depth: How far down each ranking candidates are looked for; > k.

    Returns:
        int64 (n_users, k) item ids, best first (-1 pads users with fewer than k items).

    Raises:
        ValueError: On k <= 0, a target outside (0, 1], depth <= k, or what `top_k` rejects.
    """
    if isinstance(target, bool) or not isinstance(target, numbers.Real) or not 0 < target <= 1:
        raise ValueError(f"target coverage must be a number in (0, 1], got {target!r}")
    k, arr = check_k(k), to_numpy(scores, "scores")
    n_items = arr.shape[-1]
    if k > n_items:  # before depth is clipped to the catalogue, which would be blamed
        raise ValueError(
            f"k={k} exceeds the {n_items} items in the catalogue; choose k <= {n_items}"
        )
    depth = min(check_k(depth, "depth"), n_items)
    if depth <= k:
        raise ValueError(f"depth ({depth}) must exceed k ({k}) and fit the catalogue")
    ranked = top_k(arr, depth, exclude=exclude)  # (n_users, depth)
    lists = ranked[:, :k].copy()
    shown = exposure_counts(lists, n_items, k)  # lists each item is in
    need = int(np.ceil(target * n_items - 1e-9)) - int((shown > 0).sum())
    if need <= 0:
        return lists
    valued = np.take_along_axis(arr, np.where(ranked == PAD, 0, ranked), 1)
    deeper = ranked[:, k:]
    users, ranks = np.nonzero((deeper != PAD) & (shown[deeper] == 0))
    cost = valued[users, k - 1] - valued[users, k + ranks]
    for i in np.argsort(cost, kind="stable"):
        user, new, old = users[i], deeper[users[i], ranks[i]], lists[users[i], k - 1]
        if shown[new] or old == PAD or shown[old] < 2:
            continue
        lists[user, k - 1] = new
        shown[new], shown[old] = 1, shown[old] - 1
        need -= 1
        if need == 0:
            return lists
    reached = (shown > 0).sum() / n_items
    warnings.warn(
        f"re-ranking stopped at Coverage@{k} {reached:.3f}, below the target {target}: no "
        f"further swap within depth={depth} adds an item without dropping one (a larger depth "
        "may reach further)",
        stacklevel=2,
    )
    return lists


def coverage_rerank_table(
    scores: Any, split: Split, target: float, *, k: int = DEFAULT_K, depth: int = DEFAULT_DEPTH
) -> pd.DataFrame:
    """Coverage, NDCG, ARP, Gini, APLT and reach @k of the served and the re-ranked lists.

    Rows "served" (top-k of the scores), "re-ranked" (`rerank_for_coverage` to `target`)
    and "relative change" (re-ranked / served − 1, NaN where served is 0); column "users
    changed" counts the users whose list differs. Seen items are excluded and users are
    evaluated as in `lessons.metrics.evaluate`: only users with test items, so only their lists
    are re-ranked, and the target is reached over the lists that are evaluated.

    Raises:
        ValueError: For a split that ranks only candidate items (cold start): the re-rank
            draws from the whole catalogue.
    """
    if check_split(split, "split").candidates is not None:
        raise ValueError(
            "coverage_rerank_table ranks the whole catalogue; this split ranks only its "
            f"{len(split.candidates)} candidate items (a cold-start split)"
        )
    seen = split.seen_matrix()
    served = top_k(scores, k, exclude=seen)
    evaluated = np.flatnonzero(np.diff(split.test_matrix().indptr))
    reranked = served.copy()
    reranked[evaluated] = rerank_for_coverage(
        to_numpy(scores, "scores")[evaluated], k, target, exclude=seen[evaluated], depth=depth
    )
    metrics = [f"{name}@{k}" for name in TABLE_METRICS]
    table = pd.DataFrame(
        {
            name: evaluate_dict(lists, split, k=k, metrics=metrics)
            for name, lists in (("served", served), ("re-ranked", reranked))
        }
    ).T
    # From 0 (APLT when every listed item is in the head) a relative change is undefined: NaN,
    # not the inf a division would print.
    base = table.loc["served"].where(table.loc["served"] != 0)
    table.loc["relative change"] = table.loc["re-ranked"] / base - 1
    changed = int((served != reranked).any(axis=1).sum())
    table["users changed"] = pd.array([0, changed, pd.NA], dtype="Int64")
    return table


__all__ = ["coverage_rerank_table", "rerank_for_coverage"]
