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
        {
            "ndcg@10": [0.2, 0.44, 0.41, 0.40],
            "arp@10": [356.0, 255.0, 221.0, 220.0],
            "aplt@10": [0.0, 0.006, 0.042, 0.029],
        },
        index=["Popularity", "EASE", "MF", "ItemKNN"],
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


def test_most_tail(compare):
    assert nb05.most_tail.check("MF", compare=compare).status == CORRECT
    assert nb05.most_tail.check(" mf ", compare=compare).status == CORRECT
    wrong = nb05.most_tail.check("ItemKNN", compare=compare)  # the lowest ARP, not APLT
    assert wrong.status == INCORRECT and "not the model asked for" in wrong.message
    assert nb05.most_tail.check(3, compare=compare).status == INCORRECT
    assert nb05.most_tail.check(None, compare=compare).status == NOT_ATTEMPTED
    tail_first = compare.assign(**{"aplt@10": [0.5, 0.006, 0.042, 0.029]})
    assert nb05.most_tail.check("MF", compare=tail_first).correct  # Popularity is left out
    no_aplt = compare.drop(columns="aplt@10")
    assert "check(answer" in nb05.most_tail.check("MF", compare=no_aplt).message


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
