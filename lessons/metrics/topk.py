"""Top-k recommendation lists over the full catalogue, for every user at once.

Conventions used by every metric in `lessons.metrics`:

* A top-k array has shape (n_users, k), dtype int64, and holds item ids, best first.
* Ties in score are broken by the lower item id, so the same scores always give the same lists.
* An item whose score is -inf is never recommended: that is how seen items (`exclude`) and
  items outside `candidates` are removed. When a user has fewer than k rankable items left,
  the end of the row is padded with -1; the metrics treat -1 as an empty slot (never a hit,
  never an exposure).
* k larger than the number of rankable items of the catalogue (all items, or `candidates`)
  raises `ValueError`: there is no sensible list of that length for anyone.
"""

from typing import Any

import numpy as np
import scipy.sparse as sp

# Scores handled per block of rows; bounds the temporary copies to ~64 MB (float64) so a
# large user×item matrix (e.g. MovieLens 1M, 6040×3706) never needs a second full copy.
_BLOCK_ELEMENTS = 1 << 23

PAD = -1  # item id of an empty slot in a top-k row


def to_numpy(array: Any, name: str) -> np.ndarray:
    """Return `array` (numpy array, torch tensor or nested list) as a numpy array.

    Torch is never imported here: a tensor is recognized by its `detach`/`cpu` methods, so
    `lessons.metrics` stays importable (and fast to import) without touching torch.
    """
    if hasattr(array, "detach") and hasattr(array, "cpu"):
        tensor = array.detach().cpu()
        # numpy has no bfloat16; half-precision scores are widened rather than rejected.
        if tensor.dtype.is_floating_point and tensor.dtype.itemsize < 4:
            tensor = tensor.float()
        return tensor.numpy()
    try:
        return np.asarray(array)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"{name} must be array-like (numpy array or torch tensor): {err}"
        ) from None


