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
    assert len(fit(tiny_dnn(split.n_items), split, epochs=1, callbacks=None)) == 1  # no callbacks


def test_a_loss_that_turns_nan_mid_epoch_is_reported_before_its_step(split, monkeypatch):
    """Bug: only the epoch's mean was checked, so a NaN loss in step 2 was stepped on, NaN
    spread into the weights, and step 3 failed with "a row excludes every item" (a NaN row
    counted as empty). The step is now refused and the divergence named."""
    model = tiny_dnn(split.n_items, mask_inputs=True)
    loss, calls = model.loss, []

    def nan_at_step_2(batch):
        calls.append(1)
        value = loss(batch)
        return value * float("nan") if len(calls) == 2 else value

    monkeypatch.setattr(model, "loss", nan_at_step_2)
    start = {n: t.clone() for n, t in model.state_dict().items()}
    with pytest.raises(ValueError, match=r"diverged at epoch 1 \(loss nan\)"):
        fit(model, split, epochs=2, batch_size=64)
    assert len(calls) == 2  # no step after the NaN loss
    assert all(torch.equal(model.state_dict()[n], start[n]) for n in start)  # initial weights back


def test_weights_blown_up_by_an_epochs_last_step_are_reported(split, monkeypatch):
    """Bug: a finite loss whose step made the weights NaN (here an infinite gradient) passed
    the epoch's check, and evaluation then failed with "scores contain NaN"."""
    model = tiny_dnn(split.n_items)
    loss = model.loss
    first = next(model.parameters())
    # sqrt at 0: the value adds nothing, its gradient is infinite, and Adam's step turns NaN.
    monkeypatch.setattr(
        model, "loss", lambda b: loss(b) + torch.sqrt((first - first.detach()).sum())
    )
    with pytest.raises(ValueError, match="diverged at epoch 1 \\(weights became NaN/inf\\)"):
        fit(model, split, epochs=1, batch_size=len(split.train))  # one step: the epoch's last
    assert all(bool(torch.isfinite(p).all()) for p in model.parameters())
