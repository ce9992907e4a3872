"""The softmax cross-entropy of `lessons.losses` for sparse targets, fused into few passes.

A training batch of the softmax DNN has B ≈ 256 rows over n ≈ 1700 items but only a few dozen
target and input items per row. `softmax_cross_entropy` takes dense (B, n) targets and masks
and makes about ten passes over (B, n) (smoothing, masking, log-softmax, product, sum, and as
many again backwards). Here targets and exclusions stay sparse (row, item) lists, and one
custom autograd function computes the loss and its gradient ∂L/∂s together in one (B, n)
buffer: max, exp, row sums, one scale. The value and gradient are those of
`softmax_cross_entropy` (tests/test_fused_ce.py compares both).
"""

from typing import NamedTuple

import torch

# exp(x) for x below about −87 (a float32 underflow) takes a slow path, 20–40× slower per
# element. A term exp(s − max) < e^-60 is < 1e-26 of the row's largest term (1): it cannot
# change Z_u or p̂ in float32, so the exponent is clamped there (excluded items are zeroed).
_EXP_FLOOR = -60.0
_EMPTY_ROW = ("a row excludes every item, so its softmax is empty; keep at least its target "
              "items out of exclude")  # fmt: skip
_EXCLUDED_TARGET = ("target mass on an item of exclude_items; an item left out of every softmax "
                    "cannot be a target: drop it from exclude_items or the target")  # fmt: skip


_REUSED_BUFFER = (
    "backward ran twice through one sparse_softmax_cross_entropy, and its gradient buffer, "
    "handed to a .grad by the first backward, was changed in place in between (e.g. by "
    "zero_grad(set_to_none=False) or by accumulating into .grad): compute the loss again for "
    "each backward instead of retain_graph=True"
)


class SparseRows(NamedTuple):
    """Entries (rows[i], items[i]) of a (B, n_items) matrix, with `values` (None = all 1).

    The COO form of a few items per row: a target distribution p (values p_uj) or a set of
    excluded items (values ignored).
    """

    rows: torch.Tensor
    items: torch.Tensor
    values: torch.Tensor | None = None


def _check_rows(name: str, pairs: SparseRows, shape: tuple[int, int]) -> None:
    rows, items = pairs.rows, pairs.items
    if rows.ndim != 1 or rows.shape != items.shape or {rows.dtype, items.dtype} != {torch.long}:
        raise ValueError(f"{name}.rows and {name}.items must be 1-D int64 tensors of one length, "
                         f"got {tuple(rows.shape)} and {tuple(items.shape)}")  # fmt: skip
    if pairs.values is not None and pairs.values.shape != rows.shape:
        raise ValueError(f"{name}.values must have the shape of {name}.rows {tuple(rows.shape)}, "
                         f"got {tuple(pairs.values.shape)}")  # fmt: skip
    for what, ids, size in (("rows", rows, shape[0]), ("items", items, shape[1])):
        low, high = (int(v) for v in torch.aminmax(ids)) if ids.numel() else (0, 0)
        if low < 0 or high >= size:
            raise ValueError(f"{name}.{what} must lie in [0, {size}) for logits of shape "
                             f"{shape}, got {low}..{high}")  # fmt: skip


def _without(keys: torch.Tensor, drop: torch.Tensor, size: int) -> torch.Tensor:
    """`keys` (flat indices into B·n) minus those in `drop`, marked in a B·n bool scratch."""
    marked = torch.zeros(size, dtype=torch.bool).index_fill_(0, drop, True)
    return keys[~marked.index_select(0, keys)]


class _SoftmaxCE(torch.autograd.Function):
    """Loss and ∂L/∂s in one (B, n) buffer; backward only scales the saved gradient."""

    @staticmethod
    def forward(ctx, logits, t_keys, t_rows, t_values, ex_keys, ex_items, eps):
        n_rows = logits.shape[0]
        # A copy: logits stay intact (the evaluation ranks them after computing the loss).
        grad = logits.clone(memory_format=torch.contiguous_format)
        flat = grad.view(-1)

        def fill_excluded(value: float) -> None:  # index_fill_ is idempotent: repeats are fine
            if ex_items is not None:
                grad.index_fill_(1, ex_items, value)
            if ex_keys is not None:
                grad.view(-1).index_fill_(0, ex_keys, value)

        # Σ_j p_uj (1 for a distribution) and Σ_j p_uj s_uj, from the target entries only.
        # .to: bincount of an empty batch is int64, which would round a float64 loss to float32.
        mass = torch.bincount(t_rows, weights=t_values, minlength=n_rows).to(logits.dtype)
        dot = torch.bincount(t_rows, weights=t_values * flat.index_select(0, t_keys),
                             minlength=n_rows).to(logits.dtype)  # fmt: skip
        fill_excluded(-torch.inf)  # the max runs over A_u only
        if ex_keys is not None and bool(flat.index_select(0, t_keys).isneginf().any()):
            # Rare: an excluded entry is a target of its row. It stays in, as a target.
            ex_keys = _without(ex_keys, t_keys[t_values > 0], logits.numel())
            grad.copy_(logits)
            fill_excluded(-torch.inf)
        top = grad.amax(1, keepdim=True)
        fill_excluded(0.0)
        kept_sum = grad.sum(1)  # Σ_{j∈A_u} s_uj
        grad.sub_(top).clamp_min_(_EXP_FLOOR).exp_()  # > 0 everywhere
        fill_excluded(0.0)  # grad = exp(s − max) on A_u, exactly 0 elsewhere
        kept = torch.sign(grad).sum(1)  # |A_u| (sign: a float pass, 5× faster than counting)
        empty = kept == 0
        if (ex_keys is not None or ex_items is not None) and bool(empty.any()):
            # A diverged row (NaN or ±inf logits) counts 0 kept too: its loss comes back NaN
            # instead, and `fit` reports the divergence, not an exclusion that did not happen.
            if bool(torch.isfinite(logits[empty]).all(1).any()):
                raise ValueError(_EMPTY_ROW)
        z = grad.sum(1)  # Z_u · exp(−max)
        total = (1 - eps) * mass + eps  # T_u = Σ_j t_uj
        loss = total * (top.squeeze(1) + z.log()) - (1 - eps) * dot - eps * kept_sum / kept
        # ∂L/∂s_uj = (T_u p̂_uj − t_uj) / B on A_u and 0 on the excluded items.
        grad.mul_((total / (z * n_rows)).to(grad.dtype)[:, None])
        if eps:
            grad.sub_((eps / (kept * n_rows)).to(grad.dtype)[:, None])
            fill_excluded(0.0)
        grad.view(-1).index_add_(0, t_keys, t_values, alpha=-(1 - eps) / n_rows)
        ctx.save_for_backward(grad)
        return loss.mean().to(logits.dtype)

    @staticmethod
    def backward(ctx, upstream):
        try:
            (grad,) = ctx.saved_tensors
        except RuntimeError as exc:  # autograd's version check: the buffer changed in place
            raise RuntimeError(_REUSED_BUFFER) from exc
        # loss.backward() sends 1: hand the saved buffer on instead of a scaled copy, saving a
        # (B, n) copy per step. When the logits are a view of a leaf, autograd may keep that
        # buffer as the leaf's .grad; changed in place before a second backward through this
        # graph (retain_graph=True), it trips the version check above, never a wrong gradient.
        scaled = grad if bool(upstream == 1) else grad * upstream
        return scaled, None, None, None, None, None, None


