"""The softmax deep neural network recommender (Covington et al. 2016; Google recsys course)."""

from collections.abc import Sequence

import torch
from torch import nn

from lessons.features import QueryBatch
from lessons.losses import softmax_cross_entropy
from lessons.models.towers import QueryTower, batch_target, init_table


class SoftmaxDNN(nn.Module):
    """p̂ = h(ψ(x) Vᵀ), h = softmax, trained with L = -(1/B) Σ_u Σ_j p_uj log p̂_uj.

    x = [mean of the history bag's embeddings ‖ side embeddings ‖ dense features]
    (see `QueryTower`); hidden layers (widths `hidden`, `activation`, `dropout`) map x to
    ψ(x) ∈ R^d, the last layer always to d. With hidden=() and no side/dense features, ψ(x)
    is x itself (the mean history embedding); otherwise one affine layer. Given a one-hot
    user-id input (a bag holding one pseudo-item per user) and hidden=(), ψ is an embedding
    lookup and the model is exactly softmax matrix factorization.

    V ∈ R^{n×d} is the softmax layer (the item embeddings). tie_embeddings=True makes the
    input bag table V itself (both are n×d, so widths always agree): one table, fewer
    parameters, and an item's input and output roles share a vector.
    Shapes: ψ (B, d); V (n_items, d); logits ψVᵀ (B, n_items). No item bias, so ranking by
    the embeddings (as `lessons.recommend` does) is exactly ranking by the logits.
    Defaults are placeholders pending tuning.
    """

    uses_history = True

    def __init__(self, n_items: int, dim: int = 64, hidden: Sequence[int] = (256,),
                 activation: str = "relu", dropout: float = 0.0,
                 side_cardinalities: Sequence[int] | None = None, n_dense: int = 0,
                 tie_embeddings: bool = False) -> None:  # fmt: skip
        super().__init__()
        self.query_tower = QueryTower(
            n_items, dim, hidden, activation, dropout, side_cardinalities, n_dense
        )
        self.n_items, self.tie_embeddings = n_items, tie_embeddings
        # Tied: V *is* the bag table's Parameter, so both roles update one tensor.
        self.item_embedding = (
            None if tie_embeddings else nn.Parameter(init_table(torch.empty(n_items, dim)))
        )

    def query_embedding(self, batch: QueryBatch) -> torch.Tensor:
        """ψ(x), shape (B, d)."""
        return self.query_tower(batch)

    def item_embeddings(self) -> torch.Tensor:
        """V, shape (n_items, d)."""
        return self.query_tower.bag.weight if self.item_embedding is None else self.item_embedding

    def forward(self, batch: QueryBatch) -> torch.Tensor:
        return self.query_embedding(batch) @ self.item_embeddings().T  # (B, n_items)

    def loss(self, batch: QueryBatch) -> torch.Tensor:
        target = batch_target(batch, self.n_items)  # p (B, n_items)
        return softmax_cross_entropy(self(batch), target)
