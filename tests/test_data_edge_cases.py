"""Edge cases of the data package (parsing, indexing, Dataset, synthetic data, archives).

Each test guards a plausible bug that would still give believable results (found by mutating
the code by hand); the data are tiny hand-made files (conftest's fake ml-100k, fake zips of
tests/fake_archive.py) or the package's synthetic generator, never MovieLens files.
"""

import hashlib
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lessons.config import ITEM, RATING, USER
from lessons.data import (
    ChecksumError,
    DataFormatError,
    UnsafeArchiveError,
    interaction_matrix,
    registry,
    synthetic_movielens,
)
from lessons.data import archive as archive_module
from lessons.data import download as download_module
from lessons.data.loader import load_movielens
from tests.fake_archive import fake_ml100k_members, make_zip
from tests.helpers import write_latest_small, write_ml1m


def _replace_line(path: Path, number: int, new: str) -> None:
    """Replace the 1-based line `number` of a Latin-1 file."""
    lines = path.read_text(encoding="latin-1").splitlines()
    lines[number - 1] = new
    path.write_text("\n".join(lines) + "\n", encoding="latin-1")


def _load_fake(tmp_path: Path, fake_ml100k, name: str, number: int, new: str):
    folder = fake_ml100k(tmp_path)
    _replace_line(folder / name, number, new)
    return load_movielens("100k", data_dir=tmp_path, download=False)


# --- ML-100K parsing -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "what"), [("1\t25\t3\t200", "item 25"), ("3\t20\t3\t200", "user 3")]
)
def test_an_id_in_a_gap_of_the_catalogue_is_refused(tmp_path, fake_ml100k, line, what):
    """Bug: only ids above the largest catalogue id were refused, so item 25 (between 20 and 30)
    or user 3 (between 2 and 5) silently became the next id's ratings."""
    with pytest.raises(DataFormatError, match=f"line 3: {what} is not in the catalogue"):
        _load_fake(tmp_path, fake_ml100k, "u.data", 3, line)


def test_a_truncated_catalogue_is_named_beside_the_ratings(tmp_path, fake_ml100k):
    """Bug: cutting u.item's last line failed on u.data ("item 30 is not in the catalogue"),
    pointing a teacher at the intact ratings file; the message now shows the catalogue's
    extent and names the item file as a suspect too."""
    folder = fake_ml100k(tmp_path)
    rated = {int(line.split("\t")[1]) for line in (folder / "u.data").read_text().splitlines()}
    items = (folder / "u.item").read_text(encoding="latin-1").splitlines()
    last = max(rated)  # cut the catalogue just before the last rated item
    kept_lines = [line for line in items if int(line.split("|")[0]) < last]
    (folder / "u.item").write_text("\n".join(kept_lines) + "\n", encoding="latin-1")
    with pytest.raises(DataFormatError) as refused:
        load_movielens("100k", data_dir=tmp_path, download=False)
    kept = [int(line.split("|")[0]) for line in kept_lines]
    assert f"lists {len(kept)} items with ids {min(kept)}-{max(kept)}" in str(refused.value)
    assert f"item {last} is not in the catalogue" in str(refused.value)
    assert "or the item file is damaged" in str(refused.value)


def test_a_rating_of_zero_is_refused(tmp_path, fake_ml100k):
    """Bug: a rating range starting at 0 accepted 0 (a common "unrated" placeholder) as a rating,
    although MovieLens ratings are 0.5 to 5 stars."""
    with pytest.raises(DataFormatError, match=r"line 2: rating 0\.0 is outside"):
        _load_fake(tmp_path, fake_ml100k, "u.data", 2, "1\t10\t0\t300")


def test_a_genre_flag_of_two_is_refused_among_valid_flags(tmp_path, fake_ml100k):
    """Bug: a row was refused only when none of its genre flags was 0 or 1, so a single stray 2
    among 0s was read as a genre weight of 2."""
    flags = ["0"] * 19
    flags[1] = "2"  # Action = 2, every other genre 0
    bad = "10|Alpha (1995)|01-Jan-1995||http://example.org/a|" + "|".join(flags)
    with pytest.raises(DataFormatError, match="line 1: has a genre flag that is not 0 or 1"):
        _load_fake(tmp_path, fake_ml100k, "u.item", 1, bad)


def test_a_misnumbered_u_genre_is_refused(tmp_path, fake_ml100k):
    """Bug: u.genre's indexes were not checked, so genres listed out of order (Action|2) would
    silently shift every genre column of u.item by one."""
    with pytest.raises(DataFormatError, match=r"u\.genre, line 2: expected 'name\|1'"):
        _load_fake(tmp_path, fake_ml100k, "u.genre", 2, "Action|2")


# --- ML-1M and ml-latest-small parsing -------------------------------------------------------

RATINGS_1M = "1::1::5::978300019\n2::1::3::978300020\n"  # both users rate movie 1


