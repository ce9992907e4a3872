"""recommend, scoring and the coverage re-rank: behaviours a plausible bug would break.

Each test guards a bug that would still give believable lists or numbers (found by mutating
the code by hand).
"""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from lessons.data.splits import cold_start_users, random_split
from lessons.data.synthetic import synthetic_movielens
from lessons.features import DENSE_COLUMNS
from lessons.models import MatrixFactorization, SoftmaxDNN
from lessons.recommend import recommend, similar_items
from lessons.rerank import coverage_rerank_table, rerank_for_coverage
from lessons.scoring import (
    all_user_scores,
    query_scores,
    score_users,
    split_features,
    user_batches,
)


@pytest.fixture(scope="module")
def cold():
    return cold_start_users(synthetic_movielens(n_users=60, n_items=120, seed=1), seed=0)


@pytest.fixture(scope="module")
def dnn():
    torch.manual_seed(0)
    return SoftmaxDNN(120, dim=8, hidden=(16,))


class SeenFirst:
    """A stand-in baseline that scores exactly the items in the history it is given."""

    def scores(self, history):
        return history.toarray().astype(np.float32)


def test_recommend_excludes_the_revealed_query_of_cold_users(cold):
    """Bug: recommend excludes only train items, so a cold user's query items come back."""
    user = int(cold.query["user"].iloc[0])
    table = recommend(SeenFirst(), cold, [user], k=5)
    query_items = set(cold.query.loc[cold.query["user"] == user, "item"])
    assert not set(table["item"]) & query_items


def test_similar_items_popularity_of_a_split_is_training_count(cold, dnn):
    """Bug: similar_items shows the popularity of all interactions (train + test) for a Split."""
    table = similar_items(dnn, cold, item=0, k=119)
    expected = np.bincount(cold.train["item"], minlength=120)[table["item"]]
    np.testing.assert_array_equal(table["popularity"].to_numpy(), expected)


def test_cosine_scores_divide_by_both_norms(cold, dnn):
    """Bug: cosine divides by ‖V_j‖ only (ranking unchanged, but scores are not cosines)."""
    users = np.array([0, 1, 2])
    batches = user_batches(cold, users, split_features(cold))
    scores = query_scores(dnn, batches, 0.0, "cosine")
    with torch.no_grad():
        dnn.eval()
        psi, v = dnn.query_embedding(batches[0]), dnn.item_embeddings()
        expected = torch.nn.functional.cosine_similarity(psi[:, None, :], v[None, :, :], dim=-1)
    torch.testing.assert_close(scores, expected, rtol=1e-4, atol=1e-5)


def test_cold_user_dense_features_count_the_revealed_query(cold):
    """Bug: split_features reads train only, so a cold user looks like one with no history."""
    dense = split_features(cold).dense.numpy()
    count = DENSE_COLUMNS.index("log1p_interactions")
    user = int(cold.query["user"].iloc[0])
    n_query = int((cold.query["user"] == user).sum())
    assert dense[user, count] == pytest.approx(np.log1p(n_query) / 5, rel=1e-5)


def test_matrix_factorization_refuses_cold_users(cold):
    """Bug: MF's scorable check reads train + query, so users without an MF row get scored."""
    mf = MatrixFactorization(cold.n_users, cold.n_items, dim=4)
    user = int(cold.query["user"].iloc[0])
    with pytest.raises(ValueError, match="cannot be scored.*it needs a refit or a fold-in"):
        score_users(mf, cold, [user])
    with pytest.raises(ValueError, match="cannot be scored.*it needs a refit or a fold-in"):
        score_users(mf, cold)  # every user: the cold ones have test items to evaluate


def test_all_users_leave_out_users_with_no_input_and_nothing_to_evaluate(dnn):
    """Bug: after Dataset.implicit(min_rating=4) some users have no history and no test items;
    score_users(model, split) refused the whole split, so evaluate_model failed on a model
    that fit had just trained and evaluated on it."""
    split = random_split(synthetic_movielens(n_users=60, n_items=120, seed=1), seed=0)
    empty = replace(split, train=split.train[split.train["user"] != 7],
                    test=split.test[split.test["user"] != 7])  # fmt: skip
    scores = score_users(dnn, empty)
    assert torch.isneginf(scores[7]).all()  # an empty list, not an arbitrary one
    others = np.delete(np.arange(60), 7)
    torch.testing.assert_close(scores[others], score_users(dnn, empty, others))
    with pytest.raises(ValueError, match=r"1 user\(s\) cannot be scored, e.g. \[7\]"):
        score_users(dnn, empty, [7])  # asked for by name: refused
    no_history = replace(split, train=split.train[split.train["user"] != 7])
    with pytest.raises(ValueError, match="cannot be scored"):
        score_users(dnn, no_history)  # user 7 has test items, which need a score


