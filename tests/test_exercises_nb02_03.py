"""Exercises of notebooks 02 and 03: right, wrong and untouched answers."""

import numpy as np
import pytest
import torch

from lessons.data import random_split, synthetic_movielens
from lessons.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED, nb02, nb03
from lessons.experiments import textbook_dnn
from tests.helpers import run_solution


@pytest.fixture(scope="module")
def split():
    return random_split(synthetic_movielens(n_users=40, n_items=50, seed=1), 0.2, seed=0)


@pytest.fixture(scope="module")
def model(split):
    return textbook_dnn(split, (16,), dim=8)


@pytest.mark.parametrize("exercise", [*nb02.EXERCISES, *nb03.EXERCISES])
def test_untouched_scaffold_is_not_attempted(exercise):
    assert exercise.check(...).status == NOT_ATTEMPTED
    assert exercise.hint().text and exercise.solution().text


def test_x_width(model):
    assert nb02.x_width.check(8 + 3 * 8 + 2, model=model).status == CORRECT
    assert nb02.x_width.check(8, model=model).status == INCORRECT


def test_smoothed_loss_by_hand():
    logits = torch.tensor([[np.log(9.0), 0.0], [0.0, np.log(3.0)]])  # p̂ rows (.9, .1), (.25, .75)
    target = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    # ε = 0.8 over n = 2 items: smoothed rows 0.2 p + 0.4 = (0.6, 0.4) and (0.5, 0.5).
    row2 = -(0.5 * np.log(0.25) + 0.5 * np.log(0.75))
    smoothed = (-(0.6 * np.log(0.9) + 0.4 * np.log(0.1)) + row2) / 2
    plain = (-np.log(0.9) + row2) / 2
    ctx = {"logits": logits, "target": target}
    assert nb02.smoothed_loss.check(smoothed, **ctx).status == CORRECT
    assert nb02.smoothed_loss.check(plain, **ctx).status == INCORRECT  # forgot the smoothing
    answer = run_solution(nb02.smoothed_loss, {"p": target, "train_logits": logits, "torch": torch})
    assert nb02.smoothed_loss.check(answer, **ctx).status == CORRECT


def test_multiple_choice():
    assert nb02.collapse.check("b").status == CORRECT
    assert nb02.collapse.check("a").status == INCORRECT
    assert nb03.generalizes.check(" C ").status == CORRECT
    assert nb03.generalizes.check("a").status == INCORRECT


def test_log_z_by_hand():
    psi, V = torch.tensor([1.0, 0.0]), torch.tensor([[0.0, 1.0], [np.log(3.0), 0.0]])
    assert nb03.log_z.check(np.log(4.0), psi=psi, V=V).status == CORRECT  # log(e⁰ + 3)
    assert nb03.log_z.check(np.log(3.0), psi=psi, V=V).status == INCORRECT


def test_neighbours():
    split = random_split(synthetic_movielens(n_users=40, n_items=nb03.ITEM + 20, seed=1), 0.2)
    model = textbook_dnn(split, (16,), dim=8)
    V = model.item_embeddings().detach()
    vn = V / V.norm(dim=1, keepdim=True)
    cos = vn @ vn[nb03.ITEM]
    cos[nb03.ITEM] = -float("inf")
    right = torch.topk(cos, 5).indices.numpy()
    assert nb03.neighbours.check(right, model=model, split=split).status == CORRECT
    assert nb03.neighbours.check(right[::-1], model=model, split=split).status == INCORRECT
