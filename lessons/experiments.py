"""Measured claims of notebooks 02 and 03, as small library functions.

* `textbook_dnn` / `playground_run`: the softmax DNN p̂ = h(ψ(x) Vᵀ) built and trained from
  plain settings (hidden widths, activation, feature sets), as the playground widget does.
* `collapse_gap`: stacked linear layers equal one matrix, W = W_L ⋯ W_1 (measured).
* `run_grid` / `grid_summary`: depth × feature-set grid over seeds (Covington et al. 2016, Fig. 6).
* `log_softmax_gap`: log p̂_j = ⟨ψ(x), V_j⟩ − log Z, checked on the model's own outputs.
* `mf_as_dnn` / `mf_dnn_gap`: a one-hot user-id input with no hidden layer is softmax MF.
* `new_user_table`: the DNN ranks for users absent from training; MF cannot (measured).
"""

import numbers
from collections.abc import Sequence
from itertools import product

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from lessons.baselines import EASE, Popularity
from lessons.config import DEFAULT_K, DEFAULT_SEED
from lessons.data.dataset import Split, check_split
from lessons.features import QueryBatch
from lessons.metrics import evaluate_dict
from lessons.models import MatrixFactorization, SoftmaxDNN
from lessons.models.towers import check_widths
from lessons.recipes import train
from lessons.runtime import show_progress
from lessons.scoring import (
    check_int,
    check_users,
    evaluating,
    score_users,
    split_features,
    user_batches,
)

METRICS = ("recall", "ndcg", "coverage", "arp", "gini", "aplt")
FEATURE_SETS = {"history": (False, False), "history+side+dense": (True, True)}
# The textbook softmax DNN: none of the recipe's tuned extras, so the hand computation of
# notebook 02 reproduces its logits and loss exactly.
TEXTBOOK = {"residual": False, "item_bias": False, "label_smoothing": 0.0,
            "input_dropout": 0.0, "mask_inputs": False}  # fmt: skip


def feature_kwargs(split: Split, side: bool, dense: bool) -> dict:
    """SoftmaxDNN arguments that make x read the side (age, gender, occupation) / dense features."""
    features = split_features(split)
    kwargs: dict = {}
    if side:
        if features.side is None:
            raise ValueError(f"{split.dataset.name} has no demographics; untick side features")
        kwargs["side_cardinalities"] = features.cardinalities
    if dense:
        kwargs["n_dense"] = int(features.dense.shape[1])
    return kwargs


def _check_sequence(name: str, value, example: str) -> None:
    """A bare 2 or "Drama" (a tuple's missing comma: ("Drama")) would be iterated wrongly;
    lists, tuples, NumPy arrays and pandas indexes are fine."""
    if isinstance(value, str | bytes | numbers.Number) or not hasattr(value, "__len__"):
        raise ValueError(f"{name} must be a list or tuple like {example}, got {value!r}")


