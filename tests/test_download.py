"""The download path, for real, against an HTTP server on 127.0.0.1 serving zips made here.

The archives hold the tiny fake ml-100k of conftest (never MovieLens data); the registry entry
is swapped for one carrying the checksums of that fake archive (tests/fake_archive.py).
"""

import errno
import os
import socket
import stat
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lessons.data import ChecksumError, DataFormatError, DataUnavailableError, UnsafeArchiveError
from lessons.data.loader import load_lesson_data, load_movielens
from tests.fake_archive import fake_ml100k_members, leftovers, make_zip, register_archive


@pytest.fixture
def members(fake_ml100k_files) -> dict[str, bytes]:
    return fake_ml100k_members(fake_ml100k_files)


@pytest.fixture
def good(members) -> bytes:
    """A well-formed ml-100k.zip holding the fake files."""
    return make_zip(members)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.server.hits += 1
        route = self.server.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        body, declared = route
        self.send_response(200)
        self.send_header("Content-Length", str(declared))
        self.end_headers()
        self.wfile.write(body)  # fewer bytes than declared: the client sees a cut connection

    def log_message(self, *args):
        pass


@pytest.fixture
def server(monkeypatch):
    """`serve(body, declared_length=None)` publishes /ml-100k.zip; returns the base URL."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LESSONS_QUIET", "1")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.routes, httpd.hits = {}, 0
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()

    def serve(body: bytes, declared: int | None = None) -> str:
        httpd.routes["/ml-100k.zip"] = (body, len(body) if declared is None else declared)
        return f"http://127.0.0.1:{httpd.server_address[1]}/"

    serve.httpd = httpd
    yield serve
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_good_archive_downloads_verifies_extracts_and_loads(good, server, monkeypatch, tmp_path):
    register_archive(monkeypatch, good)
    base = server(good)
    root = tmp_path / "cache"
    ds = load_movielens("100k", data_dir=root, base_url=base)
    assert (ds.n_users, ds.n_items, len(ds.interactions)) == (3, 4, 5)
    assert leftovers(root) == ["ml-100k", "ml-100k.zip"]  # no temporary files
    assert (root / "ml-100k.zip").read_bytes() == good
    # The second load uses the cache: the server is not asked again.
    load_movielens("100k", data_dir=root, base_url=base)
    assert server.httpd.hits == 1


def test_base_url_from_the_environment(good, server, monkeypatch, tmp_path):
    register_archive(monkeypatch, good)
    monkeypatch.setenv("LESSONS_DATA_URL", server(good))
    assert load_movielens("100k", data_dir=tmp_path).n_items == 4
    assert server.httpd.hits == 1


def test_a_kept_archive_is_extracted_without_network(good, monkeypatch, tmp_path):
    register_archive(monkeypatch, good)
    (tmp_path / "ml-100k.zip").write_bytes(good)
    assert load_movielens("100k", data_dir=tmp_path, download=False).n_users == 3


def test_wrong_checksum_removes_the_file_and_never_falls_back(good, server, monkeypatch, tmp_path):
    register_archive(monkeypatch, good, md5="0" * 32)
    base = server(good)
    root = tmp_path / "cache"
    with pytest.raises(ChecksumError) as info:
        load_movielens("100k", data_dir=root, base_url=base)
    assert "MD5" in str(info.value) and base in str(info.value) and "removed" in str(info.value)
    assert leftovers(root) == []
    monkeypatch.setenv("LESSONS_DATA_URL", base)
    with pytest.raises(ChecksumError):  # corruption is never hidden behind synthetic data
        load_lesson_data("100k", data_dir=root)
    assert leftovers(root) == []


def test_connection_cut_before_content_length(good, server, monkeypatch, tmp_path):
    register_archive(monkeypatch, good)
    half = len(good) // 2
    base = server(good[:half], declared=len(good))
    with pytest.raises(DataUnavailableError, match=f"cut short after {half} of {len(good)} bytes"):
        load_movielens("100k", data_dir=tmp_path, base_url=base)
    assert leftovers(tmp_path) == []


def test_truncated_zip_is_caught_by_size_or_by_zip_structure(good, server, monkeypatch, tmp_path):
    truncated = good[: len(good) // 2]
    base = server(truncated)
    register_archive(monkeypatch, good)  # published size differs
    with pytest.raises(ChecksumError, match=f"size is {len(truncated)}, expected {len(good)}"):
        load_movielens("100k", data_dir=tmp_path, base_url=base)
    assert leftovers(tmp_path) == []
    register_archive(
        monkeypatch, good, size=None, md5=None, sha256=None
    )  # nothing to check against
    with pytest.raises(DataFormatError, match="ml-100k.zip.*not a readable zip"):
        load_movielens("100k", data_dir=tmp_path, base_url=base)
    assert leftovers(tmp_path) == []


def _symlink(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


@pytest.mark.parametrize("member", ["../evil", "ml-100k/../../evil", "ABSOLUTE", "symlink"])
def test_unsafe_members_are_refused_and_nothing_is_written(
    server, monkeypatch, tmp_path, members, member
):
    root = tmp_path / "deep" / "cache"
    root.mkdir(parents=True)
    outside = tmp_path / "deep" / "evil"
    extra = {
        "ABSOLUTE": zipfile.ZipInfo(str(outside)),  # "/tmp/.../deep/evil"
        "symlink": _symlink("ml-100k/link"),
    }.get(member, zipfile.ZipInfo(member))
    archive = make_zip(members, [extra])
    register_archive(monkeypatch, archive)
    with pytest.raises(UnsafeArchiveError, match="nothing was extracted"):
        load_movielens("100k", data_dir=root, base_url=server(archive))
    assert not outside.exists() and not (tmp_path / "evil").exists()
    assert leftovers(root) == []


def test_server_down_names_the_url_and_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("LESSONS_QUIET", "1")
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    root = tmp_path / "cache"
    with pytest.raises(DataUnavailableError) as info:
        load_movielens("100k", data_dir=root, base_url=base)
    message = str(info.value)
    assert f"{base}/ml-100k.zip" in message and "offline or the server is down" in message
    assert str(root) in message and "LESSONS_DATA_DIR" in message
    assert "synthetic_movielens()" in message
    assert not root.exists()  # the cache folder it created is gone again


def test_http_error_is_reported(good, server, monkeypatch, tmp_path):
    base = server(good)
    server.httpd.routes.clear()
    with pytest.raises(DataUnavailableError, match="HTTP 404"):
        load_movielens("100k", data_dir=tmp_path, base_url=base)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("quiet", ["1", "0", "on"])  # "on" silences every bar, as in fit
def test_progress_bar_is_silenced_by_lessons_quiet(
    good, server, monkeypatch, tmp_path, capsys, quiet
):
    register_archive(monkeypatch, good)
    base = server(good)
    monkeypatch.setenv("LESSONS_QUIET", quiet)
    capsys.readouterr()
    load_movielens("100k", data_dir=tmp_path, base_url=base)
    err = capsys.readouterr().err
    assert ("ml-100k.zip" in err) == (quiet == "0")


def test_bad_base_url_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="ftp://example.org"):
        load_movielens("100k", data_dir=tmp_path, base_url="ftp://example.org")


def test_command_line_fetches_verifies_and_reports(good, server, monkeypatch, tmp_path, capsys):
    from lessons.data.__main__ import main

    register_archive(monkeypatch, good)
    monkeypatch.setenv("LESSONS_DATA_URL", server(good))
    assert main(["100k", "--data-dir", str(tmp_path)]) == 0
    assert f"ml-100k ready in {tmp_path}: 3 users, 4 items, 5 ratings" in capsys.readouterr().out
    assert main(["--data-dir", str(tmp_path), "--offline"]) == 0  # now present: no network
    assert server.httpd.hits == 1


def test_command_line_failure_is_a_message_and_exit_code_1(good, server, monkeypatch, tmp_path,
                                                           capsys):  # fmt: skip
    from lessons.data.__main__ import main

    register_archive(monkeypatch, good, sha256="0" * 64)
    monkeypatch.setenv("LESSONS_DATA_URL", server(good))
    assert main(["--data-dir", str(tmp_path / "a")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "SHA-256" in err and "Traceback" not in err
    assert main(["--data-dir", str(tmp_path / "b"), "--offline"]) == 1
    assert "--offline was given" in capsys.readouterr().err  # its own option, not the API's


def test_a_failed_first_download_leaves_no_folder_it_created(monkeypatch, tmp_path):
    monkeypatch.setenv("LESSONS_QUIET", "1")
    with pytest.raises(DataUnavailableError):  # nothing listens on port 9 here
        load_movielens(
            "100k", data_dir=tmp_path / "typo" / "x" / "y", base_url="http://127.0.0.1:9"
        )
    assert leftovers(tmp_path) == []  # not only y: x and typo were created for it too


def test_a_download_clears_what_a_killed_kernel_left_and_is_readable_by_all(
    good, server, monkeypatch, tmp_path
):
    register_archive(monkeypatch, good)
    root = tmp_path / "cache"
    root.mkdir()
    dead, live = root / ".ml-100k.zip.dead0001.part", root / ".ml-100k.zip.live0001.part"
    dead.write_bytes(b"half"), live.write_bytes(b"half")
    os.utime(dead, (0, 0))  # untouched for decades: its process is gone
    old_umask = os.umask(0o022)
    try:
        load_movielens("100k", data_dir=root, base_url=server(good))
    finally:
        os.umask(old_umask)
    assert not dead.exists() and live.exists()  # a recent one may be another kernel's
    assert (root / "ml-100k.zip").stat().st_mode & 0o777 == 0o644  # not mkstemp's 0o600


def test_a_zip_placed_by_hand_that_fails_verification_is_blamed_on_the_file(
    good, monkeypatch, tmp_path
):
    register_archive(monkeypatch, good)
    (tmp_path / "ml-100k.zip").write_bytes(make_zip({"ml-100k/u.data": b"1\t1\t5\t1\n"}))
    with pytest.raises(ChecksumError, match="re-packed even from the right files") as info:
        load_movielens("100k", data_dir=tmp_path, download=False)
    assert "network" not in str(info.value) and "Nothing was deleted" in str(info.value)
    assert (tmp_path / "ml-100k.zip").is_file()  # someone put it there: it is theirs to remove


@pytest.mark.filterwarnings("ignore:Duplicate name")  # zipfile's, while the test builds it
@pytest.mark.parametrize("again", ["ml-100k/u.data", "ml-100k/./u.data", "ml-100k//u.data"])
def test_a_member_that_appears_twice_is_refused_as_unsafe(
    server, monkeypatch, tmp_path, members, again
):
    archive = make_zip(members, [zipfile.ZipInfo(again)])  # a second u.data, however spelled
    register_archive(monkeypatch, archive)
    with pytest.raises(UnsafeArchiveError, match="appears twice"):
        load_movielens("100k", data_dir=tmp_path, base_url=server(archive))


def test_a_data_dir_naming_a_partly_extracted_folder_says_it_is_incomplete(
    good, monkeypatch, tmp_path
):
    register_archive(monkeypatch, good)
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    (folder / "u.item").write_text("1|x|01-Jan-1995||\n")  # some files, but no u.data
    with pytest.raises(DataFormatError, match="incomplete extraction"):
        load_lesson_data("100k", data_dir=folder, download=False)  # no fallback: it needs fixing


def test_a_data_dir_named_ml_100k_that_holds_no_data_yet_is_downloaded_into(
    good, server, monkeypatch, tmp_path
):
    register_archive(monkeypatch, good)
    base = server(good)
    for leftover in (None, ".ml-100k.zip.dead0001.part"):  # empty, or a killed download's
        folder = tmp_path / (leftover or "fresh") / "ml-100k"
        folder.mkdir(parents=True)
        if leftover:
            (folder / leftover).write_bytes(b"half")
        assert load_movielens("100k", data_dir=folder, base_url=base).n_users == 3


def test_a_zip_only_its_owner_may_read_is_unavailable_not_a_crash(good, monkeypatch, tmp_path):
    register_archive(monkeypatch, good)
    (tmp_path / "ml-100k.zip").write_bytes(good)

    def denied(path):  # as root, file modes are not enforced: raise what open() would
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr("lessons.data.archive._digests", denied)
    with pytest.raises(DataUnavailableError, match="cannot read .*ml-100k.zip .*Permission denied"):
        load_movielens("100k", data_dir=tmp_path, download=False)
    with pytest.warns(UserWarning, match="cannot read"):  # so the lessons fall back
        assert load_lesson_data("100k", data_dir=tmp_path, download=False).name != "ml-100k"
