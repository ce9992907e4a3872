"""Tests of `lessons.metrics.topk` and `lessons.metrics.ranking`."""

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.metrics import ndcg_score

from lessons.metrics import (
    hit_rate_at_k,
    hits_matrix,
    map_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    recall_at_k_capped,
    top_k,
)

# ---------------------------------------------------------------- references


def reference_top_k(scores, k, exclude=None, candidates=None):
    """Full stable sort by (-score, item id): the slow, obviously correct ranking."""
    s = np.array(scores, dtype=np.float64)
    if exclude is not None:
        s[exclude.toarray() != 0] = -np.inf
    if candidates is not None:
        keep = np.zeros(s.shape[1], dtype=bool)
        keep[candidates] = True
        s[:, ~keep] = -np.inf
    out = []
    for row in s:
        order = sorted(range(len(row)), key=lambda i: (-row[i], i))
        ranked = [i for i in order if row[i] > -np.inf][:k]
        out.append(ranked + [-1] * (k - len(ranked)))
    return np.array(out, dtype=np.int64)


def reference_metrics(topk, truth, k):
    """Per-user precision, recall, capped recall, NDCG, AP and hit with plain loops."""
    dense = truth.toarray() != 0
    rows = []
    for items, row in zip(topk, dense, strict=True):
        rel = set(np.flatnonzero(row).tolist())
        if not rel:
            continue
        ranked = items[:k].tolist()
        hit = [1 if i in rel else 0 for i in ranked]
        n_hit = sum(hit)
        dcg = sum(h / math.log2(r + 2) for r, h in enumerate(hit))
        idcg = sum(1 / math.log2(r + 2) for r in range(min(k, len(rel))))
        ap, seen = 0.0, 0
        for r, h in enumerate(hit, start=1):
            if h:
                seen += 1
                ap += seen / r
        rows.append(
            {
                "precision": n_hit / k,
                "recall": n_hit / len(rel),
                "recall_capped": n_hit / min(k, len(rel)),
                "ndcg": dcg / idcg,
                "map": ap / min(k, len(rel)),
                "hit_rate": float(n_hit > 0),
            }
        )
    return {name: np.mean([r[name] for r in rows]) for name in rows[0]}


METRICS = {
    "precision": precision_at_k,
    "recall": recall_at_k,
    "recall_capped": recall_at_k_capped,
    "ndcg": ndcg_at_k,
    "map": map_at_k,
    "hit_rate": hit_rate_at_k,
}


def random_truth(rng, n_users, n_items, density):
    truth = sp.csr_matrix((rng.random((n_users, n_items)) < density).astype(np.float32))
    return truth


# ---------------------------------------------------------------- top_k


def test_top_k_hand_case():
    scores = np.array([[0.1, 0.5, 0.3, 0.9], [4.0, 3.0, 2.0, 1.0]])
    assert top_k(scores, 2).tolist() == [[3, 1], [0, 1]]
    assert top_k(scores, 4).tolist() == [[3, 1, 2, 0], [0, 1, 2, 3]]


def test_top_k_ties_go_to_lower_item_id():
    scores = np.array([[1.0, 2.0, 2.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0]])
    # Three items tie at 2.0 for two slots: ids 1 and 2 win; item 3 only enters at k=3.
    assert top_k(scores, 2).tolist() == [[1, 2], [0, 1]]
    assert top_k(scores, 4).tolist() == [[1, 2, 3, 0], [0, 1, 2, 3]]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_top_k_matches_full_stable_sort(seed):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 4, size=(40, 25)).astype(np.float32)  # many ties
    exclude = sp.csr_matrix(rng.random((40, 25)) < 0.3)
    candidates = rng.choice(25, size=12, replace=False)
    for k in (1, 5, 12):
        expected = reference_top_k(scores, k, exclude, candidates)
        got = top_k(scores, k, exclude=exclude, candidates=candidates)
        np.testing.assert_array_equal(got, expected)
        # Small blocks must give the same answer as one block.
        got_blocks = top_k(scores, k, exclude=exclude, candidates=candidates, block_rows=7)
        np.testing.assert_array_equal(got_blocks, expected)
    np.testing.assert_array_equal(top_k(scores, 25), reference_top_k(scores, 25))


def test_top_k_excludes_seen_items():
    scores = np.array([[9.0, 8.0, 7.0, 6.0], [9.0, 8.0, 7.0, 6.0]])
    seen = sp.csr_matrix(np.array([[1, 0, 1, 0], [0, 0, 0, 0]]))
    assert top_k(scores, 2, exclude=seen).tolist() == [[1, 3], [0, 1]]
    assert scores[0, 0] == 9.0  # the caller's scores are not modified


def test_top_k_explicit_zero_in_exclude_does_not_exclude():
    seen = sp.csr_matrix((np.array([0.0, 1.0]), (np.array([0, 0]), np.array([0, 1]))), (1, 3))
    assert top_k(np.array([[3.0, 2.0, 1.0]]), 2, exclude=seen).tolist() == [[0, 2]]


