"""Leak-free train / test splits of a `Dataset`: random, temporal, cold-start users and items.

Every split sends each interaction to exactly one part, so no (user, item) pair appears in two
parts, and the parts together are the dataset. All work is vectorized: a split ranks the
interactions inside each user with one sort instead of looping over users.

Holdout sizes per user u with n_u interactions (random and temporal splits):
`n_test_u = min(round(test_frac * n_u), n_u - 1)` and
`n_valid_u = min(round(valid_frac * n_u), n_u - 1 - n_test_u)`, so every user keeps at least
one training interaction, users with a single interaction stay entirely in train, and small
users may get no test interaction (e.g. n_u = 2 at test_frac = 0.2). `round` rounds halves up.
"""

import numpy as np
import pandas as pd

from lessons.config import DEFAULT_SEED, ITEM, TIMESTAMP, USER
from lessons.data.dataset import Dataset, Split

_TRAIN, _VALID, _TEST = 0, 1, 2  # part codes of the holdout splits


def _check_data(data: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """User and item id arrays of a non-empty dataset with unique (user, item) pairs."""
    if not isinstance(data, Dataset):
        raise ValueError(f"expected a lessons.data.Dataset, got {type(data).__name__}")
    frame = data.interactions
    if frame.empty:
        raise ValueError(f"{data.name} has no interactions; there is nothing to split")
    users, items = frame[USER].to_numpy(np.int64), frame[ITEM].to_numpy(np.int64)
    if (
        users.min() < 0
        or users.max() >= data.n_users
        or items.min() < 0
        or items.max() >= data.n_items
    ):
        raise ValueError(
            f"{data.name} has ids outside 0..{data.n_users - 1} (users) / 0..{data.n_items - 1} "
            f"(items): users {users.min()}..{users.max()}, items {items.min()}..{items.max()}; "
            "build the Dataset with contiguous 0-based ids"
        )
    pairs = np.sort(users * data.n_items + items)  # faster than np.unique here
    if (pairs[1:] == pairs[:-1]).any():
        # A repeated pair could land in train and test at once: that is leakage.
        raise ValueError(
            f"{data.name} repeats some (user, item) pairs; keep one row per pair first, e.g. "
            f"dataclasses.replace(data, interactions=data.interactions.drop_duplicates("
            f"[{USER!r}, {ITEM!r}], keep='last'))"
        )
    return users, items


def _check_frac(name: str, value: float, allow_zero: bool = False) -> None:
    is_number = isinstance(value, int | float | np.integer | np.floating)
    low_ok = is_number and (value >= 0 if allow_zero else value > 0)
    if not (low_ok and value < 1):
        interval = "[0, 1)" if allow_zero else "(0, 1)"
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}")


def _check_seed(seed: int) -> None:
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")


def _check_fracs(test_frac: float, valid_frac: float) -> None:
    _check_frac("test_frac", test_frac)
    _check_frac("valid_frac", valid_frac, allow_zero=True)
    if test_frac + valid_frac >= 1:
        raise ValueError(
            f"test_frac + valid_frac must be < 1 so that train keeps something, got "
            f"{test_frac} + {valid_frac}"
        )


