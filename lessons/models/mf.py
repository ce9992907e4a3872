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
    l2 > 0 adds  λ · (mean_{u∈batch} ‖U_u‖² + mean_j ‖V_j‖²)  (L2 regularization).
    gravity > 0 adds  γ · (1/(B·n)) Σ_{u∈batch} Σ_j ⟨U_u, V_j⟩² = γ · Σ (U_BᵀU_B ⊙ VᵀV) / (B·n),
    the batch estimate of the mean squared score over all pairs (Google recsys course).
    item_bias=True adds a learned b_j to every score, s_uj = ⟨U_u, V_j⟩ + b_j, kept as one
    more coordinate of the embeddings: query_embedding is [U_u, 1] and item_embeddings is
    [V_j, b_j], so s_uj is still exactly one dot product.

    `batch.exclude_items` (the held-out items of a cold-start split, which no row can
    target) are left out of the loss: out of the softmax's Z, out of the WLS sum.

    The query is the user id only: `batch.bag`, `batch.side` and `batch.dense` are never
    read (MF has nowhere to put side features). Dot or cosine scoring is done outside, by
    `lessons.recommend`, from `query_embedding` and `item_embeddings`.
    Shapes: users (B,) -> U_u (B, d); V (n_items, d); logits (B, n_items).
    """

    uses_history = False

    def __init__(self, n_users: int, n_items: int, dim: int = 64, loss: str = "softmax",
                 unobserved_weight: float = 0.1, gravity: float = 0.0, l2: float = 0.0,
                 item_bias: bool = False) -> None:  # fmt: skip
        super().__init__()
        if loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}; expected one of {LOSSES}")
        for name, value in (("unobserved_weight", unobserved_weight), ("gravity", gravity),
                            ("l2", l2)):  # fmt: skip
            if not value >= 0:  # written as `not >=` so that NaN is refused too
                raise ValueError(f"{name} must be >= 0, got {value!r}")
        self.n_users = check_positive("n_users", n_users)
        self.n_items = check_positive("n_items", n_items)
        self.loss_kind, self.unobserved_weight = loss, unobserved_weight
        self.gravity_weight, self.l2 = gravity, l2
        dim = check_positive("dim", dim)
        n_users, n_items = self.n_users, self.n_items  # Python ints, even from NumPy sizes
        self.user_embedding = nn.Parameter(init_table(torch.empty(n_users, dim)))  # U
        self.item_embedding = nn.Parameter(init_table(torch.empty(n_items, dim)))  # V
        self.item_bias = nn.Parameter(torch.zeros(n_items)) if item_bias else None  # b

    def query_embedding(self, batch: QueryBatch) -> torch.Tensor:
        """U_u of batch.users, shape (B, d), or [U_u, 1] of shape (B, d + 1) with item_bias."""
        users = batch.users
        if users is None or (users.numel() and (users.min() < 0 or users.max() >= self.n_users)):
            raise ValueError(
                "MatrixFactorization has no embedding row for this query (an ad-hoc query or "
                f"a user id outside [0, {self.n_users})): it only knows users it was trained "
                "on. Refit with the new user's interactions, or fold in (solve for U_u with V "
                "fixed). Side features have nowhere to go in MF; use SoftmaxDNN or TwoTower "
                "for new users and demographics."
            )
        u = self.user_embedding[users]  # (B, d)
        return u if self.item_bias is None else torch.cat([u, torch.ones_like(u[:, :1])], 1)

    def item_embeddings(self) -> torch.Tensor:
        """V, shape (n_items, d), or [V, b] of shape (n_items, d + 1) with item_bias."""
        v, b = self.item_embedding, self.item_bias
        return v if b is None else torch.cat([v, b[:, None]], 1)

    def forward(self, batch: QueryBatch) -> torch.Tensor:
        """Scores ⟨U_u, V_j⟩ (+ b_j) of every item, shape (B, n_items)."""
        return self.query_embedding(batch) @ self.item_embeddings().T  # (B, n_items)

    def loss(self, batch: QueryBatch) -> torch.Tensor:
        """Softmax cross-entropy against p, or WLS on the multi-hot x; plus L2 and gravity."""
        target = batch_target(batch, self.n_items)  # p (B, n_items)
        logits = self(batch)  # (B, n_items)
        excluded = batch.exclude_items  # (n_items,) bool or None
        if self.loss_kind == "softmax":
            value = softmax_cross_entropy(logits, target, exclude=excluded)
        else:  # x = multi-hot, recovered from the normalized p
            if excluded is not None:
                logits, target = logits[:, ~excluded], target[:, ~excluded]  # (B, n_kept)
            value = wls_loss(logits, (target > 0).float(), unobserved_weight=self.unobserved_weight)
        u, v = self.user_embedding[batch.users], self.item_embedding  # (B, d), (n_items, d)
        if self.l2:
            value = value + self.l2 * (u.pow(2).sum(1).mean() + v.pow(2).sum(1).mean())
        if self.gravity_weight:
            value = value + self.gravity_weight * gravity(u, v)
        return value
