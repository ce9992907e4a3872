"""From a trained model to scores and readable recommendations, without retraining.

Every model maps a query x to ψ(x) ∈ R^d and the items to V ∈ R^{n×d}. For a user u (query
input: the full training history, plus the revealed `split.query` in a cold-start-users split;
MF reads the user id) the score of item j is

* scoring="dot":     s_uj = ⟨ψ(x_u), V_j⟩ / ‖V_j‖^α. α = 0 is the dot product the model was
  trained with; α > 0 discounts the length of V_j so that its direction counts more (α = 1
  ranks like cosine). Item norms carry popularity effects, so α shifts the popularity of the
  lists; in the lessons' trained models a larger α gives less popular lists.
* scoring="cosine":  s_uj = ⟨ψ(x_u), V_j⟩ / (‖ψ(x_u)‖ ‖V_j‖), the α = 1 ranking on a [−1, 1] scale.

Items the user has seen are excluded; results are pandas tables with titles and training
popularity. The non-neural baselines (`lessons.baselines`) work too, with their own scores.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from lessons.config import DEFAULT_K, ITEM
from lessons.data.dataset import Dataset, Split
from lessons.features import QueryBatch, QueryFeatures, ad_hoc_query, make_batch, query_features
from lessons.metrics import top_k

SCORINGS = ("dot", "cosine")
SCORE_BATCH = 2048  # users per forward pass: bounds the (B, n_items) logits in memory
_EPS = 1e-12  # guards the norms of all-zero embeddings


def check_int(name: str, value: Any, low: int, high: int | None = None, hint: str = "") -> int:
    """`value` as an int, or ValueError unless it is an integer in [low, high]."""
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool)
    if not ok or value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be an integer {bound}, got {value!r}{hint}")
    return int(value)


def check_model(model: Any, n_items: int) -> None:
    """ValueError unless `model` is a lessons model sized for `n_items` items."""
    needed = ("loss", "forward", "query_embedding", "item_embeddings", "uses_history")
    if not isinstance(model, torch.nn.Module) or not all(hasattr(model, a) for a in needed):
        raise ValueError(
            "model must be a lessons.models module (MatrixFactorization, SoftmaxDNN, TwoTower), "
            f"got {type(model).__name__}"
        )
    with torch.no_grad():
        rows = model.item_embeddings().shape[0]
    if rows != n_items:
        raise ValueError(
            f"the model has {rows} items but the data has {n_items}; "
            "build the model with n_items=split.n_items"
        )


def check_users(users: Any, n_users: int) -> np.ndarray:
    """`users` (an id or a list of ids; None: everyone) as a 1-D int64 array."""
    if users is None:
        return np.arange(n_users, dtype=np.int64)
    ids = np.atleast_1d(np.asarray(users))
    if ids.ndim != 1 or ids.size == 0 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(
            f"users must be a user id or a non-empty list of integer ids, got {users!r}"
        )
    bad = ids[(ids < 0) | (ids >= n_users)]
    if bad.size:
        raise ValueError(
            f"unknown user ids {bad[:5].tolist()}: ids run from 0 to {n_users - 1} "
            "(contiguous ids; dataset.user_ids maps them to the ids of the files)"
        )
    return ids.astype(np.int64)


def history_matrix(data: Split) -> sp.csr_matrix:
    """What a user's query reads at test time: training items plus the revealed query."""
    return data.seen_matrix()


def split_features(data: Split, *, side: bool = True, dense: bool = True) -> QueryFeatures:
    """Per-user side and dense features computed from train (+ query) interactions."""
    parts = [data.train] + ([data.query] if data.query is not None else [])
    history = pd.concat(parts, ignore_index=True) if len(parts) > 1 else data.train
    return query_features(data.dataset, history, side=side, dense=dense)


def check_scorable(model: torch.nn.Module, data: Split, users: np.ndarray) -> None:
    """Refuse users the model has no input for, before any forward pass."""
    if model.uses_history:
        empty = users[np.diff(history_matrix(data).indptr)[users] == 0]
        why = "no training or query items, and this model reads its input from them"
    else:
        empty = users[np.diff(data.train_matrix().indptr)[users] == 0]
        why = (
            "no training interactions, so matrix factorization has no trained row for them: it "
            "needs a refit or a fold-in (or use SoftmaxDNN / TwoTower, which read a history)"
        )
    if empty.size:
        raise ValueError(f"{empty.size} user(s) cannot be scored, e.g. {empty[:5].tolist()}: {why}")


def user_batches(
    data: Split,
    users: np.ndarray,
    features: QueryFeatures | None,
    targets: sp.spmatrix | None = None,
    *,
    use_side: bool = True,
    use_dense: bool = True,
    size: int = SCORE_BATCH,
) -> list[QueryBatch]:
    """Batches of `users` whose input is their full history (`history_matrix`)."""
    history = history_matrix(data)
    return [
        make_batch(
            users[s : s + size], history, features, targets, use_side=use_side, use_dense=use_dense
        )
        for s in range(0, len(users), size)
    ]


