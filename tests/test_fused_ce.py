"""Tests of lessons.fused_ce: the sparse cross-entropy has the value and gradient of the dense
softmax_cross_entropy, and is checked by hand and for stability."""

import pytest
import torch

from lessons.fused_ce import SparseRows, sparse_softmax_cross_entropy
from lessons.losses import softmax_cross_entropy
from tests.helpers import log_softmax_over


def _sparse_problem(seed: int, n_rows: int = 6, n_items: int = 40):
    """Logits, a normalized target, per-row input items (with repeats, and row 0's targets
    listed too: a target stays in) and two items excluded from every row (no target mass)."""
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(n_rows, n_items, generator=gen) * 4
    hot = torch.rand(n_rows, n_items, generator=gen) < 0.15
    hot[:, 0] = True  # every row has a target
    everywhere = torch.zeros(n_items, dtype=torch.bool)
    everywhere[[5, 9]] = True
    hot &= ~everywhere
    p = hot * torch.rand(n_rows, n_items, generator=gen)
    p /= p.sum(1, keepdim=True)
    inputs = (torch.rand(n_rows, n_items, generator=gen) < 0.3) & ~hot
    rows, items = inputs.nonzero(as_tuple=True)
    repeats = torch.arange(0, rows.numel(), 3)  # an item listed twice is excluded once
    targets_of_0 = hot[0].nonzero().ravel()
    rows = torch.cat([rows, rows[repeats], torch.zeros_like(targets_of_0)])
    items = torch.cat([items, items[repeats], targets_of_0])
    return logits, p, inputs, SparseRows(rows, items), everywhere


@pytest.mark.parametrize("eps", [0.0, 0.2, 0.8])
@pytest.mark.parametrize("global_items", [False, True])
def test_sparse_softmax_cross_entropy_equals_the_dense_loss_and_gradient(eps, global_items):
    logits, p, inputs, exclude, everywhere = _sparse_problem(seed=int(eps * 10) + global_items)
    dense_exclude = inputs | everywhere if global_items else inputs
    a = logits.clone().requires_grad_()
    expected = softmax_cross_entropy(a, p, label_smoothing=eps, exclude=dense_exclude)
    expected.backward()
    b = logits.clone().requires_grad_()
    rows, items = p.nonzero(as_tuple=True)
    got = sparse_softmax_cross_entropy(
        b, SparseRows(rows, items, p[rows, items]), label_smoothing=eps, exclude=exclude,
        exclude_items=everywhere if global_items else None,
    )  # fmt: skip
    got.backward()
    assert abs(got.item() - expected.item()) < 1e-5
    assert (b.grad - a.grad).abs().max() < 1e-5
    assert (b.grad[dense_exclude] == 0).all()  # excluded items get no gradient at all


def test_sparse_softmax_cross_entropy_by_hand_and_with_an_upstream_factor():
    # Row 0: targets {0, 1} at 0.5 each, item 2 excluded; row 1: target {2}, items 1, 3 out.
    logits = [[2.0, 0.5, -1.0, 1.0], [0.0, 3.0, 1.0, -2.0]]
    target = SparseRows(torch.tensor([0, 0, 1]), torch.tensor([0, 1, 2]),
                        torch.tensor([0.5, 0.5, 1.0]))  # fmt: skip
    exclude = SparseRows(torch.tensor([0, 1, 1]), torch.tensor([2, 1, 3]))
    eps, kept, p = 0.2, [[0, 1, 3], [0, 2]], [{0: 0.5, 1: 0.5}, {2: 1.0}]
    losses = []
    for u in range(2):
        log_p_hat = log_softmax_over(logits[u], kept[u])
        t = {j: (1 - eps) * p[u].get(j, 0.0) + eps / len(kept[u]) for j in kept[u]}
        losses.append(-sum(t[j] * log_p_hat[j] for j in kept[u]))
    s = torch.tensor(logits, requires_grad=True)
    got = sparse_softmax_cross_entropy(s, target, label_smoothing=eps, exclude=exclude)
    assert got.item() == pytest.approx(sum(losses) / 2, rel=1e-6)
    (3 * got).backward()  # the gradient is scaled by the upstream factor
    s2 = torch.tensor(logits, requires_grad=True)
    once = sparse_softmax_cross_entropy(s2, target, label_smoothing=eps, exclude=exclude)
    once.backward(retain_graph=True)
    torch.testing.assert_close(s.grad, 3 * s2.grad)
    once.backward()  # a second pass accumulates the same gradient again
    torch.testing.assert_close(s.grad, 1.5 * s2.grad)


