"""What notebooks call: `load_lesson_data()`, and the strict `load_movielens()` beneath it."""

import os
import warnings
from dataclasses import replace
from pathlib import Path

from lessons.config import DEFAULT_SEED
from lessons.data.dataset import Dataset
from lessons.data.download import check_published, ensure_variant, resolve_data_dir
from lessons.data.movielens import READERS
from lessons.data.registry import DataFormatError, DataUnavailableError, variant_spec


class SyntheticFallbackWarning(UserWarning):
    """MovieLens could not be had, so a lesson runs on the synthetic dataset instead."""


def load_movielens(
    variant: str = "100k",
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    *,
    base_url: str | None = None,
) -> Dataset:
    """Load a MovieLens variant, downloading and verifying it on first use.

    Args:
        variant: "100k" (943 users, 1,682 items, 100,000 ratings, demographics), "1m" (6,040
            users, 3,883 items of which 3,706 rated, 1,000,209 ratings, demographics) or
            "latest-small" (610 users, 9,742 items, 100,836 ratings, no demographics).
        data_dir: Folder holding (or to hold) the extracted `ml-100k/` etc. None means
            $LESSONS_DATA_DIR, else the per-user cache (~/.cache/lessons on Linux).
        download: Fetch the official GroupLens archive when the data is missing.
        base_url: Download base URL; None means $LESSONS_DATA_URL, else GroupLens.

    Returns:
        A `Dataset` whose interactions hold contiguous 0-based user/item ids sorted by
        (user, timestamp, item); `user_ids` / `item_ids` map them back to the file ids.

    Raises:
        ValueError: Unknown variant or bad argument types.
        DataUnavailableError: The data is missing and could not be fetched.
        ChecksumError, UnsafeArchiveError, DataFormatError: The files are corrupted or
            incomplete, or the ratings file is not the published one (a folder found in
            place is kept).
    """
    if not isinstance(download, bool):
        raise ValueError(f"download must be True or False, got {download!r}")
    spec = variant_spec(variant)
    folder = ensure_variant(spec, resolve_data_dir(data_dir), download, base_url)
    try:
        dataset = READERS[spec.name](folder)
    except FileNotFoundError as exc:  # only the key file marks a folder as extracted
        raise DataFormatError(
            Path(exc.filename or folder),
            None,
            "is missing",
            "The folder is incomplete: replace it with a complete copy (delete it and load "
            "again to download one)",
        ) from exc
    check_published(spec, folder)  # a folder placed by hand is checked too (never deleted)
    return dataset


def load_lesson_data(
    variant: str = "100k",
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    fallback: bool = True,
) -> Dataset:
    """MovieLens if it can be had, else the synthetic MovieLens-shaped dataset, never silently.

    When the data is missing and cannot be had (offline, server down, `download=False`, a
    read-only or full folder: every `DataUnavailableError`) and `fallback` is True, this
    returns `synthetic_movielens(seed=DEFAULT_SEED)` with `Dataset.notice` saying why, and
    warns with a `SyntheticFallbackWarning`. Corrupted data (checksum, unsafe archive,
    malformed file) always raises: it needs fixing, not hiding.

    Args:
        variant, data_dir, download: As in `load_movielens`.
        fallback: False raises `DataUnavailableError` instead of falling back.
    """
    try:
        return load_movielens(variant, data_dir, download)
    except DataUnavailableError as exc:
        if not fallback:
            raise
        reason = str(exc)
    from lessons.data.synthetic import synthetic_movielens  # only needed on this path

    notice = (
        f"MovieLens {variant} is not available, so this runs on the SYNTHETIC MovieLens-shaped "
        f"dataset (seed {DEFAULT_SEED}): the code works the same, but the numbers, titles and "
        f"plots will differ from the lesson text. Reason: {reason}"
    )
    warnings.warn(notice, SyntheticFallbackWarning, stacklevel=2)
    return replace(synthetic_movielens(seed=DEFAULT_SEED), notice=notice)