def test_ml1m_occupation_code_21_is_a_format_error(tmp_path):
    """Bug: an off-by-one bound on occupation codes (0-20) let code 21 through to an IndexError
    instead of a DataFormatError naming the line."""
    write_ml1m(
        tmp_path,
        "1::F::1::10::48067\n2::M::56::21::70072\n",
        "1::Heat (1995)::Action\n",
        RATINGS_1M,
    )
    with pytest.raises(DataFormatError, match=r"users\.dat, line 2: occupation code 21"):
        load_movielens("1m", data_dir=tmp_path, download=False)


def test_ml1m_titles_lose_their_trailing_spaces(tmp_path):
    """Bug: titles of movies.dat were not stripped (only ML-100K's were), so a title typed
    without the stray space is not found."""
    write_ml1m(
        tmp_path,
        "1::F::1::10::48067\n2::M::56::16::70072\n",
        "1::Heat (1995) ::Action\n",
        RATINGS_1M,
    )
    ds = load_movielens("1m", data_dir=tmp_path, download=False)
    assert ds.items["title"].tolist() == ["Heat (1995)"]


def test_invalid_utf8_is_reported_on_its_own_line(tmp_path):
    """Bug: lines were counted from 0 when looking for undecodable bytes, so the error named the
    line before the broken one (only UTF-8 files can have such bytes; Latin-1 decodes all)."""
    movies = b"movieId,title,genres\n1,Heat (1995),Action\n2,Caf\xe9 (1999),Comedy\n"
    write_latest_small(tmp_path, movies)
    with pytest.raises(DataFormatError, match=r"movies\.csv, line 3: is not valid utf-8 text"):
        load_movielens("latest-small", data_dir=tmp_path, download=False)


def test_a_csv_saved_with_a_byte_order_mark_loads(tmp_path):
    """Bug: the header check compared the first line with its UTF-8 byte order mark, so a
    movies.csv re-saved by a spreadsheet or Windows editor was refused as malformed."""
    write_latest_small(tmp_path, b"\xef\xbb\xbfmovieId,title,genres\n1,Heat (1995),Action\n")
    ds = load_movielens("latest-small", data_dir=tmp_path, download=False)
    assert ds.item_ids.tolist() == [1] and ds.genres == ("Action",)


def test_an_empty_genres_field_adds_no_genre(tmp_path):
    """Bug: an empty genres field became a genre named "" (an all-zero extra column)."""
    write_latest_small(tmp_path, b"movieId,title,genres\n1,Heat (1995),Action\n2,Blank (2001),\n")
    ds = load_movielens("latest-small", data_dir=tmp_path, download=False)
    assert ds.genres == ("Action",)
    assert ds.item_genres.tolist() == [[1.0], [0.0]]


# --- Dataset ---------------------------------------------------------------------------------


def test_duplicate_interactions_count_once_in_the_matrix():
    """Bug: without resetting summed duplicates, a (user, item) pair listed twice became a 2 in
    the "binary" implicit-feedback matrix."""
    frame = pd.DataFrame({USER: [0, 0, 0, 1], ITEM: [2, 2, 0, 1]})
    m = interaction_matrix(frame, n_users=2, n_items=3)
    assert m.toarray().tolist() == [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]


def test_implicit_keeps_ratings_equal_to_the_threshold():
    """Bug: `>` instead of `>=` dropped every 4-star rating from implicit(min_rating=4)."""
    data = synthetic_movielens(n_users=5, n_items=40, seed=1)
    ratings = data.interactions[RATING]
    kept = data.implicit(4.0).interactions
    assert len(kept) == int((ratings == 4).sum() + (ratings == 5).sum())
    assert (kept[RATING] == 4).any()


# --- synthetic data --------------------------------------------------------------------------


def _taste_lift(temperature: float) -> float:
    """Mean planted affinity of the picked (user, item) pairs minus that of all pairs."""
    data, truth = synthetic_movielens(
        n_users=80, n_items=60, seed=5, temperature=temperature, return_truth=True
    )
    affinity = truth.affinity()
    picked = affinity[data.interactions[USER], data.interactions[ITEM]]
    return float(picked.mean() - affinity.mean())


def test_temperature_weakens_the_effect_of_taste():
    """Bug: the choice logits ignored `temperature`, so every temperature drew the very same
    interactions and a lesson's "weaker taste" setting changed nothing."""
    sharp, flat = _taste_lift(0.2), _taste_lift(100.0)
    assert sharp > 0.3 and abs(flat) < 0.1 and sharp > 5 * abs(flat)


def test_popularity_offset_sets_the_zipf_mandelbrot_weights():
    """Bug: `popularity_offset` was ignored (always n_items / 16). With offset 0 the weights are
    rank ** -a, so the largest is n_items ** a times the smallest."""
    n_items, a = 40, 1.0
    _, truth = synthetic_movielens(
        n_users=3, n_items=n_items, seed=0, popularity_offset=0, popularity_exponent=a,
        return_truth=True,
    )  # fmt: skip
    weights = np.sort(truth.item_popularity)[::-1]
    expected = 1.0 / np.arange(1, n_items + 1)
    np.testing.assert_allclose(weights, expected / expected.sum(), rtol=1e-9)


