"""What a learner is told when the data folder is incomplete, read-only, full or misnamed.

Root ignores file modes, so "read-only" and "full" are simulated by making the one system call
that would fail raise the kernel's error. No network: the "server" is a file:// URL.
"""

import errno
import os
from pathlib import Path

import pytest

from lessons.data import ChecksumError, DataFormatError, DataUnavailableError, download
from lessons.data.__main__ import main
from lessons.data.loader import load_lesson_data, load_movielens
from tests.fake_archive import fake_ml100k_members, leftovers, make_zip, register_archive


@pytest.fixture
def good(fake_ml100k_files, monkeypatch) -> bytes:
    """The fake ml-100k.zip, trusted by the registry."""
    archive = make_zip(fake_ml100k_members(fake_ml100k_files))
    register_archive(monkeypatch, archive)
    return archive


def _fails(code: int):
    def call(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    return call


@pytest.mark.parametrize("name", ["u.item", "u.genre", "u.user"])
def test_a_parsed_file_that_is_not_the_published_one_is_named(tmp_path, fake_ml100k, name):
    """Bug: only u.data was pinned, so a u.item re-saved as UTF-8 loaded with garbled titles."""
    folder = fake_ml100k(tmp_path)
    text = (folder / name).read_text(encoding="latin-1")
    (folder / name).write_text(text.replace("\n", "\r\n"), encoding="latin-1")  # re-saved
    with pytest.raises(ChecksumError, match=f"{name} is not the published .* another encoding"):
        load_movielens("100k", data_dir=tmp_path, download=False)
    assert (folder / name).exists()  # a folder placed by hand is never deleted


@pytest.mark.parametrize("name", ["u.item", "u.genre", "u.user"])
def test_a_folder_missing_a_file_names_it(tmp_path, fake_ml100k, name, capsys):
    folder = fake_ml100k(tmp_path)
    (folder / name).unlink()
    with pytest.raises(DataFormatError, match="incomplete") as info:
        load_movielens("100k", data_dir=tmp_path, download=False)
    assert info.value.path == folder / name
    with pytest.raises(DataFormatError):  # damage is never hidden behind the synthetic data
        load_lesson_data("100k", data_dir=tmp_path)
    assert main(["--offline", "--data-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and name in err and "Traceback" not in err


@pytest.mark.parametrize(
    "call, code", [("tempfile.mkdtemp", errno.EACCES), ("shutil.copyfileobj", errno.ENOSPC)]
)
def test_an_archive_that_cannot_be_extracted_is_kept_and_falls_back(
    good, tmp_path, monkeypatch, call, code
):
    (tmp_path / "ml-100k.zip").write_bytes(good)
    monkeypatch.setattr(f"lessons.data.archive.{call}", _fails(code))
    with pytest.raises(DataUnavailableError, match="cannot be extracted") as info:
        load_movielens("100k", data_dir=tmp_path, download=False)
    assert os.strerror(code) in str(info.value) and "--data-dir" in str(info.value)
    assert leftovers(tmp_path) == ["ml-100k.zip"]  # the good archive is kept, nothing half-written
    assert (tmp_path / "ml-100k.zip").read_bytes() == good
    with pytest.warns(UserWarning, match="cannot be extracted"):
        assert load_lesson_data("100k", data_dir=tmp_path).is_synthetic


def test_a_bad_download_that_cannot_be_removed_still_reports_its_checksum(
    good, tmp_path, monkeypatch
):
    """A download that fails verification is removed; where it cannot be, the learner is told
    to delete it, and still reads what was wrong. (A zip placed by hand is never removed.)"""
    server = tmp_path / "server"
    server.mkdir()
    (server / "ml-100k.zip").write_bytes(good[:-1])
    monkeypatch.setenv("LESSONS_QUIET", "1")
    monkeypatch.setattr(Path, "unlink", _fails(errno.EACCES))
    with pytest.raises(ChecksumError, match="size is") as info:
        load_movielens("100k", data_dir=tmp_path / "data", base_url=server.as_uri())
    assert "could not be removed (Permission denied): delete it" in str(info.value)


class _FullDisk:
    """A file whose writes (or only its final flush) fail as on a full disk."""

    def __init__(self, file, at_close: bool):
        self.file, self.at_close = file, at_close

    def write(self, data: bytes) -> int:
        if not self.at_close:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self.file.write(data)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.file.close()
        if self.at_close:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("at_close", [False, True])
def test_a_full_disk_during_the_download_is_not_called_offline(
    good, tmp_path, monkeypatch, at_close
):
    server = tmp_path / "server"
    server.mkdir()
    (server / "ml-100k.zip").write_bytes(good)
    monkeypatch.setenv("LESSONS_QUIET", "1")
    fdopen = os.fdopen
    monkeypatch.setattr(
        download.os, "fdopen", lambda fd, mode: _FullDisk(fdopen(fd, mode), at_close)
    )
    root = tmp_path / "data"
    with pytest.raises(DataUnavailableError, match="cannot write the download") as info:
        load_movielens("100k", data_dir=root, base_url=server.as_uri())
    assert "No space left on device" in str(info.value) and "offline" not in str(info.value)
    assert leftovers(root) == []  # no partial download left behind


def test_a_data_dir_naming_the_zip_says_to_name_its_folder(good, tmp_path):
    (tmp_path / "ml-100k.zip").write_bytes(good)
    with pytest.raises(DataUnavailableError, match="is a file") as info:
        load_movielens("100k", data_dir=tmp_path / "ml-100k.zip")
    assert f"e.g. {tmp_path}." in str(info.value)
    assert load_movielens("100k", data_dir=tmp_path).n_users == 3  # its folder is the answer
