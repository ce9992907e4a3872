"""One model-agnostic training loop for matrix factorization, the softmax DNN and the two-tower.

Every model offers `loss(batch)`, `forward(batch)` (logits ψ(x) Vᵀ), `item_embeddings()` and
`uses_history`, so one loop trains them all. One epoch of `fit`:

1. Inputs and targets. A history model (`uses_history`) reads a bag of items x and must predict
   other items: each user's training items are divided afresh into an input part and a target
   part (as `split_history`, leak-free: no target item is ever in the input). MF reads the
   user id and its target p is the whole training row. `EpochSampler` draws this for all
   users in one vectorized pass and keeps p sparse.
2. Users are shuffled and cut into mini-batches; Adam minimizes `model.loss` (for the softmax
   models L = −Σ_j p_j log p̂_j with p̂ = softmax(ψ(x) Vᵀ), averaged over the batch).
3. Evaluation, without gradients: the query input is the FULL training history, training items
   are excluded from the ranking, and Recall@k, NDCG@k and Coverage@k of the top-k lists come
   from `lessons.metrics`; `valid_loss` is `model.loss` with the validation items as targets.
   The evaluation batches are built once per fit, so an epoch adds only a forward pass and a
   top-k to the training work.
"""

import math
import time
from collections.abc import Iterable

import numpy as np
import scipy.sparse as sp
import torch
from tqdm.auto import tqdm

from lessons.config import DEFAULT_K, DEFAULT_SEED
from lessons.data.dataset import Split
from lessons.features.epochs import EpochSampler
from lessons.fit_args import Callback, as_callbacks, check_fit_args
from lessons.history import History
from lessons.runtime import show_progress
from lessons.scoring import check_int, score_users, split_features
from lessons.validation import Evaluator

DEFAULT_EPOCHS = 12
DEFAULT_LR = 1e-2
DEFAULT_BATCH_SIZE = 128
DEFAULT_TARGET_SHARE = 0.5  # share of a user's training items used as targets, per epoch
LR_SCHEDULES = ("cosine", "constant")


def _train_epoch(model, optimizer: torch.optim.Optimizer, scheduler, sampler: EpochSampler,
                 rng: np.random.Generator, batch_size: int) -> float:  # fmt: skip
    """One pass over the shuffled users; returns the mean training loss per query.

    A non-finite loss ends the epoch at once, before its step could spread NaN into the
    weights, and is returned as such (`fit` reports the divergence).
    """
    model.train()
    total, count = 0.0, 0
    for batch in sampler.epoch(rng, batch_size):
        loss = model.loss(batch)
        value = loss.item()
        if not math.isfinite(value):
            return value
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        total, count = total + value * batch.size, count + batch.size
    return total / max(count, 1)


def _finite(model: torch.nn.Module) -> bool:
    """Whether the weights are finite: a last step can blow them up after a finite loss.

    One sum per tensor (NaN or ±inf anywhere makes it non-finite, as does a sum beyond float32,
    which only diverged weights reach): 0.05 ms an epoch, where an elementwise check took 0.5.
    """
    with torch.no_grad():
        return bool(torch.isfinite(sum(p.sum() for p in model.parameters())))


def _scheduler(optimizer, kind: str, epochs: int, train: sp.csr_matrix, batch_size: int,
               uses_history: bool):  # fmt: skip
    """Per-step learning-rate factor: constant, or cosine decay from lr to 0 over all steps.

    Cosine decay lets a high initial lr make fast progress and still settle at the end,
    which matters when a widget trains for only a few dozen steps.
    """
    if kind not in LR_SCHEDULES:
        raise ValueError(f"unknown lr_schedule {kind!r}; expected one of {LR_SCHEDULES}")
    # Users that yield a training example: a history model needs >= 2 items (input + target).
    per_user = np.diff(train.indptr)
    n_users = int((per_user >= (2 if uses_history else 1)).sum())
    total = max(1, epochs * math.ceil(n_users / batch_size))
    if kind == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * min(step, total) / total))
    )