def _rank_in_user(users: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position of each row inside its user, given an `order` that sorts rows by user first.

    Returns:
        `(rank, size)`: rank 0 is the first row of its user in `order`; `size` is its user's
        row count.
    """
    counts = np.bincount(users)
    starts = np.cumsum(counts) - counts
    rank = np.empty(len(users), dtype=np.int64)
    rank[order] = np.arange(len(users)) - starts[users[order]]
    return rank, counts[users]


def _time_order(users: np.ndarray, items: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Rows sorted by user, then timestamp, ties broken by item id (deterministic)."""
    return np.lexsort((items, times, users))


def _round(x: np.ndarray) -> np.ndarray:
    return np.floor(x + 0.5).astype(np.int64)  # halves up, unlike numpy's banker's rounding


def _holdout_split(data: Dataset, rank, size, n_test, valid_frac: float, kind: str) -> Split:
    """Split with the last `n_test` rows of each user (by rank) in test, see module docstring."""
    n_test = np.minimum(n_test, size - 1)
    n_valid = np.minimum(_round(valid_frac * size), size - 1 - n_test)
    from_end = size - 1 - rank
    part = np.where(from_end < n_test, _TEST, np.where(from_end < n_test + n_valid, _VALID, _TRAIN))
    frame = data.interactions
    train, valid, test = (
        frame[part == code].reset_index(drop=True) for code in (_TRAIN, _VALID, _TEST)
    )
    return Split(data, train, test, valid=valid if valid_frac > 0 else None, kind=kind)


def random_split(
    data: Dataset, test_frac: float = 0.2, valid_frac: float = 0.0, seed: int = DEFAULT_SEED
) -> Split:
    """Hold out a random `test_frac` of each user's interactions (kind "random").

    Each user's interactions are shuffled by a random key; with `n_test_u` and `n_valid_u` as
    in the module docstring, `n_test_u` of them go to test, `n_valid_u` to validation and the
    rest (at least one) to train.

    Args:
        data: The dataset to split.
        test_frac: Share of each user's interactions to test, in (0, 1).
        valid_frac: Share of each user's interactions to validation, in [0, 1); 0 means no
            validation part. `test_frac + valid_frac` must be < 1.
        seed: Seed of the shuffle; the same seed gives the same split.

    Raises:
        ValueError: On an empty dataset, repeated (user, item) pairs, or a fraction or seed
            out of range.
    """
    users, _ = _check_data(data)
    _check_fracs(test_frac, valid_frac)
    _check_seed(seed)
    # Sorting by user * n + a random permutation shuffles within users in one exact integer
    # argsort, about 3x faster than np.lexsort with a random float key.
    n = len(users)
    rank, size = _rank_in_user(
        users, np.argsort(users * n + np.random.default_rng(seed).permutation(n))
    )
    return _holdout_split(data, rank, size, _round(test_frac * size), valid_frac, "random")


def temporal_split(
    data: Dataset, test_frac: float = 0.2, *, last_n: int | None = None, valid_frac: float = 0.0
) -> Split:
    """Hold out the latest interactions of each user (kind "temporal"); no randomness.

    Each user's interactions are ordered by timestamp, ties broken by item id. The last
    `n_test_u` go to test, the `n_valid_u` before them to validation, the earlier ones to train,
    so every test timestamp is >= every validation and train timestamp of the same user.

    Args:
        data: The dataset to split.
        test_frac: Share of each user's interactions to test, in (0, 1). Ignored when
            `last_n` is given.
        last_n: Hold out each user's last `last_n` interactions instead (leave-last-n-out),
            capped at n_u - 1 so that train keeps at least one.
        valid_frac: Share of each user's interactions to validation, in [0, 1).

    Raises:
        ValueError: On an empty dataset, repeated (user, item) pairs, a fraction out of
            range or `last_n` < 1.
    """
    users, items = _check_data(data)
    if last_n is None:
        _check_fracs(test_frac, valid_frac)
    else:  # test_frac is ignored, so it is not checked either
        _check_frac("valid_frac", valid_frac, allow_zero=True)
    if last_n is not None and (
        not isinstance(last_n, int | np.integer) or isinstance(last_n, bool) or last_n < 1
    ):
        raise ValueError(f"last_n must be a positive integer or None, got {last_n!r}")
    times = data.interactions[TIMESTAMP].to_numpy()
    rank, size = _rank_in_user(users, _time_order(users, items, times))
    n_test = _round(test_frac * size) if last_n is None else np.full(len(size), int(last_n))
    return _holdout_split(data, rank, size, n_test, valid_frac, "temporal")


def _draw_held_out(eligible: np.ndarray, n_active: int, frac: float, seed: int, what: str):
    """Sorted random `frac` of `eligible` ids, at least one, leaving at least one active id."""
    n_hold = min(max(int(np.floor(frac * len(eligible) + 0.5)), 1), len(eligible), n_active - 1)
    if n_hold < 1:
        raise ValueError(
            f"cannot hold out {what}: need at least two {what} with interactions and at least "
            f"one eligible, found {n_active} and {len(eligible)}"
        )
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(eligible, size=n_hold, replace=False))


