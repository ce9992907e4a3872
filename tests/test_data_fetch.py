"""Fetching the data: archives, downloads, data folders and `python -m lessons.data`.

Each test guards a plausible bug that a mutation run found untested (its docstring names the
module and the change). All data are tiny hand-made files (conftest's fake ml-100k,
tests/fake_archive.py zips), never MovieLens files.
"""

import errno
import hashlib
import os
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from lessons.data import (
    DataFormatError,
    DataSettingError,
    DataUnavailableError,
    UnsafeArchiveError,
    download,
    registry,
)
from lessons.data import archive as archive_module
from lessons.data.__main__ import main
from lessons.data.download import resolve_data_dir
from lessons.data.loader import SyntheticFallbackWarning, load_lesson_data, load_movielens
from tests.fake_archive import fake_ml100k_members, leftovers, make_zip, register_archive

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def members(fake_ml100k_files) -> dict[str, bytes]:
    return fake_ml100k_members(fake_ml100k_files)


def _spec_trusting(members: dict[str, bytes]) -> registry.Variant:
    """The "100k" entry with the fake u.data's SHA-256 (for extract_archive called directly)."""
    key = hashlib.sha256(members["ml-100k/u.data"]).hexdigest()
    return replace(registry.VARIANTS["100k"], key_sha256=key)


def _serve_fake_archive(members, monkeypatch, tmp_path) -> Path:
    """A folder serving a fake ml-100k.zip (pass `.as_uri()` as base_url), registered as 100k."""
    archive = make_zip(members)
    register_archive(monkeypatch, archive)
    server = tmp_path / "server"
    server.mkdir()
    (server / "ml-100k.zip").write_bytes(archive)
    return server


def _denied(*args, **kwargs):
    """Stands in for a system call on a folder we may not write (root ignores file modes)."""
    raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))


# --- archive.py ------------------------------------------------------------------------------


def test_an_archive_with_directory_entries_extracts(members, monkeypatch, tmp_path):
    """Bug in archive.py (the `if info.is_dir(): mkdir; continue` branch dropped). GroupLens'
    ml-100k.zip starts with a directory entry `ml-100k/` (`unzip` prints "creating: ml-100k/");
    the fake zips have none, so a loader that writes it as a file fell back to synthetic data
    on every real download without any test noticing."""
    archive_path = tmp_path / "ml-100k.zip"
    with zipfile.ZipFile(archive_path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo("ml-100k/"), b"")  # directory entry first, as published
        for name, data in members.items():
            zf.writestr(name, data)
    archive = archive_path.read_bytes()
    register_archive(monkeypatch, archive)
    ds = load_movielens("100k", data_dir=tmp_path, download=False)
    assert (ds.n_users, ds.n_items) == (3, 4)
    assert (tmp_path / "ml-100k").is_dir() and (tmp_path / "ml-100k" / "u.data").is_file()


@pytest.mark.parametrize("name", ["C:/evil", "c:evil", "ml-100k\\..\\..\\evil", "\\evil"])
def test_windows_style_unsafe_members_are_refused(members, tmp_path, name):
    """Bug in archive.py (drive-letter check dropped) and archive.py (backslashes not
    read as separators): on Windows such members land outside the data folder."""
    root = tmp_path / "root"
    root.mkdir()
    archive = root / "ml-100k.zip"
    archive.write_bytes(make_zip(members, [zipfile.ZipInfo(name)]))
    with pytest.raises(UnsafeArchiveError, match="outside the data folder"):
        archive_module.extract_archive(_spec_trusting(members), archive, root)
    assert leftovers(root) == []


def test_an_archive_without_the_key_file_is_a_format_error(members, tmp_path):
    """Bug in archive.py (`if not key.is_file()` dropped): the zip was reported as a read-only
    folder ("cannot be extracted", so the lessons silently fell back) and kept."""
    root = tmp_path / "root"
    root.mkdir()
    archive = root / "ml-100k.zip"
    archive.write_bytes(make_zip({k: v for k, v in members.items() if not k.endswith("u.data")}))
    with pytest.raises(DataFormatError, match=r"has no ml-100k/u\.data"):
        archive_module.extract_archive(_spec_trusting(members), archive, root)
    assert leftovers(root) == []  # the bad archive is removed, nothing half-extracted


