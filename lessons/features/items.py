"""Item-side tensors: what the two-tower model's item tower φ(x_item) reads."""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from lessons.data.dataset import Dataset
from lessons.features.query import as_long

# Lower edges of the release-year buckets 1..8 (<1940, 1940s, ..., 1990-94, 1995+); 0 = unknown.
YEAR_EDGES = (1940, 1950, 1960, 1970, 1980, 1990, 1995)


@dataclass(frozen=True)
class ItemFeatures:
    """What the item tower φ reads, for all n_items items.

    Attributes:
        genres: (n_items, n_genres) genre multi-hot, float32.
        year_bucket: (n_items,) release-year bucket (`YEAR_EDGES`), 0 = unknown.
        title_bag: (nnz,) ids of the title words (into `vocabulary`), concatenated.
        title_offsets: (n_items,) start of each item's title bag (a bag may be empty).
        vocabulary: Title words, in id order.
        n_year_buckets: Number of year buckets, unknown included.
    """

    genres: torch.Tensor
    year_bucket: torch.Tensor
    title_bag: torch.Tensor
    title_offsets: torch.Tensor
    vocabulary: tuple[str, ...]
    n_year_buckets: int

    @property
    def n_items(self) -> int:
        return int(self.genres.shape[0])


def item_features(dataset: Dataset, *, min_word_count: int = 2) -> ItemFeatures:
    """Genre multi-hot, year bucket and title-word bag of every item.

    Title words: the title without its trailing "(year)", lower-cased, split on non-word
    characters; a word enters the vocabulary when at least `min_word_count` titles contain
    it (rarer words cannot generalise to other items). An item with no known word gets an
    empty bag (the EmbeddingBag mean of an empty bag is the zero vector).
    """
    if (
        isinstance(min_word_count, bool)
        or not isinstance(min_word_count, int)
        or min_word_count < 1
    ):
        raise ValueError(f"min_word_count must be an integer >= 1, got {min_word_count!r}")
    items = dataset.items.reset_index(drop=True)
    year = items["year"].to_numpy(dtype=np.float64)
    bucket = np.where(
        np.isnan(year), 0, 1 + np.searchsorted(YEAR_EDGES, np.nan_to_num(year), side="right")
    )
    title = items["title"].fillna("").astype(str).str.lower()
    words = title.str.replace(r"\s*\(\d{4}\)\s*$", "", regex=True).str.findall(r"\w+")
    pairs = words.explode().dropna().rename("word").reset_index().drop_duplicates()
    frequency = pairs["word"].value_counts()
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
        n_year_buckets=len(YEAR_EDGES) + 2,
    )
