"""Tests of lessons.losses against hand computations (float64, explicit exp/sum)."""

import math

import pytest
import torch

from lessons.losses import (
    gravity,
    in_batch_softmax,
    item_log_q,
    softmax_cross_entropy,
    wls_loss,
)
from tests.helpers import log_softmax_over


def test_softmax_cross_entropy_matches_explicit_formula():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 7, generator=gen) * 3
    hot = (torch.rand(5, 7, generator=gen) < 0.4).double()
    hot[:, 0] = 1.0  # every row has a target
    p = hot / hot.sum(1, keepdim=True)
    s = logits.double()
    # -Σ_j p_j log(exp(s_j) / Σ_k exp(s_k)), averaged over rows, written out
    by_hand = -(p * (s - torch.log(torch.exp(s).sum(1, keepdim=True)))).sum(1).mean()
    got = softmax_cross_entropy(logits, p.float())
    assert got.item() == pytest.approx(by_hand.item(), rel=1e-5)


def test_softmax_cross_entropy_is_stable_for_large_logits():
    logits = torch.tensor([[1000.0, 0.0]])
    assert softmax_cross_entropy(logits, torch.tensor([[0.0, 1.0]])).item() == pytest.approx(1000)


def test_softmax_cross_entropy_with_exclusion_and_label_smoothing_by_hand():
    logits = [[2.0, 0.5, -1.0, 1.0], [0.0, 3.0, 1.0, -2.0]]
    p = [[0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]]
    exclude = [[False, False, True, False], [False, True, False, True]]
    eps = 0.2
    losses = []
    for s, target, ex in zip(logits, p, exclude, strict=True):
        kept = [j for j in range(4) if not ex[j]]
        log_p_hat = log_softmax_over(s, kept)
        # t = (1 - ε) p + ε / |A| on the kept items A; excluded items are out of Z
        t = {j: (1 - eps) * target[j] + eps / len(kept) for j in kept}
        losses.append(-sum(t[j] * log_p_hat[j] for j in kept))
    expected = sum(losses) / 2
    got = softmax_cross_entropy(torch.tensor(logits), torch.tensor(p), label_smoothing=eps,
                                exclude=torch.tensor(exclude))  # fmt: skip
    assert got.item() == pytest.approx(expected, rel=1e-6)
    # without smoothing: only the excluded items leave the partition function
    plain = []
    for s, target, ex in zip(logits, p, exclude, strict=True):
        log_p_hat = log_softmax_over(s, [j for j in range(4) if not ex[j]])
        plain.append(-sum(target[j] * log_p_hat[j] for j in log_p_hat))
    got = softmax_cross_entropy(
        torch.tensor(logits), torch.tensor(p), exclude=torch.tensor(exclude)
    )
    assert got.item() == pytest.approx(sum(plain) / 2, rel=1e-6)
    assert torch.isfinite(got)


def test_softmax_cross_entropy_exclusion_gradients_are_zero_on_excluded_items():
    logits = torch.tensor([[2.0, 0.5, -1.0, 1.0]], requires_grad=True)
    exclude = torch.tensor([False, False, True, False])  # (n,): the same items for every row
    softmax_cross_entropy(logits, torch.tensor([[1.0, 0.0, 0.0, 0.0]]), exclude=exclude).backward()
    assert logits.grad[0, 2] == 0 and torch.isfinite(logits.grad).all()
    assert logits.grad[0, [1, 3]].gt(0).all()  # kept negatives are still pushed down


