"""What a batch asks a softmax model to predict, and which items it leaves out of the softmax.

The target p comes dense ((B, n_items), `make_batch`) or sparse (row, item, p_uj entries,
`EpochSampler`); the losses read whichever form suits them. The input items of a query are
known positives, not targets: the softmax models can leave them out of the softmax.
"""

import torch

from lessons.features import QueryBatch
from lessons.fused_ce import SparseRows


def _check_ids(what: str, ids: torch.Tensor, n_items: int) -> None:
    if ids.numel():
        low, high = (int(v) for v in torch.aminmax(ids))
        if low < 0 or high >= n_items:
            raise ValueError(f"{what} ids must lie in [0, {n_items}), got {low}..{high}")


def _sparse_parts(batch: QueryBatch, n_items: int) -> SparseRows:
    """The sparse target fields of `batch` as (row, item, p_uj) entries, checked."""
    items, offsets, weights = batch.target_items, batch.target_offsets, batch.target_weights
    if (
        offsets is None
        or weights is None
        or offsets.shape != (batch.size,)
        or (items.ndim != 1 or weights.shape != items.shape)
    ):
        raise ValueError("a sparse target needs target_items (nnz,), target_offsets (B,) and "
                         "target_weights (nnz,); build them with EpochSampler")  # fmt: skip
    _check_ids("target item", items, n_items)
    lengths = torch.diff(offsets, append=offsets.new_tensor([items.numel()]))
    return SparseRows(torch.repeat_interleave(lengths), items, weights)


def batch_target(batch: QueryBatch, n_items: int) -> torch.Tensor:
    """p as a dense (B, n_items) tensor: batch.target, or its sparse form scattered.

    Raises:
        ValueError: When the batch has no target or one of the wrong width.
    """
    if batch.target is None and batch.target_items is not None:
        rows, items, weights = _sparse_parts(batch, n_items)
        dense = torch.zeros(batch.size, n_items, dtype=weights.dtype)
        return dense.index_put_((rows, items), weights, accumulate=True)
    if batch.target is None or batch.target.shape != (batch.size, n_items):
        raise ValueError(f"a training batch needs target of shape (B, {n_items}); build it with "
                         "make_batch(..., targets=...)")  # fmt: skip
    return batch.target


def sparse_target(batch: QueryBatch, n_items: int) -> SparseRows:
    """p as (row, item, p_uj) entries: the batch's sparse target, or the nonzeros of `target`."""
    if batch.target is None and batch.target_items is not None:
        return _sparse_parts(batch, n_items)
    p = batch_target(batch, n_items)
    rows, items = p.nonzero(as_tuple=True)
    return SparseRows(rows, items, p[rows, items])


def input_mask(batch: QueryBatch, n_items: int) -> torch.Tensor:
    """Bool (B, n_items) mask, True at each row's input-bag items.

    The input items are known positives of the query, not targets: the full softmax leaves
    them out of its denominator (`softmax_cross_entropy(..., exclude=...)`) instead of
    pushing them down as negatives. Vectorized: row ids repeated over the bag lengths.
    """
    bag, offsets = batch.bag, batch.offsets
    if bag.numel() and (bag.min() < 0 or bag.max() >= n_items):
        raise ValueError(f"bag item ids must lie in [0, {n_items}), got "
                         f"{int(bag.min())}..{int(bag.max())}")  # fmt: skip
    lengths = torch.diff(offsets, append=offsets.new_tensor([bag.numel()]))
    rows = torch.repeat_interleave(torch.arange(offsets.numel(), device=bag.device), lengths)
    mask = torch.zeros(offsets.numel(), n_items, dtype=torch.bool, device=bag.device)
    mask[rows, bag] = True
    return mask


def input_pairs(batch: QueryBatch, n_items: int) -> SparseRows:
    """(row, item) entries of each row's input bag: the sparse form of `input_mask(batch)`."""
    bag, offsets = batch.bag, batch.offsets
    _check_ids("bag item", bag, n_items)
    lengths = torch.diff(offsets, append=offsets.new_tensor([bag.numel()]))
    return SparseRows(torch.repeat_interleave(lengths), bag)


__all__ = ["batch_target", "input_mask", "input_pairs", "sparse_target"]
