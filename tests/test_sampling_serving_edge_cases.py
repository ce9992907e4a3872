"""Edge cases of serving: brute force in blocks, IVF tie order, the synthetic catalogue.

Each test guards a plausible bug that would still give believable numbers (found by mutating
the code by hand); expected values are derived by hand, from the docstrings, or by a plain
loop, never copied from the code's own output.
"""

import numpy as np

import lessons.serving as serving
from lessons.serving import (
    IVFIndex,
    brute_force_top_k,
    clustered_catalogue,
)


def _top_k_by_loop(queries, items, k):
    """Best-first ids by ⟨q, V_j⟩, ties to the lower id, by sorting (score, id) pairs."""
    return np.array([[j for _, j in sorted((-(q @ v), j) for j, v in enumerate(items))[:k]]
                     for q in queries])  # fmt: skip


def test_brute_force_scores_every_query_when_it_works_in_blocks(monkeypatch):
    """Bug: an off-by-one in the block slicing (queries[s : s + step - 1]) drops a query per
    block; with the real 4M-score blocks only catalogues of over ~4M/n_queries items show it."""
    monkeypatch.setattr(serving, "_BLOCK_ELEMENTS", 12)  # 12 // 4 items: blocks of 3 queries
    rng = np.random.default_rng(0)
    items, queries = rng.normal(size=(4, 3)), rng.normal(size=(8, 3))
    ids = brute_force_top_k(queries, items, 2)
    np.testing.assert_array_equal(ids, _top_k_by_loop(queries, items, 2))


def test_ivf_breaks_ties_across_lists_toward_the_lower_id():
    """Bug: sorting the probed candidates by score alone (a stable sort) leaves tied items in
    list order, not id order, so with every list probed IVF still disagrees with brute force
    when equal scores come from different lists (integer-valued embeddings tie often)."""
    rng = np.random.default_rng(0)
    items = rng.integers(-2, 3, size=(40, 2)).astype(np.float32)
    queries = rng.integers(-2, 3, size=(50, 2)).astype(np.float32)
    index = IVFIndex.build(items, 4, seed=0)
    ids, scanned = index.search(queries, 5, 4)
    assert (scanned == len(items)).all()
    np.testing.assert_array_equal(ids, _top_k_by_loop(queries, items, 5))


def test_clustered_catalogue_spread_scales_the_noise():
    """Bug: `spread` ignored (noise always of scale 1), so the "harder" catalogues of a spread
    sweep are all the same. With spread 0 every point is exactly one of the topic vectors."""
    items, queries = clustered_catalogue(60, 8, n_topics=3, n_queries=20, spread=0.0, seed=0)
    topics = np.unique(items, axis=0)
    assert len(topics) <= 3
    assert all((topics == q).all(axis=1).any() for q in queries)  # queries share the topics
    noisy, _ = clustered_catalogue(60, 8, n_topics=3, n_queries=20, spread=1.0, seed=0)
    assert len(np.unique(noisy, axis=0)) == 60
