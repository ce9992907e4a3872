"""MovieLens parsing: the real ML-100K (via $LESSONS_DATA_DIR), and tiny hand-made folders.

Malformed and missing files, where data is looked for and the synthetic fallback are tested
in test_loader.py.
"""

import numpy as np
import pytest

from lessons.config import ITEM, RATING, TIMESTAMP, USER
from lessons.data.archive import file_sha256
from lessons.data.indexing import sort_order
from lessons.data.loader import load_movielens

realdata = pytest.mark.realdata


def _columns(ds) -> list[list]:
    return [ds.interactions[c].tolist() for c in (USER, ITEM, RATING, TIMESTAMP)]


# --- the real ML-100K ------------------------------------------------------------------------


@realdata
def test_real_ml100k_shape(ml100k):
    assert (ml100k.n_users, ml100k.n_items, len(ml100k.interactions)) == (943, 1682, 100_000)
    assert len(ml100k.genres) == 19 and ml100k.genres[0] == "unknown"
    assert ml100k.genres[-1] == "Western"
    assert ml100k.item_genres.shape == (1682, 19)


@realdata
def test_real_ml100k_u_data_checksum(real_data_dir):
    # Published SHA-256 of ml-100k/u.data (project issue).
    expected = "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490"
    assert file_sha256(real_data_dir / "ml-100k" / "u.data") == expected


@realdata
def test_real_ml100k_ids_contiguous_and_sorted(ml100k):
    frame = ml100k.interactions
    assert np.array_equal(np.unique(frame[USER]), np.arange(943))
    assert frame[ITEM].min() == 0 and frame[ITEM].max() == 1681
    assert list(frame.dtypes) == [np.int64, np.int64, np.float32, np.int64]
    assert np.array_equal(ml100k.user_ids, np.arange(1, 944))  # ML-100K ids are 1..943
    keys = frame[[USER, TIMESTAMP, ITEM]].to_numpy()
    assert (np.diff(keys[:, 0]) >= 0).all()
    same_user = np.diff(keys[:, 0]) == 0
    assert (np.diff(keys[:, 1])[same_user] >= 0).all()


@realdata
def test_real_ml100k_maps_back_to_file_ids(ml100k):
    frame = ml100k.interactions
    original_user = ml100k.user_ids[frame[USER].to_numpy()]
    original_item = ml100k.item_ids[frame[ITEM].to_numpy()]
    row = frame[(original_user == 196) & (original_item == 242)]  # first line of u.data
    assert row[RATING].tolist() == [3.0] and row[TIMESTAMP].tolist() == [881250949]


@realdata
def test_real_ml100k_users_and_items(ml100k):
    assert list(ml100k.users.columns) == ["age", "gender", "occupation", "zip"]
    assert ml100k.users.iloc[0].tolist() == [24, "M", "technician", "85711"]  # u.user line 1
    toy_story = ml100k.items.iloc[0]
    assert toy_story["title"] == "Toy Story (1995)" and toy_story["year"] == 1995
    assert [g for g in ml100k.genres if toy_story[g] == 1] == ["Animation", "Children's", "Comedy"]
    assert np.isnan(ml100k.items["year"].iloc[266])  # item 267 has no release date


@realdata
def test_real_ml100k_zip_codes_are_us_bar_18_canadian_postcodes(ml100k):
    # Notebook 02 says so where it explains why the lessons have no "country" feature.
    zips = ml100k.users["zip"].astype(str)
    canadian = zips.str.fullmatch(r"[A-Z]\d[A-Z]\d[A-Z]\d?")
    assert canadian.sum() == 18
    assert zips[~canadian].str.fullmatch(r"\d{5}").all()


# --- tiny hand-made folders ------------------------------------------------------------------


def test_fake_ml100k_ids_order_and_features(tmp_path, fake_ml100k):
    ds = load_movielens("100k", data_dir=fake_ml100k(tmp_path).parent, download=False)
    assert ds.name == "ml-100k" and ds.has_demographics
    assert ds.user_ids.tolist() == [1, 2, 5] and ds.item_ids.tolist() == [10, 20, 30, 40]
    # Sorted by (user, timestamp, item); user 1 rated items 10 and 30 at the same second.
    assert _columns(ds) == [
        [0, 0, 0, 1, 2],
        [1, 0, 2, 0, 1],
        [3.0, 5.0, 2.0, 1.0, 4.0],
        [200, 300, 300, 150, 100],
    ]
    assert ds.items["title"].tolist() == ["Alpha (1995)", "Beta (1996)", "unknown", "Gamma (1997)"]
    assert ds.items["year"].tolist()[:2] == [1995.0, 1996.0] and np.isnan(ds.items["year"][2])
    assert ds.items[["Comedy", "Drama", "unknown"]].to_numpy().tolist() == [
        [0, 0, 0],
        [1, 1, 0],
        [0, 0, 1],
        [0, 1, 0],
    ]
    assert ds.users["zip"].tolist() == ["85711", "94043", "T8H1N"]