def test_a_dataset_for_a_split_is_refused_by_name(dnn):
    """Bug: score_users(model, dataset) raised AttributeError: no attribute 'test_matrix'."""
    data = synthetic_movielens(n_users=60, n_items=120, seed=1)
    for users in (None, [0]):
        with pytest.raises(ValueError, match="data must be a lessons.data.Split, got Dataset"):
            score_users(dnn, data, users)
    with pytest.raises(ValueError, match="split must be a lessons.data.Split, got Dataset"):
        coverage_rerank_table(np.zeros((60, 120)), data, 0.5)


def test_query_scores_refuses_an_unknown_scoring(cold, dnn):
    """Bug: any scoring but "cosine" ran as the dot product ("cos", "Cosine")."""
    batches = user_batches(cold, np.array([0]), split_features(cold))
    for scoring, alpha in (("cos", 0.0), ("Cosine", 0.0), ("cosine", 1.0)):
        with pytest.raises(ValueError, match="unknown scoring|cosine already divides"):
            query_scores(dnn, batches, alpha, scoring)


def test_scoring_restores_eval_mode(cold, dnn):
    """Bug: `evaluating` puts the model back in train mode even when it was in eval mode."""
    dnn.eval()
    score_users(dnn, cold, [0])
    assert not dnn.training
    dnn.train()
    score_users(dnn, cold, [0])
    assert dnn.training


def test_rerank_reaches_a_target_that_is_not_a_whole_number_of_items():
    """Bug: the number of items needed is floor(target * n_items) instead of ceil."""
    rng = np.random.default_rng(0)
    scores = -np.arange(10.0) + 0.01 * rng.random((20, 10))  # everyone ranks 0, 1, 2, ...
    lists = rerank_for_coverage(scores, 2, 0.35, depth=10)
    assert len(np.unique(lists)) / 10 >= 0.35  # ceil(3.5) = 4 items shown


def test_a_baseline_refuses_a_user_without_history_and_popularity_serves_them():
    """Bug: in a batch, ItemKNN gave a user without history all-zero scores, so the first
    items by id ("Toy Story, GoldenEye, Four Rooms"); alone, it and Popularity failed with
    "histories is empty". (ML-100K's implicit(min_rating=4) leaves user 684 so.)"""
    from lessons.baselines import ItemKNN, Popularity

    split = random_split(synthetic_movielens(n_users=40, n_items=60, seed=2), seed=0)
    gone = split.train["user"] == 7
    split = replace(split, train=split.train[~gone], test=split.test[split.test["user"] != 7])
    x = split.train_matrix()
    with pytest.raises(ValueError, match=r"1 user\(s\) cannot be scored, e.g. \[7\]: no training"):
        recommend(ItemKNN().fit(x), split, [3, 7], k=5)
    table = recommend(Popularity().fit(x), split, [7], k=5)
    assert table["item"].tolist() == list(np.argsort(-split.item_popularity(), kind="stable")[:5])


def test_alpha_scoring_of_an_all_zero_item_vector_is_zero_not_nan(dnn, cold):
    """Bug: the norm's guard came before the power: 1e-12 ** 4 underflows to 0 in float32, and
    an all-zero V_j scored 0 / 0 = NaN ("check the model output") from α = 4 on."""
    model = SoftmaxDNN(cold.n_items, dim=8, hidden=(), item_bias=False)
    with torch.no_grad():
        model.item_embeddings().zero_()  # V itself: every item vector is zero
        model.item_embeddings()[1:] = torch.randn(cold.n_items - 1, 8)
    batches = user_batches(cold, np.arange(3), split_features(cold))
    for alpha, scoring in ((1.0, "dot"), (4.0, "dot"), (10.0, "dot"), (0.0, "cosine")):
        scores = query_scores(model, batches, alpha, scoring)
        assert torch.isfinite(scores).all() and (scores[:, 0] == 0).all()


def test_score_users_refuses_a_model_with_another_item_count():
    """A model sized for another catalogue is refused."""
    s = random_split(synthetic_movielens(30, 40, n_interactions=600))
    with pytest.raises(ValueError, match="items but the data has"):
        score_users(MatrixFactorization(s.n_users, s.n_items + 3, 8), s, [0])


def test_all_user_scores_refuses_an_unscorable_validation_user():
    """A user with validation items but no input is refused, not scored -inf."""
    s = random_split(synthetic_movielens(30, 40, n_interactions=600), valid_frac=0.2)
    u = 0
    moved = s.train[s.train.user == u]
    s = replace(
        s,
        train=s.train[s.train.user != u],
        test=s.test[s.test.user != u],
        valid=pd.concat([s.valid, moved]),
    )
    with pytest.raises(ValueError, match="cannot be scored"):
        all_user_scores(MatrixFactorization(s.n_users, s.n_items, 8), s)
