"""Edge cases of `lessons.train.fit` and of the training batches it draws.

Each test guards a plausible bug that would still train and give believable numbers (found
by mutating the code by hand; the bug is named in the docstring).
"""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from lessons.data.splits import random_split
from lessons.data.synthetic import synthetic_movielens
from lessons.features import make_batch, split_history
from lessons.features.epochs import EpochSampler
from lessons.models import MatrixFactorization, SoftmaxDNN
from lessons.train import fit

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def split():
    data = synthetic_movielens(n_users=120, n_items=150, seed=0)
    return random_split(data, test_frac=0.2, valid_frac=0.1, seed=0)


@pytest.fixture
def optimizers(monkeypatch):
    """Every Adam optimizer `fit` builds, kept for inspection after the fit."""
    made = []

    class Spy(torch.optim.Adam):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(torch.optim, "Adam", Spy)
    return made


def test_weight_decay_reaches_the_optimizer_and_shrinks_unused_rows(split):
    """Bug: fit accepts weight_decay but never passes it to Adam (no regularization at all)."""
    # A bag-table row of an item that no training history contains gets a zero gradient:
    # without decay Adam leaves it exactly as it is, with decay it shrinks towards 0.
    data = replace(split, train=split.train[split.train["item"] != 0])  # item 0 never an input
    unused = torch.tensor([0])
    norms = {}
    for decay in (0.0, 0.5):
        torch.manual_seed(0)
        model = SoftmaxDNN(split.n_items, dim=8, hidden=(), residual=False, input_dropout=0.0,
                           item_bias=False, label_smoothing=0.0)  # fmt: skip
        before = model.query_tower.bag.weight[unused].norm().item()
        fit(model, data, epochs=1, lr=0.05, weight_decay=decay, batch_size=32)
        norms[decay] = model.query_tower.bag.weight[unused].norm().item() / before
    assert norms[0.0] == 1.0 and norms[0.5] < 0.99


def test_parameter_groups_learn_at_their_lr_scale(split, optimizers):
    """Bug: fit gives every parameter group the base lr, ignoring `lr_scale` (hidden_lr_scale)."""
    torch.manual_seed(0)
    model = SoftmaxDNN(split.n_items, dim=8, hidden=(16,), hidden_lr_scale=0.25)
    fit(model, split, epochs=1, lr=0.04, batch_size=64)
    (optimizer,) = optimizers
    block = {id(p) for p in model.block.parameters()}
    for group in optimizer.param_groups:
        in_block = {id(p) in block for p in group["params"]}
        assert len(in_block) == 1  # a group is either the block or the rest
        expected = 0.04 * 0.25 if in_block == {True} else 0.04
        assert group["initial_lr"] == pytest.approx(expected)


def test_cosine_schedule_reaches_zero_when_some_users_cannot_train(split, optimizers):
    """Bug: the cosine schedule counts users with a single training item, who give a history
    model no example (input + target needs 2 items), so it stops short of lr = 0."""
    train = split.train
    first = train.groupby("user").head(1)
    single = first[first["user"] < 60]  # users 0..59 keep one training item
    data = replace(split, train=pd.concat([train[train["user"] >= 60], single]))
    torch.manual_seed(0)
    model = SoftmaxDNN(split.n_items, dim=8, hidden=(), residual=False, input_dropout=0.0)
    fit(model, data, epochs=2, lr=0.05, batch_size=8)
    (optimizer,) = optimizers
    assert all(group["lr"] == pytest.approx(0.0, abs=1e-12) for group in optimizer.param_groups)


def test_train_loss_is_the_mean_over_queries_not_over_batches(split):
    """Bug: train_loss averages the batch means, so a short last batch counts as much as a full
    one (History documents the mean per training query)."""
    torch.manual_seed(0)
    model = MatrixFactorization(split.n_users, split.n_items, dim=8)
    train = split.train_matrix()
    users = np.flatnonzero(np.diff(train.indptr) > 0)
    assert len(users) % 50 != 0  # a short last batch
    with torch.no_grad():  # MF's target is the whole training row: no randomness
        expected = model.loss(make_batch(users, None, None, train)).item()
    history = fit(model, split, epochs=1, lr=1e-9, batch_size=50)  # weights barely move
    assert history.rows[0]["train_loss"] == pytest.approx(expected, rel=1e-5)


def _high_share_rows():
    """Rows of 2, 3 and 4 items, where round(0.9·n) = n: only the clip keeps an input item."""
    dense = np.zeros((3, 6), dtype=np.float32)
    dense[0, :2] = dense[1, :3] = dense[2, :4] = 1
    return sp.csr_matrix(dense)


def test_split_history_keeps_an_input_item_even_at_a_high_share():
    """Bug: split_history clips the target count to n instead of n − 1, leaving empty bags."""
    x = _high_share_rows()
    inputs, targets = split_history(x, 0.9, np.random.default_rng(0))
    assert np.diff(inputs.indptr).tolist() == [1, 1, 1]
    assert np.diff(targets.indptr).tolist() == [1, 2, 3]


def test_epoch_sampler_keeps_an_input_item_even_at_a_high_share():
    """Bug: EpochSampler clips the target count to n instead of n − 1, leaving empty bags."""
    (batch,) = EpochSampler(_high_share_rows(), 0.9).epoch(np.random.default_rng(0), 8)
    lengths = torch.diff(batch.offsets, append=torch.tensor([batch.bag.numel()]))
    n_target = torch.diff(batch.target_offsets, append=torch.tensor([batch.target_items.numel()]))
    pairs = zip(lengths.tolist(), n_target.tolist(), strict=True)
    by_user = dict(zip(batch.users.tolist(), pairs, strict=True))
    assert by_user == {0: (1, 1), 1: (1, 2), 2: (1, 3)}


def test_make_batch_ignores_explicitly_stored_zeros_in_the_inputs():
    """Bug: an explicitly stored 0 in the input matrix becomes an item of the history bag."""
    inputs = sp.csr_matrix((np.array([1.0, 0.0, 1.0]), ([0, 0, 0], [1, 2, 4])), shape=(1, 6))
    targets = sp.csr_matrix((np.array([1.0]), ([0], [3])), shape=(1, 6))
    assert inputs.nnz == 3  # the zero at item 2 is stored
    batch = make_batch(np.array([0]), inputs, None, targets)
    assert batch.bag.tolist() == [1, 4]


def test_epoch_sampler_ignores_explicitly_stored_zeros():
    """Bug: EpochSampler counts a stored 0 as an interaction (it can enter a bag or target)."""
    x = sp.csr_matrix((np.array([1.0, 0.0, 1.0, 1.0]), ([0, 0, 0, 0], [1, 2, 4, 5])), shape=(1, 6))
    for seed in range(5):
        (batch,) = EpochSampler(x, 0.5).epoch(np.random.default_rng(seed), 4)
        assert sorted(batch.bag.tolist() + batch.target_items.tolist()) == [1, 4, 5]
        assert batch.target_weights.tolist() == [0.5, 0.5]  # rint(0.5 · 3) = 2 targets
