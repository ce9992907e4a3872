"""Tests of lessons.features' query side: history bags, leak-free splits, side/dense features.

Item features are tested in test_features_items.py and the epoch sampler in
test_features_epochs.py; all three use `tests.helpers`' `tiny_dataset` / `random_csr`.
"""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from lessons.features import (
    AGE_BUCKETS,
    ad_hoc_query,
    make_batch,
    query_features,
    split_history,
)
from lessons.features.query import as_long
from tests.helpers import DAY, random_csr, tiny_dataset

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


def test_make_batch_dense_features_describe_the_input_bag_not_the_whole_history():
    # A count or recency of the whole history would tell the model how many items are hidden
    # as targets, and when the latest of them was seen: a leak of the label.
    ds = tiny_dataset()
    feats = query_features(ds, ds.interactions)
    inputs = sp.csr_matrix(np.array([[1, 1, 0, 0, 0], [0, 0, 0, 1, 0]] + [[0] * 5] * 2))
    targets = sp.csr_matrix(np.array([[0, 0, 1, 0, 0], [0, 1, 0, 0, 0]] + [[0] * 5] * 2))
    batch = make_batch(np.array([0, 1]), inputs, feats, targets)
    # user 0 reads items 0, 1 (days 0 and 5; item 2 on day 10 is the target): 2 items, 5 days
    # before "now" (day 10); user 1 reads item 3 (day 3; item 1 on day 2 is the target)
    count, days = np.log1p([2, 1]) / 5, np.log1p([5, 7]) / 5
    np.testing.assert_allclose(batch.dense.numpy(), np.stack([count, days], 1), rtol=1e-6)
    whole = make_batch(np.arange(4), ds.matrix(), feats, None)
    assert torch.allclose(whole.dense, feats.dense)  # the whole history: the table's rows


def test_make_batch_without_inputs_gives_empty_bags_for_mf():
    x = random_csr()
    batch = make_batch(np.arange(10), None, None, x)
    assert batch.bag.numel() == 0 and torch.equal(batch.offsets, torch.zeros(batch.size).long())
    assert torch.allclose(batch.target.sum(1), torch.ones(batch.size))


def test_make_batch_rejects_out_of_range_users():
    with pytest.raises(ValueError, match=r"user ids must lie in \[0, 200\)"):
        make_batch(np.array([0, 200]), random_csr(), None, None)
    ds = tiny_dataset()  # no matrix at all: the feature tables give the number of users
    with pytest.raises(ValueError, match=r"user ids must lie in \[0, 4\)"):
        make_batch(np.array([9]), None, query_features(ds, ds.interactions), None)


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


def test_query_features_and_split_history_leave_the_callers_matrix_as_it_was():
    ds = tiny_dataset()
    x = sp.csr_matrix(ds.matrix(), dtype=np.float64)
    x.data[0] = 0.0  # a stored zero, which both drop from their own copy
    data, indices = x.data.copy(), x.indices.copy()
    query_features(ds, x)
    split_history(x, 0.5, np.random.default_rng(0))
    np.testing.assert_array_equal(x.data, data)
    np.testing.assert_array_equal(x.indices, indices)


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
        ([0], {"age": True}, "age must be a number of years"),  # not age 1
        ([0], {"age": "30"}, "age must be a number of years"),  # was a bare TypeError
        ([[1, 2], [3]], {}, "flat list of item ids"),  # was numpy's "inhomogeneous shape"
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


def test_ad_hoc_query_names_features_built_without_demographics():
    """Bug: features built with side=False on a dataset that has demographics were refused
    with '<dataset> has no demographics', which is false and points at the wrong fix."""
    ds = tiny_dataset()
    f = query_features(ds, ds.interactions, side=False)
    with pytest.raises(
        ValueError, match=r"built without them \(query_features\(\.\.\., side=False"
    ):
        ad_hoc_query(ds, [0], features=f, age=30)