@contextmanager
def evaluating(model: torch.nn.Module) -> Iterator[None]:
    """Eval mode (no dropout) without gradients; the model's previous mode is restored."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def _query_scores(model, batches: list[QueryBatch], alpha: float, scoring: str) -> torch.Tensor:
    """Scores of every item for the rows of `batches` (see the module docstring)."""
    with evaluating(model):
        if scoring == "dot" and alpha == 0:
            return torch.cat([model(b) for b in batches])  # exactly what training ranks
        items = model.item_embeddings()  # V (n_items, d)
        norms = items.norm(dim=1).clamp_min(_EPS)
        query = torch.cat([model.query_embedding(b) for b in batches])  # ψ (B, d)
        scores = query @ items.T
        if scoring == "cosine":
            return scores / (query.norm(dim=1, keepdim=True).clamp_min(_EPS) * norms)
        return scores / norms**alpha


def score_users(
    model: torch.nn.Module, data: Split, users: Any = None, *, batch_size: int = SCORE_BATCH
) -> torch.Tensor:
    """Logits ψ(x_u) Vᵀ of every item for `users`, shape (len(users), n_items).

    The query input is the user's full training history plus, in a cold-start-users split, the
    revealed `split.query` items; MF reads the user id. Runs in eval mode, without gradients.

    Args:
        model: A lessons model trained on `data`.
        data: The split.
        users: User ids; None scores every user (the matrix `lessons.metrics.evaluate` takes).
        batch_size: Users per forward pass.

    Raises:
        ValueError: On unknown user ids, or users the model has no input for (no history for
            a history model; no training row for MF).
    """
    check_model(model, data.n_items)
    users = check_users(users, data.n_users)
    size = check_int("batch_size", batch_size, 1)
    check_scorable(model, data, users)
    batches = user_batches(data, users, split_features(data), size=size)
    return _query_scores(model, batches, 0.0, "dot")


def _check_scoring(scoring: str, alpha: float, embeddings: bool = True) -> float:
    if scoring not in SCORINGS:
        raise ValueError(f"unknown scoring {scoring!r}; choose 'dot' or 'cosine'")
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not np.isfinite(alpha):
        raise ValueError(f"alpha must be a finite number (0 = plain dot product), got {alpha!r}")
    if scoring == "cosine" and alpha != 0:
        raise ValueError("cosine already divides by ‖V_j‖ (and ‖ψ‖); use alpha with scoring='dot'")
    if not embeddings and (scoring != "dot" or alpha != 0):
        raise ValueError("this baseline has no embeddings: use scoring='dot' and alpha=0")
    return float(alpha)


def _is_baseline(model: Any) -> bool:
    return not isinstance(model, torch.nn.Module) and hasattr(model, "scores")


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
    columns = {} if users is None else {"user": users[row]}
    columns |= {
        "rank": slot + 1,
        "item": item,
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
        exclude_seen: Leave out the items in the user's history.

    Returns:
        Columns user, rank (1 = best), item, title, score, popularity (training count).

    Raises:
        ValueError: On unknown user ids, k <= 0 or k > n_items, an unknown scoring, a baseline
            with alpha/cosine, or users the model cannot score.
    """
    if not isinstance(data, Split):
        raise ValueError(f"data must be a lessons.data.Split, got {type(data).__name__}")
    users = check_users(users, data.n_users)
    k = check_int("k", k, 1, data.n_items, hint=" (at most the catalogue size)")
    alpha = _check_scoring(scoring, alpha, embeddings=not _is_baseline(model))
    history = history_matrix(data)[users]
    if _is_baseline(model):
        scores = np.asarray(model.scores(history), dtype=np.float32)
    else:
        check_model(model, data.n_items)
        check_scorable(model, data, users)
        batches = user_batches(data, users, split_features(data))
        scores = _query_scores(model, batches, alpha, scoring).numpy()
    lists = top_k(scores, k, exclude=history if exclude_seen else None)
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
    (SoftmaxDNN, TwoTower; ItemKNN and EASE score the history directly). Matrix factorization
    has no ψ for an unseen query: it raises the model's ValueError (refit or fold-in needed).

    Returns:
        Columns rank, item, title, score, popularity; the liked items are excluded.

    Raises:
        ValueError: On an empty or unknown item selection, unknown demographics, k <= 0 or
            k > n_items, or a model that cannot embed a new query (MF).
    """
    if not isinstance(data, Split):
        raise ValueError(f"data must be a lessons.data.Split, got {type(data).__name__}")
    k = check_int("k", k, 1, data.n_items, hint=" (at most the catalogue size)")
    alpha = _check_scoring(scoring, alpha, embeddings=not _is_baseline(model))
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
        scores = _query_scores(model, [batch], alpha, scoring).numpy()
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
    _check_scoring(scoring, 0.0)
    check_model(model, n)
    with evaluating(model):
        v = model.item_embeddings()
        scores = v @ v[item]
        if scoring == "cosine":
            scores = scores / (v.norm(dim=1) * v[item].norm()).clamp_min(_EPS)
    scores = scores[None, :].numpy()
    itself = sp.csr_matrix(([1.0], ([0], [item])), shape=(1, n))
    popularity = (
        data.item_popularity()
        if isinstance(data, Split)
        else np.bincount(dataset.interactions[ITEM].to_numpy(), minlength=n)
    )
    return _table(top_k(scores, k, exclude=itself), scores, dataset, popularity)


__all__ = ["SCORINGS", "recommend", "recommend_for_query", "score_users", "similar_items"]
