"""The synthetic MovieLens-shaped generator: schema, determinism, planted signal."""

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest

from lessons.data.synthetic import synthetic_movielens

# Written out by hand from ML-100K's u.genre / u.occupation so the test can catch a typo in
# the generator's own tables.
ML_GENRES = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
]  # fmt: skip
ML_OCCUPATIONS = {
    "administrator", "artist", "doctor", "educator", "engineer", "entertainment", "executive",
    "healthcare", "homemaker", "lawyer", "librarian", "marketing", "none", "other", "programmer",
    "retired", "salesman", "scientist", "student", "technician", "writer",
}  # fmt: skip
ML_100K_WINDOW = (874_724_710, 893_286_638)


@pytest.fixture(scope="module")
def generated():
    return synthetic_movielens(seed=0, return_truth=True)


@pytest.fixture(scope="module")
def data(generated):
    return generated[0]


def genre_profiles(data) -> np.ndarray:
    """Share of each genre among each user's interactions, shape (n_users, n_genres)."""
    counts = np.asarray(data.matrix() @ data.item_genres)
    return counts / counts.sum(axis=1, keepdims=True)


def test_interactions_have_movielens_schema(data):
    frame = data.interactions
    assert list(frame.columns) == ["user", "item", "rating", "timestamp"]
    assert frame["rating"].dtype == np.float32 and frame["timestamp"].dtype == np.int64
    assert set(np.unique(frame["rating"])) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert frame["timestamp"].between(*ML_100K_WINDOW).all()
    assert frame["user"].between(0, 942).all() and frame["item"].between(0, 1681).all()
    assert not frame.duplicated(["user", "item"]).any()
    assert abs(len(frame) - 100_000) < 2_000  # the default target
    per_user = frame.groupby("user").size()
    assert len(per_user) == 943 and per_user.min() >= 20
    assert per_user.median() < per_user.mean()  # heavy tail, like ML-100K (65 < 106)
    assert data.name == "synthetic" and data.is_synthetic
    np.testing.assert_array_equal(data.user_ids, np.arange(1, 944))
    np.testing.assert_array_equal(data.item_ids, np.arange(1, 1683))


def test_users_and_items_have_movielens_features(data):
    users = data.users
    assert len(users) == 943 and users["age"].between(7, 73).all()
    assert 25 <= users["age"].mean() <= 45
    assert set(users["gender"]) == {"M", "F"} and 0.6 < (users["gender"] == "M").mean() < 0.8
    assert set(users["occupation"]) <= ML_OCCUPATIONS and users["occupation"].nunique() >= 18
    assert users["zip"].str.fullmatch(r"\d{5}").all()
    students = users[users["occupation"] == "student"]
    assert students["age"].mean() < users["age"].mean() - 5  # planted: students are young

    items = data.items
    assert list(data.genres) == ML_GENRES and len(items) == 1682
    genres = items[ML_GENRES].to_numpy()
    assert set(np.unique(genres)) == {0, 1}
    assert genres.sum(axis=1).min() == 1 and genres.sum(axis=1).max() == 3
    share = pd.Series(genres.mean(axis=0), index=ML_GENRES)
    assert set(share.nlargest(2).index) == {"Drama", "Comedy"}
    assert items["year"].between(1922, 1998).all()
    assert items["title"].iloc[16] == f"Synthetic Movie 17 ({int(items['year'].iloc[16])})"


def test_same_seed_gives_identical_frames_and_other_seeds_differ(data):
    again = synthetic_movielens(seed=0)
    for name in ("interactions", "users", "items"):
        pd.testing.assert_frame_equal(getattr(data, name), getattr(again, name))
    other = synthetic_movielens(seed=1)
    assert not data.interactions.equals(other.interactions)
    assert not data.users.equals(other.users)