def sparse_softmax_cross_entropy(
    logits: torch.Tensor,
    target: SparseRows,
    *,
    label_smoothing: float = 0.0,
    exclude: SparseRows | None = None,
    exclude_items: torch.Tensor | None = None,
) -> torch.Tensor:
    """`softmax_cross_entropy` with a sparse target and sparse exclusions (same value/gradient).

    L = -(1/B) Σ_u Σ_{j∈A_u} t_uj log p̂_uj,  p̂_uj = exp(s_uj) / Z_u,  Z_u = Σ_{j∈A_u} exp(s_uj),
    t_u = (1 − ε) p_u + ε · 1/|A_u|,

    where A_u are the items neither in row u's `exclude` entries nor in `exclude_items`; an
    `exclude` entry that is a target of its row (p_uj > 0) stays in A_u. In dense form this is
    softmax_cross_entropy(s, p, label_smoothing=ε, exclude=(E & (p == 0)) | exclude_items).
    Since Σ_j t_uj = (1 − ε) Σ_j p_uj + ε =: T_u, it is evaluated as
    L_u = T_u log Z_u − (1 − ε) Σ_j p_uj s_uj − (ε/|A_u|) Σ_{j∈A_u} s_uj,
    which reads s only at the target entries besides Z_u, and its gradient is
    ∂L/∂s_uj = (T_u p̂_uj − t_uj) / B on A_u and 0 on the excluded items.
    (Terms of Z_u below e^-60 of its largest are rounded up to that; float32 cannot see them.)

    Args:
        logits: s, shape (B, n).
        target: p as (row, item, p_uj) entries; rows normally sum to 1. A repeated entry adds.
        label_smoothing: ε in [0, 1).
        exclude: (row, item) entries left out of that row's softmax unless they are its
            targets, e.g. its input items (known positives: not negatives, and not predicted
            unless they are targets too); a repeated entry counts once.
        exclude_items: (n,) bool, True for items left out of every row's softmax; they must
            carry no target mass.

    Returns:
        Scalar mean over rows.

    Raises:
        ValueError: On ids out of range, mismatched shapes, negative target values, ε outside
            [0, 1), target mass on `exclude_items`, or a row whose softmax is left empty.
    """
    if logits.ndim != 2 or logits.shape[0] == 0 or not logits.is_floating_point():
        raise ValueError(f"logits must be a non-empty float (B, n) tensor, got "
                         f"{logits.dtype} {tuple(logits.shape)}")  # fmt: skip
    if isinstance(label_smoothing, bool) or not 0 <= label_smoothing < 1:
        raise ValueError(f"label_smoothing must lie in [0, 1), got {label_smoothing!r}")
    shape, n = tuple(logits.shape), logits.shape[1]
    _check_rows("target", target, shape)
    values = target.values
    values = torch.ones(target.rows.shape, dtype=logits.dtype) if values is None else values
    if values.numel() and values.min() < 0:
        raise ValueError(f"target values must be non-negative probabilities p_uj, got "
                         f"{float(values.min()):g}")  # fmt: skip
    ex_items = ex_keys = None
    if exclude_items is not None:
        if exclude_items.dtype != torch.bool or exclude_items.shape != (n,):
            raise ValueError(f"exclude_items must be a bool tensor of shape ({n},), got "
                             f"{exclude_items.dtype} {tuple(exclude_items.shape)}")  # fmt: skip
        if bool((exclude_items[target.items] & (values > 0)).any()):
            raise ValueError(_EXCLUDED_TARGET)
        ex_items = torch.nonzero(exclude_items).ravel()
    if exclude is not None:
        _check_rows("exclude", exclude, shape)
        ex_keys = exclude.rows * n + exclude.items
    return _SoftmaxCE.apply(logits, target.rows * n + target.items, target.rows,
                            values.to(logits.dtype), ex_keys, ex_items,
                            float(label_smoothing))  # fmt: skip


__all__ = ["SparseRows", "sparse_softmax_cross_entropy"]
