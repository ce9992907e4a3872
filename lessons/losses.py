"""The training losses of the lessons, written out so each line matches an equation.

Notation: B query rows, n items, d embedding dimensions; logits s = ψ(x) Vᵀ, shape (B, n);
p is the normalized multi-hot target (each row sums to 1).
"""

import torch
import torch.nn.functional as F

_EXCLUDED = -1e30  # added to the logit of an item left out of a softmax


def _check_pair(a: torch.Tensor, b: torch.Tensor, names: str) -> None:
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"{names} must be 2-D tensors of the same shape, got {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")  # fmt: skip
    if a.shape[0] == 0:
        raise ValueError(f"{names} have no rows: an empty batch has no loss; skip it")


def _check_exclude(exclude: torch.Tensor, shape: torch.Size, what: str) -> torch.Tensor:
    """`exclude` as a bool tensor broadcastable to `shape` ((n,) or the full shape)."""
    if exclude.dtype != torch.bool or exclude.shape not in (shape, shape[1:]):
        raise ValueError(
            f"{what} must be a bool tensor of shape {tuple(shape)} or {tuple(shape[1:])}, "
            f"got {exclude.dtype} {tuple(exclude.shape)}"
        )
    return exclude.expand(shape)


def softmax_cross_entropy(
    logits: torch.Tensor,
    p: torch.Tensor,
    *,
    label_smoothing: float = 0.0,
    exclude: torch.Tensor | None = None,
) -> torch.Tensor:
    """Full-softmax cross-entropy against a distribution over items.

    L = -(1/B) Σ_u Σ_{j∈A_u} t_uj log p̂_uj,  p̂_uj = exp(s_uj) / Z_u,  Z_u = Σ_{j∈A_u} exp(s_uj),
    t_u = (1 − ε) p_u + ε · 1/|A_u|  (label smoothing ε, uniform over A_u),

    where A_u is the set of items NOT excluded in row u. With no exclusion and ε = 0 this
    is -(1/B) Σ_u Σ_j p_uj log softmax(s_u)_j over all n items.

    Excluding an item removes it from the partition function Z_u: use it for items that are
    neither targets nor negatives — the user's own input items (known positives, not
    targets) and cold-start items no training row can ever target (left in, they would only
    ever be pushed down, and the item tower would learn "looks new → score low").

    Args:
        logits: s, shape (B, n), finite.
        p: Target distribution per row, shape (B, n), rows summing to 1.
        label_smoothing: ε in [0, 1).
        exclude: Bool mask of items left out of the softmax, shape (B, n) or (n,) (the same
            items for every row); True = excluded. They must carry no target mass.

    Returns:
        Scalar mean over rows.

    Raises:
        ValueError: On mismatched shapes, an empty batch, no items, ε outside [0, 1), an
            exclusion mask that is not bool (B, n) / (n,), or one that excludes a target.
    """
    _check_pair(logits, p, "logits and p")
    if logits.shape[1] == 0:
        raise ValueError("logits and p have no items (n = 0): a softmax over no items has no "
                         "loss; pass at least one item column")  # fmt: skip
    if isinstance(label_smoothing, bool) or not 0 <= label_smoothing < 1:
        raise ValueError(f"label_smoothing must lie in [0, 1), got {label_smoothing!r}")
    if exclude is None:
        # Same value as -(t * log_softmax(logits)).sum(1).mean(), in one fused, stable kernel.
        return F.cross_entropy(logits, p, label_smoothing=label_smoothing)
    _check_exclude(exclude, logits.shape, "exclude")
    # The mask as 0/1 floats, made once: on CPU, masked_fill and bool &, any() run several times
    # slower per element than float arithmetic (masking forward and backward plus the target
    # check cost as much as the cross-entropy itself). Reading the bool bytes as uint8 converts
    # 3x faster than bool -> float.
    out = exclude.view(torch.uint8).to(logits.dtype)  # 1 = excluded; (B, n) or (n,)
    # Σ_uj p_uj · out_uj, the target mass on excluded items (> 0 iff one has p_uj > 0, as p >= 0),
    # as one dot product: no (B, n) temporary.
    mask = out.to(p.dtype)  # the same tensor unless p and logits differ in dtype
    on_excluded = (
        torch.vdot(p.reshape(-1), mask.reshape(-1)) if mask.ndim == 2 else (p @ mask).sum()
    )
    if bool(on_excluded > 0):
        rows = torch.nonzero((p > 0) & exclude.expand(p.shape))[:5, 0].tolist()
        raise ValueError(f"rows {rows} put target mass on excluded items; an excluded item "
                         "cannot be a target: drop it from exclude or from the target")  # fmt: skip
    target = p
    if label_smoothing:
        keep = 1 - out.expand(logits.shape)  # 1 on A_u
        kept = keep.sum(dim=1, keepdim=True).clamp_min(1)  # |A_u|
        target = (1 - label_smoothing) * p + label_smoothing * keep / kept
    # -inf in effect: s_uj − 1e30 rounds to −1e30 (|s| is far below half an ulp of 1e30), and
    # exp(−1e30 − max) is exactly 0 (PyTorch's log-softmax kernels take no slow underflow path
    # on it), so excluded items leave Z_u; their zero target times the finite log p̂ stays 0 (a
    # true −inf would give 0 · −inf = NaN), and their gradient (T_u p̂_uj − t_uj)/B is exactly
    # 0 — the addition passes the gradient straight through, with no masking pass backwards.
    return F.cross_entropy(torch.add(logits, out, alpha=_EXCLUDED), target)