def _param_groups(model: torch.nn.Module, lr: float) -> list[dict]:
    """Optimizer groups: `model.parameter_groups()` (each with an `lr_scale`) when offered."""
    if not hasattr(model, "parameter_groups"):
        return [{"params": list(model.parameters()), "lr": lr}]
    return [{"params": g["params"], "lr": lr * g["lr_scale"]} for g in model.parameter_groups()]


def _snapshot(model: torch.nn.Module) -> dict:
    return {name: t.detach().clone() for name, t in model.state_dict().items()}


def fit(
    model: torch.nn.Module,
    data: Split,
    *,
    epochs: int = DEFAULT_EPOCHS,
    lr: float = DEFAULT_LR,
    batch_size: int = DEFAULT_BATCH_SIZE,
    weight_decay: float = 0.0,
    seed: int = DEFAULT_SEED,
    k: int = DEFAULT_K,
    callbacks: Callback | Iterable[Callback] | None = (),
    patience: int | None = None,
    target_share: float | None = None,
    use_side: bool = True,
    use_dense: bool = True,
    lr_schedule: str = "cosine",
    eval_every: int | None = 1,
    exclude_cold_items: bool = True,
    progress: bool | None = None,
) -> History:
    """Train `model` on `data.train` with Adam and evaluate it after every epoch.

    Evaluation runs on `data.valid`; without a validation part it runs on `data.test` as
    monitoring only (no epoch is selected on it). With a validation part the model ends with
    the weights of its best validation NDCG@k epoch (`History.best_epoch`) — after all epochs,
    after early stopping, and after a KeyboardInterrupt alike (interrupted before the first
    evaluation, it keeps the last completed epoch's; before the first epoch completed, the
    weights it came in with). It is left in eval mode.

    Randomness (history splits, shuffling, dropout, sampled negatives) derives from `seed` only:
    NumPy draws use a local generator, and torch's global generator, which dropout and
    `torch.multinomial` read, is seeded inside `torch.random.fork_rng`, so the caller's global
    random state is restored afterwards. Same seed and machine give the same History metrics.
    Callbacks run on a fork of that generator (`fork_rng`, restored after them), so a callback
    that samples, or runs the model, does not change the run. (Model initialization happens
    before `fit`: seed it, or copy one initialized model.)

    Args:
        model: MatrixFactorization, SoftmaxDNN or TwoTower, built for `data.n_items` items.
        data: A split; its validation part (if any) drives model selection.
        epochs: Passes over the training users.
        lr: Adam learning rate.
        batch_size: Users per mini-batch.
        weight_decay: Adam's L2 penalty on every parameter.
        seed: Seed of every random draw of the loop.
        k: Cut-off of Recall@k, NDCG@k and Coverage@k.
        callbacks: `cb(history, model)` called after each epoch (live plots, widgets), with
            the model in eval mode; one callable or a list of them. An exception propagates
            (KeyboardInterrupt stops training like an interrupt).
        patience: Stop after this many epochs without a better validation NDCG@k.
        target_share: Share of each user's training items used as targets per epoch (history
            models only; default 0.5).
        use_side, use_dense: Feed demographics / dense user features to models built for them.
        lr_schedule: "cosine" (decay from `lr` to 0 over all steps) or "constant".
        eval_every: Evaluate every this many epochs and always after the last one; None
            evaluates after the last epoch only (fastest; the History then has one row with
            metrics, the other rows carry the training loss and NaN metrics).
        exclude_cold_items: Leave the held-out items of a cold-start-items split out of
            every training softmax (`QueryBatch.exclude_items`); kept in, they could only be
            pushed down, and an item tower learns "looks new → score low" (False shows it).
        progress: Show a progress bar over epochs; None shows it unless LESSONS_QUIET=1.

    Returns:
        The History (also complete after an interrupt).

    Raises:
        ValueError: On bad arguments, a model sized for another catalogue, `patience` without a
            validation part or with `eval_every=None`, or a diverging run (a NaN/inf loss or
            weight: lower `lr`); the model then holds its best (or last completed) epoch's
            weights, or its initial ones.
    """
    check_fit_args(model, data, epochs, lr, batch_size, weight_decay, seed, k, patience,
                   target_share)  # fmt: skip
    callbacks = as_callbacks(callbacks)
    if eval_every is not None:
        check_int("eval_every", eval_every, 1, hint="; or None to evaluate after the last epoch")
    elif patience is not None:  # only the last epoch would be evaluated: it could never stop
        raise ValueError(
            "early stopping needs evaluations along the way, but eval_every=None evaluates "
            "after the last epoch only; use eval_every=1 (or patience=None)"
        )
    share = DEFAULT_TARGET_SHARE if target_share is None else float(target_share)
    train = data.train_matrix()
    features = split_features(data, side=use_side, dense=use_dense)
    evaluate = Evaluator.build(model, data, features, k, use_side, use_dense, batch_size)
    exclude = None
    if exclude_cold_items and data.candidates is not None:
        exclude = torch.zeros(data.n_items, dtype=torch.bool)
        exclude[torch.as_tensor(data.candidates, dtype=torch.long)] = True
    sampler = EpochSampler(
        train, share if model.uses_history else None, features,
        use_side=use_side, use_dense=use_dense, exclude_items=exclude,
    )  # fmt: skip
    history = History(k=k, monitor=evaluate.part)
    ndcg_key = f"ndcg@{k}"
    # fused: one kernel updates every parameter (4x faster than foreach on CPU here).
    optimizer = torch.optim.Adam(
        _param_groups(model, lr), lr=lr, weight_decay=weight_decay, fused=True
    )
    scheduler = _scheduler(optimizer, lr_schedule, epochs, train, batch_size, model.uses_history)
    numpy_seed, torch_seed = np.random.SeedSequence(seed).spawn(2)
    rng = np.random.default_rng(numpy_seed)
    # Weights to end with: best on valid, else the last completed epoch, else the initial ones
    # (an interrupt inside epoch 1 must not leave a half-trained model with an empty History).
    kept = _snapshot(model)
    bar = tqdm(range(1, epochs + 1), desc=type(model).__name__, unit="epoch",
               disable=not show_progress(progress))  # fmt: skip
    try:
        with torch.random.fork_rng():
            torch.manual_seed(int(torch_seed.generate_state(1)[0]))
            for epoch in bar:
                start = time.perf_counter()
                loss = _train_epoch(model, optimizer, scheduler, sampler, rng, batch_size)
                if not np.isfinite(loss) or not _finite(model):
                    what = f"loss {loss}" if not np.isfinite(loss) else "weights became NaN/inf"
                    raise ValueError(
                        f"training diverged at epoch {epoch} ({what}); lower lr "
                        f"(now {lr}) or add weight_decay"
                    )
                due = epoch == epochs or (eval_every is not None and epoch % eval_every == 0)
                row = {"epoch": epoch, "train_loss": loss, **(evaluate(model) if due else {})}
                row["seconds"] = time.perf_counter() - start
                history.rows.append(row)
                if (
                    due
                    and history.monitor == "valid"
                    and (history.best_epoch is None or row[ndcg_key] > history.best()[ndcg_key])
                ):
                    history.best_epoch, kept = epoch, _snapshot(model)
                elif history.best_epoch is None:
                    # Test monitoring (no selection), or no validation yet (eval_every > 1): an
                    # interrupt must still leave the last completed epoch, not a half-done one.
                    kept = _snapshot(model)
                bar.set_postfix(loss=f"{loss:.4f}", ndcg=f"{row.get(ndcg_key, np.nan):.4f}")
                best = history.best_epoch
                # Only an evaluated epoch can show that the model stopped improving. Decided
                # before the callbacks, so that a live plot knows this epoch is the last.
                history.stopped_early = (
                    patience is not None
                    and due
                    and best is not None
                    and epoch - best >= patience
                    and epoch < epochs  # on the last epoch nothing is cut short
                )
                if callbacks:
                    model.eval()  # _train_epoch sets train mode again
                    with torch.random.fork_rng():  # their draws must not move training's
                        for cb in callbacks:
                            cb(history, model)
                if history.stopped_early:
                    break
    except KeyboardInterrupt:
        history.interrupted = True
    finally:
        bar.close()
        model.load_state_dict(kept)
        model.eval()
    return history


__all__ = ["History", "fit", "score_users"]
