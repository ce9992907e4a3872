"""Opt-in seeding and the thread setting."""

import random

import numpy as np
import pytest
import torch

from lessons import seed_everything, set_threads
from lessons.config import ENV_NUM_THREADS
from lessons.runtime import available_cores


def _draw():
    # The legacy global generator is exactly what seed_everything seeds.
    return random.random(), np.random.rand(), torch.rand(1).item()  # noqa: NPY002


def test_seed_everything_makes_python_numpy_and_torch_repeat():
    seed_everything(7)
    first = _draw()
    seed_everything(7)
    assert _draw() == first
    seed_everything(8)
    assert _draw() != first


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True])
def test_seed_everything_rejects_bad_seeds(bad):
    with pytest.raises(ValueError, match="non-negative integer"):
        seed_everything(bad)


def test_set_threads_reads_the_environment_then_defaults_to_available_cores(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv(ENV_NUM_THREADS, "1")
        assert set_threads() == 1 and torch.get_num_threads() == 1
        monkeypatch.delenv(ENV_NUM_THREADS)
        assert set_threads() == available_cores()
        assert set_threads(1) == 1
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize(
    ("env", "arg", "message"), [("two", None, "not an integer"), ("", 0, ">= 1")]
)
def test_set_threads_rejects_bad_counts(monkeypatch, env, arg, message):
    monkeypatch.setenv(ENV_NUM_THREADS, env)
    with pytest.raises(ValueError, match=message):
        set_threads(arg)
