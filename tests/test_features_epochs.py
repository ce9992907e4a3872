"""Tests of lessons.features.epochs: one epoch of training batches, drawn at once."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from lessons.features import query_features, split_history
from lessons.features.epochs import EpochSampler
from tests.helpers import DAY, random_csr, tiny_dataset

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


def test_epoch_sampler_dense_features_describe_each_input_bag():
    ds = tiny_dataset()
    feats = query_features(ds, ds.interactions)
    day = ds.interactions.set_index(["user", "item"])["timestamp"]
    sampler, seen = EpochSampler(ds.matrix(), 0.5, feats), set()
    for seed in range(8):  # user 0 reads one of its 3 items, user 1 one of its 2
        for b in sampler.epoch(np.random.default_rng(seed), batch_size=1):
            user, bag = int(b.users[0]), tuple(b.bag.tolist())
            last = max(day[user, item] for item in bag) / DAY
            expected = [np.log1p(len(bag)) / 5, np.log1p(10 - last) / 5]  # "now" is day 10
            np.testing.assert_allclose(b.dense[0].numpy(), expected, rtol=1e-6)
            seen.add((user, bag))
    assert len(seen) == 5  # every bag each user can draw, so every recency was checked


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
    with pytest.raises(ValueError, match="non-negative .*, got -1"):
        EpochSampler(sp.csr_matrix(np.array([[1.0, -1.0]])), 0.5)
    sampler = EpochSampler(random_csr(), 0.5)
    with pytest.raises(ValueError, match="Generator"):
        sampler.epoch(0, 32)
    with pytest.raises(ValueError, match="batch_size"):
        sampler.epoch(np.random.default_rng(0), 0)
    empty = EpochSampler(sp.csr_matrix((3, 4)), 0.5)
    assert empty.epoch(np.random.default_rng(0), 2) == []


def test_a_numpy_integer_batch_size_is_a_batch_size():
    sampler = EpochSampler(random_csr(), 0.5)
    sizes = [b.size for b in sampler.epoch(np.random.default_rng(0), np.int64(64))]
    assert sizes == [b.size for b in sampler.epoch(np.random.default_rng(0), 64)]
    assert sizes[0] == 64 and len(sizes) > 1


def test_epoch_sampler_recency_reads_the_latest_item_of_a_multi_item_bag():
    """Recency of a multi-item input bag is its latest item, not its earliest."""
    ds = tiny_dataset()
    feats = query_features(ds, ds.interactions)
    day = ds.interactions.set_index(["user", "item"])["timestamp"]
    sampler = EpochSampler(ds.matrix(), 0.25, feats)  # user 0: 3 items -> 1 target, a bag of 2
    sizes = set()
    for seed in range(8):
        for b in sampler.epoch(np.random.default_rng(seed), batch_size=1):
            user, bag = int(b.users[0]), b.bag.tolist()
            last = max(day[user, i] for i in bag) / DAY
            np.testing.assert_allclose(b.dense[0, 1].item(), np.log1p(10 - last) / 5, rtol=1e-6)
            sizes.add(len(bag))
    assert 2 in sizes


def test_a_small_share_still_targets_one_item_of_each_row():
    """A small share still targets one item of every row with >= 2 items."""
    x = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]], dtype=float))
    rng = np.random.default_rng(0)
    _, targets = split_history(x, 0.1, rng)
    assert np.diff(targets.indptr).tolist() == [1, 1, 1]
    batches = EpochSampler(x, 0.1).epoch(rng, batch_size=8)
    assert sorted(torch.cat([b.users for b in batches]).tolist()) == [0, 1, 2]
    assert all(b.target_offsets.numel() == b.size for b in batches)
    assert sum(b.target_items.numel() for b in batches) == 3


def test_epoch_sampler_sums_duplicate_entries_before_dividing():
    """A non-canonical CSR (an item stored twice) never leaks that item into bag and target."""
    x = sp.csr_matrix((np.ones(4), np.array([0, 1, 1, 2]), np.array([0, 4])), shape=(1, 3))
    for seed in range(10):
        (b,) = EpochSampler(x, 0.5).epoch(np.random.default_rng(seed), 1)
        assert not set(b.bag.tolist()) & set(b.target_items.tolist())
        assert b.bag.numel() + b.target_items.numel() == 3
