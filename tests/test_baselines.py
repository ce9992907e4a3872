"""Baselines on hand-computed cases, EASE against its defining ridge regressions, and bad input."""

import numpy as np
import pytest
import scipy.sparse as sp

from lessons.baselines import EASE, ContentProfile, ItemKNN, Popularity

X = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 1], [0, 0, 1]], dtype=np.float32))


def test_popularity_scores_are_training_counts_for_everyone():
    lopsided = sp.csr_matrix(np.array([[1, 0, 0], [1, 1, 0], [1, 0, 0]], dtype=np.float32))
    scores = Popularity().fit(lopsided).scores(lopsided)
    np.testing.assert_array_equal(scores, np.tile([3.0, 1.0, 0.0], (3, 1)))


def test_itemknn_cosine_by_hand():
    # item columns: c0 = (1,1,0), c1 = (1,1,0), c2 = (0,1,1)
    # cos(c0,c1) = 2/(√2·√2) = 1; cos(c0,c2) = cos(c1,c2) = 1/(√2·√2) = 0.5
    model = ItemKNN(neighbors=None).fit(X)
    expected_sim = np.array([[0, 1, 0.5], [1, 0, 0.5], [0.5, 0.5, 0]], dtype=np.float32)
    np.testing.assert_allclose(model.similarity_, expected_sim, rtol=1e-6)
    # user 0 has {0, 1}: item0 = S10 = 1, item1 = S01 = 1, item2 = S02 + S12 = 1
    np.testing.assert_allclose(model.scores(X)[0], [1.0, 1.0, 1.0], rtol=1e-6)
    # user 2 has {2}: row 2 of S
    np.testing.assert_allclose(model.scores(X)[2], [0.5, 0.5, 0.0], rtol=1e-6)


def test_itemknn_keeps_only_top_neighbors_per_item():
    rng = np.random.default_rng(0)
    x = sp.csr_matrix((rng.random((40, 12)) < 0.3).astype(np.float32))
    model = ItemKNN(neighbors=3).fit(x)
    assert ((model.similarity_ > 0).sum(axis=0) <= 3).all()


def test_itemknn_keeps_the_lower_ids_among_neighbours_tied_at_the_cut():
    """Item 0 is equally similar to items 1..499; with 3 neighbours it keeps items 1, 2, 3.

    argpartition kept an arbitrary three, chosen by the CPU's SIMD sort, so ItemKNN's
    metrics differed between machines in the third decimal.
    """
    n = 500
    users = np.arange(1, n)  # user u interacts with item 0 and item u
    rows, cols = np.concatenate([users, users]), np.concatenate([np.zeros(n - 1, int), users])
    x = sp.csr_matrix((np.ones(2 * (n - 1), np.float32), (rows, cols)), shape=(n, n))
    model = ItemKNN(neighbors=3).fit(x)
    assert np.flatnonzero(model.similarity_[:, 0]).tolist() == [1, 2, 3]
    np.testing.assert_allclose(model.similarity_[[1, 2, 3], 0], 1 / np.sqrt(n - 1), rtol=1e-6)


def test_itemknn_keeps_the_most_similar_neighbours_not_the_least():
    """Item 0 co-occurs with item 1 in 3 rows, item 2 in 2, item 3 in 1: two neighbours are
    items 1 and 2. (Keeping the least similar was caught only by a slow quality test.)"""
    x = sp.csr_matrix(np.array([[1, 1, 1, 1], [1, 1, 1, 0], [1, 1, 0, 0]], np.float32))
    model = ItemKNN(neighbors=2).fit(x)
    assert np.flatnonzero(model.similarity_[:, 0]).tolist() == [1, 2]
    # cosines by hand: ‖x_0‖ = √3, ‖x_1‖ = √3, ‖x_2‖ = √2
    np.testing.assert_allclose(model.similarity_[[1, 2], 0], [3 / 3, 2 / np.sqrt(6)], rtol=1e-6)


def test_ease_equals_ridge_regression_of_each_item_on_the_others():
    # diag(B) = 0 makes column j of B the ridge regression of X_j on the other columns.
    rng = np.random.default_rng(1)
    x = (rng.random((30, 6)) < 0.4).astype(np.float64)
    lam = 2.5
    model = EASE(lam=lam).fit(sp.csr_matrix(x))
    for j in range(6):
        others = np.delete(np.arange(6), j)
        a = x[:, others]
        b = np.linalg.solve(a.T @ a + lam * np.eye(5), a.T @ x[:, j])
        np.testing.assert_allclose(model.weights_[others, j], b, rtol=1e-4, atol=1e-5)
        assert model.weights_[j, j] == 0