# --- archives and downloads ------------------------------------------------------------------


@pytest.fixture
def fake_zip(tmp_path, fake_ml100k_files) -> tuple[Path, registry.Variant, Path]:
    """(archive path, a registry entry trusting its u.data, the data root) of a fake zip."""
    root = tmp_path / "root"
    root.mkdir()
    archive = root / "ml-100k.zip"
    archive.write_bytes(make_zip(fake_ml100k_members(fake_ml100k_files)))
    u_data = fake_ml100k_files["u.data"].encode("latin-1")
    spec = replace(registry.VARIANTS["100k"], key_sha256=hashlib.sha256(u_data).hexdigest())
    return archive, spec, root


def test_an_archive_unpacking_past_the_limit_is_refused(fake_zip, monkeypatch):
    """Bug: the total uncompressed size was never compared with the limit, so a zip bomb would
    fill the disk before anything complained."""
    archive, spec, root = fake_zip
    monkeypatch.setattr(archive_module, "MAX_EXTRACTED_BYTES", 100)  # the fake unpacks to more
    with pytest.raises(UnsafeArchiveError, match="would unpack to"):
        archive_module.extract_archive(spec, archive, root)
    assert sorted(p.name for p in root.iterdir()) == []  # archive removed, nothing extracted


def test_an_extracted_key_file_must_match_its_checksum(fake_zip):
    """Bug: the key file's SHA-256 was not compared after unpacking, so a repacked archive with
    altered ratings was renamed into place as if published."""
    archive, spec, root = fake_zip
    spec = replace(spec, key_sha256="0" * 64)
    with pytest.raises(ChecksumError, match="u.data in .* is not the published file"):
        archive_module.extract_archive(spec, archive, root)
    assert sorted(p.name for p in root.iterdir()) == []


class _EndlessResponse:
    """A response that never ends; reading far past the archive's size is the bug."""

    headers: dict = {}

    def __init__(self):
        self.sent = 0

    def read(self, n: int) -> bytes:
        self.sent += n
        if self.sent > 10 * 2**20:
            raise RuntimeError("kept reading an endless download")
        return b"\0" * n

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_a_download_longer_than_the_archive_stops_at_its_size(tmp_path, monkeypatch):
    """Bug: the byte count was not compared with the published size while streaming, so a
    server sending endless data would fill the disk (the size is checked only at the end)."""
    spec = replace(registry.VARIANTS["100k"], size=1000)
    monkeypatch.setenv("LESSONS_QUIET", "1")
    monkeypatch.setattr(
        download_module.urllib.request, "urlopen", lambda *a, **k: _EndlessResponse()
    )
    with pytest.raises(ChecksumError, match="sends more than the 1000 bytes"):
        download_module.fetch_archive(spec, tmp_path, "http://127.0.0.1:9")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.skipif(sys.platform == "darwin", reason="the XDG cache applies to Linux")
def test_a_relative_xdg_cache_home_is_ignored(tmp_path, monkeypatch):
    """Bug: a relative $XDG_CACHE_HOME (invalid per the XDG spec) was used, so the cache moved
    with the notebook's working directory and the data was downloaded again elsewhere."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    assert download_module.default_cache_dir() == tmp_path / "home" / ".cache" / "lessons"


def test_variant_names_may_carry_the_ml_prefix():
    """Bug: "ml-100k", the name of the folder and of `Dataset.name`, was an unknown variant."""
    for name in ("100k", "1m", "latest-small"):
        assert registry.variant_spec(f"ml-{name}") is registry.VARIANTS[name]


def test_variant_names_may_be_written_as_the_documents_write_them():
    """nb00's parameter VARIANT = "100K" (as README and the notebooks write it) failed in the
    first cell with 'unknown MovieLens variant', and every later cell with a NameError."""
    assert (
        registry.variant_spec("100K")
        is registry.variant_spec("ML-100K")
        is registry.VARIANTS["100k"]
    )
    with pytest.raises(ValueError, match="unknown MovieLens variant '10M'"):
        registry.variant_spec("10M")


def test_a_base_url_with_a_trailing_slash_gives_one_slash():
    """Bug: a base URL ending in "/" gave ".../movielens//ml-100k.zip", which some servers
    refuse."""
    url = registry.VARIANTS["100k"].url("https://example.org/movielens/")
    assert url == "https://example.org/movielens/ml-100k.zip"


@pytest.mark.parametrize("cut", ["movies.csv", "ratings.csv"])
def test_a_csv_cut_after_its_header_is_a_format_error(tmp_path, cut):
    """A movies.csv (or ratings.csv) holding only its header raised a bare IndexError from the
    id mapping; the loader promises a DataFormatError that names the file."""
    folder = write_latest_small(tmp_path, b"movieId,title,genres\n1,Heat (1995),Action\n")
    path = folder / cut
    path.write_bytes(path.read_bytes().split(b"\n", 1)[0] + b"\n")
    with pytest.raises(DataFormatError, match=f"{cut}: has a header but no rows"):
        load_movielens("latest-small", data_dir=tmp_path, download=False)
