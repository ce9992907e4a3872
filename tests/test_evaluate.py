"""Tests of `lessons.metrics.evaluate` on tiny hand-made splits."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from lessons.config import ITEM, RATING, REACH_TOP, TIMESTAMP, USER
from lessons.data.dataset import Dataset, Split
from lessons.metrics import chance_recall, evaluate, evaluate_dict, reach_at_k, top_k


def frame(pairs):
    """Interactions table from (user, item) pairs (a list of tuples or an (n, 2) array)."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    n = len(pairs)
    return pd.DataFrame(
        {USER: pairs[:, 0], ITEM: pairs[:, 1], RATING: np.full(n, 4.0), TIMESTAMP: np.arange(n)}
    )


def make_split(train, test, n_users, n_items, **extra):
    interactions = pd.concat([frame(train), frame(test)], ignore_index=True)
    items = pd.DataFrame({"title": [f"item {i}" for i in range(n_items)], "year": np.nan})
    dataset = Dataset(
        "synthetic", interactions, items, (), None, np.arange(n_users), np.arange(n_items)
    )
    return Split(dataset, frame(train), frame(test), **extra)


def random_split(seed, n_users=30, n_items=40):
    rng = np.random.default_rng(seed)
    seen = rng.random((n_users, n_items)) < 0.2
    held = ~seen & (rng.random((n_users, n_items)) < 0.1)
    held[:3] = False  # three users without test items
    return make_split(np.argwhere(seen), np.argwhere(held), n_users, n_items)


# 3 users, 5 items. Train: user 0 {0}, user 1 {1}, user 2 {0, 1}. Test: user 0 {2}, user 1 {0}.
# Item popularity in train: [2, 2, 0, 0, 0]. User 2 has no test item and is not evaluated.
HAND = make_split([(0, 0), (1, 1), (2, 0), (2, 1)], [(0, 2), (1, 0)], 3, 5)
SCORES = np.tile(np.array([5.0, 4.0, 3.0, 2.0, 1.0]), (3, 1))  # item 0 best for everyone


def test_evaluate_hand_case():
    table = evaluate(SCORES, HAND, k=2, recall_k=2)
    assert table.columns.tolist() == ["metric", "k", "value"]
    assert table.attrs["n_users"] == 2
    got = dict(zip(table["metric"], table["value"], strict=True))
    # Seen items removed: user 0 gets [1, 2] (hit at rank 2), user 1 gets [0, 2] (hit at rank 1).
    expected = {
        "recall": (1 + 1) / 2,
        "ndcg": ((1 / math.log2(3)) / 1 + 1) / 2,
        "precision": (1 / 2 + 1 / 2) / 2,
        "map": ((1 / 2) / 1 + 1 / 1) / 2,  # AP: P@2 / min(2, 1) and P@1 / min(2, 1)
        "hit_rate": 1.0,
        "coverage": 3 / 5,  # items {0, 1, 2}
        "arp": ((2 + 0) / 2 + (2 + 0) / 2) / 2,
        # exposure [1, 1, 2, 0, 0] sorted [0, 0, 1, 1, 2], weights [-4, -2, 0, 2, 4]:
        # (2·1 + 4·2) / (5 · 4) = 0.5
        "gini": 0.5,
        # head = ceil(0.2 · 5) = 1 item; items 0 and 1 tie at 2 -> item 0.
        # user 0: [1, 2] both tail = 1; user 1: [0, 2] one tail = 1/2
        "aplt": (1 + 1 / 2) / 2,
    }
    assert list(got) == list(expected)
    for name, value in expected.items():
        assert got[name] == pytest.approx(value), name


def test_evaluate_without_excluding_seen_items():
    got = evaluate_dict(SCORES, HAND, k=2, recall_k=2, exclude_seen=False)
    # Everyone gets [0, 1]: user 0 misses item 2, user 1 hits item 0 at rank 1.
    assert got["recall@2"] == pytest.approx((0 + 1) / 2)
    assert got["coverage@2"] == pytest.approx(2 / 5)


