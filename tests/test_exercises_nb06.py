"""Exercises of notebook 06: right, wrong and untouched answers."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from lessons.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED, nb06
from tests.helpers import run_solution

NOTEBOOK = Path(__file__).parent.parent / "notebooks" / "06_serving_and_scale.ipynb"


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
    per_query = nb06.recall.check(7 / 3, **lists)  # forgot to divide by k: 7 ids in 3 queries
    assert per_query.status == INCORRECT and "divide it by k = 4" in per_query.message
    wrong = nb06.recall.check(7 / 4, **lists)  # no known slip: the checker says which way
    assert wrong.status == INCORRECT and "too large" in wrong.message


def test_logits_memory_right_and_wrong():
    ctx = {"batch": nb06.TRAIN_BATCH, "n_items": 1_000_000, "dim": 32}
    right = nb06.TRAIN_BATCH * 1e6 * 4 / 2**20  # 976.5625 MiB at a batch of 256
    assert nb06.logits_memory.check(right, **ctx).status == CORRECT
    answer = run_solution(nb06.logits_memory, {"SIZES": (1_000, 1_000_000)})
    assert nb06.logits_memory.check(answer, **ctx).status == CORRECT
    slips = {
        "4 bytes": right / 4,  # counted floats
        "MB (10⁶ bytes)": right * 2**20 / 1e6,
        "GiB": right / 1024,
        "in bytes": right * 2**20,
        "size of V": 1e6 * 32 * 4 / 2**20,  # n × d floats, the notebook's DIM = 32
    }
    for words, wrong in slips.items():
        result = nb06.logits_memory.check(wrong, **ctx)
        assert result.status == INCORRECT and words in result.message, (words, result)


def test_logits_memory_batch_differs_from_the_notebooks_dim():
    """With the notebook's BATCH = DIM = 32 the size of V passed for the logits' size."""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    source = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    dim = int(re.search(r"^DIM, BATCH, REPEATS = (\d+),", source, re.M).group(1))
    assert nb06.TRAIN_BATCH != dim
    assert "nb06.logits_memory.check(answer, batch=nb06.TRAIN_BATCH" in source
    text = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    assert f"at a batch of {nb06.TRAIN_BATCH} examples" in text


def test_logits_memory_asks_for_its_context():
    result = nb06.logits_memory.check(1.0)
    assert result.status == INCORRECT and "batch=" in result.message


def test_dense_update_choice():
    assert nb06.dense_update.check("c").status == CORRECT
    assert nb06.dense_update.check(" C ").status == CORRECT
    assert nb06.dense_update.check("a").status == INCORRECT  # the sparse-gradient timing only
    assert nb06.dense_update.check(3).status == INCORRECT
    assert "(c)" in str(nb06.dense_update.question_text())
