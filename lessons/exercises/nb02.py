"""Exercises of notebook 02 (the softmax DNN). Context: `model`, `logits`, `target`."""

import torch

from lessons.exercises import Exercise, choice, close_to
from lessons.models import SoftmaxDNN


def _x_width(model: SoftmaxDNN) -> int:
    tower = model.query_tower
    side = sum(emb.embedding_dim for emb in tower.side)
    return tower.bag.embedding_dim + side + tower.n_dense


def _cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> float:
    return float(-(target * torch.log_softmax(logits, dim=1)).sum(1).mean())


x_width = Exercise(
    name="nb02.x_width",
    question="How wide is the input layer x of `model` (history embedding ‖ side embeddings ‖ "
    "dense features)? Compute it from the model's parts, not by reading the first Linear layer.",
    expected=_x_width,
    compare=close_to(rtol=0, atol=0.5),
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

cross_entropy = Exercise(
    name="nb02.cross_entropy",
    question="Compute L = -(1/B) Σ_u Σ_j p_uj log p̂_uj from `logits` (B, n_items) and the "
    "normalized multi-hot target `p` (B, n_items), with p̂ = softmax(logits).",
    expected=_cross_entropy,
    compare=close_to(rtol=1e-4),
    hints=[
        "torch.log_softmax(logits, dim=1) is log p̂, computed stably.",
        "Multiply by p, sum over items (dim 1), average over rows, negate.",
    ],
    solution_code="answer = -(p * torch.log_softmax(logits, dim=1)).sum(1).mean().item()",
    explanation="the softmax cross-entropy against the normalized multi-hot p, the DNN's loss",
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
)

EXERCISES = (x_width, cross_entropy, collapse)

__all__ = ["EXERCISES", "collapse", "cross_entropy", "x_width"]
