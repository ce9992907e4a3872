"""Edge cases of the ranking and popularity metrics and of `parse_metrics`.

Each test guards a plausible bug that would still give believable numbers (found by mutating
the code by hand); the expected values are worked out from the docstrings' formulas.
"""

import numpy as np
import pytest
import scipy.sparse as sp

from lessons.metrics import (
    aplt_at_k,
    arp_at_k,
    hits_matrix,
    map_at_k,
    ndcg_at_k,
    parse_metrics,
    precision_at_k,
    recall_at_k,
    recall_by_popularity_decile,
    short_head,
)


def test_an_empty_slot_is_never_a_hit_even_after_a_user_whose_last_item_is_relevant():
    """Bug: dropping the `lists >= 0` mask. Slot -1 of user u has the lookup key of item
    n_items - 1 of user u - 1, so it would score a hit there."""
    truth = sp.csr_matrix(np.array([[0, 0, 1], [1, 0, 0]]))  # user 0 likes the last item
    topk = np.array([[2, 0], [1, -1]])
    np.testing.assert_array_equal(hits_matrix(topk, truth, 2), [[True, False], [False, False]])
    assert precision_at_k(topk, truth, 2, reduce=False)[1] == 0.0


def test_explicitly_stored_zeros_in_truth_are_not_relevant():
    """Bug: not calling eliminate_zeros, so a stored 0 (e.g. a rating reset to 0) counts."""
    # Row 0 stores item 0 = 1 and item 1 = 0 (explicit zero): only item 0 is relevant.
    truth = sp.csr_matrix((np.array([1.0, 0.0]), np.array([0, 1]), np.array([0, 2])), (1, 3))
    assert truth.nnz == 2
    assert precision_at_k(np.array([[0, 1]]), truth, 2) == 0.5  # 1 hit / k


def test_truth_with_unsorted_column_ids_is_looked_up_correctly():
    """Bug: not canonicalising truth; the search needs sorted ids, duplicates double |rel|."""
    # Built from raw CSR arrays: columns [3, 0] unsorted, item 3 stored twice.
    truth = sp.csr_matrix((np.ones(3), np.array([3, 0, 3]), np.array([0, 3])), shape=(1, 4))
    np.testing.assert_array_equal(hits_matrix(np.array([[0, 3]]), truth, 2), [[True, True]])


def test_arp_averages_per_user_not_over_all_slots():
    """Bug: pooling ARP over all listed items instead of averaging each user's mean."""
    counts = np.array([10, 0, 4])
    topk = np.array([[0, -1], [1, 2]])  # user 0: mean 10 over 1 item; user 1: (0 + 4) / 2
    assert arp_at_k(topk, counts, 2) == pytest.approx((10 + 2) / 2)  # pooled would be 14 / 3


def test_aplt_divides_by_the_filled_list_length():
    """Bug: APLT divided by k, so padded (-1) slots count as head items."""
    counts = np.array([9, 8, 1, 1, 1])  # share 0.2 of 5 items: head = {item 0}
    topk = np.array([[3, -1], [0, 4]])  # user 0: 1/1 in tail, user 1: 1/2
    assert aplt_at_k(topk, counts, 2) == pytest.approx(0.75)  # dividing by k gives 0.5


def test_aplt_never_counts_an_empty_slot_as_a_tail_item():
    """With item 0 in the long tail, a -1 slot read as item 0 gave APLT@3 = 2.0 (a share)."""
    counts = np.array([0, 9, 8, 7, 6])  # head = {item 1}; item 0 is in the tail
    assert aplt_at_k(np.array([[1, -1, -1]]), counts, 3) == 0.0
    rng = np.random.default_rng(0)
    for _ in range(20):  # a share, whatever the padding and the counts
        filled = rng.integers(1, 4, size=6)
        topk = np.array([[*rng.permutation(5)[:f], *[-1] * (3 - f)] for f in filled])
        assert 0.0 <= aplt_at_k(topk, rng.integers(0, 10, size=5), 3) <= 1.0


def test_recall_by_decile_ignores_explicit_zeros_in_truth():
    """Bug: counting stored zeros of truth as test items of their popularity bin."""
    counts = np.array([3, 2, 1, 0])  # 2 bins: items 0, 1 -> bin 2; items 2, 3 -> bin 1
    truth = sp.csr_matrix((np.array([1.0, 0.0]), np.array([0, 3]), np.array([0, 2])), (1, 4))
    table = recall_by_popularity_decile(np.array([[0, 1]]), truth, counts, k=2, n_bins=2)
    assert table["n_test_items"].tolist() == [0, 1]
    assert np.isnan(table["recall"].iloc[0]) and table["recall"].iloc[1] == 1.0


def test_bare_recall_capped_uses_recall_k():
    """Bug: only "recall" (not "recall_capped") reading `recall_k` when no @n is given."""
    assert parse_metrics(["recall_capped", "ndcg"], 10, 20) == [
        ("recall_capped", 20),
        ("ndcg", 10),
    ]


