"""Fixtures of the training-loop tests: one small synthetic dataset and its split, quiet fits."""

import pytest

from lessons.data.splits import random_split
from lessons.data.synthetic import synthetic_movielens


@pytest.fixture(autouse=True)
def quiet(monkeypatch):
    monkeypatch.setenv("LESSONS_QUIET", "1")


@pytest.fixture(scope="module")
def data():
    return synthetic_movielens(n_users=300, n_items=400, seed=0)


@pytest.fixture(scope="module")
def split(data):
    """80/20 with a 10% validation carve-out, so model selection and early stopping apply."""
    return random_split(data, test_frac=0.2, valid_frac=0.1, seed=0)
