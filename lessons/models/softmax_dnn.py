"""The softmax deep neural network recommender (Covington et al. 2016; Google recsys course)."""

from collections.abc import Sequence

import torch
from torch import nn

from lessons.features import QueryBatch
from lessons.fused_ce import sparse_softmax_cross_entropy
from lessons.models.targets import input_pairs, sparse_target
from lessons.models.towers import QueryTower, check_widths, init_table, mlp


class SoftmaxDNN(nn.Module):
    """p̂ = h(ψ(x) Vᵀ), h = softmax over A_u, trained with L = -(1/B) Σ_u Σ_{j∈A_u} t_uj log p̂_uj.

    By default (label_smoothing ε = 0.8, mask_inputs=True) the target is not p itself but
    t_u = (1 − ε) p_u + ε/|A_u| on every item of A_u, the items left in the user's softmax:
    all items but the query's own input items (unless they are targets too) and
    `batch.exclude_items`. With ε = 0 and mask_inputs=False it is plain cross-entropy against
    p over all n items, L = -(1/B) Σ_u Σ_j p_uj log p̂_uj.

    x = [mean of the history bag's embeddings ‖ side embeddings ‖ dense features]
    (`QueryTower`, with `input_dropout` on x while training). Hidden layers with activation σ
    (`activation`: ReLU by default, or tanh or linear) map x to ψ(x) ∈ R^d. With residual=True
    (default) they form a skip block ψ(x) = x + W₂ σ(W₁ x) whose last layer starts at zero, so
    training starts from the linear model and the hidden layer learns what it can add;
    `hidden_lr_scale` (> 0) slows that block's learning rate (it memorises the 943 users of
    ML-100K at full rate). Side or dense features make x wider than d: one Linear maps it to
    R^d first, starting at [I 0] (the history part) and learning at `hidden_lr_scale` too.
    With residual=False they are a plain stack x → hidden layers → ψ.

    V ∈ R^{n×d} is the softmax layer. item_bias adds b_j to each logit, kept as one more
    coordinate of the embeddings: query_embedding is [ψ, 1] and item_embeddings is [V, b],
    so log p̂_j = ⟨ψ(x), V_j⟩ − log Z holds exactly for the embeddings they return (forward
    computes the same logits ψVᵀ + b in one `linear`, without building [ψ, 1] and [V, b]).
    mask_inputs keeps the query's input items out of A_u because they are known positives, not
    targets. The loss is `softmax_cross_entropy` computed on sparse targets
    (`sparse_softmax_cross_entropy`). tie_embeddings makes the input bag table V itself (both
    are n×d, so any hidden, residual or feature setting allows it): one table, fewer
    parameters; it is off by default and no recipe uses it.
    Shapes: ψ (B, d); V (n_items, d); logits (B, n_items). hidden=() on the history alone
    (no side or dense features) gives the linear model ψ = x, the mean of the history's item
    embeddings. Softmax matrix factorization is the case of a one-hot user-id input with
    ψ = W x, W = [0 | Uᵀ] (notebook 03, section 4).
    """

    uses_history = True

    def __init__(self, n_items: int, dim: int = 128, hidden: Sequence[int] = (256,),
                 activation: str = "relu", dropout: float = 0.0, residual: bool = True,
                 input_dropout: float = 0.2, item_bias: bool = True, label_smoothing: float = 0.8,
                 mask_inputs: bool = True, hidden_lr_scale: float = 0.1,
                 side_cardinalities: Sequence[int] | None = None, n_dense: int = 0,
                 tie_embeddings: bool = False) -> None:  # fmt: skip
        super().__init__()
        # Checked here, not at the first loss call, so a bad setting fails where it is made.
        if isinstance(label_smoothing, bool) or not 0 <= label_smoothing < 1:
            raise ValueError(f"label_smoothing must lie in [0, 1), got {label_smoothing!r}")
        # A negative scale makes Adam ascend the hidden block's loss and 0 freezes it, silently.
        if isinstance(hidden_lr_scale, bool) or not 0 < hidden_lr_scale < float("inf"):
            raise ValueError(
                f"hidden_lr_scale must be a finite number > 0, got {hidden_lr_scale!r}"
            )
        hidden = check_widths(hidden)  # before bool(hidden): a NumPy array has no truth value
        block = residual and bool(hidden)
        self.query_tower = QueryTower(
            n_items, dim, () if block else hidden, activation, dropout, side_cardinalities,
            n_dense, input_dropout=input_dropout,
        )  # fmt: skip
        n_items, dim = self.query_tower.n_items, self.query_tower.dim  # checked Python ints
        self.block = mlp(dim, hidden, dim, activation, dropout) if block else None
        if self.block is not None:
            nn.init.zeros_(self.block[-1].weight)  # ψ = x at step 0
            nn.init.zeros_(self.block[-1].bias)
        self.n_items, self.tie_embeddings, self.mask_inputs = n_items, tie_embeddings, mask_inputs
        self.label_smoothing, self.hidden_lr_scale = label_smoothing, hidden_lr_scale
        # Tied: V *is* the bag table's Parameter, so both roles update one tensor.
        self.item_embedding = (
            None if tie_embeddings else nn.Parameter(init_table(torch.empty(n_items, dim)))
        )
        self.item_bias = nn.Parameter(torch.zeros(n_items)) if item_bias else None
        # With side/dense features x is wider than d and the tower maps it to R^d with one
        # Linear. It starts as [I 0], so ψ is the history mean at step 0 just as without
        # features, and it learns at hidden_lr_scale like the block. A random projection
        # trained at the full rate scrambled the item space: on ML-100K, NDCG@10 0.38 with the
        # demographics and 0.31 with constant (information-free) ones, against 0.44 without
        # (means over seeds 0-2; tests/test_lesson_figures_nb02.py).
        self.residual = residual
        if residual:  # then the tower's MLP is nn.Identity (history alone) or that one Linear
            _start_at_history(self.query_tower)

    def _psi(self, batch: QueryBatch) -> torch.Tensor:
        psi = self.query_tower(batch)  # (B, d)
        return psi if self.block is None else psi + self.block(psi)

    def _table(self) -> torch.Tensor:
        return self.query_tower.bag.weight if self.item_embedding is None else self.item_embedding

    def query_embedding(self, batch: QueryBatch) -> torch.Tensor:
        """ψ(x), shape (B, d), or [ψ(x), 1] of shape (B, d + 1) with item_bias."""
        psi = self._psi(batch)
        return psi if self.item_bias is None else torch.cat([psi, torch.ones_like(psi[:, :1])], 1)

    def item_embeddings(self) -> torch.Tensor:
        """V, shape (n_items, d), or [V, b] of shape (n_items, d + 1) with item_bias."""
        v = self._table()
        return v if self.item_bias is None else torch.cat([v, self.item_bias[:, None]], 1)

    def forward(self, batch: QueryBatch) -> torch.Tensor:
        """Logits ψ(x) Vᵀ + b, shape (B, n_items)."""
        return nn.functional.linear(self._psi(batch), self._table(), self.item_bias)

    def loss(self, batch: QueryBatch) -> torch.Tensor:
        """Cross-entropy of p̂ against p; the batch's inputs leave the softmax (mask_inputs)."""
        target = sparse_target(batch, self.n_items)  # p as (row, item, p_uj) entries
        # The inputs leave the softmax unless they are targets too (input_pairs & (p == 0)).
        exclude = input_pairs(batch, self.n_items) if self.mask_inputs else None
        return sparse_softmax_cross_entropy(self(batch), target, exclude=exclude,
                                            label_smoothing=self.label_smoothing,
                                            exclude_items=batch.exclude_items)  # fmt: skip

    def parameter_groups(self) -> list[dict]:
        """Optimizer groups: the hidden block (and input layer) learn at `hidden_lr_scale` × lr."""
        block = set(self.block.parameters()) if self.block is not None else set()
        block |= set(self.query_tower.mlp.parameters()) if self.residual else set()
        rest = [p for p in self.parameters() if p not in block]
        groups = [{"params": rest, "lr_scale": 1.0}]
        return groups + (
            [{"params": list(block), "lr_scale": self.hidden_lr_scale}] if block else []
        )


def _start_at_history(tower: QueryTower) -> None:
    """Set the tower's one Linear [x_hist ‖ side ‖ dense] → R^d (if any) to [I 0], bias 0."""
    for layer in (m for m in tower.mlp.modules() if isinstance(m, nn.Linear)):
        with torch.no_grad():
            layer.weight.zero_()[:, : tower.bag.embedding_dim].fill_diagonal_(1.0)
            layer.bias.zero_()
