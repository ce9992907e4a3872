"""Tests of `lessons.metrics.popularity`: coverage, ARP, Gini, APLT and popularity bins."""

import numpy as np
import pytest
import scipy.sparse as sp

from lessons.metrics import (
    aplt_at_k,
    arp_at_k,
    coverage_at_k,
    exposure_counts,
    gini_at_k,
    popularity_bins,
    reach_at_k,
    recall_at_k,
    recall_by_popularity_decile,
    short_head,
    top_k,
)


def test_coverage_hand_case():
    topk = np.array([[0, 1], [1, 2]])
    assert coverage_at_k(topk, 5, 2) == pytest.approx(3 / 5)  # {0, 1, 2} of 5 items
    assert coverage_at_k(topk, 5, 1) == pytest.approx(2 / 5)  # {0, 1}
    assert coverage_at_k(np.array([[0, -1]]), 5, 2) == pytest.approx(1 / 5)  # -1 is no item


def test_exposure_counts_hand_case():
    topk = np.array([[0, 1], [1, 2], [1, -1]])
    assert exposure_counts(topk, 4, 2).tolist() == [1, 3, 1, 0]


def test_gini_hand_cases():
    # Exposure [2, 2, 0, 0] sorted [0, 0, 2, 2]; weights 2i - n - 1 = [-3, -1, 1, 3]:
    # (1·2 + 3·2) / (4 · 4) = 0.5
    assert gini_at_k(np.array([[0, 1], [0, 1]]), 4, 2) == pytest.approx(0.5)
    # Every item shown once: perfectly equal exposure.
    assert gini_at_k(np.array([[0, 1], [2, 3]]), 4, 2) == pytest.approx(0.0)
    # A single item takes all exposure: (n - 1) / n = 3 / 4.
    assert gini_at_k(np.array([[0], [0]]), 4, 1) == pytest.approx(0.75)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gini_matches_mean_absolute_difference_definition(seed):
    rng = np.random.default_rng(seed)
    n_items = 30
    topk = top_k(rng.standard_normal((50, n_items)) + np.linspace(0, 2, n_items), 5)
    x = np.bincount(topk.ravel(), minlength=n_items).astype(float)
    # G = Σ_i Σ_j |x_i − x_j| / (2 n² mean(x)), a different textbook form of the same index.
    expected = np.abs(x[:, None] - x[None, :]).sum() / (2 * n_items**2 * x.mean())
    assert gini_at_k(topk, n_items, 5) == pytest.approx(expected, rel=1e-12)


def test_arp_hand_case():
    counts = np.array([10, 5, 1, 0])
    # user 0: (10 + 5) / 2 = 7.5; user 1: (1 + 0) / 2 = 0.5; mean 4.0
    assert arp_at_k(np.array([[0, 1], [2, 3]]), counts, 2) == pytest.approx(4.0)
    # At k=1: (10 + 1) / 2 = 5.5
    assert arp_at_k(np.array([[0, 1], [2, 3]]), counts, 1) == pytest.approx(5.5)
    # A padded slot is skipped, not counted as popularity 0: user 0 → 10 / 1
    assert arp_at_k(np.array([[0, -1]]), counts, 2) == pytest.approx(10.0)


def test_short_head_takes_top_share_with_ties_by_lower_id():
    counts = np.array([5, 3, 3, 1, 0])
    # ceil(0.4 · 5) = 2 items: item 0, then items 1 and 2 tie at 3 -> the lower id, 1.
    assert short_head(counts, 0.4).tolist() == [True, True, False, False, False]
    # ceil(0.5 · 5) = 3 items.
    assert short_head(counts, 0.5).tolist() == [True, True, True, False, False]
    # Default share 0.2 on 1682 items: ceil(336.4) = 337 items.
    assert short_head(np.arange(1682)).sum() == 337
    assert short_head(np.arange(1682))[-337:].all()


@pytest.mark.parametrize("share", [0, 1, 1.5, -0.2])
def test_short_head_rejects_bad_share(share):
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        short_head(np.array([1, 2, 3]), share)


def test_aplt_hand_case():
    counts = np.array([5, 3, 3, 1, 0])  # short head at share 0.4: items {0, 1}
    topk = np.array([[0, 2], [3, 4], [1, -1]])
    # user 0: 1 tail item of 2; user 1: 2 of 2; user 2: 0 of 1 (padding skipped)
    assert aplt_at_k(topk, counts, 2, short_head_share=0.4) == pytest.approx((1 / 2 + 1 + 0) / 3)
    # share 0.5 puts item 2 in the head too: user 0 now has 0 tail items.
    assert aplt_at_k(topk, counts, 2, short_head_share=0.5) == pytest.approx((0 + 1 + 0) / 3)


def test_popularity_bins():
    assert popularity_bins(np.array([4, 3, 2, 1]), 2).tolist() == [2, 2, 1, 1]
    rng = np.random.default_rng(0)
    counts = rng.poisson(20, size=1682)
    bins = popularity_bins(counts, 10)
    sizes = np.bincount(bins)[1:]
    assert sizes.min() >= 168 and sizes.max() <= 169 and sizes.sum() == 1682
    # A more popular bin never holds an item with fewer interactions than a less popular one.
    lows = [counts[bins == b].min() for b in range(1, 11)]
    highs = [counts[bins == b].max() for b in range(1, 11)]
    assert all(highs[b] <= lows[b + 1] for b in range(9))