def test_softmax_cross_entropy_label_smoothing_without_exclusion_is_uniform_over_all():
    logits, p, eps = [0.3, -0.2, 1.5], [0.0, 1.0, 0.0], 0.1
    log_p_hat = log_softmax_over(logits, [0, 1, 2])
    expected = -sum(((1 - eps) * p[j] + eps / 3) * log_p_hat[j] for j in range(3))
    got = softmax_cross_entropy(torch.tensor([logits]), torch.tensor([p]), label_smoothing=eps)
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_softmax_cross_entropy_rejects_targets_on_excluded_items():
    p = torch.tensor([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    with pytest.raises(ValueError, match=r"rows \[1\] put target mass on excluded items"):
        softmax_cross_entropy(torch.zeros(2, 3), p, exclude=torch.tensor([False, False, True]))
    with pytest.raises(ValueError, match="bool tensor of shape"):
        softmax_cross_entropy(torch.zeros(2, 3), p, exclude=torch.zeros(3))
    with pytest.raises(ValueError, match="bool tensor of shape"):
        softmax_cross_entropy(torch.zeros(2, 3), p, exclude=torch.zeros(4, dtype=torch.bool))
    for eps in (-0.1, 1.0):
        with pytest.raises(ValueError, match="label_smoothing"):
            softmax_cross_entropy(torch.zeros(2, 3), p, label_smoothing=eps)


def _reference_cross_entropy(logits, p, eps, exclude):
    """The loss written plainly in float64: −inf masking, log_softmax, t = (1 − ε) p + ε/|A_u|."""
    s, p, out = logits.double(), p.double(), exclude.expand(logits.shape)
    kept = (~out).sum(1, keepdim=True)  # |A_u|
    t = (1 - eps) * p + eps * (~out) / kept
    log_p_hat = torch.log_softmax(s.masked_fill(out, -torch.inf), dim=1)
    # excluded items: t = 0 and log p̂ = −inf; their term is 0 (0 · −inf would be NaN)
    return -(t * log_p_hat.masked_fill(out, 0.0)).sum(1).mean()


@pytest.mark.parametrize("eps", [0.0, 0.3])
@pytest.mark.parametrize("per_row", [True, False])
def test_softmax_cross_entropy_with_exclusion_equals_the_reference(eps, per_row):
    gen = torch.Generator().manual_seed(7 + per_row)
    n_rows, n_items = 8, 60
    # spread 30: some kept items sit > 87 below their row's max (exp underflows there too)
    logits = torch.randn(n_rows, n_items, generator=gen) * 30
    hot = torch.rand(n_rows, n_items, generator=gen) < 0.1
    hot[:, 0] = True
    p = hot * torch.rand(n_rows, n_items, generator=gen)
    p /= p.sum(1, keepdim=True)
    share = torch.linspace(0.05, 0.95, n_rows)[:, None]  # rows 5% .. 95% excluded
    exclude = (torch.rand(n_rows, n_items, generator=gen) < share) & ~hot
    exclude[-1] = ~hot[-1]  # the last row keeps its targets only
    if not per_row:
        exclude = torch.rand(n_items, generator=gen) < 0.7
        exclude &= ~hot.any(0)
    a = logits.double().requires_grad_()
    expected = _reference_cross_entropy(a, p, eps, exclude)
    expected.backward()
    b = logits.clone().requires_grad_()
    got = softmax_cross_entropy(b, p, label_smoothing=eps, exclude=exclude)
    got.backward()
    assert abs(got.item() - expected.item()) < 1e-5
    assert (b.grad.double() - a.grad).abs().max() < 1e-5
    assert (b.grad[exclude.expand(b.shape)] == 0).all()  # exactly no gradient, not just tiny
    assert b.grad[~exclude.expand(b.shape)].ne(0).any()


def test_in_batch_softmax_leaves_excluded_columns_out_by_hand():
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    v = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, -1.0]])
    # Rows 0 and 2 drew the same item: each is the other's duplicate, not its negative.
    exclude = torch.tensor([[False, False, True], [False, False, False], [True, False, False]])
    dots = [[2, 0, 1], [0, 1, -1], [2, 1, 0]]
    kept = [[0, 1], [0, 1, 2], [1, 2]]
    expected = -sum(log_softmax_over(dots[i], kept[i])[i] for i in range(3)) / 3
    got = in_batch_softmax(q, v, exclude=exclude)
    assert got.item() == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="diagonal"):
        in_batch_softmax(q, v, exclude=torch.eye(3, dtype=torch.bool))


