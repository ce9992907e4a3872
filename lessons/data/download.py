"""Where the MovieLens files live, and how to fetch them without ever leaving a half-written cache.

Folder: the `data_dir` argument, else `$LESSONS_DATA_DIR`, else a per-user cache folder. An
extracted `ml-100k/` (`ml-1m/`, `ml-latest-small/`) inside it is used as is; so is a verified
`ml-100k.zip`. Otherwise the official GroupLens zip is streamed to a temporary file in that
folder, checked (size, MD5, SHA-256), moved into place with `os.replace`, and extracted into a
temporary folder that is renamed into place only once complete.
"""

import contextlib
import hashlib
import http.client
import os
import re
import shutil
import stat
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from lessons.config import ENV_DATA_DIR, ENV_DATA_URL, ENV_QUIET
from lessons.data.registry import (  # noqa: F401  (re-exported: the errors belong to this API)
    VARIANTS,
    ChecksumError,
    DataError,
    DataFormatError,
    DataUnavailableError,
    UnsafeArchiveError,
    Variant,
    resolve_base_url,
    variant_spec,
)

TIMEOUT_S = 30
MAX_EXTRACTED_BYTES = 1 << 30  # refuse zip bombs; ml-1m unpacks to ~25 MB
_CHUNK = 1 << 16
_REFETCH = "The archive was removed; load again to download a fresh copy"


