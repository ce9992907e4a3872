"""MatrixFactorization and the textbook SoftmaxDNN: overfitting, the ψVᵀ surface, MF specifics.

Refused configurations live in test_models_validation.py, the tuned SoftmaxDNN (residual
block, masking, fused sparse loss) in test_softmax_dnn_tuned.py; both use `tests.helpers`'
`histories` and sizes.
"""

from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from lessons.features import QueryBatch, make_batch
from lessons.losses import gravity, softmax_cross_entropy
from lessons.models import MatrixFactorization, SoftmaxDNN
from tests.helpers import N_ITEMS, N_USERS, histories, side_batch, train_steps

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models gain nothing from threads


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
    # one identical optimization step keeps them identical
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


def test_mf_loss_adds_the_l2_term():
    _, targets = histories()
    users = np.array([1, 3, 4])  # a batch of some users: the user term averages over these only
    batch = make_batch(users, None, None, targets)
    torch.manual_seed(0)
    plain = MatrixFactorization(N_USERS, N_ITEMS, dim=8)
    ridge = MatrixFactorization(N_USERS, N_ITEMS, dim=8, l2=0.5)
    ridge.load_state_dict(plain.state_dict())
    u, v = plain.user_embedding[torch.from_numpy(users)], plain.item_embedding
    # λ · (mean_{u∈batch} ‖U_u‖² + mean_j ‖V_j‖²), by hand
    l2_term = u.pow(2).sum(1).mean().item() + v.pow(2).sum(1).mean().item()
    assert ridge.loss(batch).item() == pytest.approx(
        plain.loss(batch).item() + 0.5 * l2_term, rel=1e-6
    )
    assert plain.loss(batch).item() < ridge.loss(batch).item()


@pytest.mark.parametrize("loss", ["softmax", "wls"])
def test_mf_loss_leaves_excluded_items_out_like_the_other_models(loss):
    """`fit` promises that cold-start items stay out of every training loss; MF ignored it."""
    _, targets = histories()
    batch = make_batch(np.arange(N_USERS), None, None, targets)
    cold = torch.ones(N_ITEMS, dtype=torch.bool)
    cold[batch.target.sum(0) > 0] = False  # exclude every item that no user targets
    cold[: N_ITEMS // 2] = False  # ... in the second half of the catalogue
    torch.manual_seed(0)
    model = MatrixFactorization(N_USERS, N_ITEMS, dim=8, loss=loss)
    value = model.loss(replace(batch, exclude_items=cold))
    value.backward()
    # By hand, on the kept columns only: the excluded items carry no loss and get no gradient.
    s, p = model(batch).detach()[:, ~cold], batch.target[:, ~cold]
    if loss == "softmax":
        expected = -(p * torch.log_softmax(s, 1)).sum(1).mean()
    else:
        x = (p > 0).float()
        expected = (torch.where(x > 0, 1.0, 0.1) * (x - s) ** 2).sum(1).mean()
    assert value.item() == pytest.approx(expected.item(), rel=1e-5)
    assert cold.any() and not model.item_embedding.grad[cold].any()


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
