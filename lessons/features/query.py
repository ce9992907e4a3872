"""Query-side containers and per-user feature tables (side and dense features).

ψ's input x is the user's history as a bag of item ids (`nn.EmbeddingBag` convention:
concatenated ids + row offsets), optional side features (age bucket, gender, occupation)
and dense features. This module defines the `QueryBatch` and `QueryFeatures` containers and
builds the per-user side and dense tables once per split (`query_features`);
`lessons.features.batches` assembles mini-batches and ad-hoc queries from them.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from lessons.config import ITEM, TIMESTAMP, USER
from lessons.data.dataset import Dataset
from lessons.data.planted import AGE_BUCKETS, GENDERS


def age_bucket(age):
    """The age group the side features read: 0 below 18, …, 6 from 56 (array or scalar)."""
    return np.searchsorted(AGE_BUCKETS, age, side="right")


DENSE_COLUMNS = ("log1p_interactions", "log1p_days_since_last")
# Fixed divisor that puts both log1p features near [0, 1.5] on MovieLens. A constant (not a
# statistic of the training data) so an ad-hoc query gets exactly the same transformation.
DENSE_SCALE = 5.0
_SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class QueryBatch:
    """One mini-batch of queries (users or an ad-hoc query), B rows.

    Attributes:
        bag: (nnz,) item ids of all input histories, concatenated.
        offsets: (B,) start of each row's bag in `bag`.
        users: (B,) contiguous user ids; None for ad-hoc queries.
        side: (B, 3) age-bucket, gender, occupation indices, or None.
        dense: (B, n_dense) dense features, or None.
        target: (B, n_items) p, rows of the normalized multi-hot (each sums to 1), or None.
        exclude_items: (n_items,) bool, True for items left out of every row's training
            softmax (`fit`: the held-out items of a cold-start-items split), or None.
        target_items, target_offsets, target_weights: p in sparse form, like bag/offsets:
            row u's target items and their p_uj start at target_offsets[u]. `fit` builds
            these instead of `target` (no (B, n_items) buffer per step); None otherwise.
    """

    bag: torch.Tensor
    offsets: torch.Tensor
    users: torch.Tensor | None = None
    side: torch.Tensor | None = None
    dense: torch.Tensor | None = None
    target: torch.Tensor | None = None
    exclude_items: torch.Tensor | None = None
    target_items: torch.Tensor | None = None
    target_offsets: torch.Tensor | None = None
    target_weights: torch.Tensor | None = None

    @property
    def size(self) -> int:
        """Number of rows B."""
        return int(self.offsets.shape[0])


@dataclass(frozen=True)
class QueryFeatures:
    """Per-user feature tables, built once per split by `query_features`.

    Attributes:
        side: (n_users, 3) age-bucket, gender, occupation indices; None without demographics.
        dense: (n_users, 2) `DENSE_COLUMNS`: log1p(#history interactions) / 5 and
            log1p(days since the user's last interaction) / 5; None when not requested.
        cardinalities: Sizes of the three side vocabularies: (7, 2, n_occupations).
        occupations: Occupation names, in index order.
        times: (n_users, n_items) CSR, the timestamp of every history interaction (seconds),
            or None (dense features off, or a history without timestamps). It lets
            `dense_of` describe *part* of a history, the input bag of a training example.
    """

    side: torch.Tensor | None
    dense: torch.Tensor | None
    cardinalities: tuple[int, int, int]
    occupations: tuple[str, ...]
    times: sp.csr_matrix | None = None

    def dense_of(self, users: np.ndarray, bags: sp.csr_matrix) -> torch.Tensor:
        """(B, 2) dense features of the input bags `bags` (B × n_items) of users `users`.

        The features describe the bag the model reads, never the items held out of it: a
        training example's bag is part of the history, and a count or recency taken over the
        whole history would reveal how many targets there are and when the latest was seen.
        For the whole history this equals the rows of `dense`.

        Raises:
            ValueError: If the features were built without dense features.
        """
        if self.dense is None:
            raise ValueError("these features have no dense part (query_features(dense=True))")
        return _bag_dense(bags, self.times, users)


def _bag_dense(bags: sp.csr_matrix, times: sp.csr_matrix | None, users: np.ndarray) -> torch.Tensor:
    """Dense features of `bags`, the recency read from rows `users` of `times` (or 0)."""
    count = np.diff(bags.indptr)
    if times is None:  # no timestamps: recency 0 for everyone
        return dense_values(count, np.zeros(count.size))
    seen = times[users].multiply(bags.astype(bool)).tocsr()  # the times of the bag's items
    last = np.full(count.size, times.data.min())  # an empty bag: the whole time span
    has = np.diff(seen.indptr) > 0
    last[has] = np.maximum.reduceat(seen.data, seen.indptr[:-1][has])
    return dense_values(count, times.data.max() - last)


def dense_values(count: np.ndarray, seconds_since_last: np.ndarray) -> torch.Tensor:
    """(B, 2) float32 `DENSE_COLUMNS`: log1p(count) / 5 and log1p(days since last) / 5."""
    days = np.asarray(seconds_since_last, dtype=np.float64) / _SECONDS_PER_DAY
    feats = np.stack([np.log1p(count), np.log1p(days)], axis=1) / DENSE_SCALE
    return torch.from_numpy(feats.astype(np.float32))


def as_csr(matrix, name: str, *, copy: bool = False) -> sp.csr_matrix:
    """`matrix` as CSR; copy=True before canonicalizing it in place (a CSR input shares its
    arrays with the result, and the caller's matrix must not change)."""
    if not sp.issparse(matrix) or matrix.ndim != 2:
        raise ValueError(f"{name} must be a scipy.sparse user×item matrix, got {type(matrix)!r}")
    return sp.csr_matrix(matrix, copy=copy)


def as_long(array) -> torch.Tensor:
    """`array` as an int64 tensor (copied only when numpy's buffer is read-only)."""
    a = np.ascontiguousarray(array, dtype=np.int64)
    return torch.from_numpy(a if a.flags.writeable else a.copy())  # pandas 3 hands out read-only


def _side_table(dataset: Dataset) -> tuple[np.ndarray, tuple[str, ...]]:
    """(n_users, 3) int64 indices: age bucket, gender, occupation; and occupation names."""
    users = dataset.users
    gender = users["gender"].astype(str).str.upper()
    unknown = sorted(set(gender) - set(GENDERS))
    if unknown:
        raise ValueError(f"{dataset.name}: gender values {unknown} are not in {GENDERS}")
    occupation = users["occupation"].astype(str)
    occupations = tuple(sorted(occupation.unique()))
    table = np.stack(
        [
            age_bucket(users["age"].to_numpy(dtype=float)),
            gender.map({g: i for i, g in enumerate(GENDERS)}).to_numpy(dtype=np.int64),
            occupation.map({o: i for i, o in enumerate(occupations)}).to_numpy(dtype=np.int64),
        ],
        axis=1,
    )
    return table.astype(np.int64), occupations


def query_features(
    dataset: Dataset, history: pd.DataFrame | sp.spmatrix, *, side: bool = True, dense: bool = True
) -> QueryFeatures:
    """Build the per-user side and dense feature tables.

    Args:
        dataset: Source of demographics (`dataset.users`) and sizes.
        history: The interactions the model may read, normally `split.train`: a frame with
            user/item/timestamp columns, or a user×item CSR matrix (then recency is unknown
            and the days-since-last column is 0 for everyone).
        side: Build the side table (ignored, i.e. None, when the dataset has no demographics).
        dense: Build the dense table: log1p(count)/5 and log1p(days since last)/5, where
            "now" is the latest timestamp in `history`; a user with no history gets count 0
            and the whole time span as recency.

    Raises:
        ValueError: If `history` is neither a frame nor a sparse matrix of the right shape, or
            names users the dataset does not have.
    """
    occupations: tuple[str, ...] = ()
    side_t = None
    if side and dataset.has_demographics:
        table, occupations = _side_table(dataset)
        side_t = as_long(table)
    dense_t = times = None
    if dense:
        if isinstance(history, pd.DataFrame):
            users, items = history[USER].to_numpy(), history[ITEM].to_numpy()
            if users.size and not (0 <= users.min() and users.max() < dataset.n_users):
                raise ValueError(
                    f"history has user ids outside 0..{dataset.n_users - 1}, the users of "
                    f"{dataset.name}: pass interactions of this dataset (e.g. split.train)"
                )
            if TIMESTAMP in history and len(history):
                times = _time_matrix(history, dataset.n_users, dataset.n_items)
                x = times
            else:
                x = sp.csr_matrix((np.ones(users.size), (users, items)),
                                  shape=(dataset.n_users, dataset.n_items))  # fmt: skip
        else:
            x = as_csr(history, "history", copy=True)
            if x.shape != (dataset.n_users, dataset.n_items):
                raise ValueError(
                    f"history has shape {x.shape}, expected {(dataset.n_users, dataset.n_items)}"
                )
            x.eliminate_zeros()  # a stored 0 is no interaction (nor is it in a bag)
        dense_t = _bag_dense(x, times, np.arange(dataset.n_users))
    cardinalities = (len(AGE_BUCKETS) + 1, len(GENDERS), len(occupations))
    return QueryFeatures(side_t, dense_t, cardinalities, occupations, times)


def _time_matrix(history: pd.DataFrame, n_users: int, n_items: int) -> sp.csr_matrix:
    """(n_users, n_items) CSR of each (user, item)'s latest timestamp in `history`."""
    shape = (n_users, n_items)
    users, items = history[USER].to_numpy(), history[ITEM].to_numpy()
    t = history[TIMESTAMP].to_numpy(dtype=np.float64)
    times = sp.csr_matrix((t, (users, items)), shape=shape)
    if times.nnz < len(history):  # a repeated pair: CSR summed its times, keep the latest
        latest = history.groupby([USER, ITEM], sort=False)[TIMESTAMP].max()
        pairs = [latest.index.get_level_values(c).to_numpy() for c in (USER, ITEM)]
        times = sp.csr_matrix((latest.to_numpy(np.float64), tuple(pairs)), shape=shape)
    return times