def test_item_popularity_follows_a_power_law(data):
    counts = np.sort(np.bincount(data.interactions["item"], minlength=data.n_items))[::-1]
    top_share = counts[: data.n_items // 5].sum() / counts.sum()
    assert 0.55 < top_share < 0.8  # ML-100K: 0.65
    # The exponent is what makes it: without it popularity comes from taste alone.
    flat = synthetic_movielens(n_users=300, n_items=500, seed=0, popularity_exponent=0.0)
    flat_counts = np.sort(np.bincount(flat.interactions["item"], minlength=500))[::-1]
    assert flat_counts[:100].sum() / flat_counts.sum() < 0.45


def test_demographics_predict_genre_taste_on_held_out_users(data):
    """Ridge regression from one-hot (age bucket, gender, occupation) to each user's genre
    profile, fitted on 70% of users, beats the global mean profile on the other 30%."""
    profiles = genre_profiles(data)
    users = data.users
    age_bucket = pd.cut(users["age"], [0, 17, 24, 34, 44, 49, 55, 120]).astype(str)
    onehot = pd.get_dummies(
        pd.DataFrame({"a": age_bucket, "g": users["gender"], "o": users["occupation"]})
    )
    x = np.column_stack([np.ones(len(users)), onehot.to_numpy(float)])
    order = np.random.default_rng(7).permutation(len(users))
    fit, held = order[:660], order[660:]
    w = np.linalg.solve(x[fit].T @ x[fit] + np.eye(x.shape[1]), x[fit].T @ profiles[fit])
    demo_error = ((x[held] @ w - profiles[held]) ** 2).sum(axis=1).mean()
    global_error = ((profiles[fit].mean(axis=0) - profiles[held]) ** 2).sum(axis=1).mean()
    assert demo_error < 0.8 * global_error  # measured: 0.56 at seed 0


def test_truth_is_consistent_with_the_frames(generated):
    data, truth = generated
    assert truth.taste.shape == truth.demographic_taste.shape == (943, 19)
    assert truth.item_popularity.shape == (1682,)
    assert truth.item_popularity.min() > 0 and truth.item_popularity.sum() == pytest.approx(1.0)
    # demographic_taste is the sum of the three effects looked up from the users frame.
    users = data.users
    bucket = np.searchsorted([18, 25, 35, 45, 50, 56], users["age"].to_numpy(), side="right")
    gender = (users["gender"] == "F").to_numpy(int)
    occupation = users["occupation"].map({o: i for i, o in enumerate(sorted(ML_OCCUPATIONS))})
    expected = (
        truth.age_effect[bucket] + truth.gender_effect[gender] + truth.occupation_effect[occupation]
    )
    np.testing.assert_allclose(truth.demographic_taste, expected)
    assert (truth.taste - truth.demographic_taste).std() == pytest.approx(0.5, abs=0.03)
    genres = data.item_genres
    np.testing.assert_allclose(truth.item_genre_weights, genres / genres.sum(1, keepdims=True))


def test_users_pick_and_rate_by_the_planted_taste(generated):
    data, truth = generated
    frame = data.interactions
    # Each user's favourite planted genre is over-represented in their history.
    profiles = genre_profiles(data)
    favourite = truth.taste[:, 1:].argmax(axis=1) + 1  # "unknown" is never assigned
    lift = profiles[np.arange(data.n_users), favourite] - profiles.mean(axis=0)[favourite]
    assert lift.mean() > 0.02  # measured 0.03-0.05 over seeds 0-3
    # The oracle logits rank picked pairs above random pairs (AUC).
    logits = truth.logits()
    rng = np.random.default_rng(1)
    random_pairs = logits[rng.integers(0, 943, 20_000), rng.integers(0, 1682, 20_000)]
    assert (logits[frame["user"], frame["item"]][:20_000] > random_pairs).mean() > 0.7
    # Higher affinity, higher ratings; and the histogram is ML-100K's.
    affinity = truth.affinity()[frame["user"], frame["item"]]
    high = affinity > np.median(affinity)
    assert frame["rating"][high].mean() > frame["rating"][~high].mean() + 0.3
    share = frame["rating"].value_counts(normalize=True).sort_index().to_numpy()
    np.testing.assert_allclose(share, [0.0611, 0.1137, 0.2715, 0.3417, 0.2120], atol=0.005)


def test_timestamps_put_popular_items_first_like_movielens(data):
    frame = data.interactions.sort_values(["user", "timestamp"], kind="stable")
    popularity = np.bincount(frame["item"], minlength=data.n_items)[frame["item"]]
    position = frame.groupby("user").cumcount() / frame.groupby("user")["user"].transform("size")
    assert popularity[position < 0.2].mean() > 1.3 * popularity[position >= 0.8].mean()


def test_small_and_custom_sizes():
    tiny = synthetic_movielens(n_users=1, n_items=20, seed=5)
    assert len(tiny.interactions) == 20  # 20 per user, every item once
    assert sorted(tiny.interactions["item"]) == list(range(20))
    assert len(tiny.users) == 1 and len(tiny.items) == 20
    mid = synthetic_movielens(n_users=200, n_items=400, seed=2, n_interactions=10_000)
    assert abs(len(mid.interactions) - 10_000) < 200
    assert mid.interactions["item"].max() < 400 and mid.interactions["user"].nunique() == 200


@pytest.mark.parametrize("exponent", [140.0, 1000.0])
def test_a_steep_popularity_exponent_keeps_the_requested_activity(exponent):
    """Bug: (rank + offset) ** -a underflowed to 0 for a large a, so the Gumbel keys tied at
    -inf: a = 140 gave users every item, a = 160 raised IndexError. The exponent only moves
    which items are picked, never how many: the activity is drawn independently of it."""
    kwargs = {"n_users": 30, "seed": 4}
    reference = synthetic_movielens(**kwargs).interactions
    steep, truth = synthetic_movielens(**kwargs, popularity_exponent=exponent, return_truth=True)
    frame = steep.interactions
    np.testing.assert_array_equal(
        np.bincount(frame["user"], minlength=30), np.bincount(reference["user"], minlength=30)
    )
    assert not frame.duplicated(["user", "item"]).any()
    assert np.isfinite(truth.item_popularity).all()
    assert truth.item_popularity.sum() == pytest.approx(1.0)
    # All the mass sits on the head: far fewer distinct items than at the default exponent.
    assert frame["item"].nunique() < reference["item"].nunique()


def test_no_taste_noise_makes_taste_a_function_of_demographics():
    _, truth = synthetic_movielens(
        n_users=50, n_items=100, seed=0, taste_noise=0.0, return_truth=True
    )
    np.testing.assert_array_equal(truth.taste, truth.demographic_taste)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"n_users": 0}, "n_users"),
        ({"n_users": True}, "n_users"),
        ({"n_items": 19}, "n_items"),
        ({"n_items": 50.0}, "n_items"),
        ({"seed": -1}, "seed"),
        ({"n_users": 10, "n_interactions": 199}, "n_interactions"),
        ({"n_users": 10, "n_items": 100, "n_interactions": 451}, "at most 45"),
        ({"popularity_exponent": -0.5}, "popularity_exponent"),
        ({"popularity_exponent": float("inf")}, "finite"),
        ({"popularity_offset": -1}, "popularity_offset"),
        ({"temperature": 0}, "temperature"),
        ({"taste_noise": -0.1}, "taste_noise"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, words):
    with pytest.raises(ValueError, match=words):
        synthetic_movielens(**kwargs)


