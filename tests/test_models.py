"""Tests of MatrixFactorization, SoftmaxDNN and the query tower (lessons.models)."""

from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from lessons.features import QueryBatch, make_batch
from lessons.losses import gravity, softmax_cross_entropy
from lessons.models import MatrixFactorization, QueryTower, SoftmaxDNN
from lessons.models.targets import batch_target, input_mask, input_pairs, sparse_target
from tests.helpers import train_steps

N_USERS, N_ITEMS = 6, 40


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models gain nothing from threads


def histories(n_users=N_USERS, n_items=N_ITEMS, n_input=5, n_target=3, seed=0):
    """Disjoint input and target rows: user u reads n_input items, must predict n_target others."""
    rng = np.random.default_rng(seed)
    perm = np.argsort(rng.random((n_users, n_items)), axis=1)
    rows = np.repeat(np.arange(n_users), n_input + n_target)
    cols = perm[:, : n_input + n_target].ravel()
    is_target = np.tile(np.arange(n_input + n_target) >= n_input, n_users)

    def csr(mask):
        data = np.ones(mask.sum(), np.float32)
        return sp.csr_matrix((data, (rows[mask], cols[mask])), shape=(n_users, n_items))

    return csr(~is_target), csr(is_target)


# The textbook model of the lesson (no residual block, bias, smoothing, dropout or masking):
# the mechanics tests below check the equations on it; the tuned defaults get their own tests.
TEXTBOOK = {"residual": False, "input_dropout": 0.0, "item_bias": False,
            "label_smoothing": 0.0, "mask_inputs": False}  # fmt: skip


def textbook_dnn(n_items, **kwargs) -> SoftmaxDNN:
    return SoftmaxDNN(n_items, **{**TEXTBOOK, **kwargs})


def targets_on_top(model, batch) -> bool:
    with torch.no_grad():
        logits = model(batch)
    k = int((batch.target[0] > 0).sum())
    top = torch.topk(logits, k, dim=1).indices
    return bool(torch.gather(batch.target, 1, top).gt(0).all())


def entropy(p: torch.Tensor) -> float:
    """Lowest reachable softmax cross-entropy: the mean entropy of the target rows."""
    return float(-(p * torch.log(p.clamp_min(1e-30))).sum(1).mean())


# --- overfitting a tiny batch ------------------------------------------------------------


@pytest.mark.parametrize("loss, gravity_weight", [("softmax", 0.0), ("wls", 0.0), ("wls", 0.1)])
def test_mf_overfits_a_tiny_batch(loss, gravity_weight):
    _, targets = histories()
    batch = make_batch(np.arange(N_USERS), None, None, targets)
    torch.manual_seed(0)
    model = MatrixFactorization(N_USERS, N_ITEMS, dim=16, loss=loss, gravity=gravity_weight)
    first, last = train_steps(model, batch)
    floor = entropy(batch.target) if loss == "softmax" else 0.0
    assert last - floor < 0.1 * (first - floor)
    assert targets_on_top(model, batch)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"hidden": ()}, {"hidden": (32, 32), "activation": "tanh"}, {"tie_embeddings": True}],
)
def test_softmax_dnn_overfits_a_tiny_batch(kwargs):
    inputs, targets = histories()
    batch = make_batch(np.arange(N_USERS), inputs, None, targets)
    torch.manual_seed(0)
    model = textbook_dnn(N_ITEMS, dim=16, **kwargs)
    first, last = train_steps(model, batch)
    floor = entropy(batch.target)
    assert last - floor < 0.1 * (first - floor)
    assert targets_on_top(model, batch)


def side_batch(inputs, targets, n_dense=2):
    """make_batch's output plus hand-made side (7, 2, 4 categories) and dense features."""
    batch = make_batch(np.arange(N_USERS), inputs, None, targets)
    gen = torch.Generator().manual_seed(1)
    side = torch.stack([torch.randint(0, c, (N_USERS,), generator=gen) for c in (7, 2, 4)], dim=1)
    dense = torch.rand(N_USERS, n_dense, generator=gen)
    return QueryBatch(batch.bag, batch.offsets, batch.users, side, dense, batch.target)


@pytest.mark.parametrize("hidden", [(), (32,)])
def test_softmax_dnn_with_side_and_dense_features(hidden):
    batch = side_batch(*histories())
    torch.manual_seed(0)
    model = textbook_dnn(N_ITEMS, dim=16, hidden=hidden, side_cardinalities=(7, 2, 4), n_dense=2)
    assert model.query_embedding(batch).shape == (N_USERS, 16)
    first, last = train_steps(model, batch)
    assert last < first - 0.5 * (first - entropy(batch.target))
    # the side features are read: changing one user's occupation changes only its ψ
    other = batch.side.clone()
    other[0, 2] = (other[0, 2] + 1) % 4
    moved = QueryBatch(batch.bag, batch.offsets, batch.users, other, batch.dense, batch.target)
    with torch.no_grad():
        delta = (model.query_embedding(moved) - model.query_embedding(batch)).abs().sum(1)
    assert delta[0] > 1e-4 and torch.all(delta[1:] == 0)


