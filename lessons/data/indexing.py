"""Indexing parsed MovieLens tables (steps 2 and 3 of `lessons.data.movielens`).

Catalogues sorted by id with repeats refused, original ids mapped to contiguous 0-based ids
(`user = searchsorted(user_ids, original_user)`), and the (user, timestamp, item) row order
that makes every load give the same rows in the same order.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from lessons.data.registry import DataFormatError


def catalogue(
    path: Path, frame: pd.DataFrame, first_line: int
) -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    """Sort a users/items file by its `id` column, refusing repeated ids.

    Returns:
        (sorted ids, the other columns in that order, the file line of each row).
    """
    ids = frame["id"].to_numpy(dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    repeated = np.flatnonzero(ids[order][1:] == ids[order][:-1])
    if repeated.size:
        row = order[repeated[0] + 1]
        raise DataFormatError(path, first_line + row, f"repeats the id {ids[row]}")
    rows = frame.iloc[order].drop(columns="id").reset_index(drop=True)
    return ids[order], rows, first_line + order


def map_ids(path: Path, what: str, raw: np.ndarray, ids: np.ndarray, first_line: int) -> np.ndarray:
    """Contiguous id of each original id: its position in the sorted catalogue `ids`."""
    pos = np.searchsorted(ids, raw)
    unknown = ids[np.minimum(pos, len(ids) - 1)] != raw
    if unknown.any():
        row = int(np.argmax(unknown))
        # Either file can be the damaged one: a truncated catalogue (u.item) fails here too,
        # on the intact ratings file, so the message gives the catalogue's extent as well.
        raise DataFormatError(
            path,
            first_line + row,
            f"{what} {raw[row]} is not in the catalogue, which lists {len(ids)} {what}s with "
            f"ids {ids[0]}-{ids[-1]}: this file or the {what} file is damaged",
        )
    return pos.astype(np.int64)


def sort_order(
    user: np.ndarray, timestamp: np.ndarray, item: np.ndarray, n_users: int, n_items: int
) -> np.ndarray:
    """Row order by (user, timestamp, item).

    Packs the keys into one int64, key = (user * span + timestamp - min) * n_items + item,
    which a single argsort orders about 4x faster than `np.lexsort` on ML-1M; falls back to
    lexsort when the key could overflow.
    """
    first = int(timestamp.min())
    span = int(timestamp.max()) - first + 1
    if n_users * span * n_items < 2**63:  # Python ints: this check itself cannot overflow
        return np.argsort((user * span + (timestamp - first)) * n_items + item, kind="stable")
    return np.lexsort((item, timestamp, user))
