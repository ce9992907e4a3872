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
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lessons.config import DEFAULT_SEED, ITEM, RATING, TIMESTAMP, USER
from lessons.data.dataset import Dataset

GENRES = tuple(
    "unknown|Action|Adventure|Animation|Children's|Comedy|Crime|Documentary|Drama|Fantasy|"
    "Film-Noir|Horror|Musical|Mystery|Romance|Sci-Fi|Thriller|War|Western".split("|")
)
OCCUPATIONS = tuple(
    "administrator artist doctor educator engineer entertainment executive healthcare homemaker "
    "lawyer librarian marketing none other programmer retired salesman scientist student "
    "technician writer".split()
)
GENDERS = ("M", "F")
# Lower edges of the MovieLens-1M age groups: <18, 18-24, 25-34, 35-44, 45-49, 50-55, 56+.
AGE_BUCKET_EDGES = (18, 25, 35, 45, 50, 56)
MIN_USER_INTERACTIONS = 20  # ML-100K keeps only users with >= 20 ratings (so >= 20 items)

# ML-100K marginals. "unknown" gets 0: it only marks two films with missing metadata.
_GENRE_SHARE = np.array([0, 149, 80, 25, 73, 300, 65, 30, 431, 13, 14, 55, 33, 36, 147, 60,
                         149, 42, 16], dtype=float)  # fmt: skip
_GENRE_COUNT_SHARE = np.array([0.50, 0.34, 0.16])  # items with 1, 2, 3 genres
_OCCUPATION_SHARE = np.array([84, 30, 7, 101, 71, 19, 34, 17, 7, 13, 54, 28, 10, 111, 70, 15,
                              13, 33, 208, 29, 48], dtype=float)  # fmt: skip
_RATING_SHARE = np.array([0.0611, 0.1137, 0.2715, 0.3417, 0.2120])
_WINDOW = (874_724_710, 893_286_638)  # first and last ML-100K timestamps (Unix seconds)
# Story-telling tilts layered on the random effects: taste change per +1 sd of age, and
# women's minus men's taste. They make the ground truth read like MovieLens folklore.
_AGE_TILT = {"Animation": -0.8, "Children's": -0.8, "Horror": -0.5, "Sci-Fi": -0.4, "Drama": 0.5,
             "War": 0.6, "Film-Noir": 0.6, "Western": 0.5, "Mystery": 0.4}  # fmt: skip
_GENDER_TILT = {"Romance": 0.6, "Musical": 0.5, "Drama": 0.3, "Children's": 0.3,
                "Action": -0.5, "Sci-Fi": -0.5, "War": -0.4, "Horror": -0.3}  # fmt: skip


@dataclass(frozen=True, eq=False)
class SyntheticTruth:
    """The planted parameters behind a `synthetic_movielens` dataset.

    Attributes:
        taste: Genre taste of each user, shape (n_users, n_genres).
        demographic_taste: The part of `taste` fixed by age bucket, gender and occupation.
        item_popularity: Popularity weights `w_j`, shape (n_items,), summing to 1.
        item_genre_weights: `ĝ_j`, the genre multi-hot divided by its count, (n_items, n_genres).
        item_quality: Item effect on ratings, shape (n_items,).
        user_bias: User effect on ratings, shape (n_users,).
        age_effect: Taste shift per age bucket (see `AGE_BUCKET_EDGES`), (7, n_genres).
        gender_effect: Taste shift per gender in `GENDERS` order, (2, n_genres).
        occupation_effect: Taste shift per occupation in `OCCUPATIONS` order, (21, n_genres).
        popularity_exponent: Exponent of `item_popularity` (Zipf-Mandelbrot).
        temperature: Divisor of the taste term in the choice logits.
    """

    taste: np.ndarray
    demographic_taste: np.ndarray
    item_popularity: np.ndarray
    item_genre_weights: np.ndarray
    item_quality: np.ndarray
    user_bias: np.ndarray
    age_effect: np.ndarray
    gender_effect: np.ndarray
    occupation_effect: np.ndarray
    popularity_exponent: float
    temperature: float

    def affinity(self) -> np.ndarray:
        """Taste match `taste_u · ĝ_j` of every user and item, shape (n_users, n_items)."""
        return self.taste @ self.item_genre_weights.T

    def logits(self) -> np.ndarray:
        """Choice logits `log w_j + taste_u · ĝ_j / temperature`, shape (n_users, n_items).

        Ranking by them is the oracle recommender of the planted model.
        """
        return np.log(self.item_popularity)[None, :] + self.affinity() / self.temperature


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _tilt(weights: dict[str, float]) -> np.ndarray:
    vector = np.zeros(len(GENRES))
    vector[[GENRES.index(g) for g in weights]] = list(weights.values())
    return vector