def test_evaluate_dict_keys_and_default_cutoffs():
    got = evaluate_dict(np.random.default_rng(0).random((30, 40)), random_split(0))
    assert list(got) == [
        "recall@20",
        "ndcg@10",
        "precision@10",
        "map@10",
        "hit_rate@10",
        "coverage@10",
        "arp@10",
        "gini@10",
        "aplt@10",
    ]
    assert all(0 <= v <= 1 for name, v in got.items() if not name.startswith("arp"))


def test_metric_selection_with_explicit_cutoffs():
    table = evaluate(SCORES, HAND, metrics=["ndcg@3", "recall", "recall_capped@1"], recall_k=4)
    assert table[["metric", "k"]].values.tolist() == [
        ["ndcg", 3],
        ["recall", 4],
        ["recall_capped", 1],
    ]


def test_users_without_test_items_are_not_evaluated():
    split = random_split(1)
    scores = np.random.default_rng(1).random((30, 40))
    got = evaluate_dict(scores, split, metrics=["recall@5", "coverage@5"])
    # Same users, scored directly: only users with test items, seen items removed.
    truth = split.test_matrix()
    users = np.flatnonzero(np.diff(truth.indptr))
    lists = top_k(scores, 5, exclude=split.seen_matrix())
    assert len(users) == 27
    hits = [len(set(lists[u]) & set(truth[u].indices)) / truth[u].nnz for u in users]
    assert got["recall@5"] == pytest.approx(np.mean(hits))
    assert got["coverage@5"] == pytest.approx(len(np.unique(lists[users])) / 40)


def test_topk_input_and_torch_input_match_scores():
    split = random_split(2)
    scores = np.random.default_rng(2).random((30, 40)).astype(np.float32)
    expected = evaluate_dict(scores, split)
    assert evaluate_dict(torch.from_numpy(scores), split) == expected
    lists = top_k(scores, 20, exclude=split.seen_matrix())
    assert evaluate_dict(lists, split) == expected
    assert evaluate_dict(torch.from_numpy(lists), split) == expected


def test_query_items_are_excluded_too():
    # User 1 revealed item 0 at test time: it must not be recommended back.
    split = make_split([(0, 0), (1, 1)], [(0, 2), (1, 2)], 2, 5, query=frame([(1, 0)]))
    got = evaluate_dict(SCORES[:2], split, metrics=["precision@1"])
    # user 0 ranks [1, 2, ...], user 1 ranks [2, ...] -> precision@1 = (0 + 1) / 2
    assert got["precision@1"] == pytest.approx(0.5)


def test_validation_items_are_excluded_too():
    # Validation items were carved from the user's own interactions: at test time they are
    # known, like train, and must not take a slot. Item 0 is user 1's validation item.
    split = make_split([(0, 0), (1, 1)], [(0, 2), (1, 2)], 2, 5, valid=frame([(1, 0)]))
    got = evaluate_dict(SCORES[:2], split, metrics=["precision@1"])
    # user 0 ranks [1, 2, ...], user 1 ranks [2, ...] -> precision@1 = (0 + 1) / 2
    assert got["precision@1"] == pytest.approx(0.5)


@pytest.mark.parametrize("part", ["valid", "query"])
def test_popularity_metrics_count_training_interactions_only(part):
    """Bug: ARP (and APLT, reach) counted c_j over everything seen (train + validation or
    query) instead of `split.item_popularity()`. Item 0 is only in user 1's other part."""
    split = make_split([(0, 1), (1, 2)], [(0, 3), (1, 3)], 2, 5, **{part: frame([(1, 0)])})
    # user 0 excludes {1}: top-1 is item 0 (c = 0); user 1 excludes {2, 0}: item 1 (c = 1)
    got = evaluate_dict(SCORES[:2], split, k=1, recall_k=1, metrics=["arp"])
    assert got["arp@1"] == pytest.approx((0 + 1) / 2)


