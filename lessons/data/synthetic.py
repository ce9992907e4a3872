"""A MovieLens-shaped dataset drawn from a planted model whose ground truth is known.

It stands in for MovieLens 100K when the files are unavailable and, above all, lets a lesson
check that a model recovers what was planted. The model, in the order it is drawn:

1. Users get ML-100K-like demographics (age 7..73, 71% "M", the 21 occupations, students
   young and retirees old) and a genre taste vector
   `taste_u = age_effect[bucket(age_u)] + gender_effect[gender_u] + occupation_effect[occ_u]
   + taste_noise * N(0, I)`, so demographics predict tastes, but not completely.
2. Items get 1-3 genres (Drama and Comedy most common, as in ML-100K), a release year and a
   Zipf-Mandelbrot popularity weight `w_j ∝ (rank_j + offset) ** -popularity_exponent`
   (ranks in random order; the offset flattens the head as in ML-100K).
3. User u picks n_u items (heavy-tailed, at least 20) without replacement with probabilities
   proportional to `w_j * exp(taste_u · ĝ_j / temperature)`, where `ĝ_j` is item j's genre
   multi-hot divided by its genre count; drawn with the Gumbel top-k trick.
4. Ratings discretize `user_bias_u + item_quality_j + taste_u · ĝ_j + N(0, 1)` at the
   quantiles that give ML-100K's rating histogram (6/11/27/34/21 % for 1..5 stars).
5. Timestamps increase within each user in the order items were drawn (favourites and popular
   items first, as in ML-100K), inside ML-100K's window 1997-09-20 .. 1998-04-22.

The users and the items' genres and years (steps 1 and 2, with the effects behind them, kept
in `SyntheticTruth`) come from `lessons.data.planted`; this module draws the popularity
weights, the interactions, timestamps and ratings, and assembles the `Dataset`.
"""

from collections.abc import Callable

import numpy as np
import pandas as pd

from lessons.config import DEFAULT_SEED, ITEM, RATING, TIMESTAMP, USER
from lessons.data.dataset import Dataset
from lessons.data.planted import GENRES, SyntheticTruth, _items, _users

MIN_USER_INTERACTIONS = 20  # ML-100K keeps only users with >= 20 ratings (so >= 20 items)
_RATING_SHARE = np.array([0.0611, 0.1137, 0.2715, 0.3417, 0.2120])
_WINDOW = (874_724_710, 893_286_638)  # first and last ML-100K timestamps (Unix seconds)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _activity(rng: np.random.Generator, n_users: int, total: int, cap: int) -> np.ndarray:
    """Interactions per user: 20 + a log-normal share of the rest, capped, summing to ~total.

    The scale s solving `sum(min(s * r_u, cap - 20)) = total - 20 * n_users` is found by
    bisection, so a few heavy users hit the cap and the rest share what is left.
    """
    raw = rng.lognormal(0.0, 1.0, n_users)
    extra, room = total - MIN_USER_INTERACTIONS * n_users, cap - MIN_USER_INTERACTIONS
    lo, hi = 0.0, room / raw.min() + 1.0
    for _ in range(60):  # bisection on a scalar, not a loop over users
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.minimum(mid * raw, room).sum() < extra else (lo, mid)
    return MIN_USER_INTERACTIONS + np.rint(np.minimum(hi * raw, room)).astype(np.int64)


