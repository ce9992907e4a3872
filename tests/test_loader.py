"""Loading MovieLens: malformed files named by line, missing data, search order, fallback."""

import sys
from pathlib import Path

import pandas as pd
import pytest

from lessons.data import ChecksumError, DataFormatError, DataUnavailableError
from lessons.data.download import resolve_data_dir
from lessons.data.loader import SyntheticFallbackWarning, load_lesson_data, load_movielens


def test_incomplete_folder_is_an_error_not_a_download(tmp_path):
    (tmp_path / "ml-100k").mkdir()
    with pytest.raises(DataFormatError, match=r"u\.data"):
        load_movielens("100k", data_dir=tmp_path, download=True, base_url="http://127.0.0.1:9")


def _corrupt(folder: Path, name: str, lines: dict[int, str | None]) -> None:
    """Replace (str) or drop (None) 1-based lines of `folder/name`."""
    path = folder / name
    text = path.read_text(encoding="latin-1").splitlines()
    for number, new in sorted(lines.items(), reverse=True):
        if new is None:
            del text[number - 1]
        else:
            text[number - 1] = new
    path.write_text("\n".join(text) + ("\n" if text else ""), encoding="latin-1")


@pytest.mark.parametrize(
    ("name", "lines", "bad_line"),
    [
        ("u.data", {3: "1\t20\tx\t200"}, 3),  # not a number
        ("u.data", {5: "1\t3"}, 5),  # truncated last line
        ("u.data", {4: "2\t99\t1\t150"}, 4),  # unknown item
        ("u.data", {1: "5\t20\t9\t100"}, 1),  # rating outside 0.5..5
        ("u.data", {2: "1\t10\tnan\t300"}, 2),  # rating not a number after all
        ("u.item", {2: "20|Beta (1996)|12-Mar-1996"}, 2),  # missing fields
        ("u.user", {3: "1|33|F|writer|T8H1N"}, 3),  # repeated id
        ("u.data", {1: None, 2: None, 3: None, 4: None, 5: None}, None),  # empty file
    ],
)
def test_malformed_ml100k_names_file_and_line(tmp_path, fake_ml100k, name, lines, bad_line):
    _corrupt(fake_ml100k(tmp_path), name, lines)
    with pytest.raises(DataFormatError) as info:
        load_movielens("100k", data_dir=tmp_path, download=False)
    assert info.value.path.name == name and info.value.line == bad_line
    assert name in str(info.value)
    if bad_line is not None:
        assert f"line {bad_line}" in str(info.value)


def test_malformed_ml1m_and_latest_small_name_the_line(tmp_path):
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    (folder / "users.dat").write_text("1::F::1::10::48067\n")
    (folder / "movies.dat").write_text("1::Toy Story (1995)::Comedy\n")
    (folder / "ratings.dat").write_text("1::1::5::978300019\n1::1::5\n")
    with pytest.raises(DataFormatError, match=r"ratings\.dat, line 2"):
        load_movielens("1m", data_dir=tmp_path, download=False)

    folder = tmp_path / "ml-latest-small"
    folder.mkdir()
    (folder / "movies.csv").write_text("movieId,title,genres\n1,Toy Story (1995),Comedy\n")
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4.0,1\n1,1,four,2\n")
    with pytest.raises(DataFormatError, match=r"ratings\.csv, line 3"):
        load_movielens("latest-small", data_dir=tmp_path, download=False)
    (folder / "ratings.csv").write_text("user,movie,rating,time\n1,1,4.0,1\n")
    with pytest.raises(DataFormatError, match=r"ratings\.csv, line 1"):
        load_movielens("latest-small", data_dir=tmp_path, download=False)


def test_unknown_variant_lists_the_valid_ones(tmp_path):
    with pytest.raises(ValueError, match="10m") as info:
        load_movielens("10m", data_dir=tmp_path)
    for valid in ("'100k'", "'1m'", "'latest-small'"):
        assert valid in str(info.value)


def test_data_dir_resolution_order(tmp_path, monkeypatch):
    monkeypatch.setenv("LESSONS_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert resolve_data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_data_dir() == tmp_path / "env"
    monkeypatch.delenv("LESSONS_DATA_DIR")
    if sys.platform == "darwin":
        assert resolve_data_dir() == tmp_path / "home" / "Library" / "Caches" / "lessons"
        return
    assert resolve_data_dir() == tmp_path / "xdg" / "lessons"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert resolve_data_dir() == tmp_path / "home" / ".cache" / "lessons"


def test_loading_follows_the_resolution_order(tmp_path, monkeypatch, fake_ml100k):
    monkeypatch.setenv("LESSONS_DATA_DIR", str(fake_ml100k(tmp_path / "env").parent))
    assert load_movielens("100k", download=False).n_users == 3  # found through the env var
    with pytest.raises(DataUnavailableError, match=str(tmp_path / "arg")):
        load_movielens("100k", data_dir=tmp_path / "arg", download=False)  # argument wins


def test_a_folder_placed_by_hand_must_hold_the_published_ratings(tmp_path, fake_ml100k):
    folder = fake_ml100k(tmp_path)
    assert load_movielens("100k", data_dir=folder, download=False).n_users == 3
    with open(folder / "u.data", "a", encoding="latin-1") as f:
        f.write("2\t30\t5\t400\n")  # one rating more than the published file
    for data_dir in (tmp_path, folder):  # the parent, or the extracted folder itself
        with pytest.raises(ChecksumError, match=r"u\.data is not the published MovieLens 100k"):
            load_movielens("100k", data_dir=data_dir, download=False)
    with pytest.raises(ChecksumError):  # not a missing-data case: no synthetic fallback
        load_lesson_data("100k", data_dir=tmp_path, download=False)
    assert (folder / "u.data").is_file()  # the user's folder is never deleted


def test_missing_data_with_download_false_says_what_to_do(tmp_path):
    with pytest.raises(DataUnavailableError) as info:
        load_movielens("100k", data_dir=tmp_path, download=False)
    message = str(info.value)
    assert "download=False" in message and str(tmp_path) in message
    assert "LESSONS_DATA_DIR" in message and "synthetic_movielens" in message
    assert list(tmp_path.iterdir()) == []


def test_fallback_is_synthetic_with_a_visible_notice(tmp_path):
    with pytest.warns(SyntheticFallbackWarning, match="SYNTHETIC") as record:
        ds = load_lesson_data("100k", data_dir=tmp_path, download=False)
    assert ds.is_synthetic and str(tmp_path) in ds.notice
    assert str(record[0].message) == ds.notice
    assert isinstance(ds.interactions, pd.DataFrame) and ds.n_users > 0


def test_no_fallback_when_disabled_or_data_is_corrupt(tmp_path, fake_ml100k):
    with pytest.raises(DataUnavailableError):
        load_lesson_data("100k", data_dir=tmp_path / "empty", download=False, fallback=False)
    _corrupt(fake_ml100k(tmp_path), "u.data", {2: "garbage"})
    with pytest.raises(DataFormatError):
        load_lesson_data("100k", data_dir=tmp_path, download=False)


def test_real_data_is_used_by_load_lesson_data_without_notice(tmp_path, fake_ml100k):
    ds = load_lesson_data("100k", data_dir=fake_ml100k(tmp_path).parent, download=False)
    assert not ds.is_synthetic and ds.notice == ""
