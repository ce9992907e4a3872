"""The MovieLens releases we know (URLs, checksums) and the errors loading them can raise."""

import os
import re
from dataclasses import dataclass
from pathlib import Path

from lessons.config import ENV_DATA_DIR, ENV_DATA_URL

DEFAULT_BASE_URL = "https://files.grouplens.org/datasets/movielens"


class DataError(RuntimeError):
    """MovieLens data could not be loaded; the message says which file/URL/folder and what to do."""


class DataSettingError(DataError, ValueError):
    """An environment variable of the loader holds an unusable value ($LESSONS_DATA_URL that
    is no URL); the message names the variable. Raised, never hidden by a fallback: the
    setting needs fixing."""


class DataUnavailableError(DataError):
    """The data is missing and could not be had: offline, server down, `download=False`, a
    read-only or full data folder, a data folder that is a file, or an unreadable archive.

    The only error after which `load_lesson_data` falls back to the synthetic dataset.
    """


class ChecksumError(DataError):
    """A file is not the one published (corrupted, tampered or re-packed); a downloaded archive
    is removed, an archive placed by hand and an extracted folder are left alone."""


class UnsafeArchiveError(DataError):
    """An archive member would escape the data folder (absolute path, `..`, symlink) or is huge."""


class DataFormatError(DataError):
    """A file is truncated or malformed. `path` and `line` (1-based, or None) locate the problem."""

    def __init__(self, path: Path, line: int | None, problem: str, hint: str | None = None):
        self.path, self.line = Path(path), line
        where = f"{self.path}, line {line}" if line is not None else str(self.path)
        hint = hint or (
            f"The file looks truncated or corrupted: delete the folder {self.path.parent} and "
            "load again to download a fresh copy"
        )
        super().__init__(f"{where}: {problem}. {hint}.")


@dataclass(frozen=True)
class Variant:
    """One MovieLens release: where to get it and how to recognize a good copy.

    A checksum of None means it could not be established and is not checked.
    """

    name: str  # "100k", "1m", "latest-small"
    archive: str  # file name of the zip on the server
    folder: str  # top-level folder inside the zip
    key_file: str  # file whose presence marks a complete extraction
    size: int | None  # archive bytes
    md5: str | None
    sha256: str | None
    key_sha256: str | None = None  # SHA-256 of the extracted key file
    # (file name, SHA-256) of the other extracted files the loader parses: a u.item re-saved
    # as UTF-8 would otherwise load with garbled titles.
    other_sha256: tuple[tuple[str, str], ...] = ()

    def url(self, base_url: str | None = None) -> str:
        return f"{resolve_base_url(base_url)}/{self.archive}"


VARIANTS: dict[str, Variant] = {
    # Size and SHA-256: TensorFlow Datasets' url_checksums/movielens.txt; MD5: GroupLens'
    # ml-100k.zip.md5 as quoted by many projects.
    "100k": Variant(
        name="100k",
        archive="ml-100k.zip",
        folder="ml-100k",
        key_file="u.data",
        size=4_924_029,
        md5="0e33842e24a9c977be4e0107933c0723",
        sha256="50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
        key_sha256="06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
        # Taken from a copy whose archive and u.data match the pins above.
        other_sha256=(
            ("u.item", "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701"),
            ("u.user", "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c"),
            ("u.genre", "9757e0d3e6b298159a80dd48eaf938114690e911e39af97a76949ef1663610bb"),
        ),
    ),
    # Size and SHA-256: TensorFlow Datasets url_checksums/movielens.txt; the same SHA-256 is
    # pinned by tensorflow/models' MovieLens script and Keras-RS examples. MD5: GroupLens'
    # ml-1m.zip.md5 as quoted by MLPerf NCF's verify_dataset.sh, PaddlePaddle and others; two
    # independent projects report both this MD5 and this SHA-256 for one download.
    # Not established: the SHA-256 of ratings.dat (the parser checks its structure instead).
    "1m": Variant(
        name="1m",
        archive="ml-1m.zip",
        folder="ml-1m",
        key_file="ratings.dat",
        size=5_917_549,
        md5="c4d9eecfca2ab87c1945afe126590906",
        sha256="a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
    ),
    # "latest" is a rolling release; this is the 2018-09-26 build (100,836 ratings). Size and
    # SHA-256: TensorFlow Datasets url_checksums/movielens.txt, with the same SHA-256 in several
    # independent projects' dataset cards. MD5: no independent public record found, so None
    # (the SHA-256 is the stronger check). Not established: the SHA-256 of ratings.csv.
    "latest-small": Variant(
        name="latest-small",
        archive="ml-latest-small.zip",
        folder="ml-latest-small",
        key_file="ratings.csv",
        size=978_202,
        md5=None,
        sha256="696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
    ),
}


def variant_spec(variant: str) -> Variant:
    """The registry entry of `variant` ("100k", "1m", "latest-small"; any case, and an "ml-"
    prefix, are fine: the documents write "100K" and GroupLens "ml-100k")."""
    key = variant.lower().removeprefix("ml-") if isinstance(variant, str) else variant
    if key not in VARIANTS:
        raise ValueError(
            f"unknown MovieLens variant {variant!r}; valid variants are "
            + ", ".join(repr(v) for v in VARIANTS)
        )
    return VARIANTS[key]


def resolve_base_url(base_url: str | None = None) -> str:
    """Download base URL: argument > $LESSONS_DATA_URL > DEFAULT_BASE_URL (no trailing slash)."""
    env = os.environ.get(ENV_DATA_URL, "").strip()
    url = base_url or env or DEFAULT_BASE_URL
    if not re.match(r"^(https?|file)://", url):
        problem = f"must start with http://, https:// or file://, got {url!r}"
        if not base_url:  # set outside the notebook, maybe by a teacher: say where it came from
            raise DataSettingError(f"{ENV_DATA_URL} {problem}; fix it, or unset it for GroupLens")
        raise ValueError(f"download base URL {problem}")
    return url.rstrip("/")


# The loader's errors name its Python arguments; on the command line they are these options.
_OPTION_WORDS = (
    ("and download=False", "and --offline was given"),
    ("pass a writable data_dir=", "pass a writable --data-dir"),
    ("and data_dir= name the folder", "and --data-dir name the folder"),
    (
        f"or set {ENV_DATA_DIR} to a folder",
        f"or pass --data-dir (or set {ENV_DATA_DIR}) to a folder",
    ),
    # The notebooks' fallback, which the commands do not have.
    (
        ", or use the synthetic dataset `synthetic_movielens()` from lessons.data "
        "(load_lesson_data() does this for you).",
        ".",
    ),
)


def for_the_command_line(err: DataError) -> str:
    """The loader's error reworded for `python -m lessons.data` and `python -m lessons.bench`."""
    message = str(err)
    for words, option in _OPTION_WORDS:
        message = message.replace(words, option)
    return message
