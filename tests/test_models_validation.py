"""What MatrixFactorization, SoftmaxDNN and the towers refuse (and accept): settings, batches."""

import numpy as np
import pytest
import torch

from lessons.features import QueryBatch
from lessons.models import MatrixFactorization, QueryTower, SoftmaxDNN, TwoTower
from tests.helpers import N_ITEMS, N_USERS, fake_item_features

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models gain nothing from threads

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
        # Refused at construction, not only at the first loss call.
        ({"label_smoothing": 1.0}, r"^label_smoothing must lie in \[0, 1\), got 1.0$"),
        ({"label_smoothing": -0.1}, r"^label_smoothing must lie in \[0, 1\), got -0.1$"),
        ({"hidden_lr_scale": -0.1}, r"^hidden_lr_scale must be a finite number > 0, got -0.1$"),
        ({"hidden_lr_scale": 0.0}, r"^hidden_lr_scale must be a finite number > 0, got 0.0$"),
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
        # Anchored with the value: each matches only the message of its own check.
        ({"unobserved_weight": -0.1}, r"^unobserved_weight must be >= 0, got -0.1$"),
        ({"gravity": -1.0}, r"^gravity must be >= 0, got -1.0$"),
        ({"l2": -1}, r"^l2 must be >= 0, got -1$"),
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


def test_constructors_accept_numpy_integers_but_not_bools():
    # Sizes often arrive as NumPy scalars (ds.n_items arithmetic, np.array of widths).
    widths = np.array([16, 32])
    plain = SoftmaxDNN(np.int64(N_ITEMS), dim=8, hidden=tuple(widths), residual=False)
    mf = MatrixFactorization(np.int64(N_USERS), np.int32(N_ITEMS), dim=np.int64(4))
    tower = TwoTower(np.int64(N_ITEMS), fake_item_features(), dim=np.int64(8),
                     query_hidden=widths, embedding_dim=np.int64(8))  # fmt: skip
    # Whole arrays too: `hidden` and side cardinalities (e.g. counted with np.unique).
    dnn = SoftmaxDNN(np.int64(N_ITEMS), dim=np.int64(8), hidden=widths,
                     side_cardinalities=np.array([7, 2]), n_dense=np.int64(2))  # fmt: skip
    for model in (dnn, plain, mf, tower):
        assert type(model.n_items) is int and model.n_items == N_ITEMS
        assert model.item_embeddings().shape[0] == N_ITEMS
    assert type(mf.n_users) is int and mf.user_embedding.shape == (N_USERS, 4)
    linears = [m for m in plain.query_tower.mlp if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in linears] == [*widths.tolist(), 8]

    # Still refused: bools (True would silently mean 1) and floats, NumPy or not.
    for value in (True, np.True_, 8.0, np.float64(8)):
        with pytest.raises(ValueError, match=r"^dim must be a positive integer"):
            SoftmaxDNN(N_ITEMS, dim=value)
        with pytest.raises(ValueError, match="hidden must be a sequence of positive layer"):
            SoftmaxDNN(N_ITEMS, hidden=(value,))
