"""Paths of the models, losses, fused cross-entropy, fit and History that a mutation run found
untested: each mutant a test names passed every other test. Each test says the bug a learner
or teacher would meet if that mutant were the code.
"""

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from lessons.features import make_batch
from lessons.fused_ce import SparseRows, sparse_softmax_cross_entropy
from lessons.history import History
from lessons.models import SoftmaxDNN, TwoTower
from lessons.models.towers import gather_bags
from lessons.train import fit
from tests.helpers import N_ITEMS, fake_item_features, log_softmax_over

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models gain nothing from threads


def test_an_excluded_item_listed_as_a_zero_target_stays_out_of_the_softmax():
    """Mutant fused_ce.py:91 `t_keys[t_values > 0]` -> `t_keys`: a target entry with p_uj = 0
    that is also an input would be put back into the softmax, so the sparse loss would stop
    matching the dense one (exclude & (p == 0)) that it documents."""
    logits = [[2.0, 0.5, -1.0, 1.0], [0.0, 3.0, 1.0, -2.0]]
    # Row 0: target item 0, plus an explicit 0 entry on item 1, which is also an input.
    # Row 1: target item 2 (0.5) and item 1 (0.5); item 1 is an input too, so it stays in.
    target = SparseRows(torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 2, 1]),
                        torch.tensor([1.0, 0.0, 0.5, 0.5]))  # fmt: skip
    exclude = SparseRows(torch.tensor([0, 1, 1]), torch.tensor([1, 1, 3]))
    kept = [[0, 2, 3], [0, 1, 2]]  # row 0 drops item 1 (p = 0); row 1 drops item 3 only
    p = [{0: 1.0}, {2: 0.5, 1: 0.5}]
    losses = [sum(w * log_softmax_over(logits[u], kept[u])[j] for j, w in p[u].items())
              for u in (0, 1)]  # fmt: skip
    expected = -sum(losses) / 2
    got = sparse_softmax_cross_entropy(torch.tensor(logits), target, exclude=exclude)
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_fit_leaves_the_model_in_eval_mode_without_callbacks(tiny_split):
    """Mutant train.py:264 `model.eval()` deleted: the evaluation restores the training mode it
    found, so without callbacks fit returned a model in train mode, and every direct call a
    notebook makes (model(batch), model.query_embedding(batch)) ran with dropout: two calls on
    the same batch gave different scores."""
    torch.manual_seed(0)
    model = SoftmaxDNN(tiny_split.n_items, dim=8, hidden=(16,), dropout=0.3, input_dropout=0.3)
    fit(model, tiny_split, epochs=1, batch_size=32)
    assert not model.training
    batch = make_batch(np.arange(5), tiny_split.train_matrix(), None, None)
    assert torch.equal(model(batch), model(batch))  # no dropout noise


def test_best_returns_a_copy_of_the_row():
    """Mutant history.py:69 `dict(...)` dropped: best() handed out the stored row, so editing
    the returned dict (e.g. scaling NDCG to percent for a table) rewrote the History that
    to_frame() and the plots read."""
    history = History(rows=[{"epoch": 1, "ndcg@10": 0.2}, {"epoch": 2, "ndcg@10": 0.3}],
                      best_epoch=2)  # fmt: skip
    best = history.best()
    best["ndcg@10"] *= 100
    assert history.rows[1]["ndcg@10"] == 0.3
    assert history.to_frame()["ndcg@10"].tolist() == [0.2, 0.3]


def test_gather_bags_returns_each_selected_rows_bag_including_the_last():
    """Mutant towers.py:79 `[bag.numel()]` -> `[bag.numel() - 1]` (and relatives): gather_bags
    feeds the item tower's title words; an off-by-one at the end dropped the last catalogue
    item's last title word, for the full table and for subsets alike, so comparing the two
    (as test_embedding_a_subset_of_items_equals_the_full_table does) cannot see it."""
    bags = [[4, 1], [7], [], [2, 2, 9], [5, 3]]  # row 2 has no words; the last row has two
    bag = torch.tensor([w for b in bags for w in b])
    lengths = torch.tensor([len(b) for b in bags])
    offsets = torch.cumsum(lengths, 0) - lengths
    rows = torch.tensor([4, 0, 2, 3, 4])  # any order, repeats allowed, last row included
    got_bag, got_offsets = gather_bags(bag, offsets, rows)
    ends = [*got_offsets.tolist()[1:], got_bag.numel()]
    got = [got_bag[s:e].tolist() for s, e in zip(got_offsets.tolist(), ends, strict=True)]
    assert got == [bags[r] for r in rows.tolist()]


