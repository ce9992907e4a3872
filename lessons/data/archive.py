"""Recognizing the published MovieLens archive and unpacking it without surprises.

`verify_archive` checks a zip's size, MD5 and SHA-256 against the registry; `extract_archive`
refuses members that would land outside the data folder, unpacks into a temporary folder and
renames it into place only once complete. Both leave no half-written state behind.
"""

import contextlib
import hashlib
import os
import re
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from lessons.config import ENV_DATA_DIR, ENV_DATA_URL
from lessons.data.registry import (
    ChecksumError,
    DataError,
    DataFormatError,
    DataUnavailableError,
    UnsafeArchiveError,
    Variant,
)

MAX_EXTRACTED_BYTES = 1 << 30  # refuse zip bombs; ml-1m unpacks to ~25 MB
_REFETCH = "The archive was removed; load again to download a fresh copy"


def file_sha256(path: Path) -> str:
    return _digests(path)[2]


def _digests(path: Path) -> tuple[int, str, str]:
    """(size, md5, sha256) of a file, read once."""
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            md5.update(chunk)
            sha.update(chunk)
            size += len(chunk)
    return size, md5.hexdigest(), sha.hexdigest()


def _discard(path: Path) -> str:
    """Remove a bad file and say so; a shared read-only folder may not let us."""
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        return (
            f"It could not be removed ({exc.strerror or exc}): delete it, or ask whoever "
            f"manages {path.parent} to, then load again"
        )
    return "The file was removed; load again to download a fresh copy"


def _cannot_extract(archive: Path, root: Path, exc: OSError) -> DataUnavailableError:
    # The archive may be fine: the folder is read-only or full. So it is kept, and this is
    # "unavailable" (load_lesson_data falls back), not corruption.
    return DataUnavailableError(
        f"{archive} cannot be extracted in {root} ({exc.strerror or exc}). Extract it there "
        f"once the folder is writable and has room (python -m lessons.data --data-dir {root}), "
        f"or set {ENV_DATA_DIR} to a writable folder that holds it."
    )


def verify_archive(spec: Variant, path: Path, source: str, *, downloaded: bool = True) -> None:
    """Check size, MD5 and SHA-256 (those known); on mismatch raise, removing a download.

    `downloaded=False` for a zip found in the data folder: it is kept (a folder's files are
    its owner's), and the advice is about the file, not the network.
    """
    try:
        size, md5, sha = _digests(path)
    except OSError as exc:  # e.g. a shared class folder's zip that only its owner may read
        raise DataUnavailableError(
            f"cannot read {path} ({exc.strerror or exc}); ask whoever manages {path.parent} to "
            f"make it readable, or set {ENV_DATA_DIR} to a folder of your own."
        ) from exc
    checks = (("size", size, spec.size), ("MD5", md5, spec.md5), ("SHA-256", sha, spec.sha256))
    problems = [
        f"{what} is {got}, expected {want}"
        for what, got, want in checks
        if want is not None and got != want
    ]
    if problems:
        found = f"{spec.archive} from {source} is not the published archive ({'; '.join(problems)})"
        if downloaded:
            raise ChecksumError(
                f"{found}. {_discard(path)}; if this repeats, check the download URL "
                f"({ENV_DATA_URL}) or your network."
            )
        # Someone put this file here: say what is wrong with it, and leave it to them.
        raise ChecksumError(
            f"{found}. Nothing was deleted: an interrupted copy, or a zip re-packed even from the "
            f"right files, is not the published one. Replace {path} with the official "
            f"{spec.archive} or the extracted {spec.folder}/ folder, or delete it and load "
            "again to download one."
        )


def _check_members(members: list[zipfile.ZipInfo], archive: Path) -> None:
    """Refuse members that could write outside the extraction folder, before writing anything."""
    total, seen = 0, set()
    for info in members:
        name = info.filename
        parts = PurePosixPath(name.replace("\\", "/")).parts
        if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts:
            problem = "has a path outside the data folder"
        elif parts in seen:  # (a/./b and a//b are a/b) a second copy would fail as "file exists"
            problem = "appears twice"
        elif stat.S_ISLNK(info.external_attr >> 16):
            problem = "is a symbolic link"
        else:
            total += info.file_size
            seen.add(parts)
            continue
        raise UnsafeArchiveError(
            f"{archive}: member {name!r} {problem}; nothing was extracted and the archive was "
            "removed. Download the official archive again, or use an extracted folder."
        )
    if total > MAX_EXTRACTED_BYTES:
        raise UnsafeArchiveError(
            f"{archive} would unpack to {total} bytes (limit {MAX_EXTRACTED_BYTES}); it was "
            "removed. Download the official archive again."
        )


def extract_archive(spec: Variant, archive: Path, root: Path) -> Path:
    """Extract `archive` safely and return `root/spec.folder`.

    Members go to a temporary folder in `root`, which is renamed into place only after the
    key file is present (and matches `key_sha256`). A bad archive is removed; one that cannot
    be unpacked because `root` is read-only or full is kept, and that is a
    `DataUnavailableError`.
    """
    try:
        tmpdir = Path(tempfile.mkdtemp(dir=root, prefix=f".{spec.folder}.", suffix=".extract"))
    except OSError as exc:
        raise _cannot_extract(archive, root, exc) from exc
    try:
        try:
            with zipfile.ZipFile(archive) as zf:
                members = zf.infolist()
                _check_members(members, archive)
                for info in members:
                    target = tmpdir.joinpath(*PurePosixPath(info.filename).parts)
                    if info.is_dir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(info) as src, open(target, "xb") as dst:
                        shutil.copyfileobj(src, dst)
        except (zipfile.BadZipFile, EOFError) as exc:  # a CRC mismatch is a BadZipFile too
            raise DataFormatError(
                archive, None, f"is not a readable zip ({exc})", _REFETCH
            ) from exc
        key = tmpdir / spec.folder / spec.key_file
        if not key.is_file():
            raise DataFormatError(archive, None, f"has no {spec.folder}/{spec.key_file}", _REFETCH)
        if spec.key_sha256 is not None and file_sha256(key) != spec.key_sha256:
            raise ChecksumError(
                f"{spec.folder}/{spec.key_file} in {archive} is not the published file (SHA-256 "
                "mismatch); the archive was removed. Load again to download a fresh copy."
            )
        dest = root / spec.folder
        try:
            os.rename(tmpdir / spec.folder, dest)
        except OSError:
            if not (dest / spec.key_file).is_file():  # else a parallel process finished first
                raise
        return dest
    except DataError:
        with contextlib.suppress(OSError):  # the error says what is wrong; keep it visible
            archive.unlink(missing_ok=True)
        raise
    except OSError as exc:  # a full disk or a folder we may not write to; the archive is kept
        raise _cannot_extract(archive, root, exc) from exc
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