def test_top_k_candidates_restrict_ranking():
    scores = np.array([[5.0, 4.0, 3.0, 2.0, 1.0]])
    assert top_k(scores, 2, candidates=np.array([4, 2, 3])).tolist() == [[2, 3]]


def test_top_k_pads_users_with_too_few_rankable_items():
    scores = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    seen = sp.csr_matrix(np.array([[1, 0, 1], [0, 0, 0]]))
    assert top_k(scores, 2, exclude=seen).tolist() == [[1, -1], [2, 1]]
    assert top_k(np.array([[-np.inf, 1.0, -np.inf]]), 3).tolist() == [[1, -1, -1]]


def test_top_k_accepts_torch_tensors():
    rng = np.random.default_rng(3)
    scores = rng.standard_normal((6, 9)).astype(np.float32)
    expected = top_k(scores, 4)
    np.testing.assert_array_equal(top_k(torch.from_numpy(scores), 4), expected)
    np.testing.assert_array_equal(top_k(torch.tensor(scores, requires_grad=True), 4), expected)
    half = torch.tensor([[0.5, 2.0, 1.0]], dtype=torch.float16)
    assert top_k(half, 2).tolist() == [[1, 2]]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 0}, "positive integer"),
        ({"k": -3}, "positive integer"),
        ({"k": 2.0}, "positive integer"),
        ({"k": True}, "positive integer"),
        ({"k": 5}, "exceeds the 4 items"),
        ({"k": 3, "candidates": [0, 1]}, "exceeds the 2 candidate"),
        ({"k": 1, "candidates": [0, 9]}, r"candidates must be item ids in \[0, 4\)"),
        ({"k": 1, "candidates": []}, "non-empty"),
        ({"k": 1, "exclude": np.zeros((2, 4))}, "scipy.sparse"),
        ({"k": 1, "exclude": sp.csr_matrix((3, 4))}, "same users and items"),
    ],
)
def test_top_k_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        top_k(np.ones((2, 4)), **kwargs)


def test_top_k_rejects_bad_scores():
    with pytest.raises(ValueError, match="NaN in 1 of 2 rows"):
        top_k(np.array([[1.0, np.nan], [1.0, 2.0]]), 1)
    with pytest.raises(ValueError, match="n_users, n_items"):
        top_k(np.ones(5), 1)
    with pytest.raises(ValueError, match="n_users, n_items"):
        top_k(np.ones((0, 5)), 1)


# ---------------------------------------------------------------- ranking metrics

# Users 0..3, items 0..5, k = 3.
HAND_TOPK = np.array([[0, 1, 2], [3, 4, 5], [5, 0, 1], [0, 1, 3]])
HAND_TRUTH = sp.csr_matrix(
    (np.ones(7), ([0, 0, 2, 2, 2, 2, 3], [1, 4, 5, 1, 2, 3, 2])), shape=(4, 6)
)
# user 0: rel {1, 4}       -> hits [0, 1, 0]
# user 1: no test items    -> left out of every mean
# user 2: rel {1, 2, 3, 5} -> hits [1, 0, 1]
# user 3: rel {2}          -> hits [0, 0, 0]
L2, L3, L4 = math.log2(2), math.log2(3), math.log2(4)


def test_hits_matrix_hand_case():
    expected = [[0, 1, 0], [0, 0, 0], [1, 0, 1], [0, 0, 0]]
    assert hits_matrix(HAND_TOPK, HAND_TRUTH, 3).astype(int).tolist() == expected
    assert hits_matrix(HAND_TOPK, HAND_TRUTH, 1).astype(int).tolist() == [[0], [0], [1], [0]]


@pytest.mark.parametrize(
    ("name", "per_user"),
    [
        ("precision", [1 / 3, 2 / 3, 0.0]),  # hits / k
        ("recall", [1 / 2, 2 / 4, 0.0]),  # hits / |rel|
        ("recall_capped", [1 / 2, 2 / 3, 0.0]),  # hits / min(3, |rel|)
        # DCG / IDCG: user 0 (1/log2 3) / (1 + 1/log2 3);
        #             user 2 (1 + 1/log2 4) / (1 + 1/log2 3 + 1/log2 4)
        ("ndcg", [(1 / L3) / (1 / L2 + 1 / L3), (1 + 1 / L4) / (1 + 1 / L3 + 1 / L4), 0.0]),
        # AP: user 0 (P@2 = 1/2) / min(3, 2); user 2 (P@1 + P@3 = 1 + 2/3) / min(3, 4)
        ("map", [(1 / 2) / 2, (1 + 2 / 3) / 3, 0.0]),
        ("hit_rate", [1.0, 1.0, 0.0]),
    ],
)
def test_ranking_metrics_hand_case(name, per_user):
    metric = METRICS[name]
    assert metric(HAND_TOPK, HAND_TRUTH, 3) == pytest.approx(np.mean(per_user))
    values = metric(HAND_TOPK, HAND_TRUTH, 3, reduce=False)
    assert np.isnan(values[1])  # user 1 has no test item
    np.testing.assert_allclose(values[[0, 2, 3]], per_user)