def test_candidates_restrict_ranking_and_coverage_catalogue():
    split = make_split([(0, 0), (1, 1)], [(0, 3), (1, 4)], 2, 5, candidates=np.array([2, 3, 4]))
    got = evaluate_dict(SCORES[:2], split, metrics=["recall@1", "coverage@1", "recall@2"])
    # Both users rank [2, 3, 4]: at k=1 nobody hits; at k=2 user 0 hits 3.
    assert got["recall@1"] == 0.0
    assert got["recall@2"] == pytest.approx((1 + 0) / 2)
    assert got["coverage@1"] == pytest.approx(1 / 3)  # item 2 out of 3 candidates
    with pytest.raises(ValueError, match="exceeds the 3 rankable"):
        evaluate(SCORES[:2], split, k=4, recall_k=1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 0}, "positive integer"),
        ({"recall_k": -1}, "recall_k must be a positive integer"),
        ({"k": 6, "recall_k": 2}, "exceeds the 5 rankable"),
        ({"metrics": ["ndcg", "auc"]}, "unknown metric 'auc'"),
        ({"metrics": ["ndcg@ten"]}, "positive integer"),
        ({"metrics": []}, "empty"),
    ],
)
def test_evaluate_rejects_bad_options(kwargs, message):
    options = {"k": 2, "recall_k": 2} | kwargs
    with pytest.raises(ValueError, match=message):
        evaluate(SCORES, HAND, **options)


def test_evaluate_rejects_bad_inputs():
    with pytest.raises(ValueError, match=r"expected \(n_users, n_items\) = \(3, 5\)"):
        evaluate(SCORES[:, :4], HAND, k=2, recall_k=2)
    with pytest.raises(ValueError, match="2-D"):
        evaluate(SCORES[0], HAND, k=2, recall_k=2)
    with pytest.raises(ValueError, match=r"expected \(3, >= 2\)"):
        evaluate(np.array([[0, 1], [1, 2]]), HAND, k=2, recall_k=2)
    with pytest.raises(ValueError, match="lessons.data.Split"):
        evaluate(SCORES, "split", k=2, recall_k=2)
    no_test = make_split([(0, 0)], [], 3, 5)
    with pytest.raises(ValueError, match="no test interactions"):
        evaluate(SCORES, no_test, k=2, recall_k=2)


def test_a_full_integer_score_matrix_is_not_taken_for_lists_silently():
    counts = np.tile(np.array([3, 3, 1, 0, 0]), (3, 1))  # training counts as scores: int64
    with pytest.raises(ValueError, match=r"repeats an item.*astype\(float\)"):
        evaluate(counts, HAND, k=2, recall_k=2)
    # As floats they are scores: users 0 and 1 each find their test item in [1, 2] and [0, 2].
    assert evaluate_dict(counts.astype(float), HAND, k=2, recall_k=2)["recall@2"] == 1.0


def test_precomputed_lists_are_checked_before_they_are_reindexed_to_candidates():
    split = make_split([(0, 0), (1, 1)], [(0, 3), (1, 4)], 2, 5, candidates=np.array([2, 3, 4]))
    for bad in ([[7], [2]], [[-2], [2]]):  # outside the catalogue, and an id below -1
        with pytest.raises(ValueError, match="outside|catalogue|-1"):
            evaluate_dict(np.array(bad), split, metrics=["coverage@1"])


def test_the_candidates_of_a_split_are_checked_for_ready_made_lists_too():
    """Bug: only top_k checked them, so -1 among the candidates counted every empty slot."""
    for bad in (np.array([-1, 3, 4]), np.array([2.0, 3.0]), np.array([3, 7])):
        split = make_split([(0, 0), (1, 1)], [(0, 3), (1, 4)], 2, 5, candidates=bad)
        with pytest.raises(ValueError, match="candidates must be"):
            evaluate_dict(np.array([[3, -1], [4, -1]]), split, metrics=["coverage@2"])