def test_query_features_refuses_users_the_dataset_does_not_have():
    """Bug: a history naming user n_users raised a bare IndexError from numpy."""
    ds = tiny_dataset()
    stray = ds.interactions.assign(user=ds.interactions["user"] + ds.n_users)
    with pytest.raises(ValueError, match="user ids outside"):
        query_features(ds, stray)


def test_split_history_ignores_stored_zeros():
    """Bug: an explicit stored 0 counted as an item, so it could become a row's whole target
    (EpochSampler already dropped them)."""
    x = sp.csr_matrix((np.array([1.0, 0.0, 1.0]), (np.array([0, 0, 0]), np.array([1, 2, 3]))),
                      shape=(1, 5))  # fmt: skip
    for seed in range(10):
        inputs, targets = split_history(x, 0.5, np.random.default_rng(seed))
        assert set(inputs.indices) | set(targets.indices) == {1, 3}


def test_ad_hoc_query_takes_the_ids_as_find_titles_gives_them():
    ds = tiny_dataset()
    found = {"a title": 3, "another": 1}  # Dataset.find_titles returns {title: id}
    for liked in (found, found.values(), {3, 1}, (i for i in (3, 1)), np.array([3, 1])):
        assert ad_hoc_query(ds, liked, features=None).bag.tolist() == [1, 3], type(liked)


def test_ad_hoc_query_defaults_and_age_edges():
    """Ad-hoc defaults are the most common values; ages on a bucket edge go up."""
    ds = tiny_dataset()  # ages 17, 18, 56, 30 (buckets 0, 1, 6, 2); occupation: student x2
    f = query_features(ds, ds.interactions)
    q = ad_hoc_query(ds, [0], features=f)
    assert q.side.tolist() == [[0, 0, f.occupations.index("student")]]
    for age, bucket in [(17, 0), (18, 1), (25, 2), (56, 6)]:
        assert ad_hoc_query(ds, [0], features=f, age=age).side[0, 0].item() == bucket


def test_make_batch_rejects_negative_targets_and_mismatched_shapes():
    """`make_batch` refuses negative targets and inputs shaped unlike the targets."""
    with pytest.raises(ValueError, match="non-negative .*, got -1"):
        make_batch(np.array([0]), None, None, sp.csr_matrix(np.array([[1.0, -1.0]])))
    with pytest.raises(ValueError, match="differ in shape"):
        make_batch(
            np.array([0]), sp.csr_matrix(np.ones((2, 3))), None, sp.csr_matrix(np.ones((2, 4)))
        )


def test_query_features_repeated_pair_keeps_the_latest_time():
    """A repeated (user, item) pair keeps its latest timestamp, not the sum / earliest."""
    ds = tiny_dataset()
    h = ds.interactions
    again = pd.concat([h, h[(h.user == 1) & (h.item == 3)].assign(timestamp=1 * DAY)])
    np.testing.assert_allclose(
        query_features(ds, again).dense[1, 1], query_features(ds, h).dense[1, 1]
    )


def test_query_features_ignores_stored_zeros_in_a_matrix_history():
    """A stored zero in a CSR history is no interaction."""
    ds = tiny_dataset()
    x = ds.matrix().tocsr().astype(float)
    x.data[0] = 0.0  # user 0's first item, stored as 0
    assert query_features(ds, x).dense[0, 0].item() == pytest.approx(np.log1p(2) / 5)


def test_query_features_refuse_unknown_gender():
    """An unknown gender is refused, not cast from NaN."""
    ds = tiny_dataset()
    ds.users.loc[0, "gender"] = "X"
    with pytest.raises(ValueError, match="gender values"):
        query_features(ds, ds.interactions)


def test_as_long_copies_read_only_arrays():
    """`as_long` copies a read-only buffer (pandas 3) instead of aliasing it."""
    a = np.arange(3, dtype=np.int64)
    a.flags.writeable = False
    t = as_long(a)
    t[0] = 9
    assert a[0] == 0