def _interactions(
    rng: np.random.Generator, counts: np.ndarray, log_w: np.ndarray, affinity: Callable
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(user, item, key) of each drawn pair, users in blocks to bound memory."""
    users, items, keys = [], [], []
    n_items = len(log_w)
    block = max(1, 4_000_000 // n_items)
    for start in range(0, len(counts), block):  # a handful of blocks, not one per user
        rows = np.arange(start, min(start + block, len(counts)))
        # Gumbel top-k: the n_u largest of logit + Gumbel are a weighted draw without replacement.
        gumbel = -np.log(rng.standard_exponential((len(rows), n_items)))
        key = log_w[None, :] + affinity(rows) + gumbel
        threshold = np.sort(key, axis=1)[np.arange(len(rows)), n_items - counts[rows]]
        u, j = np.nonzero(key >= threshold[:, None])
        users.append(rows[u])
        items.append(j)
        keys.append(key[u, j])
    return np.concatenate(users), np.concatenate(items), np.concatenate(keys)


def _timestamps(rng: np.random.Generator, user: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Increasing times per user (rows grouped by user, in drawing order).

    60% of users rate everything in one sitting (about half a minute per rating); the others
    come back over an exponential span of about six weeks, as in ML-100K.
    """
    n_users = len(counts)
    session = counts * 30.0 * rng.lognormal(0.0, 0.5, n_users)
    span = np.where(rng.random(n_users) < 0.6, session, rng.exponential(40 * 86_400, n_users))
    span = np.minimum(span, _WINDOW[1] - _WINDOW[0])
    start = _WINDOW[0] + rng.random(n_users) * (_WINDOW[1] - _WINDOW[0] - span)
    # Sorting user + U(0, 1) sorts the uniforms within each user in one vectorized call.
    offset = np.sort(user + rng.random(len(user))) - user
    return np.floor(start[user] + offset * span[user]).astype(np.int64)


def synthetic_movielens(
    n_users: int = 943,
    n_items: int = 1682,
    seed: int = DEFAULT_SEED,
    *,
    n_interactions: int | None = None,
    popularity_exponent: float = 1.8,
    popularity_offset: float | None = None,
    temperature: float = 1.0,
    taste_noise: float = 0.5,
    return_truth: bool = False,
) -> Dataset | tuple[Dataset, SyntheticTruth]:
    """Draw a MovieLens-shaped `Dataset` (name "synthetic") from the planted model above.

    Args:
        n_users: Number of users (>= 1).
        n_items: Number of items (>= 20, since every user has at least 20 interactions).
        seed: Seed of the generator; the same seed gives identical frames.
        n_interactions: Approximate total; `None` means ML-100K's density: 106 per user, or
            6.3% of the items when there are fewer than 1682, and at least 20 per user
            (100,000 at the default size). Must lie in [20 * n_users, cap * n_users], where
            cap = max(20, 0.45 * n_items) is the most items one user may take.
        popularity_exponent: Exponent a of the Zipf-Mandelbrot popularity weights
            `w ∝ (rank + offset) ** -a` (0 = uniform; 1.8 gives ML-100K's curve). Any
            finite a >= 0 works (the weights are normalised in log space); a large a makes
            every user pick the most popular items.
        popularity_offset: Flattens the head of the popularity curve; `None` = n_items / 16.
        temperature: Larger values weaken the effect of taste on what users pick (> 0).
        taste_noise: Standard deviation of the individual part of taste (>= 0); 0 makes
            taste a function of demographics alone.
        return_truth: Also return the `SyntheticTruth` with the planted parameters.

    Returns:
        The dataset, or `(dataset, truth)` when `return_truth` is true.

    Raises:
        ValueError: If a size, the seed or a model parameter is out of range.
    """
    for name, value, low in (("n_users", n_users, 1), ("n_items", n_items, 20), ("seed", seed, 0)):
        _check(
            isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= low,
            f"{name} must be an integer >= {low}, got {value!r}",
        )
    cap = min(n_items, max(MIN_USER_INTERACTIONS, int(0.45 * n_items)))
    total = n_interactions
    if total is None:  # ML-100K: 106 per user, 6.3% of a 1682-item catalogue
        total = max(20 * n_users, round(n_users * 100_000 / 943 * min(1.0, n_items / 1682)))
    _check(
        MIN_USER_INTERACTIONS * n_users <= total <= cap * n_users,
        f"n_interactions must be between {MIN_USER_INTERACTIONS * n_users} (20 per user) and "
        f"{cap * n_users} (at most {cap} per user with {n_items} items), got {total}; "
        "pass n_interactions=None for ML-100K's density",
    )
    _check(
        0 <= popularity_exponent < np.inf,  # inf would make every log weight -inf (NaN after)
        f"popularity_exponent must be a finite number >= 0, got {popularity_exponent}",
    )
    _check(
        popularity_offset is None or popularity_offset >= 0,
        f"popularity_offset must be >= 0 or None, got {popularity_offset}",
    )
    _check(temperature > 0, f"temperature must be > 0, got {temperature}")
    _check(taste_noise >= 0, f"taste_noise must be >= 0, got {taste_noise}")

    rng = np.random.default_rng(seed)
    users, taste, demographic, effects = _users(rng, n_users, taste_noise)
    items, genres = _items(rng, n_items)
    genre_weights = genres / genres.sum(axis=1, keepdims=True)
    offset = n_items / 16 if popularity_offset is None else float(popularity_offset)
    ranks = np.arange(1, n_items + 1) + offset
    log_pop = rng.permutation(-float(popularity_exponent) * np.log(ranks))
    log_pop -= np.logaddexp.reduce(log_pop)  # log of w / Σw, without forming w
    popularity = np.exp(log_pop)  # tail items may round to 0 here; log_pop stays finite
    counts = _activity(rng, n_users, total, cap)

    def affinity(rows: np.ndarray) -> np.ndarray:
        return taste[rows] @ genre_weights.T / temperature

    user, item, key = _interactions(rng, counts, log_pop, affinity)
    order = np.lexsort((-key, user))  # within a user: drawing order, first draw first
    user, item = user[order], item[order]
    timestamp = _timestamps(rng, user, np.bincount(user, minlength=n_users))
    # Same row order as the MovieLens loader: (user, timestamp, item); only ties move.
    order = np.lexsort((item, timestamp, user))
    user, item, timestamp = user[order], item[order], timestamp[order]

    # Popular items are rated higher too (ML-100K: corr(log popularity, mean rating) ≈ 0.5).
    quality = 0.3 * (log_pop - log_pop.mean()) / (log_pop.std() + 1e-12)
    quality += rng.normal(0, 0.4, n_items)
    bias = rng.normal(0, 0.4, n_users)
    latent = bias[user] + quality[item] + np.einsum("ng,ng->n", taste[user], genre_weights[item])
    latent += rng.normal(size=len(user))
    cuts = np.quantile(latent, np.cumsum(_RATING_SHARE)[:-1])
    rating = (1 + np.searchsorted(cuts, latent)).astype(np.float32)

    interactions = pd.DataFrame(
        {USER: user, ITEM: item.astype(np.int64), RATING: rating, TIMESTAMP: timestamp}
    )
    ids = (np.arange(1, n_users + 1), np.arange(1, n_items + 1))  # 1-based, like the files
    notice = f"synthetic MovieLens-shaped data from a planted model (seed={seed})"
    dataset = Dataset("synthetic", interactions, items, GENRES, users, *ids, notice=notice)
    if not return_truth:
        return dataset
    truth = SyntheticTruth(taste, demographic, popularity, genre_weights, quality, bias, *effects,
                           float(popularity_exponent), float(temperature))  # fmt: skip
    return dataset, truth
