"""Turning a trained model into scores: input checks, history batches and score_users.

Shared by the training loop (evaluation after every epoch) and `lessons.recommend`.
For a user u the query input is the full training history, plus the revealed
`split.query` items in a cold-start-users split; matrix factorization reads the user id.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from lessons.data.dataset import Split, check_split
from lessons.features import QueryBatch, QueryFeatures, make_batch, query_features

SCORE_BATCH = 2048  # users per forward pass: bounds the (B, n_items) logits in memory
EPS = 1e-12  # guards the norms of all-zero embeddings


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
    """What a user's query reads, while validating and at test time alike (`Split.history_matrix`).

    Training items plus the revealed query, never the validation items: test rankings exclude
    those as well (`Split.seen_matrix`), but the model is not fed them.
    """
    return data.history_matrix()


def split_features(data: Split, *, side: bool = True, dense: bool = True) -> QueryFeatures:
    """Per-user side and dense features computed from the input interactions, train (+ query)."""
    return query_features(data.dataset, data.history, side=side, dense=dense)


SCORINGS = ("dot", "cosine")


def check_scoring(scoring: str, alpha: float, embeddings: bool = True) -> float:
    """`alpha` as a float, or a ValueError for an unknown scoring, a non-finite α, α with
    cosine, or (embeddings=False) any scoring but the plain dot product."""
    if scoring not in SCORINGS:
        raise ValueError(f"unknown scoring {scoring!r}; choose 'dot' or 'cosine'")
    # NumPy scalars too: `for alpha in np.linspace(0, 1, 5)` is how a sweep is written.
    real = isinstance(alpha, int | float | np.integer | np.floating)
    if isinstance(alpha, bool) or not real or not np.isfinite(alpha):
        raise ValueError(f"alpha must be a finite number (0 = plain dot product), got {alpha!r}")
    if scoring == "cosine" and alpha != 0:
        raise ValueError("cosine already divides by ‖V_j‖ (and ‖ψ‖); use alpha with scoring='dot'")
    if not embeddings and (scoring != "dot" or alpha != 0):
        raise ValueError("this baseline has no embeddings: use scoring='dot' and alpha=0")
    return float(alpha)


def reads_history(model) -> bool:
    """Whether `model` scores a user from their history: `uses_history`, which a baseline
    stand-in with only `scores` (a test's, a learner's) may lack; it is then taken to."""
    return bool(getattr(model, "uses_history", True))


def scorable_users(model: torch.nn.Module, data: Split) -> np.ndarray:
    """Boolean (n_users,): the users the model has an input for (a history, or MF's trained row)."""
    source = history_matrix(data) if reads_history(model) else data.train_matrix()
    return np.diff(source.indptr) > 0


def check_scorable(model: torch.nn.Module, data: Split, users: np.ndarray) -> None:
    """Refuse users a model (or a history-reading baseline) has no input for, before scoring."""
    empty = users[~scorable_users(model, data)[users]]
    if reads_history(model):
        why = "no training or query items, and this model reads its input from them"
    else:
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


def query_scores(model, batches: list[QueryBatch], alpha: float, scoring: str) -> torch.Tensor:
    """Scores of every item for the rows of `batches` (`scoring`, α: see `lessons.recommend`)."""
    alpha = check_scoring(scoring, alpha)  # an unknown scoring once ran as the dot product
    with evaluating(model):
        if scoring == "dot" and alpha == 0:
            return torch.cat([model(b) for b in batches])  # exactly what training ranks
        items = model.item_embeddings()  # V (n_items, d)
        norms = items.norm(dim=1).clamp_min(EPS)
        query = torch.cat([model.query_embedding(b) for b in batches])  # ψ (B, d)
        scores = query @ items.T
        if scoring == "cosine":
            return scores / (query.norm(dim=1, keepdim=True).clamp_min(EPS) * norms)
        # Clamped after the power too: 1e-12 ** 4 underflows to 0 in float32, and an all-zero
        # V_j (score 0) would then rank as 0 / 0 = NaN.
        discount = (norms**alpha).clamp_min(torch.finfo(norms.dtype).tiny)
        return scores / discount


def score_users(
    model: torch.nn.Module, data: Split, users: Any = None, *, batch_size: int = SCORE_BATCH
) -> torch.Tensor:
    """Logits ψ(x_u) Vᵀ of every item for `users`, shape (len(users), n_items).

    The query input is the user's full training history plus, in a cold-start-users split, the
    revealed `split.query` items; MF reads the user id. Runs in eval mode, without gradients.

    Args:
        model: A lessons model trained on `data`.
        data: The split.
        users: User ids; None scores every user (the matrix `lessons.metrics.evaluate` takes:
            `all_user_scores`, which leaves out users with no input and nothing to evaluate).
        batch_size: Users per forward pass.

    Raises:
        ValueError: On unknown user ids, or users the model has no input for (no history for
            a history model; no training row for MF).
    """
    if users is None:
        return all_user_scores(model, data, batch_size=batch_size)
    check_split(data)
    check_model(model, data.n_items)
    users = check_users(users, data.n_users)
    size = check_int("batch_size", batch_size, 1)
    check_scorable(model, data, users)
    batches = user_batches(data, users, split_features(data), size=size)
    return query_scores(model, batches, 0.0, "dot")


def all_user_scores(
    model: torch.nn.Module,
    data: Split,
    *,
    alpha: float = 0.0,
    scoring: str = "dot",
    batch_size: int = SCORE_BATCH,
) -> torch.Tensor:
    """Scores (n_users, n_items) of every user, the matrix `lessons.metrics.evaluate` takes.

    Every user with test or validation items must be scorable. A user the model has no input
    for and nothing to evaluate (`Dataset.implicit(min_rating=4)` leaves some users without a
    history) gets a row of -inf: an empty list, where refusing the whole split would have made
    a model that `fit` trained and evaluated impossible to evaluate again.

    Raises:
        ValueError: As `score_users`, for an evaluated user the model cannot score.
    """
    alpha = check_scoring(scoring, alpha)
    check_split(data)
    check_model(model, data.n_items)
    size = check_int("batch_size", batch_size, 1)
    evaluated = np.diff(data.test_matrix().indptr) > 0
    if data.valid is not None:
        evaluated |= np.diff(data.valid_matrix().indptr) > 0
    check_scorable(model, data, np.flatnonzero(evaluated))
    scorable = scorable_users(model, data)
    users = np.flatnonzero(scorable)
    batches = user_batches(data, users, split_features(data), size=size)
    scores = query_scores(model, batches, alpha, scoring)
    if scorable.all():
        return scores
    full = torch.full((data.n_users, data.n_items), -torch.inf, dtype=scores.dtype)
    full[torch.as_tensor(users)] = scores
    return full


__all__ = ["SCORINGS", "all_user_scores", "check_scoring", "score_users", "query_scores"]
