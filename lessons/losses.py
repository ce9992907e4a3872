"""The training losses of the lessons, written out so each line matches an equation.

Notation: B query rows, n items, d embedding dimensions; logits s = ψ(x) Vᵀ, shape (B, n);
p is the normalized multi-hot target (each row sums to 1).
"""

import torch
import torch.nn.functional as F


def _check_pair(a: torch.Tensor, b: torch.Tensor, names: str) -> None:
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"{names} must be 2-D tensors of the same shape, got {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")  # fmt: skip
    if a.shape[0] == 0:
        raise ValueError(f"{names} have no rows: an empty batch has no loss; skip it")


def softmax_cross_entropy(logits: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """Full-softmax cross-entropy against a distribution over items.

    L = -(1/B) Σ_u Σ_j p_uj log p̂_uj,  p̂_u = softmax(s_u) = exp(s_uj) / Z_u,  Z_u = Σ_j exp(s_uj).

    Args:
        logits: s, shape (B, n).
        p: Target distribution per row, shape (B, n), rows summing to 1.

    Returns:
        Scalar mean over rows.
    """
    _check_pair(logits, p, "logits and p")
    # Same value as -(p * log_softmax(logits)).sum(1).mean(), in one fused, stable kernel.
    return F.cross_entropy(logits, p)


def in_batch_softmax(
    query: torch.Tensor,
    items: torch.Tensor,
    *,
    log_q: torch.Tensor | None = None,
    temperature: float = 1.0,
) -> torch.Tensor:
    """Sampled softmax whose negatives are the other rows' positives (Yi et al. 2019).

    s_ik = ⟨ψ_i, φ_k⟩ / τ − log q_k,   L = -(1/B) Σ_i log( exp(s_ii) / Σ_k exp(s_ik) ).

    Popular items appear as in-batch negatives more often than uniform sampling would make
    them, so they are over-penalised; subtracting log q_k (q_k = probability that item k is
    in the batch, e.g. its training frequency) corrects that bias (logQ correction). Two
    rows that drew the same item count each other's positive as a negative (no masking).

    Args:
        query: ψ, shape (B, d).
        items: φ of each row's positive item, shape (B, d); row i is the label of query i.
        log_q: log q of each row's positive item, shape (B,), or None for no correction.
        temperature: τ > 0; a smaller τ sharpens the softmax.
    """
    _check_pair(query, items, "query and items")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    logits = query @ items.T / temperature  # (B, B); diagonal = positives
    if log_q is not None:
        if log_q.shape != (query.shape[0],):
            raise ValueError(f"log_q must have shape ({query.shape[0]},), got {tuple(log_q.shape)}")
        logits = logits - log_q[None, :]  # column k is item k: subtract its log q_k
    labels = torch.arange(query.shape[0], device=query.device)
    return F.cross_entropy(logits, labels)


def wls_loss(
    scores: torch.Tensor, observed: torch.Tensor, *, unobserved_weight: float = 0.1
) -> torch.Tensor:
    """Weighted least squares on full rows (weighted matrix factorization).

    L = (1/B) Σ_u Σ_j w_uj (x_uj − s_uj)²,  w_uj = 1 where x_uj = 1 (observed), w₀ otherwise.

    Args:
        scores: s_uj = ⟨U_u, V_j⟩, shape (B, n).
        observed: Binary x, shape (B, n).
        unobserved_weight: w₀ >= 0; 0 fits the observed entries only (then every score can
            be 1 and nothing is learned), 1 treats every unobserved entry as a true 0.
    """
    _check_pair(scores, observed, "scores and observed")
    if unobserved_weight < 0:
        raise ValueError(f"unobserved_weight must be >= 0, got {unobserved_weight}")
    weight = torch.where(observed > 0, 1.0, unobserved_weight)
    return (weight * (observed - scores) ** 2).sum(dim=1).mean()


def gravity(U: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    """Gravity regularizer: mean squared score over all (user, item) pairs.

    G = (1/(|U||V|)) Σ_u Σ_j ⟨U_u, V_j⟩² = (1/(|U||V|)) Σ_ab (UᵀU ⊙ VᵀV)_ab,

    computed in O((|U|+|V|)d²) instead of O(|U||V|d). It pulls unobserved scores toward 0
    without materialising the |U|×|V| score matrix.

    Args:
        U: (m, d) user/query embeddings; V: (n, d) item embeddings.
    """
    if U.ndim != 2 or V.ndim != 2 or U.shape[1] != V.shape[1] or not len(U) or not len(V):
        raise ValueError(f"U and V must be non-empty (m, d) and (n, d), got {tuple(U.shape)}, "
                         f"{tuple(V.shape)}")  # fmt: skip
    return ((U.T @ U) * (V.T @ V)).sum() / (U.shape[0] * V.shape[0])


__all__ = ["gravity", "in_batch_softmax", "softmax_cross_entropy", "wls_loss"]