def cold_start_users(
    data: Dataset, user_frac: float = 0.2, query_frac: float = 0.5, seed: int = DEFAULT_SEED
) -> Split:
    """Hold out whole users (kind "cold_users"): train never sees them.

    A random `user_frac` of the users with at least two interactions is held out (at least
    one, and at least one user stays in train). Each held-out user's history is ordered by
    timestamp (ties by item id): the first `clip(round(query_frac * n_u), 1, n_u - 1)`
    interactions go to `query`, the revealed part a model may read at test time like a new
    user's first ratings, and the later rest to `test`, the targets.

    Args:
        data: The dataset to split.
        user_frac: Share of eligible users to hold out, in (0, 1).
        query_frac: Share of each held-out user's history revealed as query, in (0, 1).
        seed: Seed of the choice of users.

    Raises:
        ValueError: On an empty dataset, repeated pairs, a fraction out of range, or fewer
            than two users with interactions.
    """
    users, items = _check_data(data)
    _check_frac("user_frac", user_frac)
    _check_frac("query_frac", query_frac)
    _check_seed(seed)
    counts = np.bincount(users, minlength=data.n_users)
    eligible = np.flatnonzero(counts >= 2)
    held = _draw_held_out(eligible, int((counts > 0).sum()), user_frac, seed, "users")
    is_held = np.zeros(data.n_users, dtype=bool)
    is_held[held] = True
    row_held = is_held[users]
    times = data.interactions[TIMESTAMP].to_numpy()
    rank, size = _rank_in_user(users, _time_order(users, items, times))
    n_query = np.clip(_round(query_frac * size), 1, size - 1)
    frame = data.interactions
    return Split(
        data,
        train=frame[~row_held].reset_index(drop=True),
        test=frame[row_held & (rank >= n_query)].reset_index(drop=True),
        query=frame[row_held & (rank < n_query)].reset_index(drop=True),
        kind="cold_users",
    )


def cold_start_items(data: Dataset, item_frac: float = 0.2, seed: int = DEFAULT_SEED) -> Split:
    """Hold out whole items with all their interactions (kind "cold_items").

    Only items with at least one interaction are eligible (an item nobody interacted with
    would add nothing to test); a random `item_frac` of them is held out, at least one, and
    at least one item stays in train. `Split.candidates` holds the held-out item ids (sorted),
    the only items ranked at test time; test is every interaction with them, train the rest.
    A user whose every interaction is with held-out items has no train history.

    Args:
        data: The dataset to split.
        item_frac: Share of eligible items to hold out, in (0, 1).
        seed: Seed of the choice of items.

    Raises:
        ValueError: On an empty dataset, repeated pairs, a fraction out of range, or fewer
            than two items with interactions.
    """
    _, items = _check_data(data)
    _check_frac("item_frac", item_frac)
    _check_seed(seed)
    eligible = np.flatnonzero(np.bincount(items, minlength=data.n_items) > 0)
    held = _draw_held_out(eligible, len(eligible), item_frac, seed, "items")
    is_held = np.zeros(data.n_items, dtype=bool)
    is_held[held] = True
    row_held = is_held[items]
    frame: pd.DataFrame = data.interactions
    return Split(
        data,
        train=frame[~row_held].reset_index(drop=True),
        test=frame[row_held].reset_index(drop=True),
        kind="cold_items",
        candidates=held.astype(np.int64),
    )
