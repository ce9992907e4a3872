"""Where the MovieLens files live, and how to fetch them without ever leaving a half-written cache.

Folder: the `data_dir` argument, else `$LESSONS_DATA_DIR`, else a per-user cache folder. An
extracted `ml-100k/` (`ml-1m/`, `ml-latest-small/`) inside it is used as is; so is a verified
`ml-100k.zip`. Otherwise the official GroupLens zip is streamed to a temporary file in that
folder, checked (size, MD5, SHA-256), moved into place with `os.replace`, and extracted into a
temporary folder that is renamed into place only once complete.
"""

import contextlib
import http.client
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from lessons.config import ENV_DATA_DIR, ENV_DATA_URL
from lessons.data.archive import extract_archive, file_sha256, verify_archive
from lessons.data.registry import (
    ChecksumError,
    DataFormatError,
    DataUnavailableError,
    Variant,
)
from lessons.runtime import show_progress

TIMEOUT_S = 30
STALE_PART_S = 3600  # a partial download untouched this long belongs to a dead process
_CHUNK = 1 << 16


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
    """The folder that holds (or will hold) `ml-100k/`: argument > $LESSONS_DATA_DIR > cache.

    A relative path is made absolute against the working directory, so every message names
    the real folder: a relative $LESSONS_DATA_DIR means notebooks/<it> to a kernel (kernels
    start in notebooks/) and <it> to a command run at the project root.
    """
    if data_dir is not None and not isinstance(data_dir, str | os.PathLike):
        raise ValueError(f"data_dir must be a path or None, got {type(data_dir).__name__}")
    if data_dir is not None and str(data_dir).strip():
        return Path(data_dir).expanduser().absolute()
    env = os.environ.get(ENV_DATA_DIR, "").strip()
    return Path(env).expanduser().absolute() if env else default_cache_dir()


def _what_to_do(spec: Variant, root: Path) -> str:
    return (
        f"Place an extracted {spec.folder}/ folder (or {spec.archive}) in {root}, or set "
        f"{ENV_DATA_DIR} to a folder that holds one, or use the synthetic dataset "
        "`synthetic_movielens()` from lessons.data (load_lesson_data() does this for you)."
    )


def ensure_variant(
    spec: Variant, root: Path, download: bool = True, base_url: str | None = None
) -> Path:
    """Return the extracted folder of `spec` under `root`, downloading it if allowed.

    Raises:
        DataUnavailableError: Missing and `download` is False, or the download failed.
        ChecksumError: The archive or key file is not the published one (a downloaded archive
            is removed; one placed by hand is kept).
        UnsafeArchiveError, DataFormatError: The archive is unsafe or unreadable (removed).
    """
    root = Path(root)
    if root.is_file():  # e.g. LESSONS_DATA_DIR set to the zip itself
        raise DataUnavailableError(
            f"the data folder {root} is a file. {ENV_DATA_DIR} and data_dir= name the folder "
            f"that contains {spec.folder}/ or {spec.archive}, e.g. {root.parent}."
        )
    folder = root / spec.folder
    if (folder / spec.key_file).is_file():
        return folder
    if (root / spec.key_file).is_file() and (
        root.name == spec.folder or _published_key(spec, root)
    ):
        # data_dir points at the extracted folder itself. Renamed, it is recognised only by its
        # key file's published SHA-256: other releases share file names (ml-latest has a
        # ratings.csv too), and 1m and latest-small have no pinned checksum to tell them apart.
        return root
    if (
        root.name == spec.folder
        and root.is_dir()
        and any(not p.name.startswith(".") and p.name != spec.archive for p in root.iterdir())
    ):  # data_dir names the extracted folder itself, part of it there but not its key file
        folder = root  # (an empty folder, or one with our partial download, is a data folder)
    if (folder / spec.folder / spec.key_file).is_file():
        # Windows' "Extract All" puts the zip's folder inside one of the same name.
        return folder / spec.folder
    if folder.exists():
        raise DataFormatError(
            folder / spec.key_file, None, f"is missing from {folder} (incomplete extraction?)",
            hint=f"Extract {spec.archive} again so that {folder} holds {spec.key_file}, or "
            f"delete {folder} and load again to download a fresh copy",
        )  # fmt: skip
    archive = root / spec.archive
    if archive.is_file():  # a copy placed by hand, or kept from an earlier download
        verify_archive(spec, archive, source=str(archive), downloaded=False)
        return extract_archive(spec, archive, root)
    if not download:
        raise DataUnavailableError(
            f"MovieLens {spec.name} is not in {root} (no {spec.folder}/{spec.key_file}) and "
            f"download=False. {_what_to_do(spec, root)}"
        )
    created = [p for p in (root, *root.parents) if not p.exists()]  # deepest first
    try:
        archive = fetch_archive(spec, root, base_url)
        return extract_archive(spec, archive, root)
    except BaseException:
        # Leave no empty folder behind (temporary files are gone by now); rmdir refuses any
        # folder that is not empty, e.g. one another process has started to use.
        with contextlib.suppress(OSError):
            for path in created:
                path.rmdir()
        raise


