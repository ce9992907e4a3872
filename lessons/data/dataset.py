"""The two containers every lesson passes around: a `Dataset` and a `Split` of it.

Ids are contiguous and 0-based (`0 .. n_users-1`, `0 .. n_items-1`) so that they index
embedding tables and matrix rows directly; `user_ids` / `item_ids` map them back to the
ids in the original files.
"""

import difflib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from lessons.config import INTERACTION_COLUMNS, ITEM, RATING, USER


def interaction_matrix(frame: pd.DataFrame, n_users: int, n_items: int) -> sp.csr_matrix:
    """Binary user×item CSR matrix with a 1 wherever `frame` has a (user, item) row.

    Duplicate (user, item) rows count once: this is implicit feedback.
    """
    users = frame[USER].to_numpy()
    items = frame[ITEM].to_numpy()
    m = sp.csr_matrix(
        (np.ones(len(frame), dtype=np.float32), (users, items)), shape=(n_users, n_items)
    )
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def _closest_title(title: str, lower: dict[str, str]) -> str | None:
    """The catalogue title a mistyped `title` most likely meant, or None; `lower` maps each
    lower-cased title to the title."""
    query = title.lower()
    prefixed = [t for t in lower if t.startswith(query)]  # typed without its year
    close = prefixed[:1] or difflib.get_close_matches(query, list(lower), n=1, cutoff=0.7)
    return lower[close[0]] if close else None


def _skipped_titles(missing: list[str], titles: list[str], stand_ins: list[str]) -> str:
    """The warning for titles not in the catalogue: each with its closest title, if any."""
    lower = {t.lower(): t for t in titles}
    notes = [
        f"{title!r}"
        + (f" (did you mean {close!r}?)" if (close := _closest_title(title, lower)) else "")
        for title in missing
    ]
    message = (
        f"not in the catalogue, skipped: {'; '.join(notes)}. MovieLens titles end with the "
        "year and put an article last, as in 'Godfather, The (1972)'."
    )
    if stand_ins:
        message += f" None was found, so the most-rated items stand in: {'; '.join(stand_ins)}."
    return message


@dataclass(frozen=True, eq=False)
class Dataset:
    """A MovieLens-shaped dataset.

    Attributes:
        name: "ml-100k", "ml-1m", "ml-latest-small" or "synthetic".
        interactions: Columns user, item, rating, timestamp (ids contiguous, 0-based).
        items: One row per item id, with `title`, `year` (float, NaN when unknown) and one
            0/1 column per genre.
        genres: Genre names, in the order of the genre columns of `items`.
        users: One row per user id with `age`, `gender`, `occupation`, `zip`, or None when
            the variant has no demographics (ml-latest-small).
        user_ids: Original id of each contiguous user id.
        item_ids: Original id of each contiguous item id.
        notice: Human-readable remark, e.g. why the synthetic fallback is in use.
    """

    name: str
    interactions: pd.DataFrame
    items: pd.DataFrame
    genres: tuple[str, ...]
    users: pd.DataFrame | None
    user_ids: np.ndarray
    item_ids: np.ndarray
    notice: str = ""

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def has_demographics(self) -> bool:
        """True when `users` carries age, gender and occupation."""
        return self.users is not None

    def find_titles(self, titles: Sequence[str], *, stand_in: bool = True) -> dict[str, int]:
        """Item ids of the given titles, {title: id}; titles not in the catalogue are skipped.

        A real catalogue warns about each skipped title, with the closest title it has, so a
        typo does not silently change a lesson's movies. A title that names several items
        (ML-100K lists 18 twice) gives the most-rated of them, with a warning naming the
        others. When none is found and `stand_in` is set (the synthetic fallback has made-up
        titles), the len(titles) most-rated items stand in, so a lesson cell still has movies
        to show.
        """
        if isinstance(titles, str):
            raise ValueError(f"titles must be a list of titles, got the string {titles!r}")
        titles = list(titles)  # a Series or an array too (their truth value is ambiguous)
        names = self.items["title"]
        counts = np.bincount(self.interactions[ITEM].to_numpy(), minlength=self.n_items)
        found, shared = {}, []
        for title in titles:
            ids = np.flatnonzero(names == title)
            if ids.size:
                found[title] = int(ids[np.argmax(counts[ids])])  # ties: the lower id
            if ids.size > 1:
                listed = ", ".join(f"id {i} ({counts[i]} ratings)" for i in ids)
                shared.append(
                    f"{title!r} names {ids.size} items, {listed}: using id {found[title]}"
                )
        if shared:
            warnings.warn("; ".join(shared) + ". Pass an item id to choose another.", stacklevel=2)
        stand_ins = {}
        if not found and stand_in and titles:
            top = np.argsort(-counts, kind="stable")[: len(titles)]
            stand_ins = {str(names.iloc[i]): int(i) for i in top}
        missing = [t for t in titles if t not in found]
        if missing and not self.is_synthetic:
            warnings.warn(_skipped_titles(missing, names.tolist(), list(stand_ins)), stacklevel=2)
        return found or stand_ins

    @property
    def is_synthetic(self) -> bool:
        return self.name == "synthetic"

    @property
    def item_genres(self) -> np.ndarray:
        """Genre multi-hot matrix, shape (n_items, n_genres), float32."""
        return self.items[list(self.genres)].to_numpy(dtype=np.float32)

    def matrix(self) -> sp.csr_matrix:
        """Binary user×item interaction matrix (CSR), shape (n_users, n_items)."""
        return interaction_matrix(self.interactions, self.n_users, self.n_items)

    def implicit(self, min_rating: float | None = None) -> "Dataset":
        """Keep the interactions that count as positive feedback.

        Args:
            min_rating: `None` keeps every rating (a rating is an interaction);
                otherwise only ratings >= `min_rating` are kept. Ids are unchanged, so
                users or items may end up with no interactions.
        """
        if min_rating is None:
            return self
        kept = self.interactions[self.interactions[RATING] >= min_rating]
        if kept.empty:
            raise ValueError(
                f"no rating is >= {min_rating} in {self.name}; ratings range from "
                f"{self.interactions[RATING].min()} to {self.interactions[RATING].max()}"
            )
        return replace(self, interactions=kept.reset_index(drop=True))

    def __repr__(self) -> str:
        demo = "with demographics" if self.has_demographics else "no demographics"
        return (
            f"Dataset({self.name!r}: {self.n_users} users, {self.n_items} items, "
            f"{len(self.interactions)} interactions, {len(self.genres)} genres, {demo})"
        )


