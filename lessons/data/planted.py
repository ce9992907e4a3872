"""The planted model behind `synthetic_movielens`: who the users are and what the items are.

Step 1 and most of step 2 of the model in `lessons.data.synthetic` (the popularity weights
are drawn there): users get ML-100K-like demographics and a genre taste vector that
demographics predict, but not completely; items get 1-3 genres and a release year, in
ML-100K's proportions. `SyntheticTruth` keeps every planted parameter, so a lesson can check
what a model recovers.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

GENRES = tuple(
    "unknown|Action|Adventure|Animation|Children's|Comedy|Crime|Documentary|Drama|Fantasy|"
    "Film-Noir|Horror|Musical|Mystery|Romance|Sci-Fi|Thriller|War|Western".split("|")
)
OCCUPATIONS = tuple(
    "administrator artist doctor educator engineer entertainment executive healthcare homemaker "
    "lawyer librarian marketing none other programmer retired salesman scientist student "
    "technician writer".split()
)
# MovieLens' demographic codes; lessons.features reads these same ones into its side features.
GENDERS = ("M", "F")
# Lower edges of the MovieLens-1M age groups -> 7 buckets: <18, 18-24, 25-34, 35-44, 45-49,
# 50-55, 56+.
AGE_BUCKETS = (18, 25, 35, 45, 50, 56)

# ML-100K marginals. "unknown" gets 0: it only marks two films with missing metadata.
_GENRE_SHARE = np.array([0, 149, 80, 25, 73, 300, 65, 30, 431, 13, 14, 55, 33, 36, 147, 60,
                         149, 42, 16], dtype=float)  # fmt: skip
_GENRE_COUNT_SHARE = np.array([0.50, 0.34, 0.16])  # items with 1, 2, 3 genres
_OCCUPATION_SHARE = np.array([84, 30, 7, 101, 71, 19, 34, 17, 7, 13, 54, 28, 10, 111, 70, 15,
                              13, 33, 208, 29, 48], dtype=float)  # fmt: skip
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
        age_effect: Taste shift per age bucket (see `AGE_BUCKETS`), (7, n_genres).
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
    bucket = np.searchsorted(AGE_BUCKETS, age, side="right")
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