def item_log_q(counts) -> torch.Tensor:
    """log q_j of the logQ correction: q_j = max(c_j, 1) / Σ_k c_k, c_j = training count of j.

    In-batch negatives are the batch's positives, so item j shows up as a negative with a
    probability proportional to its training count; q_j estimates it. An item never seen
    in training counts as 1 (log q stays finite).

    Args:
        counts: (n_items,) non-negative training counts, e.g. `split.item_popularity()`.

    Returns:
        (n_items,) float32 tensor of log q.
    """
    c = torch.as_tensor(counts, dtype=torch.float64)
    hint = "e.g. split.item_popularity()"
    if c.ndim != 1 or c.numel() == 0:
        raise ValueError(
            f"counts must be a non-empty 1-D array, got shape {tuple(c.shape)}; {hint}"
        )
    bad = torch.nonzero(~c.isfinite() | (c < 0)).ravel()
    if bad.numel():
        item = int(bad[0])
        raise ValueError(f"counts must be finite and non-negative, got {c[item].item():g} for "
                         f"item {item}; {hint}")  # fmt: skip
    if c.sum() <= 0:  # q_j would divide by 0: no item was ever drawn
        raise ValueError(f"counts must have a positive total, got {c.numel()} zeros; {hint}")
    return torch.log(c.clamp_min(1) / c.sum()).float()


def in_batch_softmax(
    query: torch.Tensor,
    items: torch.Tensor,
    *,
    log_q: torch.Tensor | None = None,
    temperature: float = 1.0,
    exclude: torch.Tensor | None = None,
) -> torch.Tensor:
    """Sampled softmax whose negatives are the other rows' positives (Yi et al. 2019).

    s_ik = ⟨ψ_i, φ_k⟩ / τ − log q_k,   L = -(1/B) Σ_i log( exp(s_ii) / Σ_{k∉E_i} exp(s_ik) ).

    Row i is one (query, positive item) pair; the columns are the positives of all B pairs.
    Popular items appear as in-batch negatives more often than uniform sampling would make
    them, so they are over-penalised; subtracting log q_k (q_k = probability that item k is
    in the batch, e.g. its training frequency; scale it by β for a partial correction)
    corrects that bias (logQ correction). E_i are columns left out of row i's softmax:
    pass the columns whose item is a known positive of query i (a duplicate of its own
    positive, another of its targets), else a popular item is its own negative.

    Args:
        query: ψ, shape (B, d).
        items: φ of each row's positive item, shape (B, d); row i is the label of query i.
        log_q: log q of each row's positive item, shape (B,), or None for no correction.
        temperature: τ > 0; a smaller τ sharpens the softmax.
        exclude: Bool (B, B) mask of E (True = left out); the diagonal must be False.
    """
    _check_pair(query, items, "query and items")
    if not temperature > 0:  # `not >` refuses NaN too
        raise ValueError(f"temperature must be > 0, got {temperature}")
    logits = query @ items.T / temperature  # (B, B); diagonal = positives
    if log_q is not None:
        if log_q.shape != (query.shape[0],):
            raise ValueError(f"log_q must have shape ({query.shape[0]},), got {tuple(log_q.shape)}")
        logits = logits - log_q[None, :]  # column k is item k: subtract its log q_k
    if exclude is not None:
        exclude = _check_exclude(exclude, logits.shape, "exclude")
        if exclude.diagonal().any():
            raise ValueError("exclude masks a row's own positive (its diagonal entry); "
                             "only other columns can be left out")  # fmt: skip
        logits = logits.masked_fill(exclude, -torch.inf)
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


__all__ = ["gravity", "in_batch_softmax", "item_log_q", "softmax_cross_entropy", "wls_loss"]
