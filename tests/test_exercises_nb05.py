"""Notebook 05's exercises: each check answers correct, incorrect and not attempted."""

import numpy as np
import pytest

from lessons.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED, nb05
from lessons.widgets.bias import compare_models
from tests.helpers import run_solution


@pytest.fixture
def lists():
    return np.array([[0, 1, 2], [2, 3, -1], [1, 0, 5]])


@pytest.fixture(scope="module")
def ranked(tiny_split):
    """Scores of three models on the tiny split, with a hand-known ARP ranking: "Tail" lists
    the least-trained items first, "Head" the most-trained, "Popularity" as Head."""
    counts = tiny_split.item_popularity().astype(float)
    head = np.tile(counts, (tiny_split.n_users, 1))
    return {"scores": {"Popularity": head, "Head": head, "Tail": -head}, "split": tiny_split}


def test_coverage(lists):
    # Distinct items 0, 1, 2, 3, 5 out of 10: 0.5 (the -1 slot is not an item).
    assert nb05.coverage.check(0.5, lists=lists, n_items=10).status == CORRECT
    counted_empty = nb05.coverage.check(0.6, lists=lists, n_items=10)
    assert counted_empty.status == INCORRECT and "counts -1" in counted_empty.message
    per_slot = nb05.coverage.check(5 / 9, lists=lists, n_items=10)  # 5 distinct ids in 9 slots
    assert per_slot.status == INCORRECT and "n_items" in per_slot.message
    assert "too large" in nb05.coverage.check(0.7, lists=lists, n_items=10).message  # no slip
    assert nb05.coverage.check(..., lists=lists, n_items=10).status == NOT_ATTEMPTED
    code = nb05.coverage.solution().text
    scope = {"np": np, "lists": lists, "n_items": 10}
    exec(code, scope)
    assert nb05.coverage.check(scope["answer"], lists=lists, n_items=10).correct


def _hand_arp(split, order_by: np.ndarray, k: int) -> float:
    """Mean training count of each user's top k by `order_by`, seen items left out, averaged
    over users (ties cannot change it: tied items have the same count)."""
    counts, seen = split.item_popularity(), split.seen_matrix().toarray().astype(bool)
    per_user = []
    for u in range(split.n_users):
        candidates = np.flatnonzero(~seen[u])
        best = candidates[np.argsort(-order_by[candidates], kind="stable")[:k]]
        per_user.append(counts[best].mean())
    return float(np.mean(per_user))


def test_least_popular(ranked):
    split = ranked["split"]
    counts = split.item_popularity().astype(float)
    tail, head = _hand_arp(split, -counts, 5), _hand_arp(split, counts, 5)
    assert tail < head
    assert nb05.least_popular.check(tail, **ranked).status == CORRECT
    highest = nb05.least_popular.check(head, **ranked)  # max() instead of min()
    assert highest.status == INCORRECT and "the highest ARP@5" in highest.message
    at_10 = _hand_arp(split, -counts, 10)  # the table of section 1, read at K = 10
    assert at_10 != pytest.approx(tail, rel=1e-3)
    read_at_10 = nb05.least_popular.check(at_10, **ranked)
    assert read_at_10.status == INCORRECT and "again at k = 5" in read_at_10.message
    at_7 = _hand_arp(split, -counts, 7)  # the notebook ran with K = 7 and passes k=K
    assert at_7 != pytest.approx(at_10, rel=1e-3) and at_7 != pytest.approx(tail, rel=1e-3)
    read_at_7 = nb05.least_popular.check(at_7, **ranked, k=7)
    assert read_at_7.status == INCORRECT and "lowest ARP@7, read from" in read_at_7.message
    assert nb05.least_popular.check(tail, **ranked, k=7).correct  # k changes the slip only
    between = nb05.least_popular.check((tail + head) / 2, **ranked)  # no slip: just the direction
    assert between.status == INCORRECT and "too large" in between.message
    named = nb05.least_popular.check("Tail", **ranked)  # the old exercise asked for the name
    assert named.status == INCORRECT and "a number" in named.message
    assert nb05.least_popular.check(None, **ranked).status == NOT_ATTEMPTED
    answer = run_solution(nb05.least_popular, {**ranked, "compare_models": compare_models})
    assert nb05.least_popular.check(answer, **ranked).correct
    no_model = {"scores": {}, "split": split}
    assert "check(answer" in nb05.least_popular.check(1.0, **no_model).message


def test_sampled():
    assert nb05.sampled.check("c").status == CORRECT
    assert nb05.sampled.check("d").status == INCORRECT
    assert nb05.sampled.check(...).status == NOT_ATTEMPTED
    assert "(c)" in nb05.sampled.question_text().text
    assert nb05.sampled.hint().text


def test_coverage_alone():
    assert nb05.coverage_alone.check("b").status == CORRECT
    assert nb05.coverage_alone.check("a").status == INCORRECT
    assert nb05.coverage_alone.check(...).status == NOT_ATTEMPTED
    assert "(b)" in nb05.coverage_alone.question_text().text
    assert nb05.coverage_alone.hint().text
