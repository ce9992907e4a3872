"""Exercises of notebook 02 (the softmax DNN). Context: `model`, `logits`, `target`."""

import torch

from lessons.exercises import Exercise, choice, close_to
from lessons.models import SoftmaxDNN


def _widths(model: SoftmaxDNN) -> tuple[int, int, int]:
    """Widths of x's three parts: history embedding, side embeddings, dense features."""
    tower = model.query_tower
    return tower.bag.embedding_dim, sum(emb.embedding_dim for emb in tower.side), tower.n_dense


def _x_width(model: SoftmaxDNN) -> int:
    return sum(_widths(model))


def _width_slips(model: SoftmaxDNN) -> list[tuple[int, str]]:
    history, side, dense = _widths(model)
    return [
        (history + dense, f"that leaves out the side embeddings: add the embedding_dim of each "
         f"of the {len(model.query_tower.side)} tables in model.query_tower.side"),
        (history + side, f"that leaves out the {dense} dense features: add "
         "model.query_tower.n_dense"),
    ]  # fmt: skip


SMOOTHING = 0.8  # the recipe's label smoothing ε


def _row_losses(logits: torch.Tensor, target: torch.Tensor, n: int) -> torch.Tensor:
    """-Σ_j p_ε,uj log p̂_uj for each row u, with ε spread uniformly over n entries."""
    smoothed = (1 - SMOOTHING) * target + SMOOTHING / n
    return -(smoothed * torch.log_softmax(logits, dim=1)).sum(1)


def _smoothed_loss(logits: torch.Tensor, target: torch.Tensor) -> float:
    return float(_row_losses(logits, target, target.shape[1]).mean())  # uniform over all n


def _smoothing_slips(logits: torch.Tensor, target: torch.Tensor) -> list[tuple[float, str]]:
    batch, n = target.shape
    plain = -(target * torch.log_softmax(logits, dim=1)).sum(1).mean()
    return [
        (float(plain), "that is the cross-entropy against p itself: smooth the target into p_ε "
         "first"),
        (float(_row_losses(logits, target, n).sum()), "that sums over the rows: average over "
         "the B examples (.mean() after .sum(1))"),
        (float(_row_losses(logits, target, batch).mean()), "ε / n spreads ε over the n items, "
         "p.shape[1], not over the batch's rows"),
    ]  # fmt: skip


def _target_edited(target: torch.Tensor) -> str | None:
    """p is a normalized multi-hot target: rows of 1, zeros outside the user's items."""
    rows = target.sum(1)
    if (target > 0).all() or not torch.allclose(rows, torch.ones_like(rows), atol=1e-4):
        return ("the target passed to check is no longer the normalized multi-hot p (no zero "
                "entry, or rows not summing to 1): it was changed in place (p *= …, p += … "
                "change train_batch.target too). Re-run the cell of section 3 that builds "
                "train_batch, then build p_eps as a new tensor")  # fmt: skip
    return None


x_width = Exercise(
    name="nb02.x_width",
    question="How wide is the input layer x of `model` (history embedding ‖ side embeddings ‖ "
    "dense features)? Compute it from the model's parts, not by reading the first Linear layer.",
    expected=_x_width,
    compare=close_to(rtol=0, atol=1e-9),  # a count of columns: 90.4 is not a width
    pitfalls=_width_slips,
    hints=[
        "model.query_tower.bag.embedding_dim, the embedding_dim of each table in "
        "model.query_tower.side, and model.query_tower.n_dense.",
        "Add the three: e + 3·side_dim + n_dense.",
    ],
    solution_code=(
        "tower = model.query_tower\n"
        "side = sum(e.embedding_dim for e in tower.side)\n"
        "answer = tower.bag.embedding_dim + side + tower.n_dense"
    ),
    explanation="x concatenates the mean history embedding, one embedding per side feature and "
    "the dense features; the first hidden layer's in_features is that width",
)

smoothed_loss = Exercise(
    name="nb02.smoothed_loss",
    question=f"Label smoothing mixes the target with the uniform guess: p_ε = (1 − ε) p + ε / n "
    f"with ε = {SMOOTHING} and n the number of items. Compute the cross-entropy against it, "
    "L = -(1/B) Σ_u Σ_j p_ε,uj log p̂_uj, from `train_logits` (B, n_items) and the normalized "
    "multi-hot target `p` (B, n_items), with p̂ = softmax(train_logits).",
    expected=_smoothed_loss,
    compare=close_to(rtol=1e-4),
    pitfalls=_smoothing_slips,
    hints=[
        f"p_eps = (1 - {SMOOTHING}) * p + {SMOOTHING} / p.shape[1]; its rows still sum to 1.",
        "torch.log_softmax(train_logits, dim=1) is log p̂: multiply by p_eps, sum over items "
        "(dim 1), average over rows, negate.",
    ],
    solution_code=(
        f"p_eps = (1 - {SMOOTHING}) * p + {SMOOTHING} / p.shape[1]\n"
        "answer = -(p_eps * torch.log_softmax(train_logits, dim=1)).sum(1).mean().item()"
    ),
    changed_context=_target_edited,
    explanation="most of p_ε is the uniform guess, so even p̂ = p_ε scores not far below log n: "
    "that is why the recipe's loss curve moves so little while its ranking improves",
)

collapse = Exercise(
    name="nb02.collapse",
    question="A query tower x → 256 → 256 → ψ ∈ R^64 uses activation='linear'. Which maps x ↦ ψ "
    "can it represent?",
    expected=lambda **_: "b",
    compare=choice,
    hints=["Multiply the layers out: W₃(W₂(W₁x + b₁) + b₂) + b₃ = ?"],
    solution_code="answer = 'b'",
    explanation="W₃W₂W₁ is one 64 × width(x) matrix: the stack is one affine map, however deep",
    choices={
        "a": "any continuous function, given enough width",
        "b": "exactly the affine maps ψ = W x + b, as a single layer would",
        "c": "only functions with more parameters than a single layer",
    },
    why_not={
        "a": "that needs a nonlinearity between the layers (the universal approximation "
        "theorem); with activation='linear' there is none",
        "c": "more parameters are not more functions; multiplied out, the layers are one matrix "
        "and one bias",
    },
)

EXERCISES = (x_width, smoothed_loss, collapse)

__all__ = ["EXERCISES", "collapse", "smoothed_loss", "x_width"]
