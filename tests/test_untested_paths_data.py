"""Paths of the data package, lessons.validation and lessons.fit_args that a mutation run found
untested: each test names the mutant it catches, which passed every other test.

The data are tiny hand-made files, fake zips or the package's synthetic generator on fixed
seeds, never MovieLens files. The synthetic checks hold the fallback to the ML-100K shape its
docstrings promise, measured on the real files (shares of genres per item, release years,
students, the demographic tilts).
"""

import hashlib
import zipfile
from dataclasses import replace

import numpy as np
import pytest
import torch

from lessons.data import (
    ChecksumError,
    DataFormatError,
    UnsafeArchiveError,
    cold_start_items,
    random_split,
    registry,
    synthetic_movielens,
)
from lessons.data import archive as archive_module
from lessons.data.loader import load_movielens
from lessons.train import fit
from tests.fake_archive import fake_ml100k_members, make_zip
from tests.helpers import tiny_dnn, write_latest_small, write_ml1m

_USERS_1M = "1::F::1::10::48067\n2::M::56::16::70072\n"
_MOVIES_1M = "1::Toy Story (1995)::Animation|Comedy\n2::Heat (1995)::Action\n"


# --- parsing and readers ---------------------------------------------------------------------


def test_a_blank_line_inside_a_ratings_file_is_refused_on_its_line(tmp_path):
    """Mutant parsing.py:56 skip_blank_lines=True: a blank line in ratings.dat (ML-1M has no
    pinned checksum) was skipped silently, and every later error named a line one too early."""
    ratings = "1::1::5::978300019\n\n2::2::3::978300020\n"
    write_ml1m(tmp_path, _USERS_1M, _MOVIES_1M, ratings)
    with pytest.raises(DataFormatError, match=r"ratings\.dat, line 2: has 0 fields"):
        load_movielens("1m", data_dir=tmp_path, download=False)


def test_movies_csv_gives_one_column_per_genre_in_the_order_of_genres(tmp_path):
    """Mutant movielens.py:91 without `.reindex(columns=genres)`: items got the columns of
    get_dummies, alphabetical and with a '(no genres listed)' column, so `items` no longer had
    'one 0/1 column per genre' in `genres` order (the Dataset contract)."""
    movies = (
        b"movieId,title,genres\n1,Heat (1995),Thriller|Action\n2,Doc (2010),(no genres listed)\n"
    )
    write_latest_small(tmp_path, movies)
    ds = load_movielens("latest-small", data_dir=tmp_path, download=False)
    assert ds.genres == ("Thriller", "Action")  # first appearance, not alphabetical
    assert list(ds.items.columns) == ["title", "year", "Thriller", "Action"]


def test_implicit_above_every_rating_says_so(tiny_data):
    """Mutant dataset.py:161 `if kept.empty` never true: implicit(min_rating=6) returned an
    empty Dataset, and the learner met the problem later, far from its cause."""
    top = tiny_data.interactions["rating"].max()
    with pytest.raises(ValueError, match=rf"no rating is >= {top + 1}"):
        tiny_data.implicit(top + 1)


# --- archives --------------------------------------------------------------------------------


def test_a_file_longer_than_one_read_chunk_has_its_full_size(tmp_path):
    """Mutant archive.py:44 `size = len(chunk)`: only the last 1 MiB chunk was counted. Every
    test zip is smaller than one chunk, while the real ml-100k.zip (4.9 MB) would then fail its
    size check on every genuine download."""
    data = np.random.default_rng(0).bytes(2 * (1 << 20) + 123)
    path = tmp_path / "ml-100k.zip"
    path.write_bytes(data)
    md5, sha = hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest()
    spec = replace(registry.VARIANTS["100k"], size=len(data), md5=md5, sha256=sha)
    archive_module.verify_archive(spec, path, "a test", downloaded=False)  # must not raise
    with pytest.raises(ChecksumError, match="size is"):  # and the size is really checked
        archive_module.verify_archive(replace(spec, size=len(data) - 1), path, "a test",
                                      downloaded=False)  # fmt: skip


def test_the_unpack_limit_counts_uncompressed_bytes(tmp_path, fake_ml100k_files, monkeypatch):
    """Mutant archive.py:118 `total += info.compress_size`: the zip-bomb limit compared the
    COMPRESSED size, so a highly compressible archive unpacked far past it."""
    members = fake_ml100k_members(fake_ml100k_files)
    members["ml-100k/padding.bin"] = bytes(200_000)  # compresses to a few hundred bytes
    archive = tmp_path / "ml-100k.zip"
    archive.write_bytes(make_zip(members))
    with zipfile.ZipFile(archive) as zf:
        packed = sum(i.compress_size for i in zf.infolist())
        unpacked = sum(i.file_size for i in zf.infolist())
    limit = (packed + unpacked) // 2
    assert packed < limit < unpacked
    monkeypatch.setattr(archive_module, "MAX_EXTRACTED_BYTES", limit)
    u_data = fake_ml100k_files["u.data"].encode("latin-1")
    spec = replace(registry.VARIANTS["100k"], key_sha256=hashlib.sha256(u_data).hexdigest())
    with pytest.raises(UnsafeArchiveError, match=f"would unpack to {unpacked} bytes"):
        archive_module.extract_archive(spec, archive, tmp_path)
    assert not (tmp_path / "ml-100k").exists()


# --- the planted model of synthetic_movielens ------------------------------------------------


@pytest.fixture(scope="module")
def planted():
    """The default-size synthetic dataset (the lessons' fallback) and its truth."""
    return synthetic_movielens(seed=0, return_truth=True)