def test_item_log_q_by_hand():
    # q_j = max(c_j, 1) / Σ c: the unseen item counts as 1, so log q stays finite
    got = item_log_q([6, 0, 2])
    expected = [math.log(6 / 8), math.log(1 / 8), math.log(2 / 8)]
    assert got.dtype == torch.float32 and got.tolist() == pytest.approx(expected, rel=1e-6)
    for bad, message in [([], r"shape \(0,\)"), ([[1, 2]], r"shape \(1, 2\)"),
                         ([0, 0], "got 2 zeros"), ([1, -1], "got -1 for item 1"),
                         ([float("nan"), 3, 1], "got nan for item 0"),
                         ([float("inf"), 1], "got inf for item 0")]:  # fmt: skip
        with pytest.raises(ValueError, match=f"counts must .*{message}"):
            item_log_q(bad)


def test_in_batch_softmax_with_log_q_and_temperature_by_hand():
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    v = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, -1.0]])
    log_q = torch.log(torch.tensor([0.5, 0.25, 0.25]))
    tau = 0.5
    # s_ik = <q_i, v_k> / τ − log q_k, then −log softmax(s_i)_i, averaged
    dots = [[2, 0, 1], [0, 1, -1], [2, 1, 0]]
    lq = [math.log(0.5), math.log(0.25), math.log(0.25)]
    losses = []
    for i in range(3):
        s = [dots[i][k] / tau - lq[k] for k in range(3)]
        losses.append(-log_softmax_over(s, [0, 1, 2])[i])
    expected = sum(losses) / 3
    got = in_batch_softmax(q, v, log_q=log_q, temperature=tau)
    assert got.item() == pytest.approx(expected, rel=1e-6)
    # without the correction the value differs (the correction is really applied)
    plain = in_batch_softmax(q, v, temperature=tau)
    assert abs(plain.item() - expected) > 1e-2


def test_wls_loss_by_hand():
    scores = torch.tensor([[0.5, 0.2, -0.1], [1.0, 0.0, 0.3]])
    x = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    w0 = 0.1
    row0 = (1 - 0.5) ** 2 + w0 * 0.2**2 + w0 * 0.1**2
    row1 = w0 * 1.0**2 + w0 * 0.0 + (1 - 0.3) ** 2
    got = wls_loss(scores, x, unobserved_weight=w0)
    assert got.item() == pytest.approx((row0 + row1) / 2, rel=1e-6)


def test_gravity_equals_the_double_sum():
    gen = torch.Generator().manual_seed(1)
    u, v = torch.randn(4, 3, generator=gen), torch.randn(6, 3, generator=gen)
    double_sum = sum(float(u[a] @ v[b]) ** 2 for a in range(4) for b in range(6)) / 24
    assert gravity(u, v).item() == pytest.approx(double_sum, rel=1e-5)


def test_losses_reject_bad_input():
    with pytest.raises(ValueError, match="same shape"):
        softmax_cross_entropy(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="empty batch"):
        softmax_cross_entropy(torch.zeros(0, 3), torch.zeros(0, 3))
    with pytest.raises(ValueError, match="no items"):
        softmax_cross_entropy(torch.zeros(2, 0), torch.zeros(2, 0))
    with pytest.raises(ValueError, match="temperature"):
        in_batch_softmax(torch.zeros(2, 3), torch.zeros(2, 3), temperature=0.0)
    with pytest.raises(ValueError, match="log_q"):
        in_batch_softmax(torch.zeros(2, 3), torch.zeros(2, 3), log_q=torch.zeros(3))
    with pytest.raises(ValueError, match="unobserved_weight"):
        wls_loss(torch.zeros(2, 3), torch.zeros(2, 3), unobserved_weight=-1.0)
    with pytest.raises(ValueError, match="U and V"):
        gravity(torch.zeros(2, 3), torch.zeros(2, 4))


def test_in_batch_softmax_refuses_a_nan_temperature():
    q = torch.eye(2)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        in_batch_softmax(q, q, temperature=float("nan"))
