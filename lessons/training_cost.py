"""What one training step costs as the catalogue grows: full against sampled softmax, and the
optimizer update that the sampled loss does not make cheaper.

* A full softmax builds all B × n logits ψ Vᵀ per step: O(B·n·d) time and B·n floats.
* A sampled softmax builds B × (B + m) logits (the batch's own positives plus m shared
  negatives), so its forward and backward do not grow with n.
* The update of V is a separate cost. Dense Adam (`torch.optim.Adam`) reads and writes every
  row of V and of its two moment buffers each step, O(n·d) whatever the loss; only a sparse
  update (`torch.optim.SparseAdam` on a sparse gradient) touches just the batch's B + m rows.

Every timing is the fastest of `repeats` steps on one thread, after a warm-up step.
"""

import time
from collections.abc import Callable, Sequence

import pandas as pd
import torch
import torch.nn.functional as F

from lessons.config import DEFAULT_SEED
from lessons.scoring import check_int

LOSSES = ("full", "sampled")
OPTIMIZERS = ("none", "Adam", "SparseAdam")  # the update after the sampled step's backward


def _fastest(step: Callable[[], None], repeats: int) -> float:
    """Minimum wall time of `step` over `repeats` runs, after one warm-up run (the allocator;
    Adam's moment buffers), on one thread (restored afterwards): a per-core cost, so a busy
    machine does not add thread-scheduling waits to the small steps."""
    repeats, threads = check_int("repeats", repeats, 1), torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        step()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)
    return min(times)  # the least disturbed run: other processes only ever add time


def softmax_step_seconds(
    n_items: int, loss: str = "full", *, optimizer: str = "none", dim: int = 32, batch: int = 32,
    n_negatives: int = 0, repeats: int = 3, seed: int = DEFAULT_SEED
) -> float:  # fmt: skip
    """Best wall time of one training step (forward + backward [+ update]) on random embeddings.

    full:    L = -(1/B) Σ_i log softmax(ψ_i Vᵀ)_{y_i}, logits (B, n): O(B·n·d) and B·n floats.
    sampled: the columns are the B positives V_{y_1..B} plus m uniform negatives (shared),
             logits (B, B + m): independent of n.
    optimizer (sampled only): "none" times forward and backward, with a sparse gradient on V;
    "Adam" adds a dense Adam update of V (its gradient is then a dense (n, d) tensor, as an
    `nn.Embedding` without `sparse=True` gives); "SparseAdam" updates only the looked-up rows.
    Peak memory of "full" is about 3 · B · n · 4 bytes (logits, log-softmax, their gradient)
    plus 2 · n · d · 4 (V and its dense gradient); Adam and SparseAdam keep 2 · n · d more.
    """
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose one of {LOSSES}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {OPTIMIZERS}")
    if loss == "full" and optimizer != "none":
        raise ValueError("the optimizer is timed for the sampled loss only; use optimizer='none'")
    n_items, dim, batch = (check_int(name, value, 1) for name, value in
                           (("n_items", n_items), ("dim", dim), ("batch", batch)))  # fmt: skip
    check_int("n_negatives", n_negatives, 0)
    gen = torch.Generator().manual_seed(seed)
    V = torch.randn(n_items, dim, generator=gen).mul_(0.1).requires_grad_()  # in place: one copy
    psi = torch.randn(batch, dim, generator=gen, requires_grad=True)
    y = torch.randint(n_items, (batch,), generator=gen)
    cols = torch.cat([y, torch.randint(n_items, (n_negatives,), generator=gen)])
    opt = {"Adam": torch.optim.Adam, "SparseAdam": torch.optim.SparseAdam}.get(optimizer)
    update = opt([V], lr=1e-3) if opt else None  # V only: the query side's cost does not grow

    def step() -> None:
        V.grad = psi.grad = None
        if loss == "full":
            F.cross_entropy(psi @ V.T, y).backward()
        else:
            emb = F.embedding(cols, V, sparse=optimizer != "Adam")  # dense Adam: a dense grad
            F.cross_entropy(psi @ emb.T, torch.arange(batch)).backward()
        if update is not None:
            update.step()

    return _fastest(step, repeats)


def softmax_cost(
    sizes: Sequence[int], *, dim: int = 32, batch: int = 32, n_negatives: int = 0,
    repeats: int = 3, seed: int = DEFAULT_SEED
) -> pd.DataFrame:  # fmt: skip
    """`softmax_step_seconds` of both losses for each catalogue size, as a tidy table.

    Returns:
        Columns n_items, loss ("full" / "sampled"), seconds, logits (floats per step).
    """
    if not len(sizes):
        raise ValueError("sizes is empty; pass catalogue sizes such as (1_000, 10_000, 100_000)")
    rows = []
    for n in sizes:
        for loss in LOSSES:
            sec = softmax_step_seconds(n, loss, dim=dim, batch=batch, n_negatives=n_negatives,
                                       repeats=repeats, seed=seed)  # fmt: skip
            width = n if loss == "full" else batch + n_negatives
            rows.append({"n_items": int(n), "loss": loss, "seconds": sec, "logits": batch * width})
    return pd.DataFrame(rows)


def update_cost(
    sizes: Sequence[int], *, dim: int = 32, batch: int = 32, repeats: int = 3,
    seed: int = DEFAULT_SEED
) -> pd.DataFrame:  # fmt: skip
    """The sampled step without an update, with dense Adam and with SparseAdam, per size.

    Returns:
        Columns n_items, optimizer (one of `OPTIMIZERS`), seconds.
    """
    if not len(sizes):
        raise ValueError("sizes is empty; pass catalogue sizes such as (1_000, 10_000, 100_000)")
    rows = [{"n_items": int(n), "optimizer": opt,
             "seconds": softmax_step_seconds(n, "sampled", optimizer=opt, dim=dim, batch=batch,
                                             repeats=repeats, seed=seed)}
            for n in sizes for opt in OPTIMIZERS]  # fmt: skip
    return pd.DataFrame(rows)


def speedup(cost: pd.DataFrame) -> pd.Series:
    """Full-softmax step time over sampled-softmax step time, per catalogue size."""
    wide = cost.pivot(index="n_items", columns="loss", values="seconds")
    return (wide["full"] / wide["sampled"]).rename("speedup")


__all__ = [
    "LOSSES",
    "OPTIMIZERS",
    "softmax_cost",
    "softmax_step_seconds",
    "speedup",
    "update_cost",
]
