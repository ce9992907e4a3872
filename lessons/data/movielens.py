"""Parsers for the MovieLens files: an extracted folder on disk -> `Dataset`.

Every reader follows the same three steps:

1. Parse each file with pandas' C parser and explicit dtypes (ML-100K loads in well under a
   second). When that fails, the file is re-scanned line by line so that the error names the
   first bad line.
2. Map original ids to contiguous 0-based ids: the id's position in the sorted catalogue,
   `user = searchsorted(user_ids, original_user)`; `Dataset.user_ids[user]` maps back.
3. Sort the interactions by (user, timestamp, item), so every load gives the same row order.

Catalogues: users come from the users file (100k, 1m) or, for latest-small, which has none,
from the users who rated. Items always come from the item file, rated or not: ML-1M's
movies.dat lists 3,883 movies of which 3,706 are rated, and the 177 unrated ones stay. They
are part of the catalogue a recommender ranks, their titles and genres are exactly what a
content tower uses for cold-start items, and keeping them makes ML-1M behave like ML-100K
(whose u.item is the catalogue) and latest-small (9,742 movies, 9,724 rated).

Step 1 lives in `lessons.data.parsing`, the catalogues, id mapping and row order of steps 2
and 3 in `lessons.data.indexing`; this module holds the three readers and what is specific
to each format.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from lessons.config import ITEM, RATING, TIMESTAMP, USER
from lessons.data.dataset import Dataset
from lessons.data.indexing import catalogue, map_ids, sort_order
from lessons.data.parsing import parse_table
from lessons.data.registry import DataFormatError

# users.dat occupation codes 0-20, from the ML-1M README (0 is '"other" or not specified').
ML1M_OCCUPATIONS = (
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student",
    "customer service", "doctor/health care", "executive/managerial", "farmer", "homemaker",
    "K-12 student", "lawyer", "programmer", "retired", "sales/marketing", "scientist",
    "self-employed", "technician/engineer", "tradesman/craftsman", "unemployed", "writer",
)  # fmt: skip
NO_GENRES = "(no genres listed)"  # latest-small's marker for a movie without genre: all zeros
YEAR_IN_TITLE = r"\((\d{4})[^)]*\)\s*$"  # "Toy Story (1995)", "Babylon 5 (1994-1998)"
RATING_RANGE = (0.5, 5.0)
_RATINGS = {USER: np.int64, ITEM: np.int64, RATING: np.float32, TIMESTAMP: np.int64}
_USER_COLUMNS = ["age", "gender", "occupation", "zip"]


def _dataset(
    name: str,
    ratings: pd.DataFrame,
    path: Path,
    first_line: int,
    user_ids: np.ndarray,
    users: pd.DataFrame | None,
    item_ids: np.ndarray,
    items: pd.DataFrame,
    genres: tuple[str, ...],
) -> Dataset:
    """Map ids, check ratings, sort by (user, timestamp, item) and wrap up a `Dataset`."""
    if ratings.empty:
        raise DataFormatError(path, None, "holds no ratings")
    user = map_ids(path, "user", ratings[USER].to_numpy(), user_ids, first_line)
    item = map_ids(path, "item", ratings[ITEM].to_numpy(), item_ids, first_line)
    rating = ratings[RATING].to_numpy(dtype=np.float32)
    timestamp = ratings[TIMESTAMP].to_numpy(dtype=np.int64)
    outside = ~((rating >= RATING_RANGE[0]) & (rating <= RATING_RANGE[1]))  # NaN included
    if outside.any():
        row = int(np.argmax(outside))
        raise DataFormatError(
            path, first_line + row, f"rating {rating[row]} is outside {list(RATING_RANGE)}"
        )
    order = sort_order(user, timestamp, item, len(user_ids), len(item_ids))
    interactions = pd.DataFrame(
        {USER: user[order], ITEM: item[order], RATING: rating[order], TIMESTAMP: timestamp[order]}
    )
    return Dataset(name, interactions, items, genres, users, user_ids, item_ids)


def _titled_items(
    path: Path, movies: pd.DataFrame, first_line: int
) -> tuple[np.ndarray, pd.DataFrame, tuple[str, ...]]:
    """Catalogue of a movies file with id, title and '|'-separated genres (1m, latest-small).

    Genres come in order of first appearance in the file; "(no genres listed)" gives an
    all-zero row. The year is the "(1995)" ending the title, NaN when there is none.
    """
    labels = movies["genres"]
    seen = pd.unique(labels.str.split("|").explode())
    genres = tuple(g for g in seen if g not in (NO_GENRES, ""))
    flags = labels.str.get_dummies(sep="|").reindex(columns=list(genres), fill_value=0)
    titles = movies["title"].str.strip()  # as for ML-100K, whose u.item has stray spaces
    frame = pd.concat([movies[["id"]], titles, flags.astype(np.int8)], axis=1)
    item_ids, rows, _ = catalogue(path, frame, first_line)
    year = pd.to_numeric(rows["title"].str.extract(YEAR_IN_TITLE)[0], errors="coerce")
    rows.insert(1, "year", year.to_numpy(dtype=float))
    return item_ids, rows, genres


def _read_genre_list(path: Path) -> tuple[str, ...]:
    """u.genre: 'name|index' lines, indexes 0, 1, 2, ... in order."""
    names = []
    for number, line in enumerate(path.read_text(encoding="latin-1").splitlines(), 1):
        if not line.strip():
            continue
        name, _, index = line.rpartition("|")
        if not name or index.strip() != str(len(names)):
            raise DataFormatError(path, number, f"expected 'name|{len(names)}', got {line!r}")
        names.append(name)
    if not names:
        raise DataFormatError(path, None, "lists no genre")
    return tuple(names)


def read_ml100k(folder: Path) -> Dataset:
    """ML-100K: u.data (tab), u.item and u.user ('|', Latin-1), u.genre (19 genres)."""
    folder = Path(folder)
    genres = _read_genre_list(folder / "u.genre")
    item_columns = {"id": np.int64, "title": str, "release": str, "video": str, "url": str}
    item_columns |= dict.fromkeys(genres, np.int8)
    path = folder / "u.item"
    item_ids, items, lines = catalogue(path, parse_table(path, item_columns, "|"), 1)
    not_binary = ~items[list(genres)].isin((0, 1)).to_numpy().all(axis=1)
    if not_binary.any():
        row = int(np.argmax(not_binary))
        raise DataFormatError(path, lines[row], "has a genre flag that is not 0 or 1")
    # Release dates look like "01-Jan-1995"; a few are empty (year NaN).
    year = pd.to_numeric(items["release"].str[-4:], errors="coerce").to_numpy(float)
    items = pd.concat(
        # Three titles of u.item end in a space ("Two Friends (1986) "): strip them, so that
        # the title a learner types is found.
        [pd.DataFrame({"title": items["title"].str.strip(), "year": year}), items[list(genres)]],
        axis=1,
    )
    user_columns = {"id": np.int64, "age": np.int64, "gender": str, "occupation": str, "zip": str}
    path = folder / "u.user"
    user_ids, users, _ = catalogue(path, parse_table(path, user_columns, "|"), 1)
    ratings = parse_table(folder / "u.data", _RATINGS, "\t")
    return _dataset(
        "ml-100k", ratings, folder / "u.data", 1, user_ids, users, item_ids, items, genres
    )


def _read_double_colon(path: Path) -> bytes:
    """ML-1M separates fields with '::'; one byte instead lets the fast C parser read it."""
    return path.read_bytes().replace(b"::", b"\t")


def read_ml1m(folder: Path) -> Dataset:
    """ML-1M: ratings.dat, users.dat, movies.dat ('::'-separated, Latin-1).

    `users.age` keeps the README's age-group codes (1, 18, 25, 35, 45, 50, 56); occupation
    codes become names (`ML1M_OCCUPATIONS`).
    """
    folder = Path(folder)
    path = folder / "movies.dat"
    # Titles may contain ':' but genres never do, so the last '::' ends the title.
    lines = pd.Series(path.read_bytes().decode("latin-1").splitlines(), dtype=object)
    parts = lines.str.extract(r"^(\d+)::(.*)::([^:]*)$")
    if lines.empty or parts[0].isna().any():
        line = int(np.argmax(parts[0].isna().to_numpy())) + 1 if len(lines) else None
        raise DataFormatError(path, line, "expected 'MovieID::Title::Genres'")
    movies = pd.DataFrame({"id": parts[0].astype(np.int64), "title": parts[1], "genres": parts[2]})
    item_ids, items, genres = _titled_items(path, movies, 1)

    path = folder / "users.dat"
    user_columns = dict(id=np.int64, gender=str, age=np.int64, occupation=np.int64, zip=str)
    frame = parse_table(path, user_columns, "\t", _read_double_colon(path))
    user_ids, users, lines = catalogue(path, frame, 1)
    codes = users["occupation"].to_numpy()
    unknown = (codes < 0) | (codes >= len(ML1M_OCCUPATIONS))
    if unknown.any():
        row = int(np.argmax(unknown))
        raise DataFormatError(path, lines[row], f"occupation code {codes[row]} is not 0-20")
    users["occupation"] = np.asarray(ML1M_OCCUPATIONS, dtype=object)[codes]
    users = users[_USER_COLUMNS]

    path = folder / "ratings.dat"
    ratings = parse_table(path, _RATINGS, "\t", _read_double_colon(path))
    return _dataset("ml-1m", ratings, path, 1, user_ids, users, item_ids, items, genres)


def read_ml_latest_small(folder: Path) -> Dataset:
    """ml-latest-small: ratings.csv and movies.csv (UTF-8, quoted CSV). No demographics."""
    folder = Path(folder)
    path = folder / "movies.csv"
    movies = parse_table(
        path,
        {"id": np.int64, "title": str, "genres": str},
        ",",
        encoding="utf-8",
        header="movieId,title,genres",
    )
    item_ids, items, genres = _titled_items(path, movies, 2)
    path = folder / "ratings.csv"
    ratings = parse_table(
        path, _RATINGS, ",", encoding="utf-8", header="userId,movieId,rating,timestamp"
    )
    user_ids = np.unique(ratings[USER].to_numpy(dtype=np.int64))
    return _dataset("ml-latest-small", ratings, path, 2, user_ids, None, item_ids, items, genres)


READERS = {"100k": read_ml100k, "1m": read_ml1m, "latest-small": read_ml_latest_small}