def test_sparse_softmax_cross_entropy_is_stable_for_far_apart_logits():
    # exp(s − max) underflows for the far items; the loss stays exact and finite.
    logits = torch.tensor([[1000.0, 0.0, -1000.0]], requires_grad=True)
    target = SparseRows(torch.tensor([0]), torch.tensor([1]))
    got = sparse_softmax_cross_entropy(logits, target)
    assert got.item() == pytest.approx(1000.0)
    got.backward()
    assert torch.isfinite(logits.grad).all() and logits.grad[0, 1] == pytest.approx(-1.0)


def _pairs(rows: list[int], items: list[int], values: list[float] | None = None) -> SparseRows:
    v = None if values is None else torch.tensor(values)
    return SparseRows(torch.tensor(rows), torch.tensor(items), v)


def test_sparse_softmax_cross_entropy_rejects_bad_input():
    logits, one = torch.zeros(2, 3), _pairs([0, 1], [0, 2])
    ce = sparse_softmax_cross_entropy
    with pytest.raises(ValueError, match="target mass on an item of exclude_items"):
        ce(logits, one, exclude_items=torch.tensor([True, False, False]))
    with pytest.raises(ValueError, match="excludes every item"):
        ce(logits, _pairs([0], [0]), exclude=_pairs([1, 1], [0, 1]),
           exclude_items=torch.tensor([False, False, True]))  # fmt: skip
    with pytest.raises(ValueError, match=r"target.items must lie in \[0, 3\)"):
        ce(logits, _pairs([0], [3]))
    with pytest.raises(ValueError, match=r"exclude.rows must lie in \[0, 2\)"):
        ce(logits, one, exclude=_pairs([2], [1]))
    with pytest.raises(ValueError, match="non-negative probabilities p_uj, got -1"):
        ce(logits, _pairs([0, 1], [0, 2], [1.0, -1.0]))
    with pytest.raises(ValueError, match="1-D int64"):
        ce(logits, SparseRows(one.rows, one.items.float()))
    with pytest.raises(ValueError, match="label_smoothing"):
        ce(logits, one, label_smoothing=1.0)
    with pytest.raises(ValueError, match="bool tensor of shape"):
        ce(logits, one, exclude_items=torch.zeros(3))
    with pytest.raises(ValueError, match="non-empty float"):
        ce(torch.zeros(0, 3), one)


def test_a_batch_without_targets_keeps_float64_precision():
    # bincount of no entries is int64; mixed into the loss it used to round float64 to float32.
    logits = torch.tensor([[0.3, 2.2, 1.7, 3.4]], dtype=torch.float64)
    empty = SparseRows(torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long))
    got = sparse_softmax_cross_entropy(logits, empty, label_smoothing=0.3)
    expected = -(0.3 / 4 * torch.log_softmax(logits, dim=1)).sum()
    assert got.dtype == torch.float64
    assert got.item() == pytest.approx(expected.item(), rel=1e-12)


def test_a_second_backward_after_the_buffer_changed_says_what_to_do():
    """The first backward hands its buffer on as the gradient (no copy). With logits that are
    a view of a leaf, the leaf's .grad can be that buffer; zeroing it in place before a second
    backward (retain_graph=True) tripped autograd's version check with a message about an
    unnamed inplace operation. The error now says what happened and what to do instead."""
    a = torch.randn(2, 4, requires_grad=True)
    loss = sparse_softmax_cross_entropy(a.view(2, 4), SparseRows(torch.tensor([0, 1]),
                                                                 torch.tensor([1, 2])))  # fmt: skip
    loss.backward(retain_graph=True)
    a.grad.zero_()  # what optimizer.zero_grad(set_to_none=False) does
    with pytest.raises(RuntimeError, match="compute the loss again for each backward"):
        loss.backward()


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_a_diverged_row_is_a_nan_loss_not_an_empty_softmax(bad):
    """Bug: a row of NaN (or ±inf) logits counted 0 kept items, so training that had diverged
    failed with "a row excludes every item"; its loss is NaN now, and `fit` names the cause."""
    logits = torch.zeros(2, 4)
    logits[1] = bad
    target = SparseRows(torch.tensor([0, 1]), torch.tensor([0, 1]), None)
    exclude = torch.tensor([False, False, True, True])
    assert sparse_softmax_cross_entropy(logits, target, exclude_items=exclude).isnan()
    logits[1] = 0.0  # a truly empty row (items 2, 3 for all, 0, 1 for row 1) is still refused
    row_1 = SparseRows(torch.tensor([1, 1]), torch.tensor([0, 1]))
    only_row_0 = SparseRows(torch.tensor([0]), torch.tensor([0]))
    with pytest.raises(ValueError, match="excludes every item"):
        sparse_softmax_cross_entropy(logits, only_row_0, exclude=row_1, exclude_items=exclude)
