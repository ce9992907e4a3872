"""Matrix factorization for implicit feedback, the first model of the lessons."""

import torch
from torch import nn

from lessons.features import QueryBatch
from lessons.losses import gravity, softmax_cross_entropy, wls_loss
from lessons.models.towers import batch_target, check_positive, init_table

LOSSES = ("softmax", "wls")


class MatrixFactorization(nn.Module):
    """Scores s_uj = ⟨U_u, V_j⟩ with U ∈ R^{n_users×d} (user ids) and V ∈ R^{n_items×d}.

    loss="softmax":  L = -(1/B) Σ_u Σ_j p_uj log softmax(U_u Vᵀ)_j, p_u = x_u / Σ_j x_uj.
    loss="wls":      L = (1/B) Σ_u Σ_j w_uj (x_uj − ⟨U_u, V_j⟩)², w_uj = 1 if x_uj = 1 else w₀.
    gravity > 0 adds  γ · (1/(B·n)) Σ_{u∈batch} Σ_j ⟨U_u, V_j⟩² = γ · Σ (U_BᵀU_B ⊙ VᵀV) / (B·n),
    the batch estimate of the mean squared score over all pairs (Google recsys course).
    L2 ‖U‖² + ‖V‖² is not in the loss: pass weight_decay to the optimizer.

    The query is the user id only: `batch.bag`, `batch.side` and `batch.dense` are never
    read (MF has nowhere to put side features). Dot or cosine scoring is done outside, by
    `lessons.recommend`, from `query_embedding` and `item_embeddings`.
    Shapes: users (B,) -> U_u (B, d); V (n_items, d); logits (B, n_items).
    """

    uses_history = False

    def __init__(self, n_users: int, n_items: int, dim: int = 64, loss: str = "softmax",
                 unobserved_weight: float = 0.1, gravity: float = 0.0) -> None:  # fmt: skip
        super().__init__()
        if loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}; expected one of {LOSSES}")
        if unobserved_weight < 0 or gravity < 0:
            raise ValueError(
                f"unobserved_weight and gravity must be >= 0, got {unobserved_weight}, {gravity}"
            )
        self.n_users = check_positive("n_users", n_users)
        self.n_items = check_positive("n_items", n_items)
        self.loss_kind, self.unobserved_weight, self.gravity_weight = (
            loss,
            unobserved_weight,
            gravity,
        )
        dim = check_positive("dim", dim)
        self.user_embedding = nn.Parameter(init_table(torch.empty(n_users, dim)))  # U
        self.item_embedding = nn.Parameter(init_table(torch.empty(n_items, dim)))  # V

    def query_embedding(self, batch: QueryBatch) -> torch.Tensor:
        """U_u of batch.users, shape (B, d)."""
        users = batch.users
        if users is None or (users.numel() and (users.min() < 0 or users.max() >= self.n_users)):
            raise ValueError(
                "MatrixFactorization has no embedding row for this query (an ad-hoc query or "
                f"a user id outside [0, {self.n_users})): it only knows users it was trained "
                "on. Refit with the new user's interactions, or fold in (solve for U_u with V "
                "fixed). Side features have nowhere to go in MF; use SoftmaxDNN or TwoTower "
                "for new users and demographics."
            )
        return self.user_embedding[users]  # (B, d)

    def item_embeddings(self) -> torch.Tensor:
        """V, shape (n_items, d)."""
        return self.item_embedding

    def forward(self, batch: QueryBatch) -> torch.Tensor:
        return self.query_embedding(batch) @ self.item_embedding.T  # (B, n_items)

    def loss(self, batch: QueryBatch) -> torch.Tensor:
        target = batch_target(batch, self.n_items)  # p (B, n_items)
        u = self.query_embedding(batch)
        logits = u @ self.item_embedding.T
        if self.loss_kind == "softmax":
            value = softmax_cross_entropy(logits, target)
        else:  # x = multi-hot, recovered from the normalized p
            value = wls_loss(logits, (target > 0).float(), unobserved_weight=self.unobserved_weight)
        if self.gravity_weight:
            value = value + self.gravity_weight * gravity(u, self.item_embedding)
        return value