def default_cache_dir() -> Path:
    """Per-user cache: ~/Library/Caches/lessons on macOS, else $XDG_CACHE_HOME/lessons.

    $XDG_CACHE_HOME defaults to ~/.cache.
    """
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "lessons"
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    # The XDG spec says relative values are invalid and must be ignored.
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "lessons"


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The folder that holds (or will hold) `ml-100k/`: argument > $LESSONS_DATA_DIR > cache."""
    if data_dir is not None and not isinstance(data_dir, str | os.PathLike):
        raise ValueError(f"data_dir must be a path or None, got {type(data_dir).__name__}")
    if data_dir is not None and str(data_dir).strip():
        return Path(data_dir).expanduser()
    env = os.environ.get(ENV_DATA_DIR, "").strip()
    return Path(env).expanduser() if env else default_cache_dir()


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


def _what_to_do(spec: Variant, root: Path) -> str:
    return (
        f"Place an extracted {spec.folder}/ folder (or {spec.archive}) in {root}, or set "
        f"{ENV_DATA_DIR} to a folder that holds one, or use the synthetic dataset "
        "`synthetic_movielens()` from lessons.data (load_lesson_data() does this for you)."
    )


def _quiet() -> bool:
    return os.environ.get(ENV_QUIET, "").strip().lower() in ("1", "true", "yes")


def ensure_variant(
    spec: Variant, root: Path, download: bool = True, base_url: str | None = None
) -> Path:
    """Return the extracted folder of `spec` under `root`, downloading it if allowed.

    Raises:
        DataUnavailableError: Missing and `download` is False, or the download failed.
        ChecksumError: The archive or key file is not the published one (it is removed).
        UnsafeArchiveError, DataFormatError: The archive is unsafe or unreadable (removed).
    """
    root = Path(root)
    folder = root / spec.folder
    if (folder / spec.key_file).is_file():
        return folder
    if root.name == spec.folder and (root / spec.key_file).is_file():
        return root  # data_dir points at the extracted folder itself
    if folder.exists():
        raise DataFormatError(
            folder / spec.key_file, None, f"is missing from {folder} (incomplete extraction?)"
        )
    archive = root / spec.archive
    if archive.is_file():  # a copy placed by hand, or kept from an earlier download
        verify_archive(spec, archive, source=str(archive))
        return extract_archive(spec, archive, root)
    if not download:
        raise DataUnavailableError(
            f"MovieLens {spec.name} is not in {root} (no {spec.folder}/{spec.key_file}) and "
            f"download=False. {_what_to_do(spec, root)}"
        )
    created = not root.exists()
    try:
        archive = fetch_archive(spec, root, base_url)
        return extract_archive(spec, archive, root)
    except BaseException:
        if created:  # leave no empty cache folder behind (temporary files are gone by now)
            with contextlib.suppress(OSError):
                root.rmdir()
        raise


def check_published(spec: Variant, folder: Path) -> None:
    """Raise ChecksumError unless `folder`'s key file is the published one.

    An extracted folder may have been copied in by hand (LESSONS_DATA_DIR, a shared class
    folder), so `load_movielens` checks it on every load like a download (about 5 ms for
    ml-100k's u.data), after parsing, so that a malformed file is still named by line: the
    lessons' measured figures hold only on the published ratings.
    """
    key = folder / spec.key_file
    if spec.key_sha256 is not None and file_sha256(key) != spec.key_sha256:
        raise ChecksumError(
            f"{key} is not the published MovieLens {spec.name} file (SHA-256 mismatch): it was "
            f"changed or damaged. Nothing was deleted; replace {folder} with an official copy "
            "(delete it and load again to download one)."
        )


def fetch_archive(spec: Variant, root: Path, base_url: str | None = None) -> Path:
    """Download and verify `spec.archive` into `root`; return its path.

    The bytes go to a temporary file in `root` (same file system, so `os.replace` is atomic);
    it is renamed to `root/spec.archive` only after it verifies, and removed on any failure.
    """
    url = spec.url(base_url)
    try:
        root.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=root, prefix=f".{spec.archive}.", suffix=".part")
    except OSError as exc:
        raise DataUnavailableError(
            f"cannot write to the data folder {root} ({exc}), so {url} cannot be downloaded "
            f"there; pass a writable data_dir=. {_what_to_do(spec, root)}"
        ) from exc
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            _stream(url, out, spec, root)
        verify_archive(spec, tmp, source=url)
        os.replace(tmp, root / spec.archive)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return root / spec.archive


def _stream(url: str, out, spec: Variant, root: Path) -> None:
    """Copy `url` into the open file `out` with a progress bar ($LESSONS_QUIET=1 silences it)."""
    from tqdm.auto import tqdm  # imported here: only a download needs it

    received, total = 0, None
    request = urllib.request.Request(url, headers={"User-Agent": "lessons-movielens"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            length = response.headers.get("Content-Length", "")
            total = int(length) if length.isdigit() else None
            bar = tqdm(total=total, unit="B", unit_scale=True, desc=spec.archive, disable=_quiet())
            with bar:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
                    if spec.size is not None and received > spec.size:
                        raise ChecksumError(
                            f"{url} sends more than the {spec.size} bytes of {spec.archive}; "
                            f"it is not the published archive (check {ENV_DATA_URL})."
                        )
    except http.client.IncompleteRead as exc:  # the server closed before Content-Length
        raise _cut_short(url, received + len(exc.partial), total, spec, root) from exc
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(exc, urllib.error.HTTPError):
            reason = f"HTTP {exc.code} {exc.reason}; the URL may have moved, see {ENV_DATA_URL}"
        raise DataUnavailableError(
            f"could not download {url} ({reason}): you are offline or the server is down. "
            f"{_what_to_do(spec, root)}"
        ) from exc
    if total is not None and received != total:  # also checked for servers that do not raise
        raise _cut_short(url, received, total, spec, root)


def _cut_short(url: str, received: int, total: int | None, spec: Variant, root: Path):
    return DataUnavailableError(
        f"the download of {url} was cut short after {received} of {total or '?'} bytes; try "
        f"again later. {_what_to_do(spec, root)}"
    )


def verify_archive(spec: Variant, path: Path, source: str) -> None:
    """Check size, MD5 and SHA-256 (those known); on mismatch remove `path` and raise."""
    size, md5, sha = _digests(path)
    checks = (("size", size, spec.size), ("MD5", md5, spec.md5), ("SHA-256", sha, spec.sha256))
    problems = [
        f"{what} is {got}, expected {want}"
        for what, got, want in checks
        if want is not None and got != want
    ]
    if problems:
        path.unlink(missing_ok=True)
        raise ChecksumError(
            f"{spec.archive} from {source} is not the published archive ({'; '.join(problems)}). "
            f"The file was removed; load again to download a fresh copy, and if this repeats "
            f"check the download URL ({ENV_DATA_URL}) or your network."
        )


def _check_members(members: list[zipfile.ZipInfo], archive: Path) -> None:
    """Refuse members that could write outside the extraction folder, before writing anything."""
    total = 0
    for info in members:
        name = info.filename
        parts = PurePosixPath(name.replace("\\", "/")).parts
        if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts:
            problem = "has a path outside the data folder"
        elif stat.S_ISLNK(info.external_attr >> 16):
            problem = "is a symbolic link"
        else:
            total += info.file_size
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
    key file is present (and matches `key_sha256`); on failure the archive is removed.
    """
    tmpdir = Path(tempfile.mkdtemp(dir=root, prefix=f".{spec.folder}.", suffix=".extract"))
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
        archive.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
