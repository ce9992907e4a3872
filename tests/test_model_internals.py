"""Model internals checked through behaviour: the fused loss far from the row max, the bag-mean
gradient with ids past 2¹⁶, α / cosine scoring over several batches, the residual block's and
the input's dropout, MF's user-id range, logQ ownership and a stand-in baseline's history."""

import inspect
from dataclasses import replace

import numpy as np
import pytest
import torch

from lessons.features import QueryBatch
from lessons.fused_ce import SparseRows, sparse_softmax_cross_entropy
from lessons.losses import item_log_q, softmax_cross_entropy
from lessons.models import MatrixFactorization, QueryTower, SoftmaxDNN, TwoTower
from lessons.recommend import recommend
from lessons.scoring import all_user_scores
from tests.helpers import N_ITEMS, fake_item_features, history_batch

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models gain nothing from threads


@pytest.mark.parametrize("eps", [0.0, 0.8])
def test_fused_loss_matches_the_dense_one_when_logits_spread_past_float32_exp(eps):
    """Catches: items > ~87 below the row max underflow in exp and drop out of |A_u| (ε/|A_u|)."""
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 50, generator=gen) * 40  # a trained model's logits spread this far
    p = torch.zeros(4, 50)
    p[:, 0] = 1.0
    rows, items = p.nonzero(as_tuple=True)
    a, b = logits.clone().requires_grad_(), logits.clone().requires_grad_()
    dense = softmax_cross_entropy(a, p, label_smoothing=eps)
    target = SparseRows(rows, items, p[rows, items])
    fused = sparse_softmax_cross_entropy(b, target, label_smoothing=eps)
    dense.backward()
    fused.backward()
    assert fused.item() == pytest.approx(dense.item(), rel=1e-5)
    assert (b.grad - a.grad).abs().max() < 1e-6


def test_bag_mean_gradient_with_ids_past_2_16_matches_embedding_bag():
    """Catches: ids sorted as uint16 for 70 000 rows, so 69 999 (wraps to 4463) joins 5 and 5000."""
    n = 70_000
    torch.manual_seed(0)
    tower = QueryTower(n, dim=4, hidden=())
    bag = torch.tensor([n - 1, 5, 5000])  # row 0: 69 999; row 1: 5 and 5000, around 4463
    batch = QueryBatch(bag, torch.tensor([0, 1]))
    upstream = torch.tensor([[1.0, 0, 0, 0], [0, 1.0, 0, 0]])
    tower(batch).backward(upstream)
    ref = torch.nn.EmbeddingBag(n, 4, mode="mean")
    with torch.no_grad():
        ref.weight.copy_(tower.bag.weight)
    ref(bag, batch.offsets).backward(upstream)
    for j in (5, 5000, n - 1):
        assert torch.equal(tower.bag.weight.grad[j], ref.weight.grad[j]), j
    assert torch.allclose(tower.bag.weight.grad, ref.weight.grad)


@pytest.mark.parametrize(("alpha", "scoring"), [(0.5, "dot"), (1.0, "dot"), (0.0, "cosine")])
def test_alpha_and_cosine_scores_do_not_depend_on_the_batch_size(tiny_split, alpha, scoring):
    """Catches: the α / cosine branch embeds only the first batch of users (7 rows, not 60)."""
    torch.manual_seed(0)
    model = SoftmaxDNN(tiny_split.n_items, dim=8, hidden=())
    whole = all_user_scores(model, tiny_split, alpha=alpha, scoring=scoring)
    batched = all_user_scores(model, tiny_split, alpha=alpha, scoring=scoring, batch_size=7)
    assert whole.shape == batched.shape == (tiny_split.n_users, tiny_split.n_items)
    assert torch.allclose(whole, batched, atol=1e-6)


def test_the_residual_blocks_dropout_is_active_in_training_only():
    """Catches: SoftmaxDNN(dropout=p) builds its residual block without dropout (p ignored)."""
    torch.manual_seed(0)
    model = SoftmaxDNN(40, dim=8, hidden=(32,), dropout=0.5, input_dropout=0.0)
    with torch.no_grad():
        model.block[-1].weight.normal_()  # a trained block: its last layer is no longer 0
    batch = QueryBatch(torch.tensor([1, 2, 3, 4]), torch.tensor([0, 2]))
    with torch.no_grad():
        model.train()
        assert not torch.equal(model.query_embedding(batch), model.query_embedding(batch))
        model.eval()
        assert torch.equal(model.query_embedding(batch), model.query_embedding(batch))


@pytest.mark.parametrize("user", [-1, 4])
def test_mf_refuses_user_ids_outside_its_rows(user):
    """Catches: user id -1 passes the range check and silently reads the last user's row."""
    mf = MatrixFactorization(4, 5, dim=2)
    batch = QueryBatch(torch.zeros(0, dtype=torch.long), torch.tensor([0]), torch.tensor([user]))
    with pytest.raises(ValueError, match=r"outside \[0, 4\)"):
        mf.query_embedding(batch)


def test_two_tower_keeps_its_own_copy_of_log_q():
    """Catches: log_q aliasing the caller's tensor, so log_q.mul_(0.5) changes the loss."""
    log_q = item_log_q(torch.arange(1, N_ITEMS + 1))
    torch.manual_seed(0)
    model = TwoTower(N_ITEMS, fake_item_features(), dim=8, loss="in_batch", log_q=log_q)
    before = model.loss(history_batch()).item()
    log_q.mul_(0.5)
    assert model.loss(history_batch()).item() == before


class _SeenFirst:
    """A learner's stand-in baseline: only `scores`, no `uses_history`."""

    def scores(self, history):
        return history.toarray().astype(np.float32)


def test_a_baseline_without_uses_history_is_taken_to_read_the_history(tiny_split):
    """Catches: such a baseline read as history-free: a user without history gets items 0..k."""
    split = tiny_split
    split = replace(split, train=split.train[split.train["user"] != 7])
    split = replace(split, test=split.test[split.test["user"] != 7])
    assert len(recommend(_SeenFirst(), split, [3], k=5)) == 5  # a user with a history is fine
    with pytest.raises(ValueError, match=r"cannot be scored, e\.g\. \[7\]"):
        recommend(_SeenFirst(), split, [7], k=5)


def test_softmax_dnn_drops_a_fifth_of_its_input_by_default():
    """Catches: the default input_dropout (0.2, as the "SoftmaxDNN" recipe documents) is lost."""
    assert inspect.signature(SoftmaxDNN).parameters["input_dropout"].default == 0.2
    assert SoftmaxDNN(10).query_tower.input_dropout.p == 0.2
    torch.manual_seed(0)
    model = SoftmaxDNN(50, dim=64, hidden=())  # ψ = x: the input dropout shows in ψ
    batch = QueryBatch(torch.arange(50), torch.arange(0, 50, 5))
    with torch.no_grad():
        model.eval()
        x = model.query_embedding(batch)[:, :64]  # without the item-bias coordinate 1
        model.train()
        ratio = model.query_embedding(batch)[:, :64] / x
    dropped = (ratio == 0).float().mean().item()
    assert torch.allclose(ratio[ratio != 0], torch.tensor(1.25))  # kept ones scaled by 1/0.8
    assert dropped == pytest.approx(0.2, abs=0.05)  # 640 coordinates
