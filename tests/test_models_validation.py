"""What MatrixFactorization, SoftmaxDNN and the query tower refuse: configurations and batches."""

import pytest
import torch

from lessons.features import QueryBatch
from lessons.models import MatrixFactorization, QueryTower, SoftmaxDNN
from tests.helpers import N_ITEMS, N_USERS

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
