"""Assembling `QueryBatch` rows: history bags and targets, the leak-free split, ad-hoc queries.

`make_batch` turns rows of the input and target matrices (plus the users' side and dense
features) into one batch; `split_history` divides each user's items into a disjoint input
and target part; `ad_hoc_query` is the one-row query of a visitor. Everything is vectorized
over users and nonzeros: these functions run once per epoch while a learner watches a widget.
"""

from collections.abc import Iterator, KeysView, Mapping, Set, ValuesView

import numpy as np
import scipy.sparse as sp
import torch

from lessons.data.dataset import Dataset
from lessons.features.query import (
    GENDERS,
    QueryBatch,
    QueryFeatures,
    age_bucket,
    as_csr,
    as_long,
    dense_values,
)


def make_batch(
    users: np.ndarray,
    inputs: sp.spmatrix | None,
    features: QueryFeatures | None,
    targets: sp.spmatrix | None,
    *,
    use_side: bool = True,
    use_dense: bool = True,
) -> QueryBatch:
    """Rows `users` of `inputs` (history bags) and `targets` (p) as one `QueryBatch`.

    Target rows are normalized to sum 1: p_uj = x_uj / Σ_j' x_uj'. Users whose target row is
    empty are dropped (the batch may then be smaller, even empty: skip a batch of size 0).
    `inputs=None` gives empty bags (matrix factorization reads only `users`).

    Raises:
        ValueError: On ids out of range, mismatched shapes or negative target values.
    """
    users = np.asarray(users)
    tables = () if features is None else (features.side, features.dense)
    sized = [m for m in (inputs, targets, *tables) if m is not None]  # whatever gives n_users
    n_users = sized[0].shape[0] if sized else None
    if users.ndim != 1 or not (users.size == 0 or np.issubdtype(users.dtype, np.integer)):
        raise ValueError(f"users must be a 1-D array of integer user ids, got {users!r}")
    if n_users is not None and users.size and (users.min() < 0 or users.max() >= n_users):
        raise ValueError(f"user ids must lie in [0, {n_users}), got {users.min()}..{users.max()}")
    target_t = None
    if targets is not None:
        t = as_csr(targets, "targets")[users]
        if t.nnz and t.data.min() < 0:
            raise ValueError(f"targets must be non-negative (a binary user×item matrix), got "
                             f"{t.data.min():g}")  # fmt: skip
        total = np.asarray(t.sum(axis=1)).ravel()
        keep = total > 0
        users, t = users[keep], t[keep]
        target_t = torch.from_numpy((t.toarray() / total[keep, None]).astype(np.float32))
    if inputs is None:
        bag, offsets = np.zeros(0, np.int64), np.zeros(len(users), np.int64)
    else:
        x = as_csr(inputs, "inputs")
        if targets is not None and x.shape != targets.shape:
            raise ValueError(f"inputs {x.shape} and targets {targets.shape} differ in shape")
        rows = x[users]
        rows.eliminate_zeros()  # an explicit 0 is not an interaction
        bag, offsets = rows.indices, rows.indptr[:-1]
    side = dense = None
    if features is not None and use_side and features.side is not None:
        side = features.side[as_long(users)]
    if features is not None and use_dense and features.dense is not None:
        # Of the bag the model reads (a training bag is part of the history); MF reads no bag.
        dense = features.dense[as_long(users)] if inputs is None else features.dense_of(users, rows)
    return QueryBatch(as_long(bag), as_long(offsets), as_long(users), side, dense, target_t)


