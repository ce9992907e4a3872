"""Notebook 05's exercises: each check answers correct, incorrect and not attempted."""

import numpy as np
import pandas as pd
import pytest

from lessons.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED, nb05


@pytest.fixture
def lists():
    return np.array([[0, 1, 2], [2, 3, -1], [1, 0, 5]])


@pytest.fixture
def compare():
    return pd.DataFrame(
        {"ndcg@10": [0.2, 0.44, 0.41], "arp@10": [356.0, 255.0, 221.0]},
        index=["Popularity", "EASE", "MF"],
    )


def test_coverage(lists):
    # Distinct items 0, 1, 2, 3, 5 out of 10: 0.5 (the -1 slot is not an item).
    assert nb05.coverage.check(0.5, lists=lists, n_items=10).status == CORRECT
    assert nb05.coverage.check(0.6, lists=lists, n_items=10).status == INCORRECT  # counted -1
    assert nb05.coverage.check(..., lists=lists, n_items=10).status == NOT_ATTEMPTED
    code = nb05.coverage.solution().text
    scope = {"np": np, "lists": lists, "n_items": 10}
    exec(code, scope)
    assert nb05.coverage.check(scope["answer"], lists=lists, n_items=10).correct


def test_most_biased(compare):
    assert nb05.most_biased.check("Popularity", compare=compare).status == CORRECT
    assert nb05.most_biased.check(" popularity ", compare=compare).status == CORRECT
    assert nb05.most_biased.check("EASE", compare=compare).status == INCORRECT
    assert nb05.most_biased.check(3, compare=compare).status == INCORRECT
    assert nb05.most_biased.check(None, compare=compare).status == NOT_ATTEMPTED
    no_arp = compare.drop(columns="arp@10")
    assert "check(answer" in nb05.most_biased.check("EASE", compare=no_arp).message


def test_sampled():
    assert nb05.sampled.check("c").status == CORRECT
    assert nb05.sampled.check("d").status == INCORRECT
    assert nb05.sampled.check(...).status == NOT_ATTEMPTED
    assert "(c)" in nb05.sampled.question_text().text
    assert nb05.sampled.hint().text


def test_coverage_alone():
    assert nb05.coverage_alone.check("b").status == CORRECT
    assert nb05.coverage_alone.check("a").status == INCORRECT
    assert nb05.coverage_alone.check(...).status == NOT_ATTEMPTED
    assert "(b)" in nb05.coverage_alone.question_text().text
    assert nb05.coverage_alone.hint().text