def test_popularity_metrics_over_candidates():
    # Train popularity [1, 1, 0, 0, 0]; 3 candidates, one duplicated. Both users rank [2, 3, 4].
    split = make_split([(0, 0), (1, 1)], [(0, 3), (1, 4)], 2, 5, candidates=np.array([4, 2, 3, 3]))
    got = evaluate_dict(SCORES[:2], split, metrics=["arp@3", "aplt@1", "gini@1", "coverage@3"])
    assert got["arp@3"] == 0.0  # no candidate was seen in training
    assert got["aplt@1"] == 1.0  # head = ceil(0.2 · 5) = 1 item (item 0), not a candidate
    # Exposure over the 3 candidates at k=1: [2, 0, 0] -> Gini of (0, 0, 2) = 2/3
    assert got["gini@1"] == pytest.approx(2 / 3)
    assert got["coverage@3"] == 1.0  # k equal to the 3 rankable items is allowed


def test_reach_is_a_metric_on_request():
    split = random_split(0)  # 40 items: reach looks for the 20 most popular
    scores = np.random.default_rng(0).random((split.n_users, split.n_items))
    users = np.flatnonzero(np.diff(split.test_matrix().indptr))
    lists = top_k(scores[users], 3, exclude=split.seen_matrix()[users])
    expected = reach_at_k(lists, split.item_popularity(), 3, top=20)
    assert evaluate_dict(scores, split, k=3, metrics=["reach"]) == {"reach@3": expected}
    assert 0 < expected < 1
    assert "reach@10" not in evaluate_dict(SCORES, HAND, k=2, recall_k=2)  # not a default
    # HAND has 5 items, all of them "the top 20": every list would reach one, so it is NaN
    assert math.isnan(evaluate_dict(SCORES, HAND, k=2, recall_k=2, metrics=["reach"])["reach@2"])
    exactly = random_split(0, n_items=REACH_TOP)  # every item is still "the top": NaN too
    scores = np.random.default_rng(0).random((exactly.n_users, REACH_TOP))
    assert math.isnan(evaluate_dict(scores, exactly, k=2, metrics=["reach"])["reach@2"])
    cold = make_split([(0, 0), (1, 1)], [(0, 23), (1, 24)], 2, 25, candidates=np.arange(20, 25))
    scores = np.random.default_rng(0).random((2, 25))  # candidates never seen: no head to show
    assert math.isnan(evaluate_dict(scores, cold, k=2, metrics=["reach"])["reach@2"])


def test_chance_recall_shares_one_order_between_users():
    # 30 users hold out the same item 13 among candidates 10..19: one shared order puts it in
    # every top 1 or in none, so each draw is 0 or 1; per-user orders would average ~0.1.
    train = [(u, u % 10) for u in range(30)]
    split = make_split(train, [(u, 13) for u in range(30)], 30, 20, candidates=np.arange(10, 20))
    draws = chance_recall(split, k=1, draws=1000, seed=0)
    assert draws.shape == (1000,) and set(np.unique(draws)) == {0.0, 1.0}
    assert draws.mean() == pytest.approx(1 / 10, abs=0.03)  # the mean is still k / n_rankable
    assert np.array_equal(draws, chance_recall(split, k=1, draws=1000, seed=0))
    assert not np.array_equal(draws, chance_recall(split, k=1, draws=1000, seed=1))


def test_chance_recall_ranks_only_the_items_a_user_can_get():
    # User 0 has seen item 0 and holds out item 1 of 3: the order ranks items 1 and 2, so
    # recall@1 is 1/2 on average, not 1/3.
    split = make_split([(0, 0)], [(0, 1)], 1, 3)
    assert chance_recall(split, k=1, draws=1000, seed=0).mean() == pytest.approx(0.5, abs=0.05)