# --- shapes and the shared surface -------------------------------------------------------


def test_shapes_and_surface():
    inputs, targets = histories()
    batch = make_batch(np.arange(4), inputs, None, targets)
    models = [MatrixFactorization(N_USERS, N_ITEMS, dim=8), textbook_dnn(N_ITEMS, dim=8)]
    for model, uses_history in zip(models, (False, True), strict=True):
        assert model.uses_history is uses_history
        assert model.query_embedding(batch).shape == (4, 8)
        assert model.item_embeddings().shape == (N_ITEMS, 8)
        assert model(batch).shape == (4, N_ITEMS)
        assert model.loss(batch).shape == ()
        # forward is exactly ψ Vᵀ, so ranking by embeddings equals ranking by logits
        expected = model.query_embedding(batch) @ model.item_embeddings().T
        assert torch.allclose(model(batch), expected)


def test_tied_embeddings_share_one_table():
    model = textbook_dnn(N_ITEMS, dim=8, tie_embeddings=True)
    untied = textbook_dnn(N_ITEMS, dim=8)
    assert model.item_embeddings() is model.query_tower.bag.weight
    n_params = sum(p.numel() for p in model.parameters())
    assert sum(p.numel() for p in untied.parameters()) - n_params == N_ITEMS * 8


# --- softmax DNN with a one-hot user-id input and no hidden layer IS softmax MF -----------


def test_softmax_dnn_on_one_hot_user_ids_reduces_to_softmax_mf():
    n_users, n_items, dim = 5, 12, 4
    # user u's input bag is the single pseudo-item u: the bag mean is a user-embedding lookup
    one_hot = sp.csr_matrix(sp.eye(n_users, n_items, dtype=np.float32))
    _, targets = histories(n_users, n_items, n_input=2, n_target=3, seed=3)
    batch = make_batch(np.arange(n_users), one_hot, None, targets)
    torch.manual_seed(0)
    dnn = textbook_dnn(n_items, dim=dim, hidden=())
    mf = MatrixFactorization(n_users, n_items, dim=dim, loss="softmax")
    with torch.no_grad():
        mf.user_embedding.copy_(dnn.query_tower.bag.weight[:n_users])
        mf.item_embedding.copy_(dnn.item_embeddings())
    assert (mf.user_embedding < 0).any()  # so a ReLU on ψ would break the equality below
    assert torch.allclose(dnn(batch), mf(batch), atol=1e-6)
    assert torch.allclose(dnn.loss(batch), mf.loss(batch), atol=1e-6)
    # one identical optimisation step keeps them identical
    before = mf.user_embedding.detach().clone()
    for model in (dnn, mf):  # one plain gradient step, θ ← θ − 0.5 ∇L
        model.loss(batch).backward()
        with torch.no_grad():
            for p in model.parameters():
                p.sub_(0.5 * p.grad)
    assert not torch.allclose(mf.user_embedding, before, atol=1e-3)  # the step did move them
    assert torch.allclose(mf.user_embedding, dnn.query_tower.bag.weight[:n_users], atol=1e-6)
    assert torch.allclose(mf.item_embedding, dnn.item_embeddings(), atol=1e-6)
    assert torch.allclose(dnn(batch), mf(batch), atol=1e-6)


# --- matrix factorization specifics ------------------------------------------------------


def test_mf_loss_adds_the_gravity_term():
    _, targets = histories()
    batch = make_batch(np.arange(N_USERS), None, None, targets)
    torch.manual_seed(0)
    plain = MatrixFactorization(N_USERS, N_ITEMS, dim=8)
    heavy = MatrixFactorization(N_USERS, N_ITEMS, dim=8, gravity=2.0)
    heavy.load_state_dict(plain.state_dict())
    u, v = plain.query_embedding(batch), plain.item_embeddings()
    assert heavy.loss(batch).item() == pytest.approx(
        softmax_cross_entropy(u @ v.T, batch.target).item() + 2.0 * gravity(u, v).item(), rel=1e-6
    )
    assert plain.loss(batch).item() < heavy.loss(batch).item()