def test_parse_metrics_returns_unique_pairs():
    """Bug: "ndcg" and "ndcg@10" with k=10 giving two identical rows in the table."""
    assert parse_metrics(["ndcg", "ndcg@10", "recall@20", "recall"], 10, 20) == [
        ("ndcg", 10),
        ("recall", 20),
    ]


def test_parse_metrics_rejects_a_zero_cut_off():
    """Bug: "ndcg@0" accepted as a pair, failing later with a message about `k`."""
    with pytest.raises(ValueError, match="positive integer"):
        parse_metrics(["ndcg@0"], 10, 20)


def test_truth_entries_that_cancel_out_are_not_relevant():
    """Bug: eliminate_zeros before sum_duplicates, so +1 and -1 stored for one item summed to
    a stored 0 that stayed, and the item counted as relevant."""
    # Raw CSR arrays: item 0 = 1, item 1 stored twice as +1 and -1.
    truth = sp.csr_matrix(
        (np.array([1.0, 1.0, -1.0]), np.array([0, 1, 1]), np.array([0, 3])), (1, 3)
    )
    assert precision_at_k(np.array([[0, 1]]), truth, 2) == 0.5
    table = recall_by_popularity_decile(np.array([[0, 1]]), truth, np.array([3, 2, 1]), 2, 3)
    assert table["n_test_items"].sum() == 1


def test_metrics_leave_the_callers_truth_matrix_as_it_was():
    """Pure functions: canonicalising truth (sorting, summing duplicates) works on a copy."""
    data, indices, indptr = np.ones(3), np.array([3, 0, 3]), np.array([0, 3])
    truth = sp.csr_matrix((data.copy(), indices.copy(), indptr.copy()), shape=(1, 4))
    precision_at_k(np.array([[0, 3]]), truth, 2)
    recall_by_popularity_decile(np.array([[0, 3]]), truth, np.array([4, 3, 2, 1]), 2, 2)
    np.testing.assert_array_equal(truth.indices, indices)
    np.testing.assert_array_equal(truth.data, data)


def test_truth_must_have_exactly_the_rows_of_topk():
    with pytest.raises(ValueError, match="same users, row for row"):
        precision_at_k(np.array([[0, 1]]), sp.csr_matrix(np.eye(3)), 2)  # more rows than topk


def test_arp_and_aplt_leave_out_a_user_with_an_empty_list_among_full_ones():
    """Bug: keeping users whose list is all -1 (a mean over nothing: NaN)."""
    counts = np.array([5, 4, 3, 2, 1, 0])  # head (share 0.2 of 6 items, ceil: 2) = {0, 1}
    topk = np.array([[0, 1], [-1, -1], [4, 5]])
    assert arp_at_k(topk, counts, 2) == pytest.approx((4.5 + 0.5) / 2)
    assert aplt_at_k(topk, counts, 2) == pytest.approx((0 + 1) / 2)


def test_ids_beyond_int64_are_refused_not_wrapped_into_empty_slots():
    topk = np.array([[0, 2**64 - 1]], dtype=np.uint64)  # as int64 this is -1, an empty slot
    with pytest.raises(ValueError, match=r"must lie in \[0, 3\)"):
        precision_at_k(topk, sp.csr_matrix(np.eye(1, 3)), 2)


def test_training_counts_must_be_finite():
    with pytest.raises(ValueError, match="finite, non-negative .* got nan for item 1"):
        arp_at_k(np.array([[0, 1]]), np.array([1.0, np.nan, 2.0]), 2)


def test_short_head_breaks_ties_by_lower_id_on_a_large_catalogue():
    """numpy's default (unstable) sort orders ties differently from 17 items on."""
    counts = np.random.default_rng(0).integers(0, 5, 2000)
    expected = np.lexsort((np.arange(counts.size), -counts))[:400]  # by count, then by id
    np.testing.assert_array_equal(np.flatnonzero(short_head(counts)), np.sort(expected))


@pytest.mark.parametrize("metrics", [5, "ndcg@²", ["recall@١"]])
def test_parse_metrics_refuses_what_is_not_a_metric_list(metrics):
    with pytest.raises(ValueError, match="metrics must be|positive integer"):
        parse_metrics(metrics, 10, 20)


def test_relevant_count_ignores_duplicate_and_zero_entries_of_truth():
    """Bug: |rel_u| read from the raw truth rows, so an item stored twice (or a stored 0)
    inflates recall's denominator and the ideal DCG / AP cap. Relevant here: items {0, 2}."""
    truth = sp.csr_matrix(([1.0, 1.0, 1.0, 0.0], [2, 0, 2, 3], [0, 4]), shape=(1, 5))
    both = np.array([[0, 2]])
    assert recall_at_k(both, truth, 2) == pytest.approx(1.0)  # 2 hits / |{0, 2}|
    assert ndcg_at_k(both, truth, 2) == pytest.approx(1.0)
    assert map_at_k(both, truth, 2) == pytest.approx(1.0)
    assert recall_at_k(np.array([[0, 1]]), truth, 2) == pytest.approx(0.5)
