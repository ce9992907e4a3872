"""Tests of lessons.features' item side: title words, release-date buckets, content vectors."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from lessons.data.dataset import Dataset
from lessons.features import item_content, item_features, query_features, release_buckets
from tests.helpers import tiny_dataset

# --- item_features -----------------------------------------------------------------------


def test_item_features_by_hand():
    f = item_features(tiny_dataset())
    assert f.vocabulary == ("story", "toy")  # the only words in >= 2 titles
    bags = np.split(f.title_bag.numpy(), f.title_offsets.numpy()[1:])
    assert [b.tolist() for b in bags] == [[0, 1], [0], [1], [], []]
    # 1995 -> 1995+ (8), 1999 -> 8, 1991 -> 1990-94 (7), 1979 -> 1970s (5), unknown -> 0
    assert f.year_bucket.tolist() == [8, 8, 7, 5, 0] and f.n_year_buckets == 9
    assert f.genres.tolist() == [[0, 1], [1, 0], [1, 0], [0, 1], [0, 0]]
    everything = item_features(tiny_dataset(), min_word_count=1)
    assert {"alien", "soldiers", "the", "us", "of", "unknown"} < set(everything.vocabulary)


def test_item_features_rejects_bad_min_word_count():
    with pytest.raises(ValueError, match="min_word_count"):
        item_features(tiny_dataset(), min_word_count=0)


def test_year_buckets_by_hand():
    # Edges: 1970, 1975, 1980, 1985 (5-year), then 1990, 1991, ..., 1999 (one per year,
    # up to the newest release); bucket = 1 + #edges <= year, 0 = unknown.
    bucket, n = release_buckets(tiny_dataset(), "year")
    # 1995: 4 + 6 (1990..1995) edges -> 11; 1999 -> 15; 1991 -> 7; 1979 -> 3; NaN -> 0
    assert bucket.tolist() == [11, 15, 7, 3, 0] and n == 16
    f = item_features(tiny_dataset(), date_buckets="year")
    assert f.year_bucket.tolist() == [11, 15, 7, 3, 0] and f.n_year_buckets == 16
    assert f.date_buckets == "year"


def test_quarter_buckets_need_release_dates_and_split_the_last_three_years():
    ds = tiny_dataset()
    with pytest.raises(ValueError, match="release_date.*use 'year'"):
        release_buckets(ds, "quarter")
    dates = ["1995-01-01", "1999-11-20", "1997-04-02", None, None]
    items = ds.items.assign(release_date=pd.to_datetime(dates))
    dated = Dataset("tiny", ds.interactions, items, ds.genres, ds.users, ds.user_ids, ds.item_ids)
    bucket, n = release_buckets(dated, "quarter")
    # Edges: 1970, 75, 80, 85 | 1990..1996 yearly | 1997.00, 1997.25, ..., 1999.75 (12).
    # 1995.0 -> 4 + 6 + 1 = 11; Nov 1999 = 1999.83 -> 4 + 7 + 12 + 1 = 24;
    # Apr 1997 = 1997.25 -> 4 + 7 + 2 + 1 = 14; no date but year 1979 -> 3; nothing -> 0.
    assert bucket.tolist() == [11, 24, 14, 3, 0] and n == 4 + 7 + 12 + 2
    with pytest.raises(ValueError, match="unknown date_buckets 'month'"):
        release_buckets(ds, "month")


def test_item_content_is_genres_and_a_weighted_date_one_hot():
    content = item_content(tiny_dataset(), date_buckets="decade", date_weight=0.5)
    # decade buckets (see test_item_features_by_hand): 8, 8, 7, 5, 0 of 9
    expected = np.zeros((5, 2 + 9), np.float32)
    expected[:, :2] = [[0, 1], [1, 0], [1, 0], [0, 1], [0, 0]]
    expected[[0, 1, 2, 3, 4], 2 + np.array([8, 8, 7, 5, 0])] = 0.5
    np.testing.assert_array_equal(content, expected)
    with pytest.raises(ValueError, match="date_weight"):
        item_content(tiny_dataset(), date_weight=-1.0)


def test_vocabulary_can_be_counted_over_training_items_only():
    # "story" is in items 0 and 1, "toy" in items 0 and 2: counting titles 0 and 2 only
    # keeps "toy" alone; item 1's "story" then has no vocabulary id.
    f = item_features(tiny_dataset(), vocabulary_items=np.array([0, 2]))
    assert f.vocabulary == ("toy",)
    bags = np.split(f.title_bag.numpy(), f.title_offsets.numpy()[1:])
    assert [b.tolist() for b in bags] == [[0], [], [0], [], []]
    with pytest.raises(ValueError, match="vocabulary_items"):
        item_features(tiny_dataset(), vocabulary_items=np.array([5]))


@pytest.mark.realdata
def test_item_and_query_features_on_movielens_100k(ml100k):
    f = item_features(ml100k)
    assert f.n_items == ml100k.n_items and {"the", "story"} < set(f.vocabulary)
    assert int(f.title_bag.max()) < len(f.vocabulary)
    first = f.title_bag[f.title_offsets[0] : f.title_offsets[1]].tolist()
    assert [f.vocabulary[i] for i in first] == ["story"]  # "Toy Story (1995)"; "toy" is rare
    assert int((f.year_bucket == 0).sum()) == int(ml100k.items["year"].isna().sum())
    years = item_features(ml100k, date_buckets="year")
    # <1970, four 5-year buckets, 1990..1998 and unknown (one item): 15 buckets, all in use
    assert years.n_year_buckets == 15 and len(np.unique(years.year_bucket)) == 15
    q = query_features(ml100k, ml100k.interactions)
    assert q.cardinalities == (7, 2, 21) and q.side.shape == (943, 3)
    assert 0 <= float(q.dense.min()) and float(q.dense.max()) < 1.5  # order-1 scale


def dataclasses_replace_items(ds, **cols):
    return dataclasses.replace(ds, items=ds.items.assign(**cols))


def test_year_buckets_of_a_catalogue_older_than_1990():
    """A catalogue older than 1990 still gets the 1990 bucket of the "year" scheme."""
    ds = tiny_dataset()
    old = dataclasses_replace_items(ds, year=[1975.0, 1980.0, 1985.0, 1979.0, np.nan])
    bucket, n = release_buckets(old, "year")
    assert n == 4 + 1 + 2 and bucket.tolist() == [3, 4, 5, 3, 0]