def test_data_dir_may_be_the_extracted_folder_itself(tmp_path, fake_ml100k):
    ds = load_movielens("100k", data_dir=fake_ml100k(tmp_path), download=False)
    assert ds.n_items == 4


def test_ml1m_parsing(tmp_path):
    folder = tmp_path / "ml-1m"
    folder.mkdir()
    (folder / "users.dat").write_text(
        "1::F::1::10::48067\n2::M::56::16::70072\n7::M::25::0::55117\n", encoding="latin-1"
    )
    # Unsorted ids, a ':' and a Latin-1 letter in a title, and movie 9 that nobody rated.
    (folder / "movies.dat").write_text(
        "1::Toy Story (1995)::Animation|Children's|Comedy\n"
        "5::Café: The Movie (1999)::Comedy|Drama\n"
        "3::Grumpier Old Men (1995)::Comedy|Romance\n"
        "9::Sudden Death (1995)::Action\n",
        encoding="latin-1",
    )
    (folder / "ratings.dat").write_text(
        "2::5::4::978300760\n1::1::5::978300019\n7::3::3::978300000\n1::5::2::978300019\n"
    )
    ds = load_movielens("1m", data_dir=tmp_path, download=False)
    assert ds.name == "ml-1m" and ds.item_ids.tolist() == [1, 3, 5, 9]
    assert _columns(ds) == [
        [0, 0, 1, 2],
        [0, 2, 2, 1],
        [5.0, 2.0, 4.0, 3.0],
        [978300019, 978300019, 978300760, 978300000],
    ]
    assert ds.genres == ("Animation", "Children's", "Comedy", "Drama", "Romance", "Action")
    assert ds.items["title"][2] == "Café: The Movie (1999)"
    assert ds.items["year"].tolist() == [1995.0, 1995.0, 1999.0, 1995.0]
    assert ds.items["Drama"].tolist() == [0, 0, 1, 0] and ds.items["Action"].tolist() == [
        0,
        0,
        0,
        1,
    ]
    assert ds.users.to_numpy().tolist() == [
        [1, "F", "K-12 student", "48067"],
        [56, "M", "self-employed", "70072"],
        [25, "M", "other", "55117"],
    ]


def test_latest_small_parsing_without_demographics(tmp_path):
    folder = tmp_path / "ml-latest-small"
    folder.mkdir()
    (folder / "movies.csv").write_text(
        "movieId,title,genres\n"
        "1,Toy Story (1995),Adventure|Animation|Comedy\n"
        '4,"American President, The (1995)",Comedy|Drama|Romance\n'
        "2,Babylon 5,Sci-Fi\n"
        "8,Some Documentary (2010) ,(no genres listed)\n",
        encoding="utf-8",
    )
    (folder / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n3,4,3.5,964982703\n1,1,4.0,964982224\n3,1,0.5,964981247\n"
    )
    ds = load_movielens("latest-small", data_dir=tmp_path, download=False)
    assert ds.name == "ml-latest-small" and not ds.has_demographics and ds.users is None
    assert ds.user_ids.tolist() == [1, 3] and ds.item_ids.tolist() == [1, 2, 4, 8]
    assert _columns(ds) == [
        [0, 1, 1],
        [0, 0, 2],
        [4.0, 0.5, 3.5],
        [964982224, 964981247, 964982703],
    ]
    assert ds.genres == ("Adventure", "Animation", "Comedy", "Drama", "Romance", "Sci-Fi")
    assert ds.items["title"][2] == "American President, The (1995)"
    year = ds.items["year"].to_numpy()
    assert year[[0, 2, 3]].tolist() == [1995.0, 1995.0, 2010.0] and np.isnan(year[1])
    assert ds.item_genres[3].sum() == 0  # "(no genres listed)"


@pytest.mark.parametrize("span", [10, 2**62])  # packed int64 key, and the lexsort fallback
def test_sort_order_is_user_timestamp_item(span):
    rng = np.random.default_rng(0)
    user, item = rng.integers(0, 5, 300), rng.integers(0, 7, 300)
    timestamp = rng.integers(0, span, 300)
    keys = np.stack([user, timestamp, item], axis=1)
    order = sort_order(user, timestamp, item, 5, 7)
    assert np.array_equal(keys[order], keys[np.lexsort((item, timestamp, user))])


@realdata
def test_find_titles_maps_real_titles_and_skips_unknown_ones(ml100k):
    with pytest.warns(UserWarning, match="skipped: 'No Such Film \\(2031\\)'"):
        found = ml100k.find_titles(["Star Wars (1977)", "No Such Film (2031)", "Fargo (1996)"])
    assert list(found) == ["Star Wars (1977)", "Fargo (1996)"]
    assert ml100k.item_ids[found["Star Wars (1977)"]] == 50  # u.item's id of Star Wars
    assert ml100k.items["title"].iloc[found["Fargo (1996)"]] == "Fargo (1996)"
