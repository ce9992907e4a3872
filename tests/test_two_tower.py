"""The two-tower model: its surface, overfitting a tiny batch, determinism, bad configurations.

The losses by hand are in test_two_tower_losses.py, the towers in test_two_tower_towers.py
(both use `tests.helpers`' `fake_item_features` / `history_batch`), and cold-start quality in
test_two_tower_cold_start.py.
"""

import numpy as np
import pytest
import torch

from lessons.models import ItemTower, TwoTower
from lessons.models.towers import input_mask
from tests.helpers import N_ITEMS, N_USERS, fake_item_features, history_batch, train_steps

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models gain nothing from threads


def test_shapes_and_surface():
    batch = history_batch()
    for loss in ("full", "in_batch"):
        model = TwoTower(N_ITEMS, fake_item_features(), dim=8, loss=loss)
        assert model.uses_history is True
        assert model.query_embedding(batch).shape == (N_USERS, 8)
        assert model.item_embeddings().shape == (N_ITEMS, 8)
        assert model(batch).shape == (N_USERS, N_ITEMS)
        assert model.loss(batch).shape == ()
        expected = model.query_embedding(batch) @ model.item_embeddings().T
        assert torch.allclose(model(batch), expected)


def test_full_softmax_overfits_a_tiny_batch():
    batch = history_batch()
    torch.manual_seed(0)
    model = TwoTower(N_ITEMS, fake_item_features(), dim=16, query_hidden=(32,), item_hidden=(32,))
    first, last = train_steps(model, batch)
    floor = float(np.log(3))  # entropy of a uniform target over 3 items
    assert last - floor < 0.1 * (first - floor)
    with torch.no_grad():
        top = torch.topk(model(batch), 3, dim=1).indices
    assert torch.gather(batch.target, 1, top).gt(0).all()


@pytest.mark.parametrize("normalize, temperature", [(False, 1.0), (True, 0.1)])
def test_in_batch_softmax_overfits_a_tiny_batch(normalize, temperature):
    batch = history_batch(n_target=1)  # one positive per row, so one example per row
    torch.manual_seed(0)
    log_q = torch.log(torch.full((N_ITEMS,), 1.0 / N_ITEMS))
    model = TwoTower(N_ITEMS, fake_item_features(), dim=16, loss="in_batch", log_q=log_q,
                     normalize=normalize, temperature=temperature)  # fmt: skip
    first, last = train_steps(model, batch)
    assert last < 0.1 * first
    positives = batch.target.argmax(1)
    with torch.no_grad():
        in_batch = model(batch)[:, positives]  # (B, B): each row's own positive on the diagonal
    # A column whose item is in the row's input is a known positive, not a negative: the
    # loss leaves it out (here user 2's input holds user 3's positive), so skip it too.
    known = input_mask(batch, N_ITEMS)[:, positives]
    assert known.sum() == 3  # the check below is not vacuous: most pairs are contrasted
    assert torch.equal(in_batch.masked_fill(known, -torch.inf).argmax(1), torch.arange(N_USERS))


# --- determinism and configuration errors ------------------------------------------------


def test_same_seed_same_parameters_and_outputs():
    batch = history_batch()
    states = []
    for seed in (2, 2, 3):
        torch.manual_seed(seed)
        model = TwoTower(N_ITEMS, fake_item_features(), dim=8, loss="in_batch", dropout=0.2)
        train_steps(model, batch, steps=3)
        states.append((model.state_dict(), model.eval()(batch)))
    (a, out_a), (b, out_b), (c, _) = states
    assert all(torch.equal(a[k], b[k]) for k in a) and torch.equal(out_a, out_b)
    assert not all(torch.equal(a[k], c[k]) for k in a)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"loss": "sampled"}, "unknown loss 'sampled'"),
        # Each message below is produced by its own check only (so a wrong check fails it).
        ({"temperature": 0.0}, r"^temperature must be > 0, got 0.0$"),
        ({"log_q": torch.zeros(N_ITEMS)}, r"^log_q only applies to loss='in_batch'"),
        ({"loss": "in_batch", "log_q": torch.zeros(3)}, rf"^log_q must have shape \({N_ITEMS},\)"),
        (
            {"loss": "in_batch", "log_q": torch.full((N_ITEMS,), -float("inf"))},
            r"^log_q must be finite",
        ),
        ({"query_hidden": (-4,)}, "^query_hidden must be"),  # which tower: named
        ({"item_hidden": (8, 0)}, "^item_hidden must be"),
        ({"activation": "gelu"}, "unknown activation"),
        ({"dim": 0}, "dim"),
        ({"log_q_weight": -1.0}, r"^log_q_weight must be >= 0, got -1.0$"),
        ({"input_dropout": 1.0}, "input_dropout"),
        ({"embedding_dim": 0}, "embedding_dim"),
        ({"feature_dim": 0}, "feature_dim"),
    ],
)
def test_two_tower_rejects_bad_configurations(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TwoTower(N_ITEMS, fake_item_features(), **kwargs)


def test_item_features_must_match_the_catalogue():
    with pytest.raises(ValueError, match="describe 40 items but n_items=41"):
        TwoTower(N_ITEMS + 1, fake_item_features())
    tower = ItemTower(fake_item_features(), dim=8)
    with pytest.raises(ValueError, match="item ids"):
        tower(torch.tensor([N_ITEMS]))
