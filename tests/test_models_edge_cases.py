"""Edge cases of the models, their losses and the item features.

Each test guards a plausible bug that would still train and give believable numbers (found
by mutating the code by hand; the bug is named in the docstring). Expected values come from
loops over the docstrings' equations or from hand-made tensors.
"""

from dataclasses import replace

import numpy as np
import pytest
import torch

from lessons.features import QueryBatch, item_features, make_batch
from lessons.models import MatrixFactorization, QueryTower, SoftmaxDNN
from lessons.models.targets import batch_target
from tests.helpers import (
    N_ITEMS,
    N_USERS,
    histories,
    history_batch,
    log_softmax_over,
    tiny_dataset,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def test_mf_wls_regresses_the_binary_multi_hot_not_the_normalized_p():
    """Bug: the WLS loss fits x_uj = p_uj = 1/|target_u| instead of the observed x_uj = 1."""
    _, targets = histories()  # 3 targets per user: p_uj = 1/3 but x_uj = 1
    users = np.array([0, 2, 5])
    batch = make_batch(users, None, None, targets)
    torch.manual_seed(0)
    model = MatrixFactorization(N_USERS, N_ITEMS, dim=4, loss="wls", unobserved_weight=0.3)
    with torch.no_grad():
        u, v = model.user_embedding.numpy(), model.item_embedding.numpy()
    x = targets[users].toarray()
    total = 0.0
    for r, user in enumerate(users):  # L = (1/B) Σ_u Σ_j w_uj (x_uj − ⟨U_u, V_j⟩)²
        for j in range(N_ITEMS):
            w = 1.0 if x[r, j] == 1 else 0.3
            total += w * (x[r, j] - float(u[user] @ v[j])) ** 2
    assert model.loss(batch).item() == pytest.approx(total / len(users), rel=1e-5)


def test_mf_gravity_averages_over_the_batch_users_only():
    """Bug: the gravity term sums over every user's embedding instead of the batch's users."""
    _, targets = histories()
    users = np.array([1, 4])
    batch = make_batch(users, None, None, targets)
    torch.manual_seed(0)
    plain = MatrixFactorization(N_USERS, N_ITEMS, dim=4)
    heavy = MatrixFactorization(N_USERS, N_ITEMS, dim=4, gravity=0.7)
    heavy.load_state_dict(plain.state_dict())
    u, v = plain.user_embedding.detach().numpy(), plain.item_embedding.detach().numpy()
    # γ · (1/(B·n)) Σ_{u∈batch} Σ_j ⟨U_u, V_j⟩², as a double loop
    squares = sum(float(u[a] @ v[j]) ** 2 for a in users for j in range(N_ITEMS))
    term = 0.7 * squares / (len(users) * N_ITEMS)
    assert heavy.loss(batch).item() - plain.loss(batch).item() == pytest.approx(term, rel=1e-4)


def test_softmax_dnn_leaves_exclude_items_out_of_every_softmax():
    """Bug: SoftmaxDNN.loss drops batch.exclude_items (cold items stay in the softmax)."""
    batch = history_batch()
    excluded = torch.zeros(N_ITEMS, dtype=torch.bool)
    cold = [j for j in range(N_ITEMS) if not (batch.target[:, j] > 0).any()][:6]
    excluded[cold] = True
    torch.manual_seed(0)
    model = SoftmaxDNN(N_ITEMS, dim=8, hidden=(), residual=False, input_dropout=0.0,
                       item_bias=False, label_smoothing=0.0, mask_inputs=False)  # fmt: skip
    with torch.no_grad():
        logits = model(batch).tolist()
    kept = [j for j in range(N_ITEMS) if j not in cold]
    losses = []
    for r in range(batch.size):
        log_p = log_softmax_over(logits[r], kept)
        losses.append(-sum(float(batch.target[r, j]) * log_p[j] for j in kept))
    got = model.loss(replace(batch, exclude_items=excluded)).item()
    assert got == pytest.approx(sum(losses) / batch.size, rel=1e-5)


def test_hidden_layer_dropout_is_active_in_training_and_off_in_eval():
    """Bug: `dropout` of the hidden layers is silently ignored (no nn.Dropout in the MLP)."""
    batch = history_batch()
    torch.manual_seed(0)
    tower = QueryTower(N_ITEMS, dim=8, hidden=(64,), dropout=0.5)
    tower.eval()
    with torch.no_grad():
        first, second = tower(batch), tower(batch)
    assert torch.equal(first, second)
    tower.train()
    with torch.no_grad():
        noisy = tower(batch)
    assert not torch.allclose(noisy, first, atol=1e-4)


def test_batch_target_adds_repeated_sparse_entries():
    """Bug: scattering a sparse target keeps only one of two entries for the same item
    (a repeated entry must add, as in sparse_softmax_cross_entropy)."""
    batch = QueryBatch(torch.tensor([0, 1]), torch.tensor([0, 1]),
                       target_items=torch.tensor([2, 2, 5, 3]), target_offsets=torch.tensor([0, 3]),
                       target_weights=torch.tensor([0.25, 0.25, 0.5, 1.0]))  # fmt: skip
    expected = torch.zeros(2, 6)
    expected[0, 2], expected[0, 5], expected[1, 3] = 0.5, 0.5, 1.0
    assert torch.equal(batch_target(batch, 6), expected)


def test_item_features_strip_a_year_followed_by_trailing_spaces():
    """Bug: the "(year)" suffix is kept when the title ends in spaces (as 3 ML-100K titles do),
    so the year becomes a title word."""
    ds = tiny_dataset()
    items = ds.items.copy()
    items["title"] = ["Toy Story (1995)  ", "Story of Us, The (1995) ", "Toy (1995)", "Alien", "x"]
    feats = item_features(replace(ds, items=items), min_word_count=1)
    assert "1995" not in feats.vocabulary
    assert {"toy", "story", "of", "us", "the", "alien"} <= set(feats.vocabulary)