def check_k(k: Any, name: str = "k") -> int:
    """Return `k` as an int, or raise `ValueError` unless it is a positive integer."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k <= 0:
        raise ValueError(f"{name} must be a positive integer (e.g. 10), got {k!r}")
    return int(k)


def validate_topk(topk: Any, k: int, n_items: int) -> np.ndarray:
    """Check a top-k array and return its first `k` columns as int64.

    Args:
        topk: Item ids, shape (n_users, >= k), best first; -1 marks an empty slot.
        k: Cut-off to keep.
        n_items: Catalogue size; every id must lie in [0, n_items) or be -1.

    Raises:
        ValueError: If `topk` is not a 2-D integer array with at least `k` columns, holds an
            id outside the catalogue, or repeats an item within a user's first k slots.
    """
    k = check_k(k)
    arr = to_numpy(topk, "topk")
    if arr.ndim != 2:
        raise ValueError(
            f"topk must be 2-D (n_users, k) item ids, got shape {arr.shape}; "
            "build it with lessons.metrics.top_k(scores, k)"
        )
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(
            f"topk must hold integer item ids, got dtype {arr.dtype}; if these are scores, "
            "rank them first with lessons.metrics.top_k(scores, k)"
        )
    if arr.shape[1] < k:
        raise ValueError(
            f"topk has {arr.shape[1]} columns but k={k}; compute the lists with at least k items"
        )
    arr = arr[:, :k]
    if arr.size and (arr.min() < PAD or arr.max() >= n_items):  # before the cast: 2**64 - 1
        raise ValueError(  # would become -1 as int64
            f"topk item ids must lie in [0, {n_items}) (or be {PAD} for an empty slot), "
            f"got values from {arr.min()} to {arr.max()}"
        )
    arr = arr.astype(np.int64, copy=False)
    ordered = np.sort(arr, axis=1)
    repeated = (ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] != PAD)
    if repeated.any():
        user = int(np.flatnonzero(repeated.any(axis=1))[0])
        raise ValueError(
            f"topk repeats an item within the first {k} slots (first at row {user}); "
            "each list must recommend an item at most once"
        )
    return arr


def validate_candidates(candidates: Any, n_items: int) -> np.ndarray:
    ids = to_numpy(candidates, "candidates")
    if ids.ndim != 1 or ids.size == 0 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(
            "candidates must be a non-empty 1-D array of integer item ids, "
            f"got shape {ids.shape} and dtype {ids.dtype}"
        )
    if ids.min() < 0 or ids.max() >= n_items:
        raise ValueError(
            f"candidates must be item ids in [0, {n_items}), got {ids.min()} to {ids.max()}"
        )
    return np.unique(ids).astype(np.int64)  # sorted: column order = item-id order


def _validate_exclude(exclude: Any, shape: tuple[int, int]) -> sp.csr_matrix:
    if not sp.issparse(exclude):
        raise ValueError(
            f"exclude must be a scipy.sparse matrix of seen items, got {type(exclude).__name__}; "
            "use split.seen_matrix()"
        )
    if exclude.shape != shape:
        raise ValueError(
            f"exclude has shape {exclude.shape} but scores have shape {shape}; "
            "both must be (n_users, n_items) for the same users and items"
        )
    return sp.csr_matrix(exclude)


def _top_k_block(block: np.ndarray, k: int) -> np.ndarray:
    """Top-k ids of each row of `block` (already holding -inf for unrankable items).

    A partition finds each row's k-th largest score t and every item scoring >= t is kept.
    Only rows where more than k items reach t (ties at the cut, which continuous scores
    rarely produce) are revisited, keeping the tied items with the lowest ids. This equals
    a full stable sort by (-score, id) at the cost of a partition (linear in n_items).
    """
    m, n = block.shape
    threshold = np.partition(block, n - k, axis=1)[:, n - k : n - k + 1]
    chosen = block >= threshold
    # Rows whose k-th score is -inf have fewer than k rankable items: keep only the finite
    # ones and pad the row with -1 below.
    short = np.flatnonzero(np.isneginf(threshold[:, 0]))
    if short.size:
        chosen[short] = block[short] > -np.inf
    crowded = np.flatnonzero(chosen.sum(axis=1) > k)
    if crowded.size:
        sub, cut = block[crowded], threshold[crowded]
        above = sub > cut
        tied = sub == cut
        free_slots = k - above.sum(axis=1, keepdims=True)
        chosen[crowded] = above | (tied & (np.cumsum(tied, axis=1) <= free_slots))
    # flatnonzero + divmod is much faster than 2-D nonzero; ids come out ascending per row.
    rows, cols = np.divmod(np.flatnonzero(chosen), n)
    counts = np.bincount(rows, minlength=m)
    if (counts == k).all():
        out = cols.reshape(m, k)
    else:
        out = np.full((m, k), PAD, dtype=np.int64)
        out[rows, np.arange(rows.size) - np.repeat(np.cumsum(counts) - counts, counts)] = cols
    values = np.where(out >= 0, np.take_along_axis(block, np.maximum(out, 0), axis=1), -np.inf)
    # Stable sort keeps the ascending-id order among equal scores: the documented tie-break.
    order = np.argsort(-values, axis=1, kind="stable")
    return np.take_along_axis(out, order, axis=1).astype(np.int64, copy=False)


def top_k(
    scores: Any,
    k: int,
    exclude: sp.spmatrix | sp.sparray | None = None,
    candidates: Any = None,
    *,
    block_rows: int | None = None,
) -> np.ndarray:
    """Top-k item ids of every user, ranked over the full catalogue.

    Args:
        scores: Shape (n_users, n_items), numpy array or torch tensor; higher is better.
            -inf means "never recommend"; NaN is rejected.
        k: List length.
        exclude: Optional sparse (n_users, n_items) matrix; every stored non-zero entry
            (e.g. training items, `split.seen_matrix()`) is removed from that user's ranking.
        candidates: Optional item ids; only these items are ranked (cold-start items).
        block_rows: Users per block; by default blocks of ~8M scores, so memory stays
            bounded for large matrices. The result does not depend on it.

    Returns:
        int64 array (n_users, k) of item ids, best first. Equal scores are ordered by the
        lower item id. Rows of users with fewer than k rankable items end with -1.

    Raises:
        ValueError: On a non-2-D or empty score matrix, NaN scores, k <= 0, k larger than
            the number of rankable items (n_items, or len(candidates)), or an `exclude` /
            `candidates` that does not match the scores.
    """
    k = check_k(k)
    arr = to_numpy(scores, "scores")
    if arr.ndim != 2 or 0 in arr.shape:
        raise ValueError(f"scores must be a non-empty (n_users, n_items) matrix, got {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"scores must be real numbers, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating) and np.isnan(arr).any():
        # Every row NaN is a diverged model; a few rows point at those users' inputs.
        rows = int(np.isnan(arr).any(axis=1).sum())
        raise ValueError(f"scores contain NaN in {rows} of {len(arr)} rows; check the model output "
                         "(use -inf to hide an item)")  # fmt: skip
    n_users, n_items = arr.shape
    cand = None if candidates is None else validate_candidates(candidates, n_items)
    n_rankable = n_items if cand is None else cand.size
    if k > n_rankable:
        where = "candidate items" if cand is not None else "items in the catalogue"
        raise ValueError(f"k={k} exceeds the {n_rankable} {where}; choose k <= {n_rankable}")
    excl = None if exclude is None else _validate_exclude(exclude, arr.shape)
    # Without candidates, column j is item j; with them, column j is item cand[j].
    column_of = None
    if cand is not None:
        column_of = np.full(n_items, -1, dtype=np.int64)
        column_of[cand] = np.arange(cand.size)
    if block_rows is not None:
        check_k(block_rows, "block_rows")
    dtype = arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.float64
    step = block_rows or max(1, _BLOCK_ELEMENTS // n_rankable)
    out = np.empty((n_users, k), dtype=np.int64)
    for start in range(0, n_users, step):  # a handful of row blocks, not a loop over users
        stop = min(start + step, n_users)
        block = arr[start:stop] if cand is None else arr[start:stop][:, cand]
        # Copy only when the block is modified below (or needs a float dtype); the ranking
        # itself never writes into `block`, so the caller's scores are left untouched.
        block = np.array(block, dtype, copy=excl is not None or block.dtype != dtype)
        if excl is not None:
            rows, cols = excl[start:stop].nonzero()
            if column_of is not None:
                cols = column_of[cols]
                rows, cols = rows[cols >= 0], cols[cols >= 0]
            block[rows, cols] = -np.inf
        ids = _top_k_block(block, k)
        out[start:stop] = ids if cand is None else np.where(ids >= 0, cand[ids], PAD)
    return out


__all__ = ["PAD", "check_k", "to_numpy", "top_k", "validate_topk"]
