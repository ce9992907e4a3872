"""The synthetic generator's documented properties: caps, order, density, timing, noise.

Each test pins one sentence of `synthetic_movielens`'s docstring that a mutation left
untested (the generator would still look MovieLens-shaped without it).
"""

import numpy as np

from lessons.data.synthetic import synthetic_movielens


def test_no_user_exceeds_the_cap():
    """No user exceeds cap = 0.45 * n_items."""
    ds = synthetic_movielens(300, 200, n_interactions=300 * 60)
    assert ds.interactions.groupby("user").size().max() <= 90


def test_rows_are_ordered_like_the_loader():
    """Rows come sorted by (user, timestamp, item), as the MovieLens loader gives them."""
    f = synthetic_movielens(50, 200).interactions
    assert f.equals(
        f.sort_values(["user", "timestamp", "item"], kind="stable").reset_index(drop=True)
    )


def test_popularity_is_shuffled_over_ids_and_lifts_ratings():
    """Popularity is not tied to item id; popular items are rated higher."""
    ds, truth = synthetic_movielens(seed=0, return_truth=True)
    assert abs(np.corrcoef(truth.item_popularity, np.arange(ds.n_items))[0, 1]) < 0.1
    f = ds.interactions
    g = f.groupby("item")["rating"].agg(["size", "mean"])
    assert np.corrcoef(np.log(g["size"]), g["mean"])[0, 1] > 0.25  # docstring: ~0.5 on ML-100K


def test_default_density_of_a_large_catalogue():
    """Above 1682 items the default density stays ML-100K's ~106 per user."""
    per_user = len(synthetic_movielens(50, 4000).interactions) / 50
    assert 100 < per_user < 112


def test_most_users_rate_in_one_sitting():
    """About 60% of users rate everything in one sitting."""
    f = synthetic_movielens(seed=0).interactions
    span = f.groupby("user")["timestamp"].agg(lambda t: t.max() - t.min())
    assert 0.5 < (span < 86_400).mean() < 0.7


def test_ratings_are_noisy_around_the_planted_latent():
    """Ratings carry N(0, 1) noise around the planted latent."""
    ds, t = synthetic_movielens(seed=0, return_truth=True)
    f = ds.interactions
    u, i = f.user.to_numpy(), f.item.to_numpy()
    latent = (
        t.user_bias[u]
        + t.item_quality[i]
        + np.einsum("ng,ng->n", t.taste[u], t.item_genre_weights[i])
    )
    assert 0.3 < np.corrcoef(latent, f.rating)[0, 1] < 0.85
