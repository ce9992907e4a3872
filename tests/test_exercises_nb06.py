"""Exercises of notebook 06: right, wrong and untouched answers."""

import numpy as np
import pytest

from lessons.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED, nb06
from tests.helpers import run_solution


@pytest.fixture
def lists():
    exact = np.array([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]])
    approx = np.array([[0, 1, 2, 3], [4, 5, 20, 21], [30, 31, 32, 11]])  # 4, 2, 1 of 4 found
    return {"approx": approx, "exact": exact}


def test_untouched_scaffold_is_not_attempted(lists):
    for ex, ctx in ((nb06.recall, lists), (nb06.logits_memory, {"batch": 32, "n_items": 10}),
                    (nb06.dense_update, {})):  # fmt: skip
        assert ex.check(..., **ctx).status == NOT_ATTEMPTED
        assert ex.check(None, **ctx).status == NOT_ATTEMPTED
        assert str(ex.hint()) and str(ex.solution())


def test_recall_right_and_wrong(lists):
    assert nb06.recall.check(7 / 12, **lists).status == CORRECT
    assert nb06.recall.check(run_solution(nb06.recall, lists), **lists).status == CORRECT
    wrong = nb06.recall.check(7 / 4, **lists)  # forgot to divide by k
    assert wrong.status == INCORRECT and "too large" in wrong.message


def test_logits_memory_right_and_wrong():
    ctx = {"batch": 32, "n_items": 1_000_000}
    assert nb06.logits_memory.check(122.0703125, **ctx).status == CORRECT  # 32e6 · 4 / 2**20
    notebook = {"BATCH": 32, "SIZES": (1_000, 1_000_000)}  # the solution uses the notebook's names
    answer = run_solution(nb06.logits_memory, notebook)
    assert nb06.logits_memory.check(answer, **ctx).status == CORRECT
    assert nb06.logits_memory.check(32e6 / 2**20, **ctx).status == INCORRECT  # forgot 4 bytes
    in_mb = nb06.logits_memory.check(128.0, **ctx)  # 32e6 · 4 / 1e6: megabytes, not MiB
    assert in_mb.status == INCORRECT and "MB (10⁶ bytes)" in in_mb.message


def test_logits_memory_asks_for_its_context():
    result = nb06.logits_memory.check(1.0)
    assert result.status == INCORRECT and "batch=" in result.message


def test_dense_update_choice():
    assert nb06.dense_update.check("c").status == CORRECT
    assert nb06.dense_update.check(" C ").status == CORRECT
    assert nb06.dense_update.check("a").status == INCORRECT  # the sparse-gradient timing only
    assert nb06.dense_update.check(3).status == INCORRECT
    assert "(c)" in str(nb06.dense_update.question_text())
