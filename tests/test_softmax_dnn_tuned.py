"""SoftmaxDNN's tuned defaults (which overfit a tiny batch too), its fused sparse loss and
the query tower's bag-mean gradient."""

from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from lessons.features import QueryBatch, make_batch
from lessons.losses import softmax_cross_entropy
from lessons.models import QueryTower, SoftmaxDNN
from lessons.models.targets import batch_target, input_mask, input_pairs, sparse_target
from tests.helpers import N_ITEMS, N_USERS, adam_steps, histories, side_batch

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models gain nothing from threads

# --- the tuned defaults of SoftmaxDNN ------------------------------------------------------


def tuned_batch():
    inputs, targets = histories()
    return make_batch(np.arange(N_USERS), inputs, None, targets)


def smoothed_floor(n_allowed: int, n_target: int, eps: float) -> float:
    """Lowest reachable loss: the entropy of t = (1 − ε) p + ε/|A_u| over |A_u| items."""
    on, off = (1 - eps) / n_target + eps / n_allowed, eps / n_allowed
    return float(-(n_target * on * np.log(on) + (n_allowed - n_target) * off * np.log(off)))


def test_the_default_softmax_dnn_overfits_a_tiny_batch():
    # Every default on: residual block, input dropout, item bias, ε = 0.8, inputs masked.
    inputs, targets = histories()
    batch = tuned_batch()
    torch.manual_seed(0)
    model = SoftmaxDNN(N_ITEMS, dim=16)
    model.eval()  # dropout off to read the loss
    first = model.loss(batch).item()
    model.train()
    adam_steps(model, batch, steps=200, lr=0.05)
    model.eval()
    with torch.no_grad():
        last, logits = model.loss(batch).item(), model(batch)
    # The softmax runs over the 35 items that are not the user's 5 inputs.
    floor = smoothed_floor(N_ITEMS - 5, 3, model.label_smoothing)
    assert last - floor < 0.1 * (first - floor)
    ranked = logits.masked_fill(torch.as_tensor(inputs.toarray() > 0), -torch.inf)
    top = torch.topk(ranked, 3, dim=1).indices.numpy()
    assert all(set(top[u]) == set(targets[u].indices) for u in range(N_USERS))


def test_residual_block_starts_as_the_identity_and_bias_is_an_embedding_coordinate():
    torch.manual_seed(0)
    model = SoftmaxDNN(N_ITEMS, dim=8, hidden=(16,)).eval()
    batch = tuned_batch()
    psi = model.query_embedding(batch)
    # ψ = x + W₂ReLU(W₁x) with W₂ = 0 at initialization, and a trailing 1 for the bias.
    torch.testing.assert_close(psi[:, :-1], model.query_tower(batch))
    assert (psi[:, -1] == 1).all()
    with torch.no_grad():
        model.item_bias.copy_(torch.arange(N_ITEMS, dtype=torch.float32))
    logits = model(batch)
    torch.testing.assert_close(logits, psi @ model.item_embeddings().T)
    bias = torch.arange(N_ITEMS, dtype=torch.float32).expand_as(logits)
    torch.testing.assert_close(logits - psi[:, :-1] @ model.item_embedding.T, bias)


def test_parameter_groups_cover_every_parameter_once_with_the_hidden_scale():
    model = SoftmaxDNN(N_ITEMS, dim=8, hidden=(16,), hidden_lr_scale=0.25)
    groups = model.parameter_groups()
    ids = [id(p) for g in groups for p in g["params"]]
    assert sorted(ids) == sorted(id(p) for p in model.parameters())
    block = {id(p) for p in model.block.parameters()}
    assert [g["lr_scale"] for g in groups] == [1.0, 0.25]
    assert {id(p) for p in groups[1]["params"]} == block


@pytest.mark.parametrize("hidden", [(), (16,)])
def test_side_and_dense_features_start_from_the_history_and_learn_at_the_hidden_scale(hidden):
    torch.manual_seed(0)
    model = SoftmaxDNN(N_ITEMS, dim=8, hidden=hidden, side_cardinalities=(7, 2, 4), n_dense=2)
    batch = side_batch(*histories())
    # At step 0 ψ is the history mean, whatever the demographics and dense features say.
    mean = torch.nn.functional.embedding_bag(
        batch.bag, model.query_tower.bag.weight, batch.offsets, mode="mean"
    )
    torch.testing.assert_close(model.eval().query_embedding(batch)[:, :-1], mean)
    # ... and the layer that reads them learns at hidden_lr_scale, with the block.
    (layer,) = [m for m in model.query_tower.mlp.modules() if isinstance(m, torch.nn.Linear)]
    assert layer.in_features == 8 + 3 * 8 + 2
    slow = {id(p) for p in model.parameter_groups()[-1]["params"]}
    assert model.parameter_groups()[-1]["lr_scale"] == 0.1
    assert {id(layer.weight), id(layer.bias)} <= slow
    assert id(model.query_tower.side[0].weight) not in slow