def textbook_dnn(split: Split, hidden: Sequence[int] = (256,), *, dim: int = 64,
                 activation: str = "relu", side: bool = True, dense: bool = True,
                 seed: int = DEFAULT_SEED) -> SoftmaxDNN:  # fmt: skip
    """An untrained SoftmaxDNN x → hidden → ψ ∈ R^dim → softmax(ψ Vᵀ), with `TEXTBOOK` settings."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return SoftmaxDNN(split.n_items, dim=dim, hidden=check_widths(hidden),
                          activation=activation, **TEXTBOOK,
                          **feature_kwargs(split, side, dense))  # fmt: skip


def evaluate_model(model: torch.nn.Module, split: Split, k: int = DEFAULT_K) -> dict[str, float]:
    """Recall@20, NDCG@k and the popularity metrics (coverage, ARP, Gini, APLT) on the test part."""
    return evaluate_dict(score_users(model, split), split, k=k, metrics=METRICS)


def playground_run(split: Split, *, hidden: Sequence[int] = (256,), activation: str = "relu",
                   side: bool = False, dense: bool = False, dropout: float = 0.0,
                   epochs: int = 20, lr: float = 0.035, residual: bool = True,
                   seed: int = DEFAULT_SEED, callbacks=(),
                   eval_every: int | None = None):  # fmt: skip
    """Train the "SoftmaxDNN" recipe with these settings; return (model, History, metrics).

    Everything not named here keeps the recipe's tuned value, so the default call is the recipe.

    Raises:
        ValueError: On a width <= 0, an unknown activation, dropout outside [0, 1), a bad lr or
            epochs (the message of the model or of `fit`).
    """
    check_split(split, "split")  # feature_kwargs reads it before train would check it
    kwargs = {"hidden": check_widths(hidden), "activation": activation, "dropout": dropout,
              "residual": residual, **feature_kwargs(split, side, dense)}  # fmt: skip
    model, history = train("SoftmaxDNN", split, seed=seed, model_kwargs=kwargs, epochs=epochs,
                           lr=lr, callbacks=callbacks, eval_every=eval_every, progress=False,
                           use_side=side, use_dense=dense)  # fmt: skip
    return model, history, evaluate_model(model, split)


def linear_layers(model: SoftmaxDNN) -> list[nn.Linear]:
    """The Linear layers of the query tower's MLP, input first."""
    return [m for m in model.query_tower.mlp.modules() if isinstance(m, nn.Linear)]


def collapsed(model: SoftmaxDNN) -> tuple[torch.Tensor, torch.Tensor]:
    """(W, b) of the single affine map equal to a stack of linear layers.

    With ψ = W_L(⋯(W_1 x + b_1)⋯) + b_L:  W = W_L ⋯ W_1 and b = Σ_l W_L ⋯ W_{l+1} b_l.

    Raises:
        ValueError: When the stack is not linear (a relu/tanh activation, or dropout).
    """
    layers = linear_layers(model)
    if not layers:
        raise ValueError("this model has no hidden layer: ψ = x already, there is nothing to "
                         "collapse")  # fmt: skip
    others = [m for m in model.query_tower.mlp.modules()
              if not isinstance(m, nn.Linear | nn.Identity | nn.Sequential)]  # fmt: skip
    if others or model.block is not None:
        raise ValueError("collapse needs a plain stack of linear layers: build the model with "
                         "activation='linear', dropout=0 and residual=False")  # fmt: skip
    w, b = layers[0].weight.detach(), layers[0].bias.detach()
    for layer in layers[1:]:
        w, b = layer.weight.detach() @ w, layer.weight.detach() @ b + layer.bias.detach()
    return w, b


def tower_input(model: SoftmaxDNN, batch: QueryBatch) -> torch.Tensor:
    """x = [mean of the history's embeddings ‖ side embeddings ‖ dense], shape (B, width)."""
    tower = model.query_tower
    parts = [tower.bag(batch.bag, batch.offsets)]
    parts += [emb(batch.side[:, i]) for i, emb in enumerate(tower.side)]
    parts += [batch.dense] if tower.n_dense else []
    return torch.cat(parts, dim=1)


def collapse_gap(model: SoftmaxDNN, split: Split, users: Sequence[int]) -> float:
    """max |ψ(x) − (W x + b)| over `users`, with (W, b) = `collapsed(model)`."""
    batches = user_batches(split, check_users(users, split.n_users), split_features(split))
    w, b = collapsed(model)
    with evaluating(model):
        # ψ itself: query_embedding appends a 1 for the item bias when the model has one.
        return max(
            float((model.query_tower(batch) - (tower_input(model, batch) @ w.T + b)).abs().max())
            for batch in batches
        )


