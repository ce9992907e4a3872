"""Item-side tensors: what the two-tower model's item tower φ(x_item) reads.

Release-date buckets (`release_buckets`), the single biggest lever for cold-start items on
MovieLens 100K, whose ratings were collected in 1997-98: "a recent release, in genres this
user watches" is most of what predicts a new item. The schemes, coarse to fine:

* "decade": <1940, 1940s, ..., 1980s, 1990-94, 1995+ (`YEAR_EDGES`): 8 buckets, 9 with "unknown".
* "year": <1970, 5-year buckets 1970-89, then one bucket per year from 1990 to the newest
  release year (ML-100K: 14 buckets, 15 with "unknown").
* "quarter": as "year", but one bucket per quarter over the catalogue's last
  `QUARTER_YEARS` release years; needs full release dates, an `items["release_date"]`
  column (datetime), which the current loaders do not keep (they keep `year` only).

Bucket 0 always means "unknown date". The edges depend on the catalogue only (its newest
release year), never on the interactions, so no split leaks into them.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from lessons.data.dataset import Dataset
from lessons.features.query import as_long

# Lower edges of the "decade" buckets 1..8 (<1940, 1940s, ..., 1990-94, 1995+); 0 = unknown.
YEAR_EDGES = (1940, 1950, 1960, 1970, 1980, 1990, 1995)
# "year" scheme: 5-year buckets from 1970 to 1989, then one per year from FIRST_YEARLY.
FIVE_YEAR_EDGES = (1970, 1975, 1980, 1985)
FIRST_YEARLY = 1990
QUARTER_YEARS = 3  # "quarter": per-quarter buckets over the last 3 release years
DATE_SCHEMES = ("decade", "year", "quarter")
RELEASE_DATE = "release_date"  # optional items column read by the "quarter" scheme


@dataclass(frozen=True)
class ItemFeatures:
    """What the item tower φ reads, for all n_items items.

    Attributes:
        genres: (n_items, n_genres) genre multi-hot, float32.
        year_bucket: (n_items,) release-date bucket (see `release_buckets`), 0 = unknown.
        title_bag: (nnz,) ids of the title words (into `vocabulary`), concatenated.
        title_offsets: (n_items,) start of each item's title bag (a bag may be empty).
        vocabulary: Title words, in id order.
        n_year_buckets: Number of date buckets, unknown included.
        date_buckets: The bucket scheme, one of `DATE_SCHEMES`.
    """

    genres: torch.Tensor
    year_bucket: torch.Tensor
    title_bag: torch.Tensor
    title_offsets: torch.Tensor
    vocabulary: tuple[str, ...]
    n_year_buckets: int
    date_buckets: str = "decade"

    @property
    def n_items(self) -> int:
        return int(self.genres.shape[0])


def _release_time(dataset: Dataset, scheme: str) -> np.ndarray:
    """Release time of each item in fractional years (year + (month − 1)/12); NaN = unknown."""
    items = dataset.items
    year = items["year"].to_numpy(dtype=np.float64)
    if scheme != "quarter":
        return year
    if RELEASE_DATE not in items:
        raise ValueError(
            f"date_buckets='quarter' needs full release dates (an items[{RELEASE_DATE!r}] "
            f"column), but {dataset.name} keeps the release year only; use 'year'"
        )
    date = pd.to_datetime(items[RELEASE_DATE], errors="coerce")
    exact = (date.dt.year + (date.dt.month - 1) / 12).to_numpy(dtype=np.float64)
    return np.where(np.isnan(exact), year, exact)  # no date: fall back to January of `year`


def _edges(scheme: str, newest: float) -> np.ndarray:
    """Lower edges of buckets 2, 3, ... (bucket 1 is everything before the first edge)."""
    if scheme == "decade":
        return np.asarray(YEAR_EDGES, dtype=np.float64)
    last = int(max(newest, FIRST_YEARLY))
    first_quarterly = last - QUARTER_YEARS + 1 if scheme == "quarter" else last + 1
    yearly = np.arange(FIRST_YEARLY, max(first_quarterly, FIRST_YEARLY))
    quarterly = np.arange(max(first_quarterly, FIRST_YEARLY) * 4, (last + 1) * 4) / 4
    return np.concatenate([FIVE_YEAR_EDGES, yearly, quarterly if scheme == "quarter" else []])


def release_buckets(dataset: Dataset, scheme: str = "decade") -> tuple[np.ndarray, int]:
    """Release-date bucket of every item (0 = unknown) and the number of buckets.

    bucket_j = 1 + #{edges e : e <= t_j}, t_j the release time (fractional years).

    Raises:
        ValueError: On an unknown scheme, or "quarter" on a dataset without release dates.
    """
    if scheme not in DATE_SCHEMES:
        raise ValueError(f"unknown date_buckets {scheme!r}; expected one of {DATE_SCHEMES}")
    t = _release_time(dataset, scheme)
    known = ~np.isnan(t)
    edges = _edges(scheme, float(np.nanmax(t)) if known.any() else FIRST_YEARLY)
    bucket = np.where(known, 1 + np.searchsorted(edges, np.nan_to_num(t), side="right"), 0)
    return bucket.astype(np.int64), len(edges) + 2


def item_content(
    dataset: Dataset, *, date_buckets: str = "year", date_weight: float = 1.0
) -> np.ndarray:
    """Content vector of every item: genre multi-hot ‖ w · date-bucket one-hot.

    Shape (n_items, n_genres + n_buckets), float32: what `baselines.ContentProfile` compares,
    built from the same buckets the item tower reads (a fair comparison).
    """
    if not np.isfinite(date_weight) or date_weight < 0:
        raise ValueError(f"date_weight must be a finite number >= 0, got {date_weight!r}")
    bucket, n_buckets = release_buckets(dataset, date_buckets)
    one_hot = np.zeros((dataset.n_items, n_buckets), dtype=np.float32)
    one_hot[np.arange(dataset.n_items), bucket] = date_weight
    return np.hstack([dataset.item_genres, one_hot])


def item_features(
    dataset: Dataset,
    *,
    min_word_count: int = 2,
    date_buckets: str = "decade",
    vocabulary_items: np.ndarray | None = None,
) -> ItemFeatures:
    """Genre multi-hot, release-date bucket and title-word bag of every item.

    Title words: the title without its trailing "(year)", lower-cased, split on non-word
    characters; a word enters the vocabulary when at least `min_word_count` titles contain
    it (rarer words cannot generalize to other items). An item with no known word gets an
    empty bag (the EmbeddingBag mean of an empty bag is the zero vector). The words are noisy
    ("the" of "Shawshank Redemption, The" is in 467 titles), but a cleaner tokenizer (articles,
    stopwords, one-letter words and every "(yyyy)" removed) was measured on cold splits 0-2
    and lowered NDCG@10 further, by 0.024 on average: it empties 564 bags instead of 363.

    Args:
        dataset: The catalogue.
        min_word_count: Minimum number of titles a vocabulary word appears in.
        date_buckets: "decade", "year" or "quarter" (see the module docstring).
        vocabulary_items: Count words over these item ids only (None: all items). For
            cold-start items pass the training items: a word seen only in held-out titles
            would otherwise keep its random initial embedding.
    """
    if (
        isinstance(min_word_count, bool)
        or not isinstance(min_word_count, int | np.integer)
        or min_word_count < 1
    ):
        raise ValueError(f"min_word_count must be an integer >= 1, got {min_word_count!r}")
    bucket, n_buckets = release_buckets(dataset, date_buckets)
    items = dataset.items.reset_index(drop=True)
    title = items["title"].fillna("").astype(str).str.lower()
    words = title.str.replace(r"\s*\(\d{4}\)\s*$", "", regex=True).str.findall(r"\w+")
    pairs = words.explode().dropna().rename("word").reset_index().drop_duplicates()
    counted = pairs
    if vocabulary_items is not None:
        ids = np.asarray(vocabulary_items)
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer) or (
            ids.size and (ids.min() < 0 or ids.max() >= len(items))
        ):  # fmt: skip
            raise ValueError(f"vocabulary_items must be a 1-D array of item ids in "
                             f"[0, {len(items)}), got {vocabulary_items!r}")  # fmt: skip
        counted = pairs[pairs["index"].isin(ids)]
    frequency = counted["word"].value_counts()
    vocabulary = tuple(sorted(frequency.index[frequency >= min_word_count]))
    code = pd.Index(vocabulary).get_indexer(pairs["word"])  # -1: not in the vocabulary
    pairs = pairs[code >= 0].assign(code=code[code >= 0]).sort_values(["index", "code"])
    per_item = np.bincount(pairs["index"].to_numpy(), minlength=len(items))
    return ItemFeatures(
        genres=torch.from_numpy(dataset.item_genres.copy()),
        year_bucket=as_long(bucket),
        title_bag=as_long(pairs["code"].to_numpy()),
        title_offsets=as_long(np.concatenate([[0], np.cumsum(per_item)[:-1]])),
        vocabulary=vocabulary,
        n_year_buckets=n_buckets,
        date_buckets=date_buckets,
    )
