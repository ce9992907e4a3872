"""Ranking each held-out item among sampled negatives and among all of them.

The machinery behind `lessons.evaluation_demos.sampled_vs_full`: one uniform draw of
negatives per (user, test item) pair, shared by every model, and where the test item places
against both sets, ties broken at random in expectation. Pairs are processed in blocks to
bound the (B, n_items) temporaries.
"""

import numpy as np
import scipy.sparse as sp

from lessons.data import Split
from lessons.scoring import check_int

_PAIR_BLOCK = 2048  # (user, test item) pairs ranked per block: bounds the (B, n_items) temporaries


def sample_negatives(
    split: Split, n_negatives: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix, np.ndarray]:
    """Test pairs (users, items), the blocked matrix and sampled negatives.

    The blocked items of user u are everything excluded from u's test ranking,
    `split.seen_matrix()` (train, the revealed query, validation), plus u's test items; the
    negatives of u are the other items. Each test pair gets `n_negatives` of them drawn
    uniformly without replacement (the smallest uniform keys), shape (n_pairs, n_negatives).
    The same draw serves every model, so they face the same test.

    Raises:
        ValueError: On a split without test interactions, a split that ranks only candidate
            items (cold-start items), or `n_negatives` < 1 or above the unblocked items of
            the busiest test user.
    """
    if split.candidates is not None:
        # The negatives (and the "full" ranking of rank_among) span the whole catalogue.
        raise ValueError(
            "sampled negatives are drawn from the whole catalogue; this split ranks only its "
            f"{len(split.candidates)} candidate items (a cold-start split): evaluate it with "
            "lessons.metrics.evaluate, which ranks the candidates, or use a random or "
            "temporal split"
        )
    n_negatives = check_int("n_negatives", n_negatives, 1)
    truth = split.test_matrix().tocoo()
    users, items = truth.row.astype(np.int64), truth.col.astype(np.int64)
    if users.size == 0:
        raise ValueError(f"{split!r} has no test interactions to rank")
    blocked = (split.seen_matrix() + split.test_matrix()).tocsr()
    # Beyond this, argpartition would hand out blocked (positive) items as negatives.
    fewest = int(split.n_items - np.diff(blocked.indptr)[users].max())
    if n_negatives > fewest:
        raise ValueError(
            f"n_negatives={n_negatives} exceeds the {fewest} unblocked items of the busiest "
            "test user (items neither seen, i.e. train, query or validation, nor test); use "
            f"n_negatives <= {fewest}"
        )
    sampled = np.empty((users.size, n_negatives), dtype=np.int64)
    for start in range(0, users.size, _PAIR_BLOCK):
        u = users[start : start + _PAIR_BLOCK]
        keys = np.where(blocked[u].toarray() == 0, rng.random((u.size, split.n_items)), np.inf)
        sampled[start : start + u.size] = np.argpartition(keys, n_negatives - 1, axis=1)[
            :, :n_negatives
        ]
    return users, items, blocked, sampled


def rank_among(scores: np.ndarray, users, items, blocked, sampled):
    """How each test pair's item places among all its negatives and among the sampled ones.

    Returns ((above, tied) among all negatives, (above, tied) among the sampled ones), each an
    int64 array over the test pairs: above = #{j : s_uj > s_ui}, tied = #{j : s_uj = s_ui}.
    With ties broken at random, the item's 0-based rank is uniform on above..above + tied.
    """
    s = np.array(scores, dtype=np.float64)
    coo = blocked.tocoo()
    s[coo.row, coo.col] = np.nan  # seen and test items are not negatives: NaN is never > or =
    target = np.asarray(scores, dtype=np.float64)[users, items]
    full = np.empty((2, users.size), dtype=np.int64)
    for start in range(0, users.size, _PAIR_BLOCK):
        block, t = s[users[start : start + _PAIR_BLOCK]], target[start : start + _PAIR_BLOCK, None]
        full[:, start : start + len(t)] = (block > t).sum(axis=1), (block == t).sum(axis=1)
    part = s[users[:, None], sampled]
    return (full[0], full[1]), ((part > target[:, None]).sum(1), (part == target[:, None]).sum(1))


def expected_hit_and_ndcg(above: np.ndarray, tied: np.ndarray, k: int) -> tuple[float, float]:
    """Mean HR@k and NDCG@k of single-item rankings, ties broken at random (in expectation).

    The rank r is uniform on above..above + tied, so E[g(r)] = Σ_r g(r) / (tied + 1) for
    g(r) = [r < k] (HR) and [r < k] / log2(r + 2) (NDCG): a prefix sum of g, which is 0 from
    rank k on. Counting ties for the test item instead would give a constant model HR = 1.
    """
    ranks = np.arange(k)
    means = []
    for gain in (np.ones(k), 1 / np.log2(ranks + 2)):
        prefix = np.concatenate([[0.0], np.cumsum(gain)])  # prefix[p] = Σ_{r<p} g(r), p <= k
        hits = prefix[np.minimum(above + tied + 1, k)] - prefix[np.minimum(above, k)]
        means.append(float((hits / (tied + 1)).mean()))
    return means[0], means[1]