def run_grid(split: Split, depths: Sequence[int] = (0, 1, 2), seeds: Sequence[int] = (0, 1), *,
             feature_sets: Sequence[str] = tuple(FEATURE_SETS), width: int = 256,
             epochs: int = 10) -> pd.DataFrame:  # fmt: skip
    """One `playground_run` per (depth, feature set, seed): the recipe with `depth` hidden
    layers of `width` units. Returns one row per run: depth, features, seed, metrics, seconds."""
    examples = {"depths": "(0, 1, 2)", "seeds": "(0, 1)", "feature_sets": str(tuple(FEATURE_SETS))}
    for name, value in (("depths", depths), ("seeds", seeds), ("feature_sets", feature_sets)):
        _check_sequence(name, value, examples[name])
    unknown = sorted(set(feature_sets) - set(FEATURE_SETS))
    if unknown:
        raise ValueError(f"unknown feature sets {unknown}; choose from {list(FEATURE_SETS)}")
    if not len(depths) or not len(seeds) or not len(feature_sets):
        raise ValueError("depths, seeds and feature_sets each need at least one value, e.g. "
                         f"depths={examples['depths']}, seeds={examples['seeds']}")  # fmt: skip
    depths = [check_int("depth", depth, 0, hint=" (hidden layers)") for depth in depths]
    rows = []
    runs = list(product(depths, feature_sets, seeds))  # 12 fits in notebook 02: ~10 s, so a bar
    for depth, name, seed in tqdm(runs, desc="grid", unit="fit", disable=not show_progress()):
        side, dense = FEATURE_SETS[name]
        model, history, metrics = playground_run(split, hidden=(width,) * depth, side=side,
                                                 dense=dense, epochs=epochs, seed=seed)  # fmt: skip
        seconds = float(history.to_frame()["seconds"].sum())
        rows.append({"depth": depth, "features": name, "seed": seed, **metrics, "seconds": seconds})
    return pd.DataFrame(rows)


def grid_summary(grid: pd.DataFrame, metric: str = f"ndcg@{DEFAULT_K}") -> pd.DataFrame:
    """Mean and standard deviation over seeds of `metric`, one row per (depth, features)."""
    if metric not in grid:
        raise ValueError(f"unknown metric {metric!r}; choose one of {list(grid.columns)}")
    return grid.groupby(["depth", "features"])[metric].agg(["mean", "std"]).reset_index()


def log_softmax_gap(model: torch.nn.Module, batch: QueryBatch) -> float:
    """max |log p̂_j − (⟨ψ(x), V_j⟩ − log Z)|, Z = Σ_k exp⟨ψ(x), V_k⟩, with p̂ from the model."""
    with evaluating(model):
        log_p = torch.log_softmax(model(batch), dim=1)  # log p̂ (B, n_items)
        psi, v = model.query_embedding(batch), model.item_embeddings()
        dots = psi @ v.T
        return float((log_p - (dots - torch.logsumexp(dots, 1, keepdim=True))).abs().max())


def mf_as_dnn(mf: MatrixFactorization) -> SoftmaxDNN:
    """A SoftmaxDNN with no hidden layer whose input is the one-hot user id, weights copied.

    x = [mean history embedding (zeroed) ‖ e_u], ψ = W x with W = [0 | Uᵀ], so ψ = U_u and
    the logits ψ Vᵀ are MF's. The one-hot id is fed as n_users dense features.
    """
    n_users, dim = mf.user_embedding.shape
    dnn = SoftmaxDNN(mf.n_items, dim=dim, hidden=(), n_dense=n_users, residual=False,
                     item_bias=mf.item_bias is not None, input_dropout=0.0)  # fmt: skip
    with torch.no_grad():
        dnn.query_tower.bag.weight.zero_()
        layer = dnn.query_tower.mlp[0]  # the one Linear(dim + n_users, dim)
        layer.weight.copy_(torch.cat([torch.zeros(dim, dim), mf.user_embedding.T], 1))
        layer.bias.zero_()
        dnn.item_embedding.copy_(mf.item_embedding)
        if mf.item_bias is not None:
            dnn.item_bias.copy_(mf.item_bias)
    return dnn.eval()


