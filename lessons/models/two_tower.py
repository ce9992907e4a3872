"""The two-tower model: a query tower ψ and an item tower φ meeting in a dot product."""

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from lessons.features import ItemFeatures, QueryBatch
from lessons.losses import in_batch_softmax, softmax_cross_entropy
from lessons.models.towers import (
    ItemTower,
    QueryTower,
    batch_target,
    check_widths,
    in_batch_examples,
    input_mask,
)

LOSSES = ("full", "in_batch")


class TwoTower(nn.Module):
    """Score s(x, j) = ⟨ψ(x), φ(x_j)⟩; with normalize=True both towers are L2-normalized (cosine).

    loss="full":     L = -(1/B) Σ_i Σ_{j∈A_i} p_ij log softmax_{A_i}(ψ_i Φᵀ / τ)_j, where A_i
                     leaves out row i's input items (known positives, not targets) and
                     `batch.exclude_items` (cold-start items no row can target).
    loss="in_batch": every (row i, positive k) of batch.target is one example e; with
                     Φ_P = φ(k_1..k_P) (P, d) the negatives are the other examples' items,
                     L = -(1/P) Σ_e log softmax_{E_e}(ψ_e Φ_Pᵀ / τ − β log q)_e   (Yi et al. 2019),
                     E_e leaving out columns whose item is a known positive of e's row (its
                     input or target items: duplicates of e's own item included); β log q
                     the optional logQ correction (log_q: (n_items,), `losses.item_log_q`;
                     β = log_q_weight).
                     Batches of B users give P ≈ B × (targets per user) examples.
    ψ: `QueryTower` (mean of the history's embeddings, e = embedding_dim → query_hidden → d).
    φ: `ItemTower` (genre, release-date bucket, optional title words and item id, each
    feature_dim wide → item_hidden → d); use_item_id=False embeds items never seen in
    training (cold start). Shapes: ψ (B, d); Φ (n_items, d); forward returns ψΦᵀ (B, n_items)
    (τ and log q only shape the training softmax, they never change a ranking).
    """

    uses_history = True

    def __init__(self, n_items: int, item_features: ItemFeatures, dim: int = 32,
                 query_hidden: Sequence[int] = (64,), item_hidden: Sequence[int] = (64,),
                 use_item_id: bool = True, loss: str = "full", log_q: torch.Tensor | None = None,
                 temperature: float = 1.0, normalize: bool = False,
                 side_cardinalities: Sequence[int] | None = None, n_dense: int = 0,
                 activation: str = "relu", dropout: float = 0.0, *, log_q_weight: float = 1.0,
                 embedding_dim: int = 32, feature_dim: int = 32, use_title: bool = False,
                 input_dropout: float = 0.0) -> None:  # fmt: skip
        super().__init__()
        if loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}; expected one of {LOSSES}")
        if not temperature > 0:  # `not >` refuses NaN too
            raise ValueError(f"temperature must be > 0, got {temperature!r}")
        if not log_q_weight >= 0:
            raise ValueError(f"log_q_weight must be >= 0, got {log_q_weight!r}")
        if log_q is not None:
            _check_log_q(log_q, loss, n_items)
        # Checked here too, so that the message names which tower's widths are wrong.
        query_hidden, item_hidden = (check_widths(query_hidden, "query_hidden"),
                                     check_widths(item_hidden, "item_hidden"))  # fmt: skip
        self.query_tower = QueryTower(n_items, dim, query_hidden, activation, dropout,
                                      side_cardinalities, n_dense, input_dropout=input_dropout,
                                      embedding_dim=embedding_dim)  # fmt: skip
        self.item_tower = ItemTower(item_features, dim, item_hidden, use_item_id, n_items,
                                    activation, dropout, feature_dim, use_title)  # fmt: skip
        self.n_items, self.loss_kind = self.query_tower.n_items, loss  # a checked Python int
        self.temperature, self.normalize, self.log_q_weight = temperature, normalize, log_q_weight
        self.register_buffer("log_q", None if log_q is None else log_q.detach().float().clone())

    def _norm(self, emb: torch.Tensor) -> torch.Tensor:
        return F.normalize(emb, dim=1) if self.normalize else emb

    def query_embedding(self, batch: QueryBatch) -> torch.Tensor:
        """ψ(x), shape (B, d)."""
        return self._norm(self.query_tower(batch))

    def item_embeddings(self, items: torch.Tensor | None = None) -> torch.Tensor:
        """φ of `items` (m,), or of all items when None; shape (m or n_items, d)."""
        return self._norm(self.item_tower(items))

    def forward(self, batch: QueryBatch) -> torch.Tensor:
        """Scores ⟨ψ(x), φ(x_item)⟩ of every item, shape (B, n_items) (no temperature)."""
        return self.query_embedding(batch) @ self.item_embeddings().T  # (B, n_items)

    def loss(self, batch: QueryBatch) -> torch.Tensor:
        """Full softmax over the catalogue, or in-batch softmax (with β · log q_j), at τ."""
        target = batch_target(batch, self.n_items)  # p (B, n_items)
        psi = self.query_embedding(batch)  # (B, d)
        positive = target > 0
        known = input_mask(batch, self.n_items) & ~positive  # an input that is a target stays
        if self.loss_kind == "full":
            if batch.exclude_items is not None:
                known = known | batch.exclude_items
            logits = psi @ self.item_embeddings().T / self.temperature
            return softmax_cross_entropy(logits, target, exclude=known)
        rows, items, exclude = in_batch_examples(positive, known)
        unique, index = items.unique(return_inverse=True)  # run φ once per distinct item
        log_q = None if self.log_q is None else self.log_q_weight * self.log_q[items]
        return in_batch_softmax(psi[rows], self.item_embeddings(unique)[index], log_q=log_q,
                                temperature=self.temperature, exclude=exclude)  # fmt: skip


def _check_log_q(log_q: torch.Tensor, loss: str, n_items: int) -> None:
    """ValueError naming what is wrong with `log_q` and how to build a valid one."""
    build = "build it with losses.item_log_q(split.item_popularity())"
    if loss != "in_batch":
        raise ValueError(
            f"log_q only applies to loss='in_batch' (it corrects the sampling bias of in-batch "
            f"negatives; loss={loss!r} has none): pass loss='in_batch' or drop log_q"
        )
    if tuple(log_q.shape) != (n_items,):
        raise ValueError(
            f"log_q must have shape ({n_items},), one log q_j per item, got "
            f"{tuple(log_q.shape)}; {build}"
        )
    if not log_q.isfinite().all():
        raise ValueError(
            "log_q must be finite, but it holds inf or NaN (log 0 of an item never seen in "
            f"training?); {build}, which counts such an item as 1"
        )
