"""The two-tower losses by hand: in-batch softmax with masking and log Q, full softmax."""

from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from lessons.features import QueryBatch, make_batch
from lessons.models import TwoTower
from lessons.models.towers import input_mask
from tests.helpers import N_ITEMS, N_USERS, fake_item_features, history_batch

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models gain nothing from threads


def hand_batch() -> QueryBatch:
    """3 users. Inputs: u0 {1}, u1 {3}, u2 {5, 9}; targets: u0 {2}, u1 {2, 5}, u2 {7}."""
    inputs = sp.csr_matrix(([1.0] * 4, ([0, 1, 2, 2], [1, 3, 5, 9])), shape=(3, N_ITEMS))
    targets = sp.csr_matrix(([1.0] * 4, ([0, 1, 1, 2], [2, 2, 5, 7])), shape=(3, N_ITEMS))
    return make_batch(np.arange(3), inputs, None, targets)


def test_input_mask_marks_each_rows_bag_items():
    mask = input_mask(hand_batch(), N_ITEMS)
    expected = torch.zeros(3, N_ITEMS, dtype=torch.bool)
    expected[0, 1] = expected[1, 3] = expected[2, 5] = expected[2, 9] = True
    assert torch.equal(mask, expected)
    empty_bag = QueryBatch(torch.tensor([4]), torch.tensor([0, 1]))  # row 1 has no items
    assert input_mask(empty_bag, 6).tolist() == [[False] * 4 + [True, False], [False] * 6]
    with pytest.raises(ValueError, match="bag item ids"):
        input_mask(hand_batch(), 5)


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_in_batch_loss_masks_known_positives_and_scales_log_q_by_hand(alpha):
    batch = hand_batch()
    log_q = torch.log(torch.linspace(0.1, 1.0, N_ITEMS) / 10)
    torch.manual_seed(0)
    model = TwoTower(N_ITEMS, fake_item_features(), dim=8, loss="in_batch", log_q=log_q,
                     temperature=0.5, log_q_weight=alpha)  # fmt: skip
    got = model.loss(batch)
    # Examples (user, item): (0,2), (1,2), (1,5), (2,7). Column c is left out of row r when
    # c's item is a known positive (input or target) of r's user: item 2 for u0; items 2, 5
    # for u1; item 5 (an input) for u2. The diagonal always stays.
    users, items = [0, 1, 1, 2], [2, 2, 5, 7]
    excluded = [[0, 1, 0, 0], [1, 0, 1, 0], [1, 1, 0, 0], [0, 0, 1, 0]]
    with torch.no_grad():
        psi, phi = model.query_embedding(batch), model.item_embeddings()
    losses = []
    for r in range(4):
        s = [float(psi[users[r]] @ phi[items[c]]) / 0.5 - alpha * float(log_q[items[c]])
             for c in range(4)]  # fmt: skip
        kept = [c for c in range(4) if not excluded[r][c]]
        losses.append(-(s[r] - np.log(sum(np.exp(s[c]) for c in kept))))
    assert got.item() == pytest.approx(np.mean(losses), rel=1e-5)


def test_in_batch_refuses_batches_with_too_many_pairs(monkeypatch):
    import lessons.models.towers as towers

    model = TwoTower(N_ITEMS, fake_item_features(), dim=8, loss="in_batch")
    monkeypatch.setattr(towers, "MAX_IN_BATCH", 3)  # hand_batch has 4 (user, target) pairs
    with pytest.raises(ValueError, match="4 \\(user, target\\) pairs.*lower batch_size"):
        model.loss(hand_batch())
    monkeypatch.setattr(towers, "MAX_IN_BATCH", 4)
    assert torch.isfinite(model.loss(hand_batch()))


def test_in_batch_log_q_weight_zero_equals_no_correction():
    batch = hand_batch()
    torch.manual_seed(0)
    plain = TwoTower(N_ITEMS, fake_item_features(), dim=8, loss="in_batch")
    log_q = torch.log(torch.linspace(0.1, 1.0, N_ITEMS) / 10)
    zero = TwoTower(N_ITEMS, fake_item_features(), dim=8, loss="in_batch", log_q=log_q,
                    log_q_weight=0.0)  # fmt: skip
    zero.query_tower.load_state_dict(plain.query_tower.state_dict())
    zero.item_tower.load_state_dict(plain.item_tower.state_dict())
    assert torch.equal(plain.loss(batch), zero.loss(batch))
    zero.log_q_weight = 1.0
    assert zero.loss(batch).item() != pytest.approx(plain.loss(batch).item(), abs=1e-3)


def test_full_loss_leaves_inputs_and_excluded_items_out_of_the_softmax_by_hand():
    batch = hand_batch()
    torch.manual_seed(0)
    model = TwoTower(N_ITEMS, fake_item_features(), dim=8, loss="full", temperature=2.0)
    cold = torch.zeros(N_ITEMS, dtype=torch.bool)
    cold[[30, 31, 32]] = True
    got = model.loss(replace(batch, exclude_items=cold))
    with torch.no_grad():
        s = (model(batch) / 2.0).double()
    inputs = [{1}, {3}, {5, 9}]
    targets = [{2: 1.0}, {2: 0.5, 5: 0.5}, {7: 1.0}]
    losses = []
    for u in range(3):
        kept = [j for j in range(N_ITEMS) if j not in inputs[u] and j not in (30, 31, 32)]
        log_z = torch.logsumexp(s[u, kept], 0)
        losses.append(-sum(p * (s[u, j] - log_z) for j, p in targets[u].items()))
    assert got.item() == pytest.approx(float(sum(losses) / 3), rel=1e-5)
    # an excluded item that is a target is an error, not a silent drop
    cold[7] = True
    with pytest.raises(ValueError, match="target mass on excluded items"):
        model.loss(replace(batch, exclude_items=cold))


def test_an_input_item_that_is_also_a_target_stays_in_the_softmax():
    inputs = sp.csr_matrix(([1.0, 1.0], ([0, 0], [1, 2])), shape=(1, N_ITEMS))
    batch = make_batch(np.arange(1), inputs, None, inputs)  # target == input
    torch.manual_seed(0)
    model = TwoTower(N_ITEMS, fake_item_features(), dim=8)
    with torch.no_grad():
        s = model(batch)[0].double()
    expected = -0.5 * (s[1] + s[2] - 2 * torch.logsumexp(s, 0))
    assert model.loss(batch).item() == pytest.approx(float(expected), rel=1e-5)


def test_normalized_towers_have_unit_norm_and_temperature_leaves_scores_alone():
    batch = history_batch()
    torch.manual_seed(0)
    a = TwoTower(N_ITEMS, fake_item_features(), dim=8, normalize=True, temperature=1.0)
    b = TwoTower(N_ITEMS, fake_item_features(), dim=8, normalize=True, temperature=0.05)
    b.load_state_dict(a.state_dict())
    assert torch.allclose(a.item_embeddings().norm(dim=1), torch.ones(N_ITEMS))
    assert torch.allclose(a.query_embedding(batch).norm(dim=1), torch.ones(N_USERS))
    assert torch.equal(a(batch), b(batch))
    assert a.loss(batch).item() != pytest.approx(b.loss(batch).item(), rel=1e-3)
