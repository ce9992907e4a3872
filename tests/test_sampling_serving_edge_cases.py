"""Edge cases of serving: brute force in blocks, IVF tie order, the softmax-cost timer.

Each test guards a plausible bug that would still give believable numbers (found by mutating
the code by hand); expected values are derived by hand, from the docstrings, or by a plain
loop, never copied from the code's own output.
"""

import itertools

import numpy as np
import pandas as pd
import pytest

import lessons.serving as serving
from lessons.serving import (
    IVFIndex,
    brute_force_top_k,
    clustered_catalogue,
    softmax_cost,
    softmax_step_seconds,
    speedup,
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


def test_softmax_cost_counts_the_sampled_negatives_in_the_logits():
    """Bug: the sampled loss's logits per step counted as B·B, forgetting the m negatives."""
    cost = softmax_cost((50,), dim=4, batch=8, n_negatives=5, repeats=1)
    logits = cost.set_index("loss")["logits"]
    assert logits["sampled"] == 8 * (8 + 5) and logits["full"] == 8 * 50


def test_softmax_step_builds_logits_of_the_documented_width(monkeypatch):
    """Bug: the sampled step drops its m shared negatives (columns = the B positives only), so
    the measured cost is that of a smaller problem than the one reported."""
    shapes = []
    real = serving.F.cross_entropy

    def recording(logits, target, *args, **kwargs):
        shapes.append(tuple(logits.shape))
        return real(logits, target, *args, **kwargs)

    monkeypatch.setattr(serving.F, "cross_entropy", recording)
    softmax_step_seconds(50, "sampled", dim=4, batch=8, n_negatives=5, repeats=2)
    assert shapes and set(shapes) == {(8, 8 + 5)}
    shapes.clear()
    softmax_step_seconds(50, "full", dim=4, batch=8, repeats=2)
    assert shapes and set(shapes) == {(8, 50)}


def test_softmax_step_returns_the_fastest_repeat(monkeypatch):
    """Bug: the mean (or last) repeat is returned instead of the documented minimum, so a
    busy machine's hiccups leak into the comparison."""
    clock = itertools.chain([0.0, 3.0, 10.0, 11.0, 20.0, 22.0], itertools.count(100.0))
    monkeypatch.setattr(serving.time, "perf_counter", lambda: next(clock))
    assert softmax_step_seconds(20, "full", dim=2, batch=2, repeats=3) == 1.0  # of 3, 1, 2


def test_speedup_is_full_over_sampled():
    """Bug: the ratio inverted (sampled / full), which reads as a slowdown below 1."""
    cost = pd.DataFrame({"n_items": [10, 10, 1000, 1000],
                         "loss": ["full", "sampled", "full", "sampled"],
                         "seconds": [0.1, 0.2, 0.4, 0.1]})  # fmt: skip
    result = speedup(cost)
    assert result[10] == pytest.approx(0.5) and result[1000] == pytest.approx(4.0)


def test_clustered_catalogue_spread_scales_the_noise():
    """Bug: `spread` ignored (noise always of scale 1), so the "harder" catalogues of a spread
    sweep are all the same. With spread 0 every point is exactly one of the topic vectors."""
    items, queries = clustered_catalogue(60, 8, n_topics=3, n_queries=20, spread=0.0, seed=0)
    topics = np.unique(items, axis=0)
    assert len(topics) <= 3
    assert all((topics == q).all(axis=1).any() for q in queries)  # queries share the topics
    noisy, _ = clustered_catalogue(60, 8, n_topics=3, n_queries=20, spread=1.0, seed=0)
    assert len(np.unique(noisy, axis=0)) == 60
