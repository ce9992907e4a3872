"""Tests of lessons.features: history bags, leak-free splits, side/dense/item features."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from lessons.data.dataset import Dataset
from lessons.features import (
    AGE_BUCKETS,
    ad_hoc_query,
    item_content,
    item_features,
    make_batch,
    query_features,
    release_buckets,
    split_history,
)
from lessons.features.epochs import EpochSampler

DAY = 86_400


def tiny_dataset(users: pd.DataFrame | None = "default") -> Dataset:
    """4 users × 5 items with hand-picked titles, years, ages and timestamps."""
    inter = pd.DataFrame(
        {
            "user": [0, 0, 0, 1, 1, 2],
            "item": [0, 1, 2, 1, 3, 4],
            "rating": [5.0] * 6,
            "timestamp": [0, 5 * DAY, 10 * DAY, 2 * DAY, 3 * DAY, 10 * DAY],
        }
    )
    items = pd.DataFrame(
        {
            "title": [
                "Toy Story (1995)",
                "Story of Us, The (1999)",
                "Toy Soldiers (1991)",
                "Alien (1979)",
                "unknown",
            ],
            "year": [1995.0, 1999.0, 1991.0, 1979.0, np.nan],
            "Action": [0, 1, 1, 0, 0],
            "Comedy": [1, 0, 0, 1, 0],
        }
    )
    if isinstance(users, str):
        users = pd.DataFrame(
            {
                "age": [17, 18, 56, 30],
                "gender": ["M", "F", "F", "M"],
                "occupation": ["student", "writer", "student", "artist"],
                "zip": ["1", "2", "3", "4"],
            }
        )
    return Dataset("tiny", inter, items, ("Action", "Comedy"), users, np.arange(4), np.arange(5))


def random_csr(n_users=200, n_items=300, seed=0) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    dense = rng.random((n_users, n_items)) < 0.05
    dense[3] = False  # an empty row
    dense[4] = False
    dense[4, 7] = True  # a single-item row
    return sp.csr_matrix(dense.astype(np.float32))


# --- split_history -----------------------------------------------------------------------


def test_split_history_is_leak_free_and_covers_each_row():
    x = random_csr()
    inputs, targets = split_history(x, 0.3, np.random.default_rng(1))
    assert inputs.multiply(targets).nnz == 0  # input ∩ target = ∅
    assert abs(inputs + targets - x).sum() == 0  # input ∪ target = the row
    n, n_in, n_tg = (np.diff(m.indptr) for m in (x, inputs, targets))
    many = n >= 2
    assert (n_in[many] >= 1).all() and (n_tg[many] >= 1).all()
    assert n_tg[4] == 0 and n_in[4] == 1  # a lone item stays input; make_batch drops the row
    share = n_tg[many].sum() / n[many].sum()
    assert 0.25 < share < 0.35


def test_split_history_is_deterministic_for_a_seed():
    x = random_csr()
    a = split_history(x, 0.2, np.random.default_rng(7))
    b = split_history(x, 0.2, np.random.default_rng(7))
    c = split_history(x, 0.2, np.random.default_rng(8))
    assert (a[1] != b[1]).nnz == 0 and (a[0] != b[0]).nnz == 0
    assert (a[1] != c[1]).nnz > 0


@pytest.mark.parametrize("share", [0.0, 1.0, -0.1])
def test_split_history_rejects_bad_share(share):
    with pytest.raises(ValueError, match="target_share"):
        split_history(random_csr(), share, np.random.default_rng(0))


def test_split_history_rejects_a_seed_instead_of_a_generator():
    with pytest.raises(ValueError, match="Generator"):
        split_history(random_csr(), 0.2, 0)


# --- make_batch --------------------------------------------------------------------------


def test_make_batch_rows_bags_and_normalized_targets():
    inputs = sp.csr_matrix(np.array([[1, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 0]], np.float32))
    targets = sp.csr_matrix(np.array([[0, 0, 1, 1], [0, 0, 0, 0], [0, 1, 1, 1]], np.float32))
    batch = make_batch(np.array([2, 1, 0]), inputs, None, targets)
    # user 1 has no target and is dropped; order of the remaining rows is kept
    assert batch.users.tolist() == [2, 0]
    assert batch.offsets.tolist() == [0, 1]
    assert sorted(batch.bag[:1].tolist()) == [0] and sorted(batch.bag[1:].tolist()) == [0, 1]
    expected = torch.tensor([[0, 1 / 3, 1 / 3, 1 / 3], [0, 0, 0.5, 0.5]])
    assert torch.allclose(batch.target, expected)
    assert batch.size == 2 and batch.side is None and batch.dense is None


def test_make_batch_reads_side_and_dense_of_the_right_users():
    ds = tiny_dataset()
    feats = query_features(ds, ds.interactions)
    x = ds.matrix()
    batch = make_batch(np.array([3, 1]), x, feats, None)
    assert torch.equal(batch.side, feats.side[[3, 1]])
    assert torch.equal(batch.dense, feats.dense[[3, 1]])
    assert batch.target is None
    bare = make_batch(np.array([3, 1]), x, feats, None, use_side=False, use_dense=False)
    assert bare.side is None and bare.dense is None


def test_make_batch_without_inputs_gives_empty_bags_for_mf():
    x = random_csr()
    batch = make_batch(np.arange(10), None, None, x)
    assert batch.bag.numel() == 0 and torch.equal(batch.offsets, torch.zeros(batch.size).long())
    assert torch.allclose(batch.target.sum(1), torch.ones(batch.size))


def test_make_batch_rejects_out_of_range_users():
    with pytest.raises(ValueError, match=r"user ids must lie in \[0, 200\)"):
        make_batch(np.array([0, 200]), random_csr(), None, None)


# --- query_features ----------------------------------------------------------------------


def test_query_features_side_and_dense_by_hand():
    ds = tiny_dataset()
    f = query_features(ds, ds.interactions)
    assert len(AGE_BUCKETS) + 1 == f.cardinalities[0] == 7
    assert f.occupations == ("artist", "student", "writer")
    # ages 17, 18, 56, 30 -> buckets <18, 18-24, 56+, 25-34; gender M=0, F=1
    assert f.side.tolist() == [[0, 0, 1], [1, 1, 2], [6, 1, 1], [2, 0, 0]]
    # counts 3, 2, 1, 0; last seen 10, 3, 10 days and never (span 10 days) before day 10
    count = np.log1p([3, 2, 1, 0]) / 5
    days = np.log1p([0, 7, 0, 10]) / 5
    np.testing.assert_allclose(f.dense.numpy(), np.stack([count, days], 1), rtol=1e-6)


def test_query_features_without_demographics():
    ds = tiny_dataset(users=None)
    f = query_features(ds, ds.matrix())
    assert f.side is None and f.dense.shape == (4, 2)


# --- ad_hoc_query ------------------------------------------------------------------------


def test_ad_hoc_query_row():
    ds = tiny_dataset()
    f = query_features(ds, ds.interactions)
    q = ad_hoc_query(ds, [3, 1, 3], features=f, age=40, occupation="writer")
    assert q.size == 1 and q.users is None and q.target is None
    assert q.bag.tolist() == [1, 3] and q.offsets.tolist() == [0]
    # age 40 -> bucket 3 (35-44); gender defaults to the most common value (a tie M/F -> 0)
    assert q.side.tolist() == [[3, 0, 2]]
    assert torch.allclose(q.dense, torch.tensor([[np.log1p(2) / 5, 0.0]], dtype=torch.float32))


@pytest.mark.parametrize(
    "liked, kwargs, message",
    [
        ([], {}, "empty"),
        ([0, 5], {}, r"unknown item ids \[5\]"),
        ([-1], {}, "unknown item ids"),
        ([1.5], {}, "integer"),
        ([0], {"occupation": "astronaut"}, "unknown occupation 'astronaut'"),
        ([0], {"gender": "X"}, "unknown gender"),
        ([0], {"age": 0}, "age"),
    ],
)
def test_ad_hoc_query_validation(liked, kwargs, message):
    ds = tiny_dataset()
    f = query_features(ds, ds.interactions)
    with pytest.raises(ValueError, match=message):
        ad_hoc_query(ds, liked, features=f, **kwargs)


def test_ad_hoc_query_refuses_demographics_the_dataset_lacks():
    ds = tiny_dataset(users=None)
    f = query_features(ds, ds.interactions)
    with pytest.raises(ValueError, match="no demographics"):
        ad_hoc_query(ds, [0], features=f, age=30)


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


# --- EpochSampler: one epoch of training batches --------------------------------------------


def epoch_rows(batches):
    """{user: (set of bag items, {target item: p})} over all batches of an epoch."""
    rows = {}
    for b in batches:
        ends = torch.cat([b.offsets[1:], torch.tensor([b.bag.numel()])])
        t_ends = torch.cat([b.target_offsets[1:], torch.tensor([b.target_items.numel()])])
        for i, user in enumerate(b.users.tolist()):
            bag = b.bag[b.offsets[i] : ends[i]].tolist()
            items = b.target_items[b.target_offsets[i] : t_ends[i]].tolist()
            weights = b.target_weights[b.target_offsets[i] : t_ends[i]].tolist()
            assert user not in rows and len(set(bag)) == len(bag)
            rows[user] = (set(bag), dict(zip(items, weights, strict=True)))
    return rows


def test_epoch_sampler_divides_each_row_like_split_history_and_visits_users_once():
    x = random_csr()
    batches = EpochSampler(x, 0.3).epoch(np.random.default_rng(1), batch_size=32)
    counts = np.diff(x.indptr)
    n_users = int((counts >= 2).sum())
    assert [b.size for b in batches] == [32] * (n_users // 32) + [n_users % 32]
    assert all(b.target is None and b.bag.dtype == torch.long for b in batches)
    rows = epoch_rows(batches)
    assert sorted(rows) == np.flatnonzero(counts >= 2).tolist()  # rows 3 (empty), 4 (one) out
    for user, (bag, target) in rows.items():
        row = set(x.indices[x.indptr[user] : x.indptr[user + 1]].tolist())
        assert not bag & set(target) and bag | set(target) == row  # leak-free, complete
        n = len(row)
        assert len(target) == min(max(round(0.3 * n), 1), n - 1)
        assert all(w == pytest.approx(1 / len(target)) for w in target.values())


def test_epoch_sampler_shuffles_users_and_items_reproducibly():
    x = random_csr()
    sampler = EpochSampler(x, 0.5)
    a, b = sampler.epoch(np.random.default_rng(3), 64), sampler.epoch(np.random.default_rng(3), 64)
    c = sampler.epoch(np.random.default_rng(4), 64)
    for p, q in zip(a, b, strict=True):
        assert torch.equal(p.bag, q.bag) and torch.equal(p.users, q.users)
    assert not torch.equal(a[0].users, c[0].users)
    # Each item of a row becomes a target with probability n_target / n: row 0's items over
    # 400 epochs (binomial sd ≈ 0.025 around the share).
    row = x.indices[x.indptr[0] : x.indptr[1]]
    n_target = min(max(round(0.5 * row.size), 1), row.size - 1)
    rng, hits = np.random.default_rng(5), np.zeros(x.shape[1])
    for _ in range(400):
        (batch,) = sampler.epoch(rng, 256)
        i = int(torch.nonzero(batch.users == 0))
        stop = batch.target_offsets[i + 1] if i + 1 < batch.size else None
        hits[batch.target_items[batch.target_offsets[i] : stop].numpy()] += 1
    assert np.abs(hits[row] / 400 - n_target / row.size).max() < 0.1
    assert hits.sum() == 400 * n_target and hits[np.setdiff1d(np.arange(300), row)].sum() == 0


def test_epoch_sampler_for_mf_targets_whole_rows_with_weights_and_features():
    ds = tiny_dataset()
    feats = query_features(ds, ds.interactions)
    x = ds.matrix().astype(np.float32)
    x[0, 1] = 3.0  # a weighted interaction: p_uj = x_uj / Σ_j x_uj
    exclude = torch.tensor([False, False, False, False, True])
    batches = EpochSampler(x, None, feats, exclude_items=exclude).epoch(
        np.random.default_rng(0), batch_size=2
    )
    rows = epoch_rows(batches)
    assert sorted(rows) == [0, 1, 2]  # user 3 has no interaction
    assert rows[0] == (set(), pytest.approx({0: 0.2, 1: 0.6, 2: 0.2}))
    assert rows[2] == (set(), {4: 1.0})
    for b in batches:
        assert torch.equal(b.side, feats.side[b.users]) and torch.equal(
            b.dense, feats.dense[b.users]
        )
        assert b.exclude_items is exclude and torch.equal(b.offsets, torch.zeros(b.size).long())
    bare = EpochSampler(x, None, feats, use_side=False, use_dense=False).epoch(
        np.random.default_rng(0), 4
    )
    assert bare[0].side is None and bare[0].dense is None


def test_epoch_sampler_rejects_bad_arguments():
    with pytest.raises(ValueError, match="target_share"):
        EpochSampler(random_csr(), 1.0)
    with pytest.raises(ValueError, match="scipy.sparse"):
        EpochSampler(np.ones((3, 3)), 0.5)
    with pytest.raises(ValueError, match="non-negative"):
        EpochSampler(sp.csr_matrix(np.array([[1.0, -1.0]])), 0.5)
    sampler = EpochSampler(random_csr(), 0.5)
    with pytest.raises(ValueError, match="Generator"):
        sampler.epoch(0, 32)
    with pytest.raises(ValueError, match="batch_size"):
        sampler.epoch(np.random.default_rng(0), 0)
    empty = EpochSampler(sp.csr_matrix((3, 4)), 0.5)
    assert empty.epoch(np.random.default_rng(0), 2) == []