def test_ease_selects_lambda_from_the_grid():
    rng = np.random.default_rng(2)
    x = sp.csr_matrix((rng.random((200, 50)) < 0.2).astype(np.float32))
    model = EASE(lams=(1.0, 10.0, 100.0)).fit(x)
    assert model.lam_ in (1.0, 10.0, 100.0)
    assert set(model.search_) == {1.0, 10.0, 100.0}
    assert model.search_[model.lam_] == max(model.search_.values())


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: Popularity().fit(sp.csr_matrix((3, 3))), "empty"),
        (lambda: Popularity().fit(np.ones((2, 2))), "scipy.sparse"),
        (lambda: Popularity().scores(X), "not fitted"),
        (lambda: Popularity().fit(X).scores(sp.csr_matrix(np.ones((1, 4)))), "4 item columns"),
        (lambda: ItemKNN(neighbors=0), "neighbors"),
        (lambda: ItemKNN(neighbors=2.5), "neighbors must be an integer"),
        (lambda: EASE(lam=-1), "lam"),
        (lambda: EASE(lam=float("nan")), "lam must be a finite number"),
        (lambda: EASE(valid_frac=1.5), "valid_frac"),
    ],
)
def test_bad_input_raises_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- quality regression on fixed seeds (tolerances catch a regression, not noise) -----------


def test_content_profile_cosine_and_dot_by_hand():
    # Items: c0 = (1, 0), c1 = (0, 1), c2 = (1, 1). User 0 saw items 0, 2; user 1 saw item 1.
    content = np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32)
    x = sp.csr_matrix(np.array([[1, 0, 1], [0, 1, 0]], dtype=np.float32))
    # P_0 = ((1,0) + (1,1)) / 2 = (1, 0.5); P_1 = (0, 1)
    dot = ContentProfile(content, scoring="dot").fit(x).scores(x)
    np.testing.assert_allclose(dot, [[1.0, 0.5, 1.5], [0.0, 1.0, 1.0]], rtol=1e-6)
    # cos(P_0, c_j) = P_0·c_j / (‖P_0‖ ‖c_j‖), ‖P_0‖ = √1.25
    r = np.sqrt(1.25)
    cosine = ContentProfile(content).fit(x).scores(x)
    expected = [[1 / r, 0.5 / r, 1.5 / (r * np.sqrt(2))], [0.0, 1.0, 1 / np.sqrt(2)]]
    np.testing.assert_allclose(cosine, expected, rtol=1e-6)
    # a user with no history has a zero profile and scores 0 everywhere (no NaN)
    empty = sp.csr_matrix(np.array([[0, 0, 0], [1, 0, 0]], dtype=np.float32))
    assert np.array_equal(ContentProfile(content).fit(x).scores(empty)[0], [0.0, 0.0, 0.0])


def test_content_profile_from_dataset_reads_genres_and_date_buckets():
    from lessons.data import synthetic_movielens
    from lessons.features import item_content

    data = synthetic_movielens(n_users=50, n_items=60, seed=0)
    model = ContentProfile.from_dataset(data, date_buckets="year", date_weight=2.0, scoring="dot")
    expected = item_content(data, date_buckets="year", date_weight=2.0)
    np.testing.assert_array_equal(model.content, expected)
    # unknown, <1970, four 5-year buckets, 1990..1998 (the newest synthetic year): 15
    assert data.items["year"].max() == 1998 and model.content.shape == (60, len(data.genres) + 15)
    assert model.scoring == "dot"


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: ContentProfile(np.ones(3)), "item_content must be a finite 2-D"),
        (lambda: ContentProfile(np.ones((3, 2)), scoring="euclid"), "unknown scoring 'euclid'"),
        (lambda: ContentProfile(np.ones((4, 2))).fit(X), "describes 4 items"),
        (lambda: ContentProfile(np.ones((3, 2))).scores(X), "not fitted"),
    ],
)
def test_content_profile_rejects_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def _quality(split, model):
    from lessons.metrics import evaluate_dict

    x = split.train_matrix()
    return evaluate_dict(model.fit(x).scores(x), split)


def test_baselines_order_on_synthetic_data():
    from lessons.data import random_split, synthetic_movielens

    split = random_split(synthetic_movielens(seed=0), seed=0)
    pop = _quality(split, Popularity())["ndcg@10"]
    knn = _quality(split, ItemKNN())["ndcg@10"]
    ease = _quality(split, EASE(lam=500.0))["ndcg@10"]
    # Measured 0.215 / 0.244 / 0.264 with seed 0.
    assert pop == pytest.approx(0.215, abs=0.01)
    assert knn > pop + 0.015 and ease > knn + 0.01


@pytest.mark.realdata
def test_baselines_on_movielens_100k_match_the_published_figures(ml100k):
    from lessons.data import random_split

    split = random_split(ml100k, seed=0)
    pop = _quality(split, Popularity())
    ease = _quality(split, EASE(lam=500.0))  # λ the validation search picks on this split
    # Foundation issue acceptance: Popularity NDCG@10 ≈ 0.21, Recall@20 ≈ 0.17;
    # EASE NDCG@10 >= 0.44, Recall@20 >= 0.355 (measured 0.2152, 0.1668, 0.4439, 0.3679).
    assert pop["ndcg@10"] == pytest.approx(0.215, abs=0.005)
    assert pop["recall@20"] == pytest.approx(0.167, abs=0.005)
    assert ease["ndcg@10"] >= 0.44 and ease["recall@20"] >= 0.355