def test_find_titles_stands_in_the_most_rated_items_when_no_title_exists(data):
    found = data.find_titles(["Star Wars (1977)", "Fargo (1996)"])
    counts = data.interactions["item"].value_counts()
    assert len(found) == 2 and set(found.values()) == set(counts.index[:2])
    assert all(data.items["title"].iloc[i] == t for t, i in found.items())
    assert data.find_titles(["Star Wars (1977)"], stand_in=False) == {}
    assert data.find_titles([]) == {}
    with pytest.raises(ValueError, match="list of titles"):
        data.find_titles("Fargo (1996)")


def test_find_titles_is_silent_on_the_synthetic_catalogue(data):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # its titles are made up: a miss is expected, not a typo
        data.find_titles(["Star Wars (1977)"])


def test_find_titles_names_each_miss_and_its_closest_title_on_a_real_catalogue(data):
    titles = data.items["title"].copy()
    titles.iloc[:3] = ["Star Wars (1977)", "Godfather, The (1972)", "Fargo (1996)"]
    real = dataclasses.replace(data, name="ml-100k", items=data.items.assign(title=titles))
    asked = ["star wars (1977)", "The Godfather (1972)", "Fargo", "Fargo (1996)", "Zzz (2099)"]
    with pytest.warns(UserWarning) as caught:
        assert real.find_titles(asked) == {"Fargo (1996)": 2}
    message = str(caught[0].message)
    assert "'star wars (1977)' (did you mean 'Star Wars (1977)'?)" in message
    assert "'The Godfather (1972)' (did you mean 'Godfather, The (1972)'?)" in message
    assert "'Fargo' (did you mean 'Fargo (1996)'?)" in message
    assert "'Zzz (2099)'." in message and "stand in" not in message
    with pytest.warns(UserWarning, match="the most-rated items stand in: "):
        assert len(real.find_titles(["Zzz (2099)"])) == 1


def test_find_titles_takes_a_series(data):
    wanted = data.items["title"].iloc[[3, 1]]
    assert data.find_titles(wanted) == {wanted.iloc[0]: 3, wanted.iloc[1]: 1}
    assert len(data.find_titles(pd.Series(["Foo (1999)"]))) == 1  # the stand-in


def test_find_titles_takes_the_most_rated_of_a_shared_title_and_says_so(data):
    """Bug: a title listed twice (ML-100K has 18) gave the first id, in 5 of them the less
    rated copy ('Chasing Amy (1997)': id 245 with 124 ratings, not 267 with 255), silently."""
    counts = np.bincount(data.interactions["item"], minlength=data.n_items)
    low, high = (int(i) for i in np.argsort(counts, kind="stable")[[0, -1]])  # fewest, most
    titles = data.items["title"].copy()
    titles.iloc[[low, high]] = "Twice (1997)"
    shared = dataclasses.replace(data, name="ml-100k", items=data.items.assign(title=titles))
    with pytest.warns(UserWarning) as caught:
        assert shared.find_titles(["Twice (1997)"]) == {"Twice (1997)": high}
    message = str(caught[0].message)
    assert f"names 2 items, id {min(low, high)} (" in message and f"using id {high}" in message
