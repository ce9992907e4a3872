"""Tuned default configurations: which model, built how, trained how.

A recipe pairs a model constructor with the `fit` arguments it was tuned with, so the
benchmark, the notebooks and the widgets all train the same thing. Figures quoted below are
from `python -m lessons.bench` on MovieLens 100K (per-user random 80/20, seed 0).
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from lessons.config import DEFAULT_SEED
from lessons.data.dataset import Split, check_split
from lessons.features import item_features
from lessons.history import History
from lessons.losses import item_log_q
from lessons.models import MatrixFactorization, SoftmaxDNN, TwoTower
from lessons.train import fit


@dataclass(frozen=True)
class Recipe:
    """A model family with tuned constructor and training arguments.

    Attributes:
        build: `build(split, **model_kwargs) -> nn.Module`, sizing the model to the split.
        model_kwargs: Tuned constructor arguments.
        fit_kwargs: Tuned `lessons.train.fit` arguments.
        note: Why these values (shown in the lessons).
    """

    build: Callable[..., torch.nn.Module]
    model_kwargs: dict = field(default_factory=dict)
    fit_kwargs: dict = field(default_factory=dict)
    note: str = ""


def _mf(split: Split, **kwargs) -> MatrixFactorization:
    return MatrixFactorization(split.n_users, split.n_items, **kwargs)


def _softmax_dnn(split: Split, **kwargs) -> SoftmaxDNN:
    return SoftmaxDNN(split.n_items, **kwargs)


def _two_tower(split: Split, *, log_q: bool = False, **kwargs) -> TwoTower:
    """TwoTower over genre + release-year item features; log_q=True turns on the correction
    with q_j from the split's training counts. On a cold-start split the title vocabulary
    (`use_title=True`) counts training titles only: a word of held-out titles alone would
    keep its random vector."""
    held_out = split.candidates
    seen = None if held_out is None else np.setdiff1d(np.arange(split.n_items), held_out)
    features = item_features(split.dataset, date_buckets="year", vocabulary_items=seen)
    correction = item_log_q(split.item_popularity()) if log_q else None
    return TwoTower(split.n_items, features, log_q=correction, **kwargs)


# Linear towers beat 64-unit hidden towers on ML-100K in every setting measured; every
# two-tower recipe uses them, with 20% of each user's items as targets per epoch.
_TOWERS = {"dim": 32, "query_hidden": (), "item_hidden": ()}
_TOWER_FIT = {"lr": 2e-2, "target_share": 0.2}
_COSINE = {"normalize": True, "temperature": 0.1}  # the in-batch recipes' scoring
_IN_BATCH = {**_TOWERS, "loss": "in_batch", **_COSINE}

RECIPES: dict[str, Recipe] = {
    # Softmax MF: L2 on the embeddings is the setting that matters (0.03 overfits, 1.0 collapses
    # to popularity); one full batch of users per step, 50 steps of Adam with cosine decay.
    "MF": Recipe(
        _mf,
        model_kwargs={"dim": 64, "l2": 0.1},
        fit_kwargs={"epochs": 50, "lr": 0.05, "batch_size": 1024},
        note="softmax MF, d=64, L2 0.1 on the embeddings",
    ),
    # The lesson's softmax DNN at its defaults (mean-pooled history, input dropout 0.2, a
    # residual ReLU block 128→256→128 learning at 0.1 × lr, item bias, label smoothing 0.8,
    # input items left out of the softmax). Leak-free: each epoch 60% of a user's training
    # items become targets and only the other 40% are shown as input. 256 users per batch:
    # larger batches are closer to the FLOP floor per epoch but need more epochs, and the fit
    # is longer (472 users, 30 epochs: 1.7 s against 1.35 s at the same NDCG; docs/benchmark.md).
    "SoftmaxDNN": Recipe(
        _softmax_dnn,
        fit_kwargs={"epochs": 20, "lr": 0.035, "batch_size": 256, "target_share": 0.6},
        note="softmax DNN, d=128, residual ReLU block, label smoothing 0.8",
    ),
    # Full softmax over φ(x_item) for every item, with an item-id embedding (warm items).
    "TwoTower": Recipe(
        _two_tower,
        model_kwargs=_TOWERS,
        fit_kwargs={**_TOWER_FIT, "epochs": 40, "batch_size": 512},
        note="two-tower, full softmax, linear towers, d=32",
    ),
    # The same full softmax scored like the in-batch recipes (cosine, τ = 0.1): the control that
    # tells the logQ correction's effect from the scoring's (benchmark, logQ section).
    "TwoTower-cosine": Recipe(
        _two_tower,
        model_kwargs={**_TOWERS, **_COSINE},
        fit_kwargs={**_TOWER_FIT, "epochs": 40, "batch_size": 512},
        note="two-tower, full softmax, cosine scores at temperature 0.1",
    ),
    # No item-id embedding: φ reads genres and release year only, so it embeds items never
    # seen in training. Held-out items are left out of the training softmax by `fit`.
    "TwoTower-cold": Recipe(
        _two_tower,
        model_kwargs={**_TOWERS, "use_item_id": False},
        fit_kwargs={**_TOWER_FIT, "epochs": 40, "batch_size": 1024},
        note="two-tower for cold-start items: features only",
    ),
    # In-batch sampled softmax: the other examples' items are the negatives.
    "TwoTower-inbatch": Recipe(
        _two_tower,
        model_kwargs=_IN_BATCH,
        fit_kwargs={**_TOWER_FIT, "epochs": 10, "batch_size": 32},
        note="two-tower, in-batch softmax without correction",
    ),
    "TwoTower-inbatch-logQ": Recipe(
        _two_tower,
        model_kwargs={**_IN_BATCH, "log_q": True},
        fit_kwargs={**_TOWER_FIT, "epochs": 10, "batch_size": 32},
        note="two-tower, in-batch softmax with logQ correction (Yi et al. 2019)",
    ),
}


def train(
    name: str,
    split: Split,
    *,
    seed: int = DEFAULT_SEED,
    model_kwargs: dict | None = None,
    **fit_overrides,
) -> tuple[torch.nn.Module, History]:
    """Build recipe `name` for `split`, train it, and return (model, History).

    Args:
        name: A key of `RECIPES`.
        split: The data; the model is sized to it.
        seed: Seeds the model's initialization and every draw of `fit`.
        model_kwargs: Overrides of the recipe's constructor arguments.
        **fit_overrides: Overrides of the recipe's `fit` arguments (epochs, lr, callbacks, ...).

    Raises:
        ValueError: For an unknown recipe name (and whatever `fit` rejects).
    """
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; choose one of {sorted(RECIPES)}")
    recipe = RECIPES[name]
    check_split(split, "split")  # before build, which reads the split's parts
    with torch.random.fork_rng():  # initialization is seeded without touching global state
        torch.manual_seed(seed)
        model = recipe.build(split, **{**recipe.model_kwargs, **(model_kwargs or {})})
    history = fit(model, split, seed=seed, **{**recipe.fit_kwargs, **fit_overrides})
    return model, history


__all__ = ["RECIPES", "Recipe", "train"]