def test_metrics_only_read_first_k_columns():
    # At k=1 only the first column counts: user 2 hits (item 5), users 0 and 3 miss.
    assert precision_at_k(HAND_TOPK, HAND_TRUTH, 1) == pytest.approx(1 / 3)
    assert recall_at_k(HAND_TOPK, HAND_TRUTH, 1) == pytest.approx((1 / 4) / 3)


def test_padding_slots_are_misses():
    topk = np.array([[2, -1, -1]])
    truth = sp.csr_matrix(np.array([[0, 0, 1, 1]]))
    assert precision_at_k(topk, truth, 3) == pytest.approx(1 / 3)  # 1 hit / k=3
    assert recall_at_k(topk, truth, 3) == pytest.approx(1 / 2)  # 1 hit / 2 relevant
    assert ndcg_at_k(topk, truth, 3) == pytest.approx(1 / (1 + 1 / L3))


def test_graded_truth_counts_as_binary():
    graded = HAND_TRUTH.copy()
    graded.data = np.arange(1.0, 8.0)  # ratings 1..7 instead of 1
    assert ndcg_at_k(HAND_TOPK, graded, 3) == ndcg_at_k(HAND_TOPK, HAND_TRUTH, 3)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_ndcg_matches_sklearn(seed):
    rng = np.random.default_rng(seed)
    n_users, n_items, k = 60, 40, 7
    scores = rng.standard_normal((n_users, n_items))  # continuous: no ties
    truth = random_truth(rng, n_users, n_items, 0.1)
    has_truth = np.diff(truth.indptr) > 0
    expected = ndcg_score(truth.toarray()[has_truth], scores[has_truth], k=k)
    assert ndcg_at_k(top_k(scores, k), truth, k) == pytest.approx(expected, rel=1e-12)


def test_a_perfect_list_scores_exactly_one_at_every_k():
    """Not 1.0000000000000004: an NDCG above 1 reads as a bug, and `== 1` checks would fail.

    User 0 has more relevant items than k (the ideal sum runs to k), user 1 has 3 (it stops
    at 3, with zeros after in the list's DCG).
    """
    for k in range(1, 101):
        truth = sp.csr_matrix(np.vstack([np.ones(k + 5), np.r_[np.ones(3), np.zeros(k + 2)]]))
        perfect = np.vstack([np.arange(k + 2), np.r_[np.arange(3), np.arange(5, k + 4)]])
        assert ndcg_at_k(perfect[:, :k], truth, k, reduce=False).tolist() == [1.0, 1.0], k


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_match_loop_reference(seed):
    rng = np.random.default_rng(seed)
    n_users, n_items, k = 80, 50, 10
    dense_truth = rng.random((n_users, n_items)) < 0.08
    dense_truth[1:6] = False  # users without test items, left out of the means
    seen = rng.random((n_users, n_items)) < 0.15
    seen[0] = True  # user 0 has a single item left to rank: its list is padded with -1
    seen[0, 3] = False
    dense_truth[0, 3] = True
    truth = sp.csr_matrix(dense_truth)
    exclude = sp.csr_matrix(seen)
    topk = top_k(rng.standard_normal((n_users, n_items)), k, exclude=exclude)
    assert topk[0].tolist() == [3] + [-1] * (k - 1)
    expected = reference_metrics(topk, truth, k)
    for name, metric in METRICS.items():
        assert metric(topk, truth, k) == pytest.approx(expected[name], rel=1e-12), name


def test_ranking_metrics_reject_bad_input():
    with pytest.raises(ValueError, match="scipy.sparse"):
        recall_at_k(HAND_TOPK, HAND_TRUTH.toarray(), 3)
    with pytest.raises(ValueError, match="same users"):
        recall_at_k(HAND_TOPK, HAND_TRUTH[:3], 3)
    with pytest.raises(ValueError, match="integer item ids"):
        recall_at_k(HAND_TOPK.astype(float), HAND_TRUTH, 3)
    with pytest.raises(ValueError, match="at least k"):
        recall_at_k(HAND_TOPK, HAND_TRUTH, 4)
    with pytest.raises(ValueError, match="positive integer"):
        recall_at_k(HAND_TOPK, HAND_TRUTH, 0)
    with pytest.raises(ValueError, match=r"\[0, 6\)"):
        recall_at_k(HAND_TOPK + 3, HAND_TRUTH, 3)
    with pytest.raises(ValueError, match="at most once"):
        recall_at_k(np.array([[1, 2, 1]] * 4), HAND_TRUTH, 3)
    with pytest.raises(ValueError, match="2-D"):
        recall_at_k(np.array([1, 2, 3]), HAND_TRUTH, 3)


def test_mean_without_any_test_item_is_an_error():
    empty = sp.csr_matrix((4, 6))
    with pytest.raises(ValueError, match="no relevant item"):
        ndcg_at_k(HAND_TOPK, empty, 3)
    assert np.isnan(ndcg_at_k(HAND_TOPK, empty, 3, reduce=False)).all()


def test_top_k_refuses_a_block_size_below_one():
    with pytest.raises(ValueError, match="block_rows must be a positive integer"):
        top_k(np.random.default_rng(0).random((3, 5)), 2, block_rows=-1)