def one_hot_batch(users: Sequence[int], n_users: int) -> QueryBatch:
    """Query rows whose dense input is the one-hot user id (the bag is a placeholder item 0)."""
    ids = torch.as_tensor(check_users(users, n_users))
    dense = torch.nn.functional.one_hot(ids, n_users).float()
    return QueryBatch(torch.zeros(len(ids), dtype=torch.long), torch.arange(len(ids)), ids,
                      dense=dense)  # fmt: skip


def mf_dnn_gap(mf: MatrixFactorization, users: Sequence[int]) -> float:
    """max |MF logits − logits of `mf_as_dnn(mf)` on the one-hot ids| over `users`."""
    batch = one_hot_batch(users, mf.n_users)
    with evaluating(mf):
        return float((mf(batch) - mf_as_dnn(mf)(batch)).abs().max())


def new_user_table(
    split: Split, *, seed: int = DEFAULT_SEED, k: int = DEFAULT_K
) -> tuple[pd.DataFrame, str]:
    """Recall@20, NDCG@k and coverage@k on users absent from training, and MF's refusal.

    `split` holds out whole users (`lessons.data.cold_start_users`): each reveals the start
    of their history (`split.query`) and is tested on the rest. The SoftmaxDNN recipe reads
    that history as its input x; Popularity needs no user, and EASE, an item-item model
    (score = X_u B), reads the history too. Matrix factorization has no row U_u for them.

    Returns:
        (one row per model: Popularity, EASE, SoftmaxDNN; the message of MF's refusal).

    Raises:
        ValueError: On a split that does not hold out whole users.
    """
    if check_split(split, "split").kind != "cold_users":
        raise ValueError(f"new_user_table needs users held out whole, got a {split.kind!r} "
                         "split: build it with lessons.data.cold_start_users(data)")  # fmt: skip
    train_x, history = split.train_matrix(), split.history_matrix()
    dnn, _ = train("SoftmaxDNN", split, seed=seed, eval_every=None, progress=False)
    scores = {"Popularity": Popularity().fit(train_x).scores(history),
              "EASE": EASE(seed=seed).fit(train_x).scores(history),
              "SoftmaxDNN": score_users(dnn, split)}  # fmt: skip
    metrics = ("recall", "ndcg", "coverage")
    table = pd.DataFrame({name: evaluate_dict(s, split, k=k, metrics=metrics)
                          for name, s in scores.items()}).T  # fmt: skip
    try:  # refused before the first epoch: fit checks that it can score the test users
        train("MF", split, seed=seed, epochs=1, eval_every=None, progress=False)
    except ValueError as refusal:  # what the lesson shows: MF has no row for a new user
        return table, str(refusal)
    raise AssertionError("MF accepted users it never saw")  # pragma: no cover - a bug


def main_genre(dataset, genres: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """(code per item, labels): the first of `genres` the item has, else "other" (last code).

    Raises:
        ValueError: On a genre the dataset does not have.
    """
    _check_sequence("genres", genres, '("Drama", "Horror")')
    unknown = [g for g in genres if g not in dataset.genres]
    if unknown or not len(genres):
        raise ValueError(f"unknown genres {unknown}; choose from {list(dataset.genres)}")
    flags = dataset.items[list(genres)].to_numpy(dtype=bool)  # (n_items, len(genres))
    codes = np.where(flags.any(1), flags.argmax(1), len(genres))
    return codes, [*genres, "other"]


__all__ = [
    "FEATURE_SETS", "METRICS", "TEXTBOOK", "collapse_gap", "collapsed", "evaluate_model",
    "feature_kwargs", "main_genre", "grid_summary", "linear_layers", "log_softmax_gap", "mf_as_dnn",
    "mf_dnn_gap", "one_hot_batch", "playground_run", "run_grid", "textbook_dnn", "tower_input",
]  # fmt: skip
