"""Accuracy of top-k lists against held-out items: precision, recall, NDCG, MAP, hit rate.

Every function takes `(topk, truth, k)`:

* `topk`: (n_users, >= k) int item ids, best first (from `top_k`); -1 is an empty slot.
* `truth`: sparse (n_users, n_items) matrix; every stored non-zero entry is a relevant item
  (binary relevance, e.g. `split.test_matrix()`). Row u of `truth` belongs to row u of `topk`.

Only users with at least one relevant item are averaged; users without test items are left
out. A user whose list is empty (all -1) counts as 0. microsoft/recommenders gives the same
values when every user of the ground truth has a list (its NDCG averages over those users, its
precision, recall and MAP over the users that also have predictions).
With `reduce=False` a function returns one value per user instead, NaN for the users left
out — handy for error bars or per-group breakdowns.

Notation: rel_u = relevant items of user u, hit_r = 1 if the item at rank r is relevant,
hits_u = Σ_{r≤k} hit_r.
"""

import numpy as np
import scipy.sparse as sp

from lessons.metrics.topk import check_k, validate_topk


def relevant_matrix(truth: sp.spmatrix | sp.sparray, n_users: int) -> sp.csr_matrix:
    """`truth` as a canonical binary CSR (sorted ids, no duplicates, no explicit zeros)."""
    if truth.shape[0] != n_users:
        raise ValueError(
            f"truth has shape {truth.shape} but topk has {n_users} rows; "
            "both must cover the same users, row for row"
        )
    rel = sp.csr_matrix(truth, copy=True)
    rel.sum_duplicates()  # also sorts the column ids of each row; before eliminate_zeros,
    rel.eliminate_zeros()  # so that entries summing to 0 (+1 and -1) are no relevant item
    return rel


def hits_matrix(topk: np.ndarray, truth: sp.spmatrix | sp.sparray, k: int) -> np.ndarray:
    """Boolean (n_users, k) matrix: True where the item at that rank is relevant.

    The lookup is vectorized: each (user, item) pair becomes the key user·n_items + item,
    and keys are searched in the sorted keys of `truth`'s entries (CSR order is sorted).
    """
    return _hits_and_counts(topk, truth, k)[0]