def _hand_batch():
    """3 users. Inputs: u0 {1}, u1 {3}, u2 {5, 9}; targets: u0 {2}, u1 {2, 5}, u2 {7}."""
    inputs = sp.csr_matrix(([1.0] * 4, ([0, 1, 2, 2], [1, 3, 5, 9])), shape=(3, N_ITEMS))
    targets = sp.csr_matrix(([1.0] * 4, ([0, 1, 1, 2], [2, 2, 5, 7])), shape=(3, N_ITEMS))
    return make_batch(np.arange(3), inputs, None, targets)


INPUTS, TARGETS = [{1}, {3}, {5, 9}], [{2: 1.0}, {2: 0.5, 5: 0.5}, {7: 1.0}]


def _unit(x: torch.Tensor) -> torch.Tensor:
    return (x / x.norm(dim=1, keepdim=True)).double()


@pytest.mark.parametrize("loss", ["full", "in_batch"])
def test_normalized_two_tower_trains_on_the_cosine_over_temperature(loss):
    """Mutants two_tower.py:98 `self.item_embeddings()` -> `self.item_tower()` (full) and
    two_tower.py:103 the same for in-batch: with normalize=True the training softmax used
    ⟨ψ/‖ψ‖, φ⟩ instead of the cosine that forward ranks by, so the model learned one score and
    was ranked by another; every existing test still trained and passed."""
    tau, batch = 0.5, _hand_batch()
    torch.manual_seed(0)
    model = TwoTower(N_ITEMS, fake_item_features(), dim=8, loss=loss, temperature=tau,
                     normalize=True)  # fmt: skip
    with torch.no_grad():  # the raw towers, normalized here by hand
        psi, phi = _unit(model.query_tower(batch)), _unit(model.item_tower())
    s = (psi @ phi.T / tau).tolist()  # cosine / τ, (3, N_ITEMS)
    if loss == "full":
        losses = []
        for u in range(3):
            kept = [j for j in range(N_ITEMS) if j not in INPUTS[u]]
            log_p = log_softmax_over(s[u], kept)
            losses.append(-sum(p * log_p[j] for j, p in TARGETS[u].items()))
        expected = sum(losses) / 3
    else:  # one example per (user, target); a column whose item u knows is left out
        examples = [(u, j) for u in range(3) for j in sorted(TARGETS[u])]
        losses = []
        for e, (u, _) in enumerate(examples):
            known = INPUTS[u] | set(TARGETS[u])
            kept = [c for c, (_, k) in enumerate(examples) if c == e or k not in known]
            row = [s[u][k] for _, k in examples]
            losses.append(-log_softmax_over(row, kept)[e])
        expected = sum(losses) / len(examples)
    assert model.loss(batch).item() == pytest.approx(expected, rel=1e-5)
    assert math.isfinite(expected)


def test_normalized_full_loss_ignores_the_item_vector_length():
    """Same mutant as above (two_tower.py:98), seen from the lesson's side: with cosine scoring
    scaling φ_j changes nothing, so it must not change the training loss either."""
    batch = _hand_batch()
    torch.manual_seed(0)
    model = TwoTower(N_ITEMS, fake_item_features(), dim=8, item_hidden=(), normalize=True)
    before = model.loss(batch).item()
    with torch.no_grad():
        for layer in (m for m in model.item_tower.mlp.modules() if isinstance(m, torch.nn.Linear)):
            layer.weight.mul_(3.0)
            layer.bias.mul_(3.0)
    assert model.loss(batch).item() == pytest.approx(before, rel=1e-5)
