"""Notebook 04's exercises: each check answers correct, incorrect or not attempted."""

import numpy as np
import pytest

from lessons.data import random_split, synthetic_movielens
from lessons.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED, nb04
from tests.helpers import run_solution


@pytest.fixture(scope="module")
def split():
    return random_split(synthetic_movielens(n_users=40, n_items=50, seed=1), 0.2, seed=0)


def test_untouched_scaffold_is_not_attempted(split):
    assert nb04.negative_share.check(..., split=split).status == NOT_ATTEMPTED
    assert nb04.corrected_logits.check(None).status == NOT_ATTEMPTED
    assert nb04.popularity_aversion.check(...).status == NOT_ATTEMPTED


def test_negative_share(split):
    c = split.item_popularity().astype(float)
    q = np.maximum(c, 1) / c.sum()
    right = np.sort(q)[-10:].sum()
    assert nb04.negative_share.check(right, split=split).status == CORRECT
    assert nb04.negative_share.check(run_solution(nb04.negative_share, {"split": split}),
                                     split=split).status == CORRECT  # fmt: skip
    # The ten least-watched, or the share of the ten under uniform sampling: named slips.
    least = nb04.negative_share.check(np.sort(q)[:10].sum(), split=split)
    assert least.status == INCORRECT and "the 10 smallest q_j" in least.message
    uniform = nb04.negative_share.check(10 / split.n_items, split=split)
    assert uniform.status == INCORRECT and "the uniform share, 10/n" in uniform.message
    assert "too large" in nb04.negative_share.check(2 * right, split=split).message  # no slip


def test_negative_share_hand_computed():
    class Tiny:  # counts (2, 0, 6, 1) of sum 9: q = (2, 1, 6, 1) / 9, top 10 = all of them
        @staticmethod
        def item_popularity():
            return np.array([2, 0, 6, 1])

    assert nb04.negative_share.check(10 / 9, split=Tiny()).status == CORRECT
    assert nb04.negative_share.check(1.0, split=Tiny()).status == INCORRECT


def test_corrected_logits():
    logits = np.array([[1.0, 2.0], [3.0, 4.0]])
    log_q = np.log(np.array([0.5, 0.25, 0.25]))
    items = np.array([2, 0])
    right = np.array([[1.0 - np.log(0.25), 2.0 - np.log(0.5)],
                      [3.0 - np.log(0.25), 4.0 - np.log(0.5)]])  # fmt: skip
    ctx = {"logits": logits, "log_q": log_q, "items": items}
    assert nb04.corrected_logits.check(right, **ctx).status == CORRECT
    slips = {
        "the sign": logits + log_q[items][None, :],
        "corrects each row": logits - log_q[items][:, None],
        "unchanged": logits.copy(),  # a copy: the same object is the in-place case below
    }
    for words, answer in slips.items():
        result = nb04.corrected_logits.check(answer, **ctx)
        assert result.status == INCORRECT and words in result.message, (words, result)


def test_corrected_logits_changed_in_place_is_explained():
    """`logits -= …; answer = logits` is right, but `check` then reads the changed `logits`."""
    logits, items = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([1, 0])
    log_q = np.log(np.array([0.5, 0.25]))
    logits -= log_q[items][None, :]
    result = nb04.corrected_logits.check(logits, logits=logits, log_q=log_q, items=items)
    assert result.status == INCORRECT and "in place" in result.message
    assert "unchanged" not in result.message.split(".")[0]  # not the slip read off edited logits
    # A new array that is wrong gets no in-place advice.
    fresh = logits + 1.0
    wrong = nb04.corrected_logits.check(fresh, logits=logits, log_q=log_q, items=items)
    assert wrong.status == INCORRECT and "in place" not in wrong.message


def test_popularity_aversion_choice():
    assert nb04.popularity_aversion.check("c").status == CORRECT
    assert nb04.popularity_aversion.check(" C ").status == CORRECT
    assert nb04.popularity_aversion.check("a").status == INCORRECT
    assert nb04.popularity_aversion.check(3).status == INCORRECT


def test_hints_and_solutions_exist():
    for exercise in nb04.EXERCISES:
        assert str(exercise.hint()) and "answer" in str(exercise.solution())