def test_recall_by_popularity_decile_hand_case():
    counts = np.array([4, 3, 2, 1])  # bins: items 0, 1 -> 2 (popular); items 2, 3 -> 1
    truth = sp.csr_matrix(np.array([[1, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]]))
    topk = np.array([[0, 1], [2, 3], [0, 1]])
    table = recall_by_popularity_decile(topk, truth, counts, 2, n_bins=2)
    assert table.columns.tolist() == ["decile", "n_items", "n_test_items", "n_hits", "recall"]
    assert table["decile"].tolist() == [1, 2]
    assert table["n_items"].tolist() == [2, 2]
    # bin 1 holds test items 2 (user 0) and 3 (user 1); only item 3 is hit -> 1/2
    # bin 2 holds test item 0 (user 0), which is hit -> 1/1
    assert table["n_test_items"].tolist() == [2, 1]
    assert table["n_hits"].tolist() == [1, 1]
    assert table["recall"].tolist() == pytest.approx([0.5, 1.0])


def test_recall_by_decile_pools_to_overall_hits():
    rng = np.random.default_rng(1)
    counts = rng.poisson(5, size=40)
    truth = sp.csr_matrix(rng.random((30, 40)) < 0.1)
    topk = top_k(rng.standard_normal((30, 40)), 8)
    table = recall_by_popularity_decile(topk, truth, counts, 8, n_bins=4)
    hits = recall_at_k(topk, truth, 8, reduce=False) * np.diff(truth.indptr)
    assert table["n_hits"].sum() == round(np.nansum(hits))
    assert table["n_test_items"].sum() == truth.nnz


def test_recall_by_decile_bin_without_test_items_is_nan():
    truth = sp.csr_matrix(np.array([[1, 0, 0, 0]]))
    table = recall_by_popularity_decile(np.array([[0]]), truth, np.array([4, 3, 2, 1]), 1, 2)
    assert np.isnan(table["recall"].iloc[0]) and table["recall"].iloc[1] == 1.0


def test_popularity_metrics_reject_bad_input():
    topk = np.array([[0, 1]])
    with pytest.raises(ValueError, match="non-negative .* got -2 for item 1"):
        arp_at_k(topk, np.array([1, -2, 3]), 2)
    with pytest.raises(ValueError, match="must hold numbers"):
        arp_at_k(topk, np.array(["1", "2", "3"], dtype=object), 2)
    with pytest.raises(ValueError, match="1-D"):
        arp_at_k(topk, np.ones((3, 2)), 2)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        aplt_at_k(topk, np.array([3]), 2)
    with pytest.raises(ValueError, match="no recommendation"):
        gini_at_k(np.array([[-1, -1]]), 3, 2)
    with pytest.raises(ValueError, match="no recommendation"):
        arp_at_k(np.array([[-1, -1]]), np.array([1, 2]), 2)
    with pytest.raises(ValueError, match="positive integer"):
        coverage_at_k(topk, 0, 2)
    with pytest.raises(ValueError, match="positive integer"):
        coverage_at_k(topk, 3, 0)
    with pytest.raises(ValueError, match="n_bins=5 exceeds"):
        popularity_bins(np.array([1, 2, 3]), 5)
    with pytest.raises(ValueError, match="one column per"):
        recall_by_popularity_decile(topk, sp.csr_matrix((1, 5)), np.array([1, 2, 3]), 2)


def test_unsigned_counts_are_ordered_like_signed_ones():
    # -c wraps around for unsigned integers; the column sums of a uint8 matrix are uint64.
    counts = np.array([0, 5, 1, 3], dtype=np.uint32)
    assert short_head(counts, 0.25).tolist() == [False, True, False, False]
    np.testing.assert_array_equal(
        popularity_bins(counts, 2), popularity_bins(counts.astype(np.int64), 2)
    )


def test_reach_counts_users_shown_one_of_the_top_items():
    counts = np.array([1, 9, 5, 5, 0])  # by popularity: 1, then 2 and 3 tied (lower id first)
    topk = np.array([[0, 4], [3, 0], [2, -1], [-1, -1]])  # the last user is left out
    assert reach_at_k(topk, counts, 2, top=1) == 0.0  # nobody is shown item 1
    assert reach_at_k(topk, counts, 2, top=2) == pytest.approx(1 / 3)  # item 2: user 2
    assert reach_at_k(topk, counts, 2, top=3) == pytest.approx(2 / 3)  # and item 3: user 1
    assert reach_at_k(topk, counts, 1, top=3) == pytest.approx(2 / 3)  # first slots only
    with pytest.raises(ValueError, match="top=6 exceeds the 5 items"):
        reach_at_k(topk, counts, 2, top=6)


def test_reach_never_reads_an_empty_slot_as_item_0():
    """Bug: without the filled-slot mask, a -1 slot is looked up as item 0, which counts as a
    shown top item whenever item 0 is popular (on ML-100K it is: Toy Story)."""
    counts = np.array([9, 1, 2, 3, 0])  # item 0 is the most interacted
    assert reach_at_k(np.array([[3, -1]]), counts, 2, top=1) == 0.0
    assert reach_at_k(np.array([[3, -1], [0, 4]]), counts, 2, top=1) == pytest.approx(0.5)
    # The whole catalogue as "the top" is allowed (top in [1, n_items]): every list reaches it.
    assert reach_at_k(np.array([[3, -1], [4, 1]]), counts, 2, top=5) == 1.0