def _published_key(spec: Variant, folder: Path) -> bool:
    """Whether `folder`'s key file is the published one (False when no checksum is pinned)."""
    return spec.key_sha256 is not None and file_sha256(folder / spec.key_file) == spec.key_sha256


def check_published(spec: Variant, folder: Path) -> None:
    """Raise ChecksumError unless `folder`'s key file (and the others pinned) are published.

    An extracted folder may have been copied in by hand (LESSONS_DATA_DIR, a shared class
    folder), so `load_movielens` checks it on every load like a download (about 5 ms for
    ml-100k's u.data, u.item, u.user and u.genre), after parsing, so that a malformed file is
    still named by line: the lessons' measured figures hold only on the published files.
    """
    for name, digest in ((spec.key_file, spec.key_sha256), *spec.other_sha256):
        path = folder / name
        if digest is not None and file_sha256(path) != digest:
            raise ChecksumError(
                f"{path} is not the published MovieLens {spec.name} file (SHA-256 mismatch): it "
                f"was changed or damaged (re-saved in another encoding?). Nothing was deleted; "
                f"replace {folder} with an official copy (delete it and load again to download "
                "one)."
            )


def fetch_archive(spec: Variant, root: Path, base_url: str | None = None) -> Path:
    """Download and verify `spec.archive` into `root`; return its path.

    The bytes go to a temporary file in `root` (same file system, so `os.replace` is atomic);
    it is renamed to `root/spec.archive` only after it verifies, and removed on any failure.
    """
    url = spec.url(base_url)
    try:
        root.mkdir(parents=True, exist_ok=True)
        _remove_stale_parts(spec, root)
        fd, name = tempfile.mkstemp(dir=root, prefix=f".{spec.archive}.", suffix=".part")
    except OSError as exc:
        raise DataUnavailableError(
            f"cannot write to the data folder {root} ({exc}), so {url} cannot be downloaded "
            f"there; pass a writable data_dir=. {_what_to_do(spec, root)}"
        ) from exc
    tmp = Path(name)
    try:
        try:
            with os.fdopen(fd, "wb") as out:
                _stream(url, out, spec, root)
        except OSError as exc:  # _stream reports the network's; this is the final flush
            raise _cannot_write(url, spec, root, exc) from exc
        verify_archive(spec, tmp, source=url)
        # mkstemp makes the file owner-only; a shared class folder's zip must be readable by
        # the students, as the extracted files are: the usual mode of a new file.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, root / spec.archive)
    except BaseException:
        with contextlib.suppress(OSError):  # the error that got us here is the one to report
            tmp.unlink(missing_ok=True)
        raise
    return root / spec.archive


def _remove_stale_parts(spec: Variant, root: Path) -> None:
    """Delete partial downloads abandoned over an hour ago (a killed kernel cannot clean up;
    a download in progress rewrites its file every few milliseconds)."""
    for part in root.glob(f".{spec.archive}.*.part"):
        with contextlib.suppress(OSError):  # gone already, or not ours to delete
            if time.time() - part.stat().st_mtime > STALE_PART_S:
                part.unlink()


def _stream(url: str, out, spec: Variant, root: Path) -> None:
    """Copy `url` into the open file `out` with a progress bar ($LESSONS_QUIET=1 silences it)."""
    from tqdm.auto import tqdm  # imported here: only a download needs it

    received, total = 0, None
    request = urllib.request.Request(url, headers={"User-Agent": "lessons-movielens"})
    if show_progress():  # a stalled network says nothing for up to TIMEOUT_S: say what waits
        print(f"downloading {url} (waiting up to {TIMEOUT_S} s for an answer)…", flush=True)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            length = response.headers.get("Content-Length", "")
            total = int(length) if length.isdigit() else None
            bar = tqdm(total=total, unit="B", unit_scale=True, desc=spec.archive,
                       disable=not show_progress())  # fmt: skip
            with bar:
                while chunk := response.read(_CHUNK):
                    _write(out, chunk, url, spec, root)
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


def _write(out, chunk: bytes, url: str, spec: Variant, root: Path) -> None:
    # Told apart from the network's OSErrors, which read "you are offline".
    try:
        out.write(chunk)
    except OSError as exc:
        raise _cannot_write(url, spec, root, exc) from exc


def _cannot_write(url: str, spec: Variant, root: Path, exc: OSError) -> DataUnavailableError:
    return DataUnavailableError(
        f"cannot write the download of {url} to {root} ({exc.strerror or exc}); free some "
        f"space there or pass a writable data_dir=. {_what_to_do(spec, root)}"
    )


def _cut_short(url: str, received: int, total: int | None, spec: Variant, root: Path):
    return DataUnavailableError(
        f"the download of {url} was cut short after {received} of {total or '?'} bytes; try "
        f"again later. {_what_to_do(spec, root)}"
    )