def test_a_failed_rename_into_place_is_reported(members, monkeypatch, tmp_path):
    """Bug in archive.py (every rename failure swallowed): extract_archive returned a folder
    that does not exist, and the load failed later as "u.genre is missing"."""
    root = tmp_path / "root"
    root.mkdir()
    archive = root / "ml-100k.zip"
    archive.write_bytes(make_zip(members))
    monkeypatch.setattr(archive_module.os, "rename", _denied)
    with pytest.raises(DataUnavailableError, match="cannot be extracted .*Permission denied"):
        archive_module.extract_archive(_spec_trusting(members), archive, root)
    assert leftovers(root) == ["ml-100k.zip"]  # a good archive is kept


# --- download.py -----------------------------------------------------------------------------


def test_a_data_dir_named_ml_100k_holding_only_the_zip_is_extracted(members, monkeypatch, tmp_path):
    """Bug in download.py (`p.name != spec.archive` dropped): a teacher who saved ml-100k.zip
    into a folder called ml-100k/ was told the extraction was incomplete."""
    archive = make_zip(members)
    register_archive(monkeypatch, archive)
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    (folder / "ml-100k.zip").write_bytes(archive)
    assert load_movielens("100k", data_dir=folder, download=False).n_users == 3


def test_the_partial_download_is_named_as_stale_cleanup_expects(members, monkeypatch, tmp_path):
    """Bug in download.py (mkstemp suffix changed): the stale-part cleanup was tested with
    hand-made names only, so a download's own partial file could never be cleaned."""
    server = _serve_fake_archive(members, monkeypatch, tmp_path)
    monkeypatch.setenv("LESSONS_QUIET", "1")
    seen, stream = [], download._stream

    def spy(url, out, spec, root):
        seen.extend(p.name for p in root.glob(f".{spec.archive}.*.part"))
        stream(url, out, spec, root)

    monkeypatch.setattr(download, "_stream", spy)
    root = tmp_path / "data"
    assert load_movielens("100k", data_dir=root, base_url=server.as_uri()).n_users == 3
    assert len(seen) == 1  # the file being written is one the cleanup would recognize


def test_a_folder_extracted_twice_over_is_found_one_level_down(tmp_path, fake_ml100k):
    """Windows' "Extract All" of ml-100k.zip into X/ml-100k gives X/ml-100k/ml-100k/u.data.
    Bug: the loader reported X/ml-100k as an incomplete extraction and advised deleting it."""
    fake_ml100k(tmp_path / "ml-100k")
    assert load_movielens("100k", data_dir=tmp_path, download=False).n_users == 3


def test_a_renamed_extracted_folder_is_used_where_it_is(tmp_path, fake_ml100k):
    """Bug: data_dir pointing at the extracted files in a folder not called ml-100k fell back
    to synthetic data offline ("place an extracted ml-100k/ folder in ...") and would have
    downloaded a second copy online."""
    folder = fake_ml100k(tmp_path)
    renamed = folder.rename(tmp_path / "movielens")
    assert load_movielens("100k", data_dir=renamed, download=False).n_users == 3


