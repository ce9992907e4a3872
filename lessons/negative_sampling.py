"""Ranking each held-out item among sampled negatives and among all of them.

The machinery behind `lessons.evaluation_demos.sampled_vs_full`: one uniform draw of
negatives per (user, test item) pair, shared by every model, and the 0-based rank of the
test item against both sets. Pairs are processed in blocks to bound the (B, n_items)
temporaries.
"""

import numpy as np
import scipy.sparse as sp

from lessons.data import Split

_PAIR_BLOCK = 2048  # (user, test item) pairs ranked per block: bounds the (B, n_items) temporaries


def sample_negatives(
    split: Split, n_negatives: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix, np.ndarray]:
    """Test pairs (users, items), the blocked matrix (train ∪ test) and sampled negatives.

    Negatives of user u are the items neither in train_u nor in test_u; each test pair gets
    `n_negatives` of them drawn uniformly without replacement (the smallest uniform keys),
    shape (n_pairs, n_negatives). The same draw serves every model, so they face the same test.
    """
    truth = split.test_matrix().tocoo()
    users, items = truth.row.astype(np.int64), truth.col.astype(np.int64)
    blocked = (split.seen_matrix() + split.test_matrix()).tocsr()
    sampled = np.empty((users.size, n_negatives), dtype=np.int64)
    for start in range(0, users.size, _PAIR_BLOCK):
        u = users[start : start + _PAIR_BLOCK]
        keys = np.where(blocked[u].toarray() == 0, rng.random((u.size, split.n_items)), np.inf)
        sampled[start : start + u.size] = np.argpartition(keys, n_negatives - 1, axis=1)[
            :, :n_negatives
        ]
    return users, items, blocked, sampled


def rank_among(scores: np.ndarray, users, items, blocked, sampled) -> tuple[np.ndarray, np.ndarray]:
    """0-based ranks of each test pair among all its negatives and among the sampled ones.

    rank = #{negatives j : s_uj > s_ui}: ties count for the test item.
    """
    s = np.array(scores, dtype=np.float64)
    coo = blocked.tocoo()
    s[coo.row, coo.col] = -np.inf  # seen and test items are not negatives
    target = np.asarray(scores, dtype=np.float64)[users, items]
    full = np.empty(users.size, dtype=np.int64)
    for start in range(0, users.size, _PAIR_BLOCK):
        stop = start + _PAIR_BLOCK
        full[start:stop] = (s[users[start:stop]] > target[start:stop, None]).sum(axis=1)
    part = (s[users[:, None], sampled] > target[:, None]).sum(axis=1)
    return full, part
