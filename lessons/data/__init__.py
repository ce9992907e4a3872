"""MovieLens loading, the synthetic MovieLens-shaped generator, and leak-free splits."""

from lessons.data.dataset import Dataset, Split, interaction_matrix
from lessons.data.loader import SyntheticFallbackWarning, load_lesson_data, load_movielens
from lessons.data.planted import SyntheticTruth
from lessons.data.registry import (
    ChecksumError,
    DataError,
    DataFormatError,
    DataSettingError,
    DataUnavailableError,
    UnsafeArchiveError,
)
from lessons.data.splits import cold_start_items, cold_start_users, random_split, temporal_split
from lessons.data.synthetic import synthetic_movielens

__all__ = [
    "ChecksumError",
    "DataError",
    "DataFormatError",
    "DataSettingError",
    "DataUnavailableError",
    "Dataset",
    "Split",
    "SyntheticFallbackWarning",
    "SyntheticTruth",
    "UnsafeArchiveError",
    "cold_start_items",
    "cold_start_users",
    "interaction_matrix",
    "load_lesson_data",
    "load_movielens",
    "random_split",
    "synthetic_movielens",
    "temporal_split",
]