def test_a_renamed_folder_of_another_release_is_not_taken_for_this_one(tmp_path):
    """Bug: any folder holding a file named like the key file was used. ml-latest has a
    ratings.csv too, and latest-small pins no checksum to tell them apart, so the wrong
    release loaded under the wrong name instead of the fallback."""
    other = tmp_path / "ml-latest"
    other.mkdir()
    (other / "movies.csv").write_text("movieId,title,genres\n1,Heat (1995),Action\n")
    (other / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4.0,1\n")
    with pytest.raises(DataUnavailableError, match="is not in"):
        load_movielens("latest-small", data_dir=other, download=False)


def test_a_folder_without_its_key_file_says_to_extract_again(tmp_path, fake_ml100k):
    """Bug: a missing u.data got the hint for a damaged file, "looks truncated or corrupted"."""
    (fake_ml100k(tmp_path) / "u.data").unlink()
    with pytest.raises(DataFormatError, match="incomplete extraction") as info:
        load_movielens("100k", data_dir=tmp_path, download=False)
    assert "Extract ml-100k.zip again" in str(info.value)
    assert "truncated" not in str(info.value)


class _Stalling:
    """A response whose body read fails with a bare OSError, as a socket timeout or reset does."""

    headers: dict = {"Content-Length": "1000"}

    def __init__(self, error: OSError):
        self.error = error

    def read(self, n: int) -> bytes:
        raise self.error

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize(
    "error", [TimeoutError("timed out"), ConnectionResetError(errno.ECONNRESET, "reset")]
)
def test_a_timeout_or_reset_mid_download_is_unavailable_and_falls_back(
    monkeypatch, tmp_path, error
):
    """Bug in download.py (OSError dropped from the except): a read timeout or a reset is not
    a URLError, so it escaped as a raw traceback and load_lesson_data did not fall back."""
    monkeypatch.setenv("LESSONS_QUIET", "1")
    monkeypatch.setenv("LESSONS_DATA_URL", "http://127.0.0.1:9")
    monkeypatch.setattr(download.urllib.request, "urlopen", lambda *a, **k: _Stalling(error))
    with pytest.raises(DataUnavailableError, match="could not download"):
        load_movielens("100k", data_dir=tmp_path / "a")
    with pytest.warns(SyntheticFallbackWarning):
        assert load_lesson_data("100k", data_dir=tmp_path / "b").is_synthetic


def test_data_dirs_with_a_tilde_or_blanks(monkeypatch, tmp_path):
    """Bugs in download.py (a blank argument kept, `~` not expanded, the environment variable
    not stripped): `LESSONS_DATA_DIR=~/data` must not create a folder named '~' in the
    notebook's working directory."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("LESSONS_DATA_DIR", "~/env-data")
    assert resolve_data_dir("~/arg-data") == tmp_path / "home" / "arg-data"
    assert resolve_data_dir() == tmp_path / "home" / "env-data"
    assert resolve_data_dir("   ") == tmp_path / "home" / "env-data"  # blank = not given
    monkeypatch.setenv("LESSONS_DATA_DIR", "   ")
    if sys.platform != "darwin":
        assert resolve_data_dir() == tmp_path / "xdg" / "lessons"


def test_arguments_of_the_wrong_type_are_value_errors(tmp_path):
    """Bug in download.py (data_dir type unchecked) and loader.py (download type unchecked:
    download="no" is truthy and downloaded)."""
    with pytest.raises(ValueError, match="data_dir must be a path or None, got int"):
        load_movielens("100k", data_dir=5)
    with pytest.raises(ValueError, match="download must be True or False"):
        load_movielens("100k", data_dir=tmp_path, download="no", base_url="http://127.0.0.1:9")


# --- __main__.py -----------------------------------------------------------------------------


def test_cli_unknown_variant_is_a_usage_error(capsys):
    """Bug in __main__.py (choices dropped): '10m' became a raw ValueError traceback."""
    with pytest.raises(SystemExit) as info:
        main(["10m"])
    assert info.value.code == 2 and "invalid choice: '10m'" in capsys.readouterr().err


def test_cli_names_a_mistyped_option(tmp_path, fake_ml100k, capsys):
    """Bug: `--datadir /srv` was reported as "invalid choice: '/srv'", the typo hidden."""
    for args, message in (
        (["--datadir", "/srv"], "unrecognized option --datadir (did you mean --data-dir?)"),
        (["--ofline"], "unrecognized option --ofline (did you mean --offline?)"),
        (["-x"], "unrecognized option -x\n"),
    ):
        with pytest.raises(SystemExit) as info:
            main(args)
        assert info.value.code == 2 and message in capsys.readouterr().err
    fake_ml100k(tmp_path)  # argparse's prefixes of a known option still work
    assert main(["--off", f"--data={tmp_path}"]) == 0


def test_cli_exit_status_reaches_the_shell(tmp_path):
    """Bug in __main__.py (`sys.exit(main())` -> `main()`): binder/postBuild relies on
    `if ! python -m lessons.data 100k`, which only the process's exit status tells."""
    env = {k: v for k, v in os.environ.items() if k != "LESSONS_DATA_DIR"}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run(
        [sys.executable, "-m", "lessons.data", "--offline", "--data-dir", str(tmp_path)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1 and done.stderr.startswith("error: ")


def test_cli_reports_the_folder_it_used_by_default(tmp_path, fake_ml100k, monkeypatch, capsys):
    """Bug in __main__.py (prints args.data_dir): without --data-dir it said "ready in None"."""
    monkeypatch.setenv("LESSONS_DATA_DIR", str(fake_ml100k(tmp_path).parent))
    assert main(["--offline"]) == 0
    assert f"ml-100k ready in {tmp_path}: 3 users" in capsys.readouterr().out


def test_cli_speaks_in_its_own_options(tmp_path, fake_ml100k, capsys, monkeypatch):
    """Bugs: the CLI refused 'ml-100k', which the loader accepts, and its errors named the
    Python API's arguments (download=False, data_dir=) instead of the options the user typed."""
    afile = tmp_path / "data.zip"
    afile.write_bytes(b"")
    cases = (
        (["--offline", "--data-dir", str(tmp_path / "empty")], "--offline was given"),
        (["--data-dir", str(tmp_path / "readonly")], "pass a writable --data-dir"),
        (["--offline", "--data-dir", str(afile)], "and --data-dir name the folder"),
    )
    with monkeypatch.context() as patch:
        patch.setattr(download.tempfile, "mkstemp", _denied)  # a folder we cannot write to
        for args, option in cases:
            assert main(args) == 1
            err = capsys.readouterr().err
            assert option in err and "download=False" not in err and "data_dir=" not in err, err
    fake_ml100k(tmp_path)
    assert main(["ml-100k", "--offline", "--data-dir", str(tmp_path)]) == 0
    assert "ml-100k ready in" in capsys.readouterr().out


# --- settings from the environment -----------------------------------------------------------


def test_a_relative_data_dir_is_reported_as_the_folder_it_names(tmp_path, monkeypatch, capsys):
    """A relative $LESSONS_DATA_DIR names two folders: `python -m lessons.data` at the project
    root filled ./data, and a notebook (kernels start in notebooks/) fell back to synthetic
    data saying 'Place … in data', which hid that it meant notebooks/data."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LESSONS_DATA_DIR", "data")
    assert resolve_data_dir() == tmp_path / "data" and resolve_data_dir("x") == tmp_path / "x"
    with pytest.raises(DataUnavailableError, match=f"in {tmp_path / 'data'}, or set"):
        load_movielens("100k", download=False)
    assert main(["--offline"]) == 1 and f"in {tmp_path / 'data'}" in capsys.readouterr().err


def test_a_malformed_data_url_in_the_environment_is_named(tmp_path, monkeypatch, capsys):
    """A $LESSONS_DATA_URL without a scheme gave the command a raw ValueError traceback and
    named no variable, though a teacher may have set it outside the notebook."""
    monkeypatch.setenv("LESSONS_DATA_URL", "files.example.org/movielens")
    assert main(["--data-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: LESSONS_DATA_URL must start with http://") and "unset" in err
    with pytest.raises(ValueError, match="^download base URL must start") as e:
        registry.resolve_base_url("ftp://mirror")  # an argument: no variable to blame
    assert not isinstance(e.value, DataSettingError)


def test_cli_takes_the_variant_as_documents_write_it_and_advises_its_own_options(
    tmp_path, fake_ml100k, capsys, monkeypatch
):
    """Every document writes "100K", which the command refused; its errors ended with advice
    it cannot follow (the notebooks' synthetic fallback) and never named --data-dir."""
    assert main(["--offline", "--data-dir", str(tmp_path / "empty")]) == 1
    err = capsys.readouterr().err
    assert "synthetic" not in err and "or pass --data-dir (or set LESSONS_DATA_DIR)" in err
    fake_ml100k(tmp_path)
    monkeypatch.chdir(tmp_path.parent)  # a relative --data-dir is reported as the full path
    assert main(["100K", "--offline", "--data-dir", tmp_path.name]) == 0
    assert f"ml-100k ready in {tmp_path}:" in capsys.readouterr().out


def test_a_download_says_what_it_waits_for_unless_quiet(members, monkeypatch, tmp_path, capsys):
    """A network that accepts the connection and never answers left 30 silent seconds before
    the fallback, in every notebook: the bar only starts once the server answers."""
    server = _serve_fake_archive(members, monkeypatch, tmp_path)
    monkeypatch.setenv("LESSONS_QUIET", "0")
    load_movielens("100k", data_dir=tmp_path / "a", base_url=server.as_uri())
    out = capsys.readouterr().out
    assert f"downloading {server.as_uri()}/ml-100k.zip (waiting up to 30 s" in out
    monkeypatch.setenv("LESSONS_QUIET", "1")
    load_movielens("100k", data_dir=tmp_path / "b", base_url=server.as_uri())
    assert "downloading" not in capsys.readouterr().out
