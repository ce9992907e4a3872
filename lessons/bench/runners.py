"""How each model is fitted, scored and timed by the benchmark.

A runner takes the split and returns (scores, info): the (n_users, n_items) score matrix
the metrics rank, and timings. Neural models are trained from their `lessons.recipes`
recipe with evaluation after the last epoch only, so "fit s" includes one evaluation.
"""

from collections.abc import Callable

import numpy as np
import torch

from lessons.bench.measure import PeakRSS, matmul_gflops, timed
from lessons.config import DEFAULT_K, RECALL_K


def _baseline(make: Callable) -> Callable:
    """Runner for a baseline: fit on the training matrix, score every user's history."""

    def runner(split) -> tuple[np.ndarray, dict]:
        train = split.train_matrix()
        model, fit_s = timed(make().fit, train)
        scores, score_s = timed(model.scores, train)
        return scores, {"fit_s": fit_s, "score_s": score_s}

    return runner


def _ease(split) -> tuple[np.ndarray, dict]:
    """EASE with λ chosen on a validation carve-out; the search is timed apart from the fit."""
    from lessons.baselines import EASE

    train = split.train_matrix()
    lam, select_s = timed(EASE().select_lambda, train)
    model, fit_s = timed(EASE(lam=lam).fit, train)
    scores, score_s = timed(model.scores, train)
    return scores, {"fit_s": fit_s, "score_s": score_s, "select_s": select_s, "lambda": lam}


def _recipe(name: str) -> Callable:
    """Runner for a neural recipe: train, then score every user from their full history."""

    def runner(split) -> tuple[np.ndarray, dict]:
        from lessons.recipes import train
        from lessons.scoring import score_users

        (model, history), fit_s = timed(train, name, split, eval_every=None, progress=False)
        scores, score_s = timed(score_users, model, split)
        epoch_s = history.to_frame()["seconds"].iloc[:-1]  # the last epoch also evaluates
        info = {"fit_s": fit_s, "score_s": score_s, "epochs": len(history)}
        info["epoch_s"] = float(epoch_s.median()) if len(epoch_s) else float("nan")
        return scores.numpy(), info

    return runner


def runners() -> dict[str, Callable]:
    """Model name -> runner(split) returning (scores, info)."""
    from lessons.baselines import ItemKNN, Popularity

    return {
        "Popularity": _baseline(Popularity),
        "ItemKNN": _baseline(ItemKNN),
        "EASE": _ease,
        "MF": _recipe("MF"),
        "SoftmaxDNN": _recipe("SoftmaxDNN"),
        "TwoTower": _recipe("TwoTower"),
    }


def measure(runner: Callable, split) -> dict:
    """Metrics, timings and peak memory of one runner on the split."""
    from lessons.metrics import evaluate_dict

    with PeakRSS() as mem:
        scores, info = runner(split)
        metrics = evaluate_dict(scores, split, k=DEFAULT_K, recall_k=RECALL_K)
    return {**metrics, **info, "peak_mb": mem.peak_mb}


def warm_up() -> None:
    """Pay one-time process costs (torch.optim's first import, kernel start-up) before timing."""
    from lessons.data.splits import random_split
    from lessons.data.synthetic import synthetic_movielens
    from lessons.recipes import train

    tiny = random_split(synthetic_movielens(n_users=60, n_items=80, seed=0), seed=0)
    for name in ("MF", "SoftmaxDNN", "TwoTower"):
        train(name, tiny, epochs=1, eval_every=None, progress=False)


def training_flops_per_epoch(model: torch.nn.Module, split, target_share: float) -> float:
    """Analytic FLOPs of one training epoch of a softmax model (forward + backward ≈ 3 × forward).

    Per training row: 2·in·out for every nn.Linear, 2·d·n for the logits ψVᵀ (the products of
    `epoch_gemms`); plus w per pooled history item, w = the width of `item_embeddings()` (d, or
    d + 1 with an item bias, although the bag table the pooling reads has no bias column).
    Softmax/cross-entropy and optimizer updates are O(n) per row and left out, so this is the
    matmul floor.
    """
    gemms = sum(2 * b * i * o for b, i, o in epoch_gemms(model, split))
    train = split.train_matrix()
    with torch.no_grad():  # only the width is read: no graph for [V, b]
        d = model.item_embeddings().shape[1]
    pooled = (1 - target_share) * train.nnz * d if model.uses_history else 0.0
    return 3.0 * (gemms + pooled)


