"""What `lessons.train.fit` accepts: its numeric arguments and its callbacks, checked up front.

A bad argument is a ValueError naming it before any work starts, so a learner's typo in a
notebook cell never surfaces as a tensor error halfway through an epoch.
"""

from collections.abc import Callable

import numpy as np
import torch

from lessons.data.dataset import check_split
from lessons.history import History
from lessons.scoring import check_int, check_model

Callback = Callable[[History, torch.nn.Module], None]


def check_fit_args(
    model, data, epochs, lr, batch_size, weight_decay, seed, k, patience, target_share
) -> None:
    """Refuse, by name, an argument `fit` cannot train with (see `fit` for their meaning).

    Raises:
        ValueError: On a model sized for another catalogue, a non-positive count, k above the
            rankable items, patience without a validation part, a non-finite or non-positive
            lr, a negative weight_decay, or a target_share outside (0, 1).
    """
    check_split(data)
    check_model(model, data.n_items)
    check_int("epochs", epochs, 1, hint="; try 12")
    check_int("batch_size", batch_size, 1, hint="; try 128")
    check_int("seed", seed, 0)
    n_rankable = data.n_items if data.candidates is None else len(data.candidates)
    check_int("k", k, 1, n_rankable, hint=f" (k <= the {n_rankable} rankable items)")
    if patience is not None:
        check_int("patience", patience, 1, hint="; or None to train every epoch")
        if data.valid is None:
            raise ValueError(
                "early stopping needs a validation part, but this split has none; "
                "use random_split(dataset, valid_frac=0.1) or patience=None"
            )
    for name, value, low in (("lr", lr, 0.0), ("weight_decay", weight_decay, None)):
        number = isinstance(value, int | float | np.number) and not isinstance(value, bool)
        if not number or not np.isfinite(value) or (value <= 0 if low is not None else value < 0):
            rule = "> 0 (e.g. 1e-2)" if low is not None else ">= 0"
            raise ValueError(f"{name} must be a finite number {rule}, got {value!r}")
    if target_share is not None and not (
        isinstance(target_share, float | int | np.floating | np.integer)
        and not isinstance(target_share, bool)
        and 0 < target_share < 1
    ):
        raise ValueError(f"target_share must lie in (0, 1) (e.g. 0.5), got {target_share!r}")


def as_callbacks(callbacks) -> tuple[Callback, ...]:
    """`callbacks` as a tuple; one callable counts as (callbacks,), None as ().

    Raises:
        ValueError: Unless `callbacks` is a callable or an iterable of callables.
    """
    if callable(callbacks):  # callbacks=draw, a natural slip for [draw]: it means the same
        return (callbacks,)
    if callbacks is None:  # the usual spelling of "none" in Python
        return ()
    try:
        items = tuple(callbacks)
    except TypeError:  # not iterable: reported below with the other non-callables
        items = (callbacks,)
    for cb in items:
        if not callable(cb):
            raise ValueError(
                f"callbacks must be a callable cb(history, model) or a list of them, got {cb!r}"
            )
    return items


__all__ = ["Callback", "as_callbacks", "check_fit_args"]