def test_mf_ignores_side_features_and_refuses_unknown_users():
    _, targets = histories()
    batch = side_batch(None, targets)  # a batch carrying side features MF simply does not read
    model = MatrixFactorization(N_USERS, N_ITEMS, dim=8)
    assert model(batch).shape == (N_USERS, N_ITEMS)
    ad_hoc = QueryBatch(torch.tensor([1, 2]), torch.tensor([0]), None, None, None, None)
    with pytest.raises(ValueError, match="refit.*fold in|Refit.*fold in"):
        model.query_embedding(ad_hoc)
    stranger = QueryBatch(torch.zeros(0).long(), torch.tensor([0]), torch.tensor([N_USERS]))
    with pytest.raises(ValueError, match=r"outside \[0, 6\)"):
        model(stranger)


# --- determinism -------------------------------------------------------------------------


@pytest.mark.parametrize("make", [
    lambda: MatrixFactorization(N_USERS, N_ITEMS, dim=8),
    lambda: SoftmaxDNN(N_ITEMS, dim=8, hidden=(16,), dropout=0.3),
])  # fmt: skip
def test_same_seed_same_parameters_and_outputs(make):
    inputs, targets = histories()
    batch = make_batch(np.arange(N_USERS), inputs, None, targets)
    runs = []
    for seed in (5, 5, 6):
        torch.manual_seed(seed)
        model = make()
        train_steps(model, batch, steps=3)  # dropout draws happen here too
        torch.manual_seed(seed)
        runs.append((model.state_dict(), model(batch).detach()))
    (a, out_a), (b, out_b), (c, _) = runs
    assert all(torch.equal(a[key], b[key]) for key in a) and torch.equal(out_a, out_b)
    assert not all(torch.equal(a[key], c[key]) for key in a)


# --- bad configurations ------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"hidden": (64, -1)}, "hidden"),
        ({"hidden": (0,)}, "hidden"),
        ({"hidden": 64}, "hidden"),
        ({"activation": "sigmoid"}, "unknown activation 'sigmoid'"),
        ({"dim": 0}, "dim must be a positive integer"),
        ({"dim": -3}, "dim must be a positive integer"),
        ({"dropout": 1.0}, "dropout"),
        ({"n_dense": -1}, "n_dense"),
        ({"side_cardinalities": (7, 0, 3)}, "side cardinality"),
    ],
)
def test_softmax_dnn_rejects_bad_configurations(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SoftmaxDNN(N_ITEMS, **kwargs)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"dim": 0}, "dim"),
        ({"loss": "bpr"}, "unknown loss 'bpr'"),
        ({"unobserved_weight": -0.1}, "unobserved_weight"),
        ({"gravity": -1.0}, "gravity"),
    ],
)
def test_mf_rejects_bad_configurations(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MatrixFactorization(N_USERS, N_ITEMS, **kwargs)


def test_query_tower_rejects_bad_batches():
    tower = QueryTower(N_ITEMS, dim=8, hidden=(), side_cardinalities=(7, 2, 4))
    side = torch.zeros(3, 3, dtype=torch.long)
    empty_row = QueryBatch(torch.tensor([1, 2, 3]), torch.tensor([0, 2, 2]), side=side)
    with pytest.raises(ValueError, match=r"rows \[1\] have an empty history"):
        tower(empty_row)
    with pytest.raises(ValueError, match="history item ids"):
        tower(QueryBatch(torch.tensor([1, N_ITEMS, 3]), torch.tensor([0, 1, 2]), side=side))
    with pytest.raises(ValueError, match="side features"):
        tower(QueryBatch(torch.tensor([1, 2, 3]), torch.tensor([0, 1, 2])))
    bad_side = side.clone()
    bad_side[0, 1] = 2
    with pytest.raises(ValueError, match="side indices out of range"):
        tower(QueryBatch(torch.tensor([1, 2, 3]), torch.tensor([0, 1, 2]), side=bad_side))
    model = SoftmaxDNN(N_ITEMS, dim=8)
    with pytest.raises(ValueError, match="target"):
        model.loss(QueryBatch(torch.tensor([1]), torch.tensor([0])))


# --- the tuned defaults of SoftmaxDNN ------------------------------------------------------


def tuned_batch():
    inputs, targets = histories()
    return make_batch(np.arange(N_USERS), inputs, None, targets)


def test_residual_block_starts_as_the_identity_and_bias_is_an_embedding_coordinate():
    torch.manual_seed(0)
    model = SoftmaxDNN(N_ITEMS, dim=8, hidden=(16,)).eval()
    batch = tuned_batch()
    psi = model.query_embedding(batch)
    # ψ = x + W₂ReLU(W₁x) with W₂ = 0 at initialisation, and a trailing 1 for the bias.
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