@dataclass(frozen=True, eq=False)
class Split:
    """Train / test (and optional validation) interactions of one dataset, without leakage.

    Attributes:
        dataset: The dataset that was split (features, sizes, titles).
        train: Interactions a model may learn from.
        test: Held-out interactions to rank (the targets).
        valid: Optional validation interactions, carved from what would otherwise be train.
            Never a model input; ranked as targets while validating, excluded from the
            test rankings (`seen_matrix`).
        kind: "random", "temporal", "cold_users" or "cold_items".
        query: For cold-start users: the revealed part of each held-out user's history.
            A model may read it as input at test time; it never trains on it.
        candidates: For cold-start items: the held-out item ids, the only items ranked at
            test time. `None` means the full catalogue.
    """

    dataset: Dataset
    train: pd.DataFrame
    test: pd.DataFrame
    valid: pd.DataFrame | None = None
    kind: str = "random"
    query: pd.DataFrame | None = None
    candidates: np.ndarray | None = field(default=None)

    @property
    def n_users(self) -> int:
        return self.dataset.n_users

    @property
    def n_items(self) -> int:
        return self.dataset.n_items

    def _matrix(self, frame: pd.DataFrame | None) -> sp.csr_matrix:
        if frame is None:
            raise ValueError(f"this {self.kind!r} split has no such part")
        return interaction_matrix(frame, self.n_users, self.n_items)

    def train_matrix(self) -> sp.csr_matrix:
        return self._matrix(self.train)

    def test_matrix(self) -> sp.csr_matrix:
        return self._matrix(self.test)

    def valid_matrix(self) -> sp.csr_matrix:
        if self.valid is None:
            raise ValueError(f"this {self.kind!r} split has no validation part: pass valid_frac= "
                             "to random_split or temporal_split")  # fmt: skip
        return self._matrix(self.valid)

    @property
    def history(self) -> pd.DataFrame:
        """The interactions a model reads as a user's input: train plus the revealed query."""
        if self.query is None:
            return self.train
        return pd.concat([self.train, self.query], ignore_index=True)

    def history_matrix(self) -> sp.csr_matrix:
        """The model INPUT at evaluation time (validation and test): train + revealed query.

        Validation items are not part of it: the model is selected on them, never fed them,
        so the test-time input is the one the model was trained and selected with.
        """
        return self._matrix(self.history)

    def seen_matrix(self) -> sp.csr_matrix:
        """Everything known about each user at test time: train + revealed query + validation.

        These items are EXCLUDED when ranking for the test set: the validation items were
        carved from the user's own interactions, so like training items they are already
        consumed and must not take a test top-k slot. Without a validation part this equals
        `history_matrix()`. (The validation pass excludes `history_matrix()` only: there the
        validation items are the targets.)
        """
        if self.valid is None:
            return self.history_matrix()
        return self._matrix(pd.concat([self.history, self.valid], ignore_index=True))

    def item_popularity(self) -> np.ndarray:
        """Training interactions per item, shape (n_items,), int64."""
        return np.bincount(self.train[ITEM].to_numpy(), minlength=self.n_items).astype(np.int64)

    def __repr__(self) -> str:
        parts = f"train={len(self.train)}, test={len(self.test)}"
        if self.valid is not None:
            parts += f", valid={len(self.valid)}"
        if self.query is not None:
            parts += f", query={len(self.query)}"
        if self.candidates is not None:
            parts += f", candidates={len(self.candidates)}"
        return f"Split({self.kind!r} of {self.dataset.name}: {parts})"


def check_split(value: Any, name: str = "data") -> Split:
    """`value` if it is a Split, else a ValueError that says how to make one."""
    if not isinstance(value, Split):
        raise ValueError(
            f"{name} must be a lessons.data.Split, got {type(value).__name__}; build one with "
            "lessons.data.random_split(dataset) (or another split of lessons.data)"
        )
    return value


__all__ = ["Dataset", "Split", "check_split", "interaction_matrix", "INTERACTION_COLUMNS"]