def split_history(
    train: sp.spmatrix, target_share: float, rng: np.random.Generator
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Divide each user's items at random into an input part and a disjoint target part.

    Leak-free: the model reads the input part and is scored on the target part, never on
    an item it was shown. A row with n >= 2 items puts clip(round(share·n), 1, n-1) items in
    the target; a row with one item keeps it as input (make_batch then drops the row). One
    random key per nonzero, ranked within rows: no loop over users. Call once per epoch.

    Args:
        train: Binary user×item matrix.
        target_share: Share of each row that becomes target, in (0, 1).
        rng: Source of randomness (`np.random.default_rng(seed)`).

    Returns:
        (inputs, targets): CSR matrices of train's shape; inputs + targets == train.
    """
    if not 0 < target_share < 1:
        raise ValueError(f"target_share must lie strictly between 0 and 1, got {target_share}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(
            f"rng must be a numpy Generator (np.random.default_rng(seed)), got {rng!r}"
        )
    x = as_csr(train, "train", copy=True)
    x.sum_duplicates()  # canonical form: one entry per (row, column)
    x.eliminate_zeros()  # a stored 0 is no interaction (EpochSampler drops them too)
    n_rows, counts = x.shape[0], np.diff(x.indptr)
    row = np.repeat(np.arange(n_rows), counts)
    # Sorting row + U(0, 1) keeps rows in order and shuffles within each row (one float
    # argsort: ~15x faster than a two-key lexsort).
    order = np.argsort(row + rng.random(x.nnz))
    rank = np.empty(x.nnz, dtype=np.int64)
    rank[order] = np.arange(x.nnz) - x.indptr[row]
    n_target = np.where(counts >= 2, np.clip(np.rint(target_share * counts), 1, counts - 1), 0)
    is_target = rank < n_target[row]

    def part(mask: np.ndarray) -> sp.csr_matrix:
        indptr = np.concatenate([[0], np.cumsum(np.bincount(row[mask], minlength=n_rows))])
        return sp.csr_matrix((x.data[mask], x.indices[mask], indptr), shape=x.shape)

    return part(~is_target), part(is_target)


def ad_hoc_query(
    dataset: Dataset,
    liked_items,
    *,
    features: QueryFeatures | None,
    age: float | None = None,
    gender: str | None = None,
    occupation: str | None = None,
) -> QueryBatch:
    """One query row for a visitor who liked `liked_items` (contiguous item ids).

    Unspecified demographics fall back to the most common value among users; dense features
    are those of a visitor active right now (count = the number of distinct liked items,
    recency 0). A repeated id counts once, as it would in a user's history.

    Raises:
        ValueError: Empty selection, non-integer or unknown item id, age outside 1..120,
            unknown gender/occupation, or demographics given for a dataset without them.
    """
    if isinstance(liked_items, Mapping):  # {title: id}, as Dataset.find_titles returns
        liked_items = liked_items.values()
    if isinstance(liked_items, Set | ValuesView | KeysView | Iterator):
        liked_items = list(liked_items)  # np.asarray would make one 0-d object of them
    try:
        items = np.asarray(liked_items).ravel()
    except ValueError:  # numpy's "inhomogeneous shape" for [[1, 2], [3]]
        raise ValueError("liked_items must be a flat list of item ids, e.g. [0, 49, 180]") from None
    if items.size == 0:
        raise ValueError("liked_items is empty: select at least one item the visitor liked")
    if not np.issubdtype(items.dtype, np.integer):
        raise ValueError(f"liked_items must be integer item ids, got {items.dtype} {items[:5]}")
    bad = items[(items < 0) | (items >= dataset.n_items)]
    if bad.size:
        raise ValueError(
            f"unknown item ids {bad[:10].tolist()}: ids run from 0 to {dataset.n_items - 1}"
        )
    items = np.unique(items)
    side = dense = None
    if features is not None and features.side is not None:
        # Most common value of each column (ties -> the lower index).
        side = torch.tensor([int(np.bincount(col).argmax()) for col in features.side.T.numpy()])
        if age is not None:
            real = isinstance(age, int | float | np.integer | np.floating)
            if isinstance(age, bool) or not real or not 1 <= age <= 120:
                raise ValueError(f"age must be a number of years between 1 and 120, got {age!r}")
            side[0] = int(age_bucket(age))
        if gender is not None:
            if str(gender).upper() not in GENDERS:
                raise ValueError(f"unknown gender {gender!r}; expected one of {GENDERS}")
            side[1] = GENDERS.index(str(gender).upper())
        if occupation is not None:
            if occupation not in features.occupations:
                raise ValueError(
                    f"unknown occupation {occupation!r}; expected one of {features.occupations}"
                )
            side[2] = features.occupations.index(occupation)
        side = side[None, :]
    elif any(v is not None for v in (age, gender, occupation)):
        if features is None:
            why = "no features were given (features=None)"
        elif not dataset.has_demographics:
            why = f"{dataset.name} has no demographics"
        else:
            why = "the features were built without them (query_features(..., side=False))"
        raise ValueError(f"age, gender and occupation cannot be used: {why}; leave them unset")
    if features is not None and features.dense is not None:
        dense = dense_values(np.array([items.size]), np.zeros(1))  # active right now
    return QueryBatch(as_long(items), torch.zeros(1, dtype=torch.long), None, side, dense, None)