@pytest.mark.parametrize("mask", [True, False])
def test_mask_inputs_leaves_input_only_items_out_of_the_softmax(mask):
    torch.manual_seed(0)
    model = SoftmaxDNN(N_ITEMS, dim=8, hidden=(16,), input_dropout=0.0, mask_inputs=mask)
    inputs, targets = histories()
    batch = make_batch(np.array([0]), inputs, None, targets)  # one query: its 5 input items
    model.loss(batch).backward()
    grad = model.item_embedding.grad[batch.bag].abs().sum()
    # Excluded items are neither targets nor negatives: no gradient reaches their V_j.
    assert (grad == 0) if mask else (grad > 0)


# --- the fused sparse loss of SoftmaxDNN is the lesson's formula ------------------------


def sparse_form(batch: QueryBatch) -> QueryBatch:
    """The same batch with p as target_items / target_offsets / target_weights (as fit has)."""
    rows, items = batch.target.nonzero(as_tuple=True)
    offsets = torch.searchsorted(rows, torch.arange(batch.size))
    return replace(batch, target=None, target_items=items, target_offsets=offsets,
                   target_weights=batch.target[rows, items])  # fmt: skip


@pytest.mark.parametrize("overlap", [False, True])
def test_softmax_dnn_loss_equals_the_plain_formula_with_sparse_or_dense_targets(overlap):
    inputs, targets = histories()
    if overlap:  # some target items are also inputs: they stay in the softmax, as targets
        some = sp.random(N_USERS, N_ITEMS, density=0.5, random_state=0) > 0
        inputs = (inputs + targets.multiply(some)).astype(np.float32)
    batch = make_batch(np.arange(N_USERS), inputs, None, targets)
    torch.manual_seed(0)
    model = SoftmaxDNN(N_ITEMS, dim=8, hidden=(16,), input_dropout=0.0)  # tuned defaults
    with torch.no_grad():  # a trained-looking model: non-zero block output and item bias
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    p = batch.target
    # L = CE(ψVᵀ + b, p) with label smoothing 0.8 and the inputs that are not targets left out.
    exclude = input_mask(batch, N_ITEMS) & (p == 0)
    plain = softmax_cross_entropy(model(batch), p, label_smoothing=0.8, exclude=exclude)
    expected = torch.autograd.grad(plain, list(model.parameters()))
    assert overlap == bool((input_mask(batch, N_ITEMS) & (p > 0)).any())
    for form in (batch, sparse_form(batch)):
        loss = model.loss(form)
        grads = torch.autograd.grad(loss, list(model.parameters()))
        assert abs(loss.item() - plain.item()) < 1e-5
        assert max((g - e).abs().max().item() for g, e in zip(grads, expected, strict=True)) < 1e-5


def test_targets_convert_between_the_dense_and_sparse_forms():
    inputs, targets = histories()
    batch = make_batch(np.arange(N_USERS), inputs, None, targets)
    sparse = sparse_form(batch)
    assert torch.equal(batch_target(sparse, N_ITEMS), batch.target)
    rows, items, values = sparse_target(batch, N_ITEMS)
    assert torch.equal(batch.target[rows, items], values) and values.gt(0).all()
    assert int(rows.numel()) == int((batch.target > 0).sum())
    # input_pairs lists each row's bag: the entries of input_mask
    rows, items, values = input_pairs(batch, N_ITEMS)
    assert torch.equal(items, batch.bag) and rows.tolist() == [u for u in range(N_USERS)
                                                                for _ in range(5)]  # fmt: skip
    assert values is None and torch.equal(input_mask(batch, N_ITEMS).nonzero()[:, 0], rows)
    with pytest.raises(ValueError, match="target_offsets"):
        sparse_target(replace(sparse, target_offsets=None), N_ITEMS)
    with pytest.raises(ValueError, match=r"target item ids must lie in \[0, 40\)"):
        batch_target(replace(sparse, target_items=sparse.target_items + N_ITEMS), N_ITEMS)


@pytest.mark.parametrize("n_items", [40, 70_000])  # 16-bit ids (radix-sorted) and wider ones
def test_query_tower_bag_mean_and_its_gradient_are_embedding_bags(n_items):
    torch.manual_seed(0)
    tower = QueryTower(n_items, dim=4, hidden=())  # ψ = mean of the bag's embeddings
    bag = torch.tensor([3, 7, 3, 0, n_items - 1, 7, 7, 3])  # repeats within and across rows
    batch = QueryBatch(bag, torch.tensor([0, 3, 4]))
    g = torch.randn(3, 4)
    tower(batch).backward(g)
    reference = torch.nn.EmbeddingBag(n_items, 4, mode="mean")
    with torch.no_grad():
        reference.weight.copy_(tower.bag.weight)
    reference(bag, batch.offsets).backward(g)
    torch.testing.assert_close(tower.bag.weight.grad, reference.weight.grad)
    # by hand: E_3 is in row 0 twice (1/3 each) and in row 2 once (1/4)
    torch.testing.assert_close(tower.bag.weight.grad[3], 2 / 3 * g[0] + g[2] / 4)
