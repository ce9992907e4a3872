"""From a trained model to scores and readable recommendations, without retraining.

Every model maps a query x to ψ(x) ∈ R^d and the items to V ∈ R^{n×d}. For a user u (query
input: the full training history, plus the revealed `split.query` in a cold-start-users split;
MF reads the user id) the score of item j is

* scoring="dot":     s_uj = ⟨ψ(x_u), V_j⟩ / ‖V_j‖^α. α = 0 is the dot product the model was
  trained with; α > 0 discounts the length of V_j so that its direction counts more (α = 1
  ranks like cosine). Item norms carry popularity effects, so α shifts the popularity of the
  lists; in the lessons' trained models a larger α gives less popular lists.
* scoring="cosine":  s_uj = ⟨ψ(x_u), V_j⟩ / (‖ψ(x_u)‖ ‖V_j‖), the α = 1 ranking on a [−1, 1] scale.

ψ and V are what the model's `query_embedding` and `item_embeddings` return: for a model with
an item bias b those are the bias-augmented [ψ, 1] and [V_j, b_j], so the norms above, and
the cosine, include the bias coordinate.

Items the user has seen (train, query, validation) are excluded; results are pandas tables
with titles and training popularity. The non-neural baselines (`lessons.baselines`) work
too, with their own scores.
"""

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from lessons.config import DEFAULT_K, ITEM, USER
from lessons.data.dataset import Dataset, Split, check_split
from lessons.features import ad_hoc_query
from lessons.metrics import top_k
from lessons.scoring import (
    EPS,
    SCORINGS,
    check_int,
    check_model,
    check_scorable,
    check_scoring,
    check_users,
    evaluating,
    history_matrix,
    query_scores,
    reads_history,
    score_users,
    split_features,
    user_batches,
)


def _is_baseline(model: Any) -> bool:
    return not isinstance(model, torch.nn.Module) and hasattr(model, "scores")


def _check_reads_demographics(model: Any, given: list[str]) -> None:
    """ValueError when demographics are given to a model that would silently ignore them.

    MF passes: it cannot embed any new query, and its own error says so (with or without
    demographics), which is the lesson notebook 01 shows.
    """
    what = ", ".join(given)
    if _is_baseline(model):
        raise ValueError(
            f"{type(model).__name__} is a baseline and does not read demographics ({what}): "
            "leave them unset, or use a SoftmaxDNN / TwoTower built with side features"
        )
    tower = getattr(model, "query_tower", None)
    if tower is not None and len(tower.side) == 0:
        raise ValueError(
            f"this {type(model).__name__} was built without side features, so it would ignore "
            f"{what}: leave them unset, or train a model that reads them, built with "
            "side_cardinalities=lessons.scoring.split_features(split).cardinalities (as "
            "lessons.experiments.playground_run(split, side=True) does)"
        )