def _users(
    rng: np.random.Generator, n_users: int, taste_noise: float
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    """Demographics, taste vectors and the demographic effects that generated them."""
    age = np.clip(np.rint(7 + rng.gamma(5.0, 5.4, n_users)), 7, 73).astype(np.int64)
    gender = (rng.random(n_users) < 0.29).astype(np.int64)  # index into GENDERS; 29% "F"
    # Occupation by the Gumbel-max trick on age-adjusted log shares: students are young,
    # retirees old, as in ML-100K.
    logits = np.tile(np.log(_OCCUPATION_SHARE / _OCCUPATION_SHARE.sum()), (n_users, 1))
    young = np.where(age < 18, 3.0, 1.5) - 0.25 * np.maximum(age - 22, 0)
    logits[:, OCCUPATIONS.index("student")] += young
    logits[:, OCCUPATIONS.index("retired")] += 0.3 * (age - 55)
    occupation = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)

    n_genres = len(GENRES)
    bucket = np.searchsorted(AGE_BUCKET_EDGES, age, side="right")
    centres = np.array([14, 21, 30, 40, 47, 53, 62])  # typical age of each bucket
    age_effect = np.outer((centres - 34) / 12, _tilt(_AGE_TILT))
    age_effect += rng.normal(0, 0.4, age_effect.shape)
    gender_effect = np.outer([-0.5, 0.5], _tilt(_GENDER_TILT)) + rng.normal(0, 0.2, (2, n_genres))
    occupation_effect = rng.normal(0, 0.5, (len(OCCUPATIONS), n_genres))
    demographic = age_effect[bucket] + gender_effect[gender] + occupation_effect[occupation]
    taste = demographic + taste_noise * rng.normal(size=demographic.shape)
    users = pd.DataFrame(
        {
            "age": age,
            "gender": np.asarray(GENDERS, dtype=object)[gender],
            "occupation": np.asarray(OCCUPATIONS, dtype=object)[occupation],
            "zip": pd.Series(rng.integers(0, 100_000, n_users)).astype(str).str.zfill(5),
        }
    )
    return users, taste, demographic, (age_effect, gender_effect, occupation_effect)


def _items(rng: np.random.Generator, n_items: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Items frame (title, year, genre flags) and the genre multi-hot matrix."""
    n_genres = len(GENRES)
    count = rng.choice(np.arange(1, 4), size=n_items, p=_GENRE_COUNT_SHARE)
    # Gumbel top-k: the `count` largest of log(share) + Gumbel are genres drawn without
    # replacement in proportion to their ML-100K share.
    with np.errstate(divide="ignore"):
        keys = np.log(_GENRE_SHARE) + rng.gumbel(size=(n_items, n_genres))
    rank = np.argsort(np.argsort(-keys, axis=1), axis=1)
    genres = (rank < count[:, None]).astype(np.int8)  # int8 flags, like the loader
    # Release years: mostly the 1990s, a fifth spread over older decades, like ML-100K.
    recent = 1998 - np.floor(rng.exponential(2.5, n_items))
    year = np.where(
        rng.random(n_items) < 0.8, np.maximum(recent, 1985), rng.integers(1922, 1985, n_items)
    )
    year_text = pd.Series(year.astype(np.int64)).astype(str)
    ids = pd.Series(np.arange(1, n_items + 1)).astype(str)
    items = pd.DataFrame(
        {"title": "Synthetic Movie " + ids + " (" + year_text + ")", "year": year.astype(float)}
    )
    items = pd.concat([items, pd.DataFrame(genres, columns=list(GENRES))], axis=1)
    return items, genres


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
            `w ∝ (rank + offset) ** -a` (0 = uniform; 1.8 gives ML-100K's curve).
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
    _check(popularity_exponent >= 0, f"popularity_exponent must be >= 0, got {popularity_exponent}")
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
    popularity = rng.permutation(ranks ** -float(popularity_exponent))
    popularity /= popularity.sum()
    counts = _activity(rng, n_users, total, cap)

    def affinity(rows: np.ndarray) -> np.ndarray:
        return taste[rows] @ genre_weights.T / temperature

    user, item, key = _interactions(rng, counts, np.log(popularity), affinity)
    order = np.lexsort((-key, user))  # within a user: drawing order, first draw first
    user, item = user[order], item[order]
    timestamp = _timestamps(rng, user, np.bincount(user, minlength=n_users))
    # Same row order as the MovieLens loader: (user, timestamp, item); only ties move.
    order = np.lexsort((item, timestamp, user))
    user, item, timestamp = user[order], item[order], timestamp[order]

    # Popular items are rated higher too (ML-100K: corr(log popularity, mean rating) ≈ 0.5).
    log_pop = np.log(popularity)
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