def _hits_and_counts(
    topk: np.ndarray, truth: sp.spmatrix | sp.sparray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Validated hits matrix (n_users, k) and the number of relevant items of each user."""
    k = check_k(k)
    if not sp.issparse(truth) or truth.ndim != 2:
        raise ValueError(
            f"truth must be a 2-D scipy.sparse matrix of relevant items, got "
            f"{type(truth).__name__}; use split.test_matrix()"
        )
    lists = validate_topk(topk, k, truth.shape[1])
    rel = relevant_matrix(truth, lists.shape[0])
    n_items = rel.shape[1]
    rows = np.repeat(np.arange(rel.shape[0], dtype=np.int64), np.diff(rel.indptr))
    keys = rows * n_items + rel.indices
    query = np.arange(lists.shape[0], dtype=np.int64)[:, None] * n_items + lists
    pos = np.searchsorted(keys, query)
    if keys.size == 0:
        return np.zeros(lists.shape, dtype=bool), np.diff(rel.indptr)
    hits = (keys[np.minimum(pos, keys.size - 1)] == query) & (lists >= 0)
    return hits, np.diff(rel.indptr)


def _finish(per_user: np.ndarray, n_relevant: np.ndarray, reduce: bool) -> float | np.ndarray:
    """Mean over users with >= 1 relevant item, or per-user values with NaN elsewhere."""
    has_truth = n_relevant > 0
    if reduce:
        if not has_truth.any():
            raise ValueError(
                "truth has no relevant item for any user, so the mean is undefined; "
                "check that the test set is not empty"
            )
        return float(per_user[has_truth].mean())
    return np.where(has_truth, per_user, np.nan)


def precision_at_k(
    topk: np.ndarray, truth: sp.spmatrix | sp.sparray, k: int, *, reduce: bool = True
) -> float | np.ndarray:
    """Precision@k = hits_u / k, averaged over users with test items.

    Empty slots (-1) count as misses, so the denominator is always k.
    """
    hits, n_rel = _hits_and_counts(topk, truth, k)
    return _finish(hits.sum(axis=1) / k, n_rel, reduce)


def recall_at_k(
    topk: np.ndarray, truth: sp.spmatrix | sp.sparray, k: int, *, reduce: bool = True
) -> float | np.ndarray:
    """Recall@k = hits_u / |rel_u|, averaged over users with test items.

    A user with more than k test items cannot reach 1; see `recall_at_k_capped`.
    """
    hits, n_rel = _hits_and_counts(topk, truth, k)
    return _finish(hits.sum(axis=1) / np.maximum(n_rel, 1), n_rel, reduce)


def recall_at_k_capped(
    topk: np.ndarray, truth: sp.spmatrix | sp.sparray, k: int, *, reduce: bool = True
) -> float | np.ndarray:
    """Capped recall@k = hits_u / min(k, |rel_u|), averaged over users with test items.

    The denominator is the best achievable number of hits, so a perfect list scores 1
    even for users with more than k test items.
    """
    hits, n_rel = _hits_and_counts(topk, truth, k)
    return _finish(hits.sum(axis=1) / np.clip(n_rel, 1, k), n_rel, reduce)


def ndcg_at_k(
    topk: np.ndarray, truth: sp.spmatrix | sp.sparray, k: int, *, reduce: bool = True
) -> float | np.ndarray:
    """NDCG@k with binary relevance, averaged over users with test items.

    DCG_u = Σ_{r=1..k} hit_r / log2(r + 1);  IDCG_u = Σ_{r=1..min(k, |rel_u|)} 1 / log2(r + 1);
    NDCG_u = DCG_u / IDCG_u. The log base cancels in the ratio, so this equals the natural-log
    variant of microsoft/recommenders and sklearn's `ndcg_score(y_true, scores, k=k)`; the
    latter only when no scores tie (sklearn averages over tied items, `top_k` takes the lower
    id), no item is excluded, and its rows are those of users with test items.
    """
    hits, n_rel = _hits_and_counts(topk, truth, k)
    k = hits.shape[1]
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    # Both sums run left to right, so a perfect list scores exactly 1: a matrix product adds in
    # another order and gave 1.0000000000000004 at k = 35, an NDCG above its maximum.
    dcg = np.cumsum(hits * discount, axis=1)[:, -1]
    ideal = np.cumsum(discount)[np.clip(n_rel, 1, k) - 1]
    return _finish(dcg / ideal, n_rel, reduce)


def map_at_k(
    topk: np.ndarray, truth: sp.spmatrix | sp.sparray, k: int, *, reduce: bool = True
) -> float | np.ndarray:
    """MAP@k: mean over users with test items of AP@k.

    AP@k_u = Σ_{r=1..k} P@r · hit_r / min(k, |rel_u|), with P@r = (Σ_{j≤r} hit_j) / r.

    The denominator min(k, |rel_u|) follows microsoft/recommenders `map_at_k` (and Spark's
    MAP@k): a perfect list scores 1. Note that recommenders' `map` divides by |rel_u|
    instead, which penalises users with more than k test items; we use the `map_at_k` one.
    """
    hits, n_rel = _hits_and_counts(topk, truth, k)
    k = hits.shape[1]
    precision_at_r = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    ap = (precision_at_r * hits).sum(axis=1) / np.clip(n_rel, 1, k)
    return _finish(ap, n_rel, reduce)


def hit_rate_at_k(
    topk: np.ndarray, truth: sp.spmatrix | sp.sparray, k: int, *, reduce: bool = True
) -> float | np.ndarray:
    """Hit rate@k = share of users (with test items) whose top k holds >= 1 relevant item.

    Per user (reduce=False): 1.0 for a hit, 0.0 for none, NaN without test items.
    """
    hits, n_rel = _hits_and_counts(topk, truth, k)
    return _finish(hits.any(axis=1).astype(np.float64), n_rel, reduce)


__all__ = [
    "hit_rate_at_k",
    "hits_matrix",
    "map_at_k",
    "ndcg_at_k",
    "precision_at_k",
    "recall_at_k",
    "recall_at_k_capped",
]