def _table(
    lists: np.ndarray,
    scores: np.ndarray,
    dataset: Dataset,
    popularity: np.ndarray,
    users: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per recommended item: [user,] rank, item, title, score, popularity."""
    row, slot = np.nonzero(lists >= 0)  # -1 pads lists of users with too few unseen items
    item = lists[row, slot]
    columns = {} if users is None else {USER: users[row]}
    columns |= {
        "rank": slot + 1,
        ITEM: item,
        "title": dataset.items["title"].to_numpy()[item],
        "score": scores[row, item].astype(np.float64),
        "popularity": popularity[item],
    }
    return pd.DataFrame(columns)


def recommend(
    model: Any,
    data: Split,
    users: Any,
    k: int = DEFAULT_K,
    *,
    alpha: float = 0.0,
    scoring: str = "dot",
    exclude_seen: bool = True,
) -> pd.DataFrame:
    """Top-k items for known users, as a table.

    Args:
        model: A lessons model, or a fitted baseline (Popularity, ItemKNN, EASE).
        data: The split the model was trained on.
        users: A user id or a list of ids (contiguous).
        k: Items per user.
        alpha: Exponent of the item-norm discount ‖V_j‖^α (scoring="dot").
        scoring: "dot" or "cosine" (see the module docstring).
        exclude_seen: Leave out the items the user is known to have: train, query and
            validation (`Split.seen_matrix`).

    Returns:
        Columns user, rank (1 = best), item, title, score, popularity (training count). A user
        with fewer than k unseen items gets that many rows.

    Raises:
        ValueError: On unknown user ids, k <= 0 or k > n_items, an unknown scoring, a baseline
            with alpha/cosine, or users the model cannot score.
    """
    check_split(data)
    users = check_users(users, data.n_users)
    k = check_int("k", k, 1, data.n_items, hint=" (at most the catalogue size)")
    alpha = check_scoring(scoring, alpha, embeddings=not _is_baseline(model))
    history = history_matrix(data)[users]  # the input: train (+ query), never validation
    if _is_baseline(model):
        # A user without a history would score 0 everywhere and get the first items by id:
        # refused, as for the models (Popularity reads no history, and serves them).
        if reads_history(model):
            check_scorable(model, data, users)
        scores = np.asarray(model.scores(history), dtype=np.float32)
    else:
        check_model(model, data.n_items)
        check_scorable(model, data, users)
        batches = user_batches(data, users, split_features(data))
        scores = query_scores(model, batches, alpha, scoring).numpy()
    # Everything the user is known to have, validation items included (as in evaluation).
    lists = top_k(scores, k, exclude=data.seen_matrix()[users] if exclude_seen else None)
    return _table(lists, scores, data.dataset, data.item_popularity(), users)


def recommend_for_query(
    model: Any,
    data: Split,
    liked_items: Any,
    *,
    age: float | None = None,
    gender: str | None = None,
    occupation: str | None = None,
    k: int = DEFAULT_K,
    alpha: float = 0.0,
    scoring: str = "dot",
) -> pd.DataFrame:
    """Top-k items for a visitor who liked `liked_items`, answered without retraining.

    The query x = (liked items, optional demographics) goes through the trained query tower ψ
    (SoftmaxDNN, TwoTower; ItemKNN and EASE score the history directly). Demographics are
    accepted only by a model whose ψ reads them (built with side features): elsewhere they
    would change nothing, so they are refused rather than ignored. Matrix factorization has
    no ψ for an unseen query: it raises the model's ValueError (refit or fold-in needed).

    Returns:
        Columns rank, item, title, score, popularity; the liked items are excluded (so fewer
        than k rows when fewer than k items remain).

    Raises:
        ValueError: On an empty or unknown item selection, unknown demographics, demographics
            for a model that does not read them (a baseline, or a SoftmaxDNN / TwoTower built
            without side features), k <= 0 or k > n_items, or a model that cannot embed a new
            query (MF).
    """
    check_split(data)
    k = check_int("k", k, 1, data.n_items, hint=" (at most the catalogue size)")
    alpha = check_scoring(scoring, alpha, embeddings=not _is_baseline(model))
    demographics = {"age": age, "gender": gender, "occupation": occupation}
    given = [name for name, value in demographics.items() if value is not None]
    if given:
        _check_reads_demographics(model, given)
    features = None if _is_baseline(model) else split_features(data)
    batch = ad_hoc_query(
        data.dataset, liked_items, features=features, age=age, gender=gender, occupation=occupation
    )  # validates the ids
    liked = batch.bag.numpy()
    seen = sp.csr_matrix(
        (np.ones(liked.size), (np.zeros(liked.size, int), liked)), shape=(1, data.n_items)
    )
    if _is_baseline(model):
        scores = np.asarray(model.scores(seen), dtype=np.float32)
    else:
        check_model(model, data.n_items)
        scores = query_scores(model, [batch], alpha, scoring).numpy()
    return _table(top_k(scores, k, exclude=seen), scores, data.dataset, data.item_popularity())


def similar_items(
    model: torch.nn.Module,
    data: Split | Dataset,
    item: int,
    k: int = DEFAULT_K,
    *,
    scoring: str = "cosine",
) -> pd.DataFrame:
    """The k nearest neighbours of `item` among the item embeddings V (the item itself excluded).

    sim(i, j) = ⟨V_i, V_j⟩ / (‖V_i‖ ‖V_j‖) for "cosine", ⟨V_i, V_j⟩ for "dot".

    Args:
        model: A lessons model (any of them has V = `item_embeddings()`).
        data: A Split (popularity = training counts) or a Dataset (all interactions).
        item: Contiguous item id.
        k: Neighbours to list, at most n_items - 1.
        scoring: "cosine" or "dot".

    Returns:
        Columns rank, item, title, score, popularity.
    """
    dataset = data.dataset if isinstance(data, Split) else data
    if not isinstance(dataset, Dataset):
        raise ValueError(f"data must be a Split or a Dataset, got {type(data).__name__}")
    n = dataset.n_items
    item = check_int("item", item, 0, n - 1, hint=" (a contiguous item id)")
    k = check_int("k", k, 1, n - 1, hint=" (the other items of the catalogue)")
    check_scoring(scoring, 0.0)
    check_model(model, n)
    with evaluating(model):
        v = model.item_embeddings()
        scores = v @ v[item]
        if scoring == "cosine":
            scores = scores / (v.norm(dim=1) * v[item].norm()).clamp_min(EPS)
    scores = scores[None, :].numpy()
    itself = sp.csr_matrix(([1.0], ([0], [item])), shape=(1, n))
    popularity = (
        data.item_popularity()
        if isinstance(data, Split)
        else np.bincount(dataset.interactions[ITEM].to_numpy(), minlength=n)
    )
    return _table(top_k(scores, k, exclude=itself), scores, dataset, popularity)


__all__ = [
    "SCORINGS",
    "check_scoring",
    "recommend",
    "recommend_for_query",
    "score_users",
    "similar_items",
]
