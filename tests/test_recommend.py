"""Recommendation tables: known users, ad-hoc queries, item neighbours, scoring, bad input."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from lessons.baselines import Popularity
from lessons.data.splits import random_split
from lessons.data.synthetic import synthetic_movielens
from lessons.features import ad_hoc_query, item_features
from lessons.models import MatrixFactorization, SoftmaxDNN, TwoTower
from lessons.recommend import recommend, recommend_for_query, similar_items
from lessons.scoring import split_features
from lessons.train import fit, score_users

COLUMNS = ["user", "rank", "item", "title", "score", "popularity"]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def split():
    return random_split(synthetic_movielens(n_users=300, n_items=400, seed=0), seed=0)


@pytest.fixture(scope="module")
def model(split):
    torch.manual_seed(0)
    dnn = SoftmaxDNN(split.n_items, dim=32, hidden=(64,))
    fit(dnn, split, epochs=10, progress=False)
    return dnn


@pytest.fixture(scope="module")
def two_tower(split):
    torch.manual_seed(0)
    tower = TwoTower(split.n_items, item_features(split.dataset), dim=16)
    fit(tower, split, epochs=3, progress=False)
    return tower


@pytest.fixture(scope="module")
def mf(split):
    torch.manual_seed(0)
    return MatrixFactorization(split.n_users, split.n_items, dim=8)


def seen_pairs(split) -> set[tuple[int, int]]:
    return set(zip(split.train["user"], split.train["item"], strict=True))


def test_recommend_table_for_known_users(split, model):
    users = [0, 5, 17]
    table = recommend(model, split, users, k=7)
    assert list(table.columns) == COLUMNS and len(table) == 21
    assert table["user"].tolist() == np.repeat(users, 7).tolist()
    assert table["rank"].tolist() == list(range(1, 8)) * 3
    for _, rows in table.groupby("user"):
        assert rows["score"].is_monotonic_decreasing and rows["item"].is_unique
    titles = split.dataset.items["title"].to_numpy()
    assert (table["title"].to_numpy() == titles[table["item"]]).all()
    assert (table["popularity"].to_numpy() == split.item_popularity()[table["item"]]).all()
    # Scores are the model's logits (alpha = 0, dot).
    logits = score_users(model, split, users).numpy()
    expected = logits[np.searchsorted(users, table["user"]), table["item"]]
    np.testing.assert_allclose(table["score"], expected, rtol=1e-6)


def test_seen_items_are_excluded_unless_asked(split, model):
    seen = seen_pairs(split)
    users = np.arange(50)
    kept = recommend(model, split, users, k=10)
    assert not any((u, i) in seen for u, i in zip(kept["user"], kept["item"], strict=True))
    everything = recommend(model, split, users, k=10, exclude_seen=False)
    # A trained model ranks some of each user's training items on top when allowed to.
    assert (
        sum((u, i) in seen for u, i in zip(everything["user"], everything["item"], strict=True))
        > 50
    )


def test_alpha_moves_lists_toward_less_popular_items(split, model):
    users = np.arange(split.n_users)
    mean_popularity = [
        recommend(model, split, users, k=10, alpha=a)["popularity"].mean() for a in (0.0, 1.0, 2.0)
    ]
    assert mean_popularity[0] > mean_popularity[1] > mean_popularity[2]


def test_alpha_divides_scores_by_item_norm_to_the_alpha(split, model):
    table = recommend(model, split, [8], k=10, alpha=0.5)
    logits = score_users(model, split, [8]).numpy()[0].astype(np.float64)
    norms = np.linalg.norm(model.item_embeddings().detach().numpy().astype(np.float64), axis=1)
    by_hand = logits / norms**0.5  # ⟨ψ, V_j⟩ / ‖V_j‖^α
    by_hand[split.train_matrix()[8].indices] = -np.inf
    assert table["item"].tolist() == np.argsort(-by_hand, kind="stable")[:10].tolist()
    np.testing.assert_allclose(table["score"], np.sort(by_hand)[::-1][:10], rtol=1e-5)


def test_cosine_ranks_like_alpha_one_and_is_bounded(split, model):
    # ⟨u,v⟩/(‖u‖‖v‖) and ⟨u,v⟩/‖v‖ differ by the per-user constant ‖u‖: same lists.
    cosine = recommend(model, split, [3, 4], k=10, scoring="cosine")
    alpha_one = recommend(model, split, [3, 4], k=10, alpha=1.0)
    assert cosine["item"].tolist() == alpha_one["item"].tolist()
    assert cosine["score"].between(-1, 1).all()


def test_recommend_works_for_a_popularity_baseline(split):
    train = split.train_matrix()
    table = recommend(Popularity().fit(train), split, [2], k=5)
    counts = split.item_popularity().astype(float)
    counts[train[2].indices] = -np.inf  # seen items are never recommended
    expected = np.argsort(-counts, kind="stable")[:5]
    assert table["item"].tolist() == expected.tolist()
    with pytest.raises(ValueError, match="no embeddings"):
        recommend(Popularity().fit(train), split, [2], alpha=1.0)


@pytest.mark.parametrize("name", ["model", "two_tower"])  # the SoftmaxDNN and a TwoTower
def test_ad_hoc_query_equals_a_user_with_that_history(split, name, request):
    # Both models read only the history bag here, so a visitor who liked user 9's training
    # items is user 9 to them.
    model = request.getfixturevalue(name)
    liked = split.train_matrix()[9].indices
    query = recommend_for_query(model, split, liked, k=10)
    user = recommend(model, split, 9, k=10)
    assert list(query.columns) == COLUMNS[1:]
    assert query["item"].tolist() == user["item"].tolist()
    np.testing.assert_allclose(query["score"], user["score"], rtol=1e-5)
    assert not set(query["item"]) & set(liked)


def test_ad_hoc_query_with_demographics_on_a_side_feature_model(split):
    torch.manual_seed(0)
    dnn = SoftmaxDNN(split.n_items, dim=16, hidden=(32,), side_cardinalities=(7, 2, 21), n_dense=2)
    # Trained a little: the layer that reads demographics starts at [I 0] (history only).
    fit(dnn, split, epochs=2, progress=False)
    young = recommend_for_query(dnn, split, [1, 2, 3], age=15, gender="F", occupation="student")
    old = recommend_for_query(dnn, split, [1, 2, 3], age=70, gender="M", occupation="retired")
    assert len(young) == len(old) == 10
    assert not np.allclose(young["score"], old["score"])  # demographics reach ψ
    with pytest.raises(ValueError, match="occupation"):
        recommend_for_query(dnn, split, [1], occupation="astronaut")


def test_demographics_are_refused_by_models_that_would_ignore_them(split, model, two_tower):
    # Both read the history bag only (no side_cardinalities): an age would change nothing.
    for tower_model in (model, two_tower):
        name = type(tower_model).__name__
        with pytest.raises(ValueError, match=f"^this {name} was built without side features"):
            recommend_for_query(tower_model, split, [1, 2, 3], age=15, gender="F")
    # A baseline: the message names it, not a `features` argument the learner never passed.
    popularity = Popularity().fit(split.train_matrix())
    with pytest.raises(ValueError, match=r"^Popularity is a baseline and does not read demogr"):
        recommend_for_query(popularity, split, [1, 2, 3], occupation="writer")


def test_ad_hoc_query_with_matrix_factorization_says_why_not(split, mf):
    with pytest.raises(ValueError, match="MatrixFactorization has no embedding row.*fold in"):
        recommend_for_query(mf, split, [1, 2, 3])


def test_similar_items_excludes_the_item_and_ranks_by_cosine(split, model):
    table = similar_items(model, split, 11, k=5)
    assert list(table.columns) == COLUMNS[1:] and len(table) == 5
    assert 11 not in table["item"].tolist()
    v = model.item_embeddings().detach().numpy().astype(np.float64)
    cos = v @ v[11] / (np.linalg.norm(v, axis=1) * np.linalg.norm(v[11]))
    cos[11] = -np.inf
    assert table["item"].tolist() == np.argsort(-cos, kind="stable")[:5].tolist()
    np.testing.assert_allclose(table["score"], np.sort(cos)[::-1][:5], rtol=1e-5)
    by_dataset = similar_items(model, split.dataset, 11, k=5, scoring="dot")
    assert 11 not in by_dataset["item"].tolist()


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda m, s: recommend(m, s, [0], k=0), "k must"),
        (lambda m, s: recommend(m, s, [0], k=401), "k must"),
        (lambda m, s: recommend(m, s, [300]), "unknown user ids"),
        (lambda m, s: recommend(m, s, [-1]), "unknown user ids"),
        (lambda m, s: recommend(m, s, []), "users must"),
        (lambda m, s: recommend(m, s, [0], scoring="euclid"), "unknown scoring"),
        (lambda m, s: recommend(m, s, [0], scoring="cosine", alpha=1.0), "cosine already"),
        (lambda m, s: recommend_for_query(m, s, []), "empty"),
        (lambda m, s: recommend_for_query(m, s, [400]), "unknown item ids"),
        (lambda m, s: recommend_for_query(m, s, [1], k=0), "k must"),
        (lambda m, s: similar_items(m, s, 400), "item must"),
        (lambda m, s: similar_items(m, s, 0, k=400), "k must"),
        (lambda m, s: similar_items(m, s, 0, scoring="l2"), "unknown scoring"),
    ],
)
def test_bad_input_raises(split, model, call, match):
    with pytest.raises(ValueError, match=match):
        call(model, split)


def test_alpha_may_be_a_numpy_number(model, split):
    # `for alpha in np.arange(3)` is how a learner writes a sweep (np.float64 is a float
    # already; np.int64 and np.float32 are not).
    for alpha in (*np.arange(2), *np.linspace(0.0, 1.0, 3, dtype=np.float32)):
        table = recommend(model, split, [0], 5, alpha=alpha)
        assert table.equals(recommend(model, split, [0], 5, alpha=float(alpha)))
    with pytest.raises(ValueError, match="alpha must be a finite number"):
        recommend(model, split, [0], 5, alpha=np.float64("nan"))


def test_matrix_factorization_refuses_a_user_absent_from_training(split):
    """The lesson's limit of MF, through `recommend`: without the check, an untrained row U_u
    was ranked and a confident-looking list came back."""
    gone = split.train["user"] == 7
    without = replace(split, train=split.train[~gone], test=split.test[split.test["user"] != 7])
    mf = MatrixFactorization(split.n_users, split.n_items, dim=8)
    with pytest.raises(ValueError, match="user.* cannot be scored.*refit or a fold-in"):
        recommend(mf, without, [3, 7], k=5)


def test_validation_items_are_excluded_like_training_items(split):
    """Evaluation leaves out validation items; so does recommend (`Split.seen_matrix`)."""
    data = random_split(split.dataset, test_frac=0.2, valid_frac=0.2, seed=0)
    table = recommend(Popularity().fit(data.train_matrix()), data, np.arange(data.n_users), k=20)
    listed = set(zip(table["user"], table["item"], strict=True))
    valid = set(zip(data.valid["user"], data.valid["item"], strict=True))
    assert valid and not listed & valid


def test_an_ad_hoc_query_is_scored_the_way_it_is_asked(split, model):
    """recommend_for_query once ranked every query by the dot product, whatever `scoring`."""
    liked = [1, 2, 3]
    model.eval()
    with torch.no_grad():
        batch = ad_hoc_query(split.dataset, liked, features=split_features(split))
        psi, v = model.query_embedding(batch)[0], model.item_embeddings()
        dot = (v @ psi).double().numpy()
        cosine = dot / (v.norm(dim=1) * psi.norm()).double().numpy()
        alpha = dot / v.norm(dim=1).double().numpy() ** 2
    for kwargs, expected in (({"scoring": "cosine"}, cosine), ({"alpha": 2.0}, alpha)):
        table = recommend_for_query(model, split, liked, k=10, **kwargs)
        expected[liked] = -np.inf
        assert table["item"].tolist() == np.argsort(-expected, kind="stable")[:10].tolist()
        np.testing.assert_allclose(table["score"], np.sort(expected)[::-1][:10], rtol=1e-4)


def test_similar_items_by_dot_product_are_not_normalized(split, model):
    table = similar_items(model, split, 11, k=5, scoring="dot")
    v = model.item_embeddings().detach().numpy().astype(np.float64)
    dot = v @ v[11]
    dot[11] = -np.inf
    assert table["item"].tolist() == np.argsort(-dot, kind="stable")[:5].tolist()
    np.testing.assert_allclose(table["score"], np.sort(dot)[::-1][:5], rtol=1e-5)