def epoch_gemms(model: torch.nn.Module, split, batch_size: int | None = None
                ) -> list[tuple[int, int, int]]:  # fmt: skip
    """The (rows B, in, out) of every forward product of one training epoch, batch by batch.

    Per batch the logits (B, d)·(d, n) + b, then (B, in)·(in, out) + b for every nn.Linear;
    each also runs twice backwards. The training rows are the users with a target (and, for
    history models, an input); batch_size None puts them all in one batch.
    """
    per_user = np.diff(split.train_matrix().indptr)
    rows = int((per_user >= (2 if model.uses_history else 1)).sum())
    size = batch_size or max(rows, 1)
    sizes = [size] * (rows // size) + ([rows % size] if rows % size else [])
    with torch.no_grad():
        d, n = model.item_embeddings().shape[1], split.n_items
    layers = [(d, n)] + [(m.in_features, m.out_features) for m in model.modules()
                         if isinstance(m, torch.nn.Linear)]  # fmt: skip
    return [(b, i, o) for b in sizes for i, o in layers]


def epoch_gemm_seconds(model: torch.nn.Module, split, batch_size: int, repeats: int = 3) -> float:
    """Seconds one training epoch spends in its matrix products alone, timed bare.

    Each product of `epoch_gemms` on random operands: forward (B, in)·(in, out) + b and
    backwards (B, out)·(out, in) and (out, B)·(B, in). Best of `repeats`: the epoch's time if
    all else cost nothing, so epoch − GEMMs is what the loss, pooling, optimizer and batching add.
    """
    gemms = epoch_gemms(model, split, batch_size)
    operands = {(b, i, o): (torch.randn(b, i), torch.randn(o, i), torch.randn(o), torch.randn(b, o))
                for b, i, o in set(gemms)}  # fmt: skip

    def epoch() -> None:
        for shape in gemms:
            x, w, bias, grad = operands[shape]
            torch.nn.functional.linear(x, w, bias)  # forward
            grad @ w  # ∂L/∂x
            grad.t() @ x  # ∂L/∂W

    epoch()  # warm-up
    return min(timed(epoch)[1] for _ in range(repeats))


def speed_report(split, repeats: int = 5) -> dict:
    """The default SoftmaxDNN's speed: fit, epoch vs its FLOP floor and its bare GEMMs, scoring.

    On a shared machine both the matmul peak and the epoch time drift from second to second,
    so each of `repeats` fits is paired with the peak (`matmul_gflops`) measured just before
    it: epoch_over_floor is the median of those per-fit ratios, with their range beside it.
    fit_s and the scoring time are the best of the fits; a fit's epoch time is its median
    epoch (the last, which evaluates, left out). epoch_floor_s, which the bare GEMMs are
    compared with, uses the median of the peaks.
    """
    from lessons.metrics import top_k
    from lessons.recipes import RECIPES, train
    from lessons.scoring import score_users

    peaks, fits = [], []
    for _ in range(repeats):
        peaks.append(matmul_gflops())
        fits.append(timed(train, "SoftmaxDNN", split, eval_every=None, progress=False))
    epochs = [float(h.to_frame()["seconds"].iloc[:-1].median()) for (_, h), _ in fits]
    model = fits[0][0][0]
    share = RECIPES["SoftmaxDNN"].fit_kwargs.get("target_share", 0.5)
    flops = training_flops_per_epoch(model, split, share)
    ratios = sorted(epoch * peak * 1e9 / flops for epoch, peak in zip(epochs, peaks, strict=True))
    seen = split.train_matrix()
    score_s = min(timed(lambda: top_k(score_users(model, split), DEFAULT_K, exclude=seen))[1]
                  for _ in range(repeats))  # fmt: skip
    batch_size = RECIPES["SoftmaxDNN"].fit_kwargs["batch_size"]
    return {
        "fit_s": min(seconds for _, seconds in fits),
        "epoch_s": float(np.median(epochs)),
        "epoch_gemm_s": epoch_gemm_seconds(model, split, batch_size, repeats),
        "flops_per_epoch": flops,
        "matmul_gflops_per_fit": peaks,
        "epoch_floor_s": flops / (float(np.median(peaks)) * 1e9),
        "epoch_over_floor": float(np.median(ratios)),
        "epoch_over_floor_range": (ratios[0], ratios[-1]),
        "score_all_users_s": score_s,
    }
