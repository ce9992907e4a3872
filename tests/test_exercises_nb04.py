"""Notebook 04's exercises: each check answers correct, incorrect or not attempted."""

import numpy as np
import pytest

from lessons.data import random_split, synthetic_movielens
from lessons.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED, nb04


@pytest.fixture(scope="module")
def split():
    return random_split(synthetic_movielens(n_users=40, n_items=50, seed=1), 0.2, seed=0)


def test_untouched_scaffold_is_not_attempted(split):
    assert nb04.sampling_log_q.check(..., split=split).status == NOT_ATTEMPTED
    assert nb04.corrected_logits.check(None).status == NOT_ATTEMPTED
    assert nb04.popularity_aversion.check(...).status == NOT_ATTEMPTED


def test_sampling_log_q(split):
    c = split.item_popularity().astype(float)
    right = np.log(np.maximum(c, 1) / c.sum())
    assert nb04.sampling_log_q.check(right, split=split).status == CORRECT
    # Forgetting the floor of 1 gives -inf for unseen items; plain counts are wrong too.
    assert nb04.sampling_log_q.check(np.log(c / c.sum() + 1e-3), split=split).status == INCORRECT
    assert nb04.sampling_log_q.check(c, split=split).status == INCORRECT


def test_sampling_log_q_hand_computed():
    class Tiny:  # counts (2, 0, 6): q = (2/8, 1/8, 6/8)
        @staticmethod
        def item_popularity():
            return np.array([2, 0, 6])

    expected = np.log([0.25, 0.125, 0.75])
    assert nb04.sampling_log_q.check(expected, split=Tiny()).status == CORRECT


def test_corrected_logits():
    logits = np.array([[1.0, 2.0], [3.0, 4.0]])
    log_q = np.log(np.array([0.5, 0.25, 0.25]))
    items = np.array([2, 0])
    right = np.array([[1.0 - np.log(0.25), 2.0 - np.log(0.5)],
                      [3.0 - np.log(0.25), 4.0 - np.log(0.5)]])  # fmt: skip
    ctx = {"logits": logits, "log_q": log_q, "items": items}
    assert nb04.corrected_logits.check(right, **ctx).status == CORRECT
    assert nb04.corrected_logits.check(logits + log_q[items][None, :], **ctx).status == INCORRECT
    rows = logits - log_q[items][:, None]  # correction per row instead of per column
    assert nb04.corrected_logits.check(rows, **ctx).status == INCORRECT


def test_popularity_aversion_choice():
    assert nb04.popularity_aversion.check("c").status == CORRECT
    assert nb04.popularity_aversion.check(" C ").status == CORRECT
    assert nb04.popularity_aversion.check("a").status == INCORRECT
    assert nb04.popularity_aversion.check(3).status == INCORRECT


def test_hints_and_solutions_exist():
    for exercise in nb04.EXERCISES:
        assert str(exercise.hint()) and "answer" in str(exercise.solution())
