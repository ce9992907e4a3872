"""Edge cases of the notebook 05 measurements: sampled against full ranking, and the feedback
loop. Each test guards a plausible bug that would still give believable numbers (found by
mutating the code by hand); expected values come from the docstrings or hand computation.
"""

import numpy as np
import pytest
import scipy.sparse as sp

from lessons.baselines import ItemKNN, Popularity
from lessons.data import random_split, synthetic_movielens
from lessons.evaluation_demos import feedback_loop, sampled_vs_full
from lessons.metrics import evaluate_dict, short_head
from lessons.negative_sampling import sample_negatives


@pytest.fixture(scope="module")
def loop_split():
    return random_split(synthetic_movielens(n_users=150, n_items=120, seed=1), 0.2, seed=0)


def test_sampled_vs_full_is_fixed_by_its_seed(loop_split):
    """Bug: the negatives drawn without the seed, so the notebook's sampled table
    changes on every run and `seed` does nothing."""
    scores = {"r": np.random.default_rng(0).random((loop_split.n_users, loop_split.n_items))}
    a = sampled_vs_full(scores, loop_split, n_negatives=20, k=5, seed=3)
    b = sampled_vs_full(scores, loop_split, n_negatives=20, k=5, seed=3)
    c = sampled_vs_full(scores, loop_split, n_negatives=20, k=5, seed=4)
    assert a.equals(b)
    assert a.loc["r", "ndcg@5 sampled"] != c.loc["r", "ndcg@5 sampled"]


def test_full_ranking_breaks_ties_at_random(loop_split):
    """Bug: ties counted as above the test item in the FULL ranking (only the sampled
    one was checked). A constant model's item is uniform on 0..n_u over the n_u negatives
    of its user, so HR@k full = mean over test pairs of k / (n_u + 1)."""
    s, k = loop_split, 4
    table = sampled_vs_full({"c": np.zeros((s.n_users, s.n_items))}, s, n_negatives=19, k=k)
    blocked = (s.seen_matrix() + s.test_matrix()).tocsr()
    users = s.test_matrix().tocoo().row
    n_neg = s.n_items - np.diff(blocked.indptr)[users]
    assert table.loc["c", f"hr@{k} full"] == pytest.approx(np.mean(k / (n_neg + 1)))


def test_each_test_pair_gets_its_own_negative_draw(loop_split):
    """Bug: one key row per block shared by every pair, so all test items of a user
    (and much of every user's sample) get the same negatives; the docstring promises one
    uniform draw per (user, test item) pair."""
    users, _, _, negatives = sample_negatives(loop_split, 10, np.random.default_rng(0))
    first = {}
    same = pairs = 0
    for u, row in zip(users, negatives, strict=True):
        if u in first:
            pairs += 1
            same += set(row) == first[u]
        else:
            first[u] = set(row)
    assert pairs > 100 and same / pairs < 0.05


class _Recorder:
    """A fitter wrapper recording the matrix each round's model is scored from."""

    def __init__(self):
        self.fits, self.inputs = [], []

    def __call__(self, x):
        self.fits.append(x.copy())
        model = ItemKNN().fit(x)
        recorder = self

        class Scored:
            def scores(self, h):
                recorder.inputs.append(sp.csr_matrix(h).copy())
                return model.scores(h)

        return Scored()


def test_feedback_loop_scores_users_from_what_they_consumed(loop_split):
    """Bug (only a real-data test caught it before): the model must read
    each round's consumed items as part of the user's history."""
    rec = _Recorder()
    feedback_loop(loop_split, rec, rounds=2, k=10, consume=2, seed=0)
    train, history = loop_split.train_matrix(), loop_split.history_matrix()
    for x, h in zip(rec.fits, rec.inputs, strict=True):
        consumed = x - train
        assert abs(h - (history + consumed)).sum() == 0


def test_feedback_loop_head_share_is_on_the_original_short_head(loop_split):
    """Bugs: the head recomputed from X_t each round, or another head size: head_share
    is the share of X_t's interactions on the ORIGINAL short head (the docstring)."""
    rec = _Recorder()
    loop = feedback_loop(loop_split, rec, rounds=3, k=10, consume=2, seed=0)
    head = short_head(loop_split.item_popularity())
    expected = [float(head[x.tocoo().col].mean()) for x in rec.fits]
    np.testing.assert_allclose(loop["head_share"].to_numpy(), expected, rtol=0, atol=1e-12)


def test_feedback_loop_measures_lists_at_its_own_k(loop_split):
    """Bug: the loop's coverage / Gini / APLT taken at the default k=10 whatever `k`
    (every existing test used k=10)."""
    loop = feedback_loop(loop_split, lambda m: Popularity().fit(m), rounds=1, k=5, consume=1)
    assert {"coverage@5", "gini@5", "aplt@5"} <= set(loop.columns)
    x = loop_split.train_matrix()
    expected = evaluate_dict(Popularity().fit(x).scores(x), loop_split, k=5,
                             metrics=("coverage", "gini", "aplt"))  # fmt: skip
    for name, value in expected.items():
        assert loop.loc[0, name] == pytest.approx(value, abs=1e-12)