def test_items_have_one_to_three_genres_in_ml100k_proportions(planted):
    """Mutants planted.py:31 ('unknown' share 0 -> 10) and :33 (1/2/3-genre shares reversed):
    'unknown' only marks missing metadata, and half of ML-100K's items have one genre
    (0.50 / 0.34 / 0.13 with one / two / three)."""
    data, _ = planted
    assert data.items["unknown"].sum() == 0
    count = data.item_genres.sum(axis=1)
    assert 0.45 < np.mean(count == 1) < 0.55
    assert 0.28 < np.mean(count == 2) < 0.40
    assert np.mean(count == 3) < 0.22


def test_release_years_are_mostly_the_1990s_like_ml100k(planted):
    """Mutants planted.py:139 (80% recent -> 20%) and :139 floor 1985 -> 1995: ML-100K has 80%
    of its items from 1990 on and 29% from 1985-1994; the mutants gave 20% and 0%."""
    year = planted[0].items["year"]
    assert 0.7 < (year >= 1990).mean() < 0.9
    assert year.between(1985, 1994).mean() > 0.08


def test_students_are_a_fifth_of_users_and_most_of_the_under_18s(planted):
    """Mutant planted.py:101 `age < 18` -> `age > 18`: students stayed younger than average (the
    existing test) but became 38% of users and only 59% of the under-18s (ML-100K: 21%, 83%)."""
    users = planted[0].users
    student = users["occupation"] == "student"
    assert 0.15 < student.mean() < 0.27
    assert student[users["age"] < 18].mean() > 0.7


def _signed_sum(taste: np.ndarray, genres: tuple, up: tuple, down: tuple) -> float:
    idx = {g: i for i, g in enumerate(genres)}
    return float(sum(taste[idx[g]] for g in up) - sum(taste[idx[g]] for g in down))


def test_planted_tastes_read_like_movielens_folklore(planted):
    """Mutants planted.py:109 (age tilt sign) and :111 (gender tilt sign): the module promises
    tilts 'like MovieLens folklore' (women: more Romance and Musicals, fewer Action and Sci-Fi
    films; older users: more Drama and War, less Animation and Children's). Measured on the
    users' taste vectors, the observable result, over several genres so noise cannot flip it."""
    data, truth = planted
    users, genres = data.users, data.genres
    women = truth.taste[(users["gender"] == "F").to_numpy()].mean(axis=0)
    men = truth.taste[(users["gender"] == "M").to_numpy()].mean(axis=0)
    gap = _signed_sum(women - men, genres, ("Romance", "Musical", "Drama", "Children's"),
                      ("Action", "Sci-Fi", "War", "Horror"))  # fmt: skip
    assert gap > 1.0
    old = truth.taste[(users["age"] >= 50).to_numpy()].mean(axis=0)
    young = truth.taste[(users["age"] < 25).to_numpy()].mean(axis=0)
    gap = _signed_sum(old - young, genres, ("Drama", "War", "Film-Noir", "Western", "Mystery"),
                      ("Animation", "Children's", "Horror", "Sci-Fi"))  # fmt: skip
    assert gap > 2.0


# --- fit arguments and the evaluation during training ----------------------------------------


def test_an_empty_validation_part_is_named_before_training(tiny_data):
    """Mutant validation.py:68 `if users.size == 0` never true: an empty (not None) validation
    part, which random_split gives for small users at a tiny valid_frac, failed inside
    torch.cat ('expected a non-empty list of Tensors') instead of saying what is wrong."""
    split = random_split(tiny_data, 0.2, valid_frac=0.01, seed=0)
    assert split.valid is not None and split.valid.empty  # every user has < 50 interactions
    with pytest.raises(ValueError, match="the valid part of the split is empty"):
        fit(tiny_dnn(split.n_items), split, epochs=1)


def test_coverage_does_not_count_the_padding_of_short_lists():
    """Mutant validation.py:99 `np.unique(lists)`: when a user has fewer than k unseen items,
    top_k pads the list with -1, and the mutant counted -1 as an item (coverage@10 = 1.05)."""
    data = synthetic_movielens(n_users=30, n_items=20, seed=0)
    split = random_split(data, 0.2, seed=0)
    unseen = split.n_items - np.diff(split.seen_matrix().indptr)
    assert unseen.min() < 10  # some lists are padded
    history = fit(tiny_dnn(split.n_items), split, epochs=1, k=10)
    coverage = history.rows[-1]["coverage@10"]
    assert 0 < coverage <= 1
    assert coverage * split.n_items == pytest.approx(round(coverage * split.n_items))


def test_k_above_the_cold_start_candidates_is_refused_before_training(tiny_data):
    """Mutant fit_args.py:34 rankable = n_items: on a cold-start-items split, k above the
    candidates passed the up-front check, a whole epoch trained, and top_k failed afterwards."""
    split = cold_start_items(tiny_data, 0.1, seed=0)
    n = len(split.candidates)
    model = tiny_dnn(split.n_items)
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ValueError, match=rf"^k must be an integer in \[1, {n}\]"):
        fit(model, split, epochs=1, k=n + 1)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


@pytest.mark.parametrize("name", ["lr", "weight_decay"])
def test_a_boolean_is_not_a_learning_rate_or_weight_decay(tiny_split, name):
    """Mutant fit_args.py:44 without `not isinstance(value, bool)`: fit(lr=True) trained
    silently at lr = 1.0 (and weight_decay=True at 1.0)."""
    with pytest.raises(ValueError, match=f"^{name} must be a finite number"):
        fit(tiny_dnn(tiny_split.n_items), tiny_split, epochs=1, **{name: True})
