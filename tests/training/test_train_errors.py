"""What the training loop refuses: bad arguments, models and data, and a diverging loss."""

import numpy as np
import pytest
import torch

from lessons.baselines import Popularity
from lessons.data.splits import random_split
from lessons.models import SoftmaxDNN
from lessons.train import fit
from tests.helpers import tiny_dnn

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epochs": 0}, "epochs"),
        ({"epochs": 2.5}, "epochs"),
        ({"lr": 0}, "lr"),
        ({"lr": float("nan")}, "lr"),
        ({"batch_size": 0}, "batch_size"),
        ({"k": 0}, "k must"),
        ({"k": 401}, "k must"),
        ({"target_share": 0.0}, "target_share"),
        ({"target_share": 1.0}, "target_share"),
        ({"target_share": True}, "target_share"),
        ({"weight_decay": -1e-3}, "weight_decay"),
        ({"patience": 0}, "patience"),
        ({"seed": -1}, "seed"),
        ({"callbacks": [42]}, "callbacks"),
        # Not iterable and not callable: the same message, not tuple()'s raw TypeError.
        ({"callbacks": 42}, r"^callbacks must be a callable cb\(history, model\) or a list"),
    ],
)
def test_bad_arguments_raise(split, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit(tiny_dnn(split.n_items), split, **kwargs)


def test_bad_model_or_data_raise(data, split):
    with pytest.raises(ValueError, match="n_items=split.n_items"):
        fit(SoftmaxDNN(split.n_items + 1, dim=8, hidden=()), split, epochs=1)
    with pytest.raises(ValueError, match="lessons.models"):
        fit(Popularity(), split, epochs=1)
    with pytest.raises(ValueError, match="Split"):
        fit(tiny_dnn(split.n_items), data, epochs=1)
    with pytest.raises(ValueError, match="validation part"):
        fit(tiny_dnn(split.n_items), random_split(data), epochs=1, patience=2)


def test_diverging_loss_is_reported(split):
    model = tiny_dnn(split.n_items)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.fill_(float("nan"))
    with pytest.raises(ValueError, match="diverged"):
        fit(model, split, epochs=1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lr_schedule": "step"}, "lr_schedule"),
        ({"eval_every": 0}, "eval_every"),
        # Only the last epoch would be evaluated, so patience could never stop the run.
        ({"eval_every": None, "patience": 2}, "eval_every=None evaluates after the last epoch"),
    ],
)
def test_bad_schedule_arguments_raise(split, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit(tiny_dnn(split.n_items), split, epochs=1, **kwargs)


def test_numpy_numbers_are_numbers(split):
    # A sweep over np.array([...]) hands fit NumPy scalars.
    history = fit(tiny_dnn(split.n_items), split, epochs=np.int64(1), batch_size=np.int64(64),
                  target_share=np.float32(0.5), lr=np.float64(0.01))  # fmt: skip
    assert len(history) == 1


def test_a_single_callback_needs_no_list(split):
    # callbacks=draw is a natural slip for callbacks=[draw]; it means the same.
    seen = []
    history = fit(tiny_dnn(split.n_items), split, epochs=2,
                  callbacks=lambda h, model: seen.append(len(h)))  # fmt: skip
    assert seen == list(range(1, len(history) + 1))
