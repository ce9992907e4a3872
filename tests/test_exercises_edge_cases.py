"""Edge cases of the exercise checkers. Each test guards a plausible bug that would still look
right (found by mutating the code by hand); the expected values are worked out by hand or from
the question's wording, never read off the checker.
"""

import html
from dataclasses import replace

import numpy as np
import pytest
import torch

from lessons import theme
from lessons.data import synthetic_movielens
from lessons.exercises import (
    CORRECT,
    INCORRECT,
    NOT_ATTEMPTED,
    Result,
    close_to,
    nb00,
    nb02,
    nb03,
    nb04,
    nb05,
    nb06,
    same_sequence,
)
from lessons.experiments import textbook_dnn

# --- machinery -------------------------------------------------------------------------------


def test_close_to_refuses_the_right_values_in_another_shape(tiny_split):
    """Bug: comparing sizes instead of shapes lets a (1, P, P) stack pass for a (P, P) matrix."""
    c = tiny_split.item_popularity().astype(float)
    ctx = {"logits": np.eye(3), "log_q": np.log(np.maximum(c, 1) / c.sum()), "items": [2, 0, 1]}
    right = ctx["logits"] - ctx["log_q"][ctx["items"]][None, :]
    assert nb04.corrected_logits.check(right, **ctx).status == CORRECT
    stacked = nb04.corrected_logits.check(right[None], **ctx)
    assert stacked.status == INCORRECT and "shape" in stacked.message


def test_close_to_takes_a_one_by_one_matrix_as_one_number(tiny_data):
    """Bug: only a 1-D one-entry answer is read as a number, so the (1, 1) np.matrix that
    summing a sparse matrix twice returns is refused although its value is right."""
    x = tiny_data.matrix()
    n_head = x.shape[1] // 5
    head = np.argsort(-np.bincount(tiny_data.interactions["item"], minlength=x.shape[1]))[:n_head]
    answer = x[:, head].sum(axis=0).sum(axis=1) / (x.shape[0] * n_head)  # np.matrix, (1, 1)
    assert np.shape(answer) == (1, 1)
    assert nb00.head_density.check(answer, data=tiny_data).status == CORRECT
    assert close_to()(torch.tensor([[4.0]]), 4.0)[0]


def test_same_sequence_refuses_a_prefix_and_a_longer_list():
    """Bug: comparing element by element with zip() accepts a top-3 for a top-5 and a top-10
    whose first five are right."""
    assert same_sequence([3, 1], [3, 1, 2]) == (False, "expected 3 items, got 2")
    assert same_sequence([3, 1, 2, 7], [3, 1, 2]) == (False, "expected 3 items, got 4")


@pytest.mark.parametrize(
    ("status", "colour"),
    [(CORRECT, theme.SUCCESS), (INCORRECT, theme.ERROR), (NOT_ATTEMPTED, theme.MUTED)],
)
def test_each_status_has_its_own_colour(status, colour):
    """Bug: the colours of correct and incorrect swapped, so a wrong answer shows in green."""
    rendered = Result(status, "msg")._repr_html_()
    assert f"color:{colour}" in rendered
    others = {theme.SUCCESS, theme.ERROR, theme.MUTED} - {colour}
    assert not any(other in rendered for other in others)


def test_solution_html_escapes_the_code():
    """Bug: the solution's code pasted into <pre> unescaped, so `counts < 10` starts a tag."""
    text = nb00.rare_items.solution().text
    assert "<" in text  # `counts < RARE_THRESHOLD`
    rendered = nb00.rare_items.solution()._repr_html_()
    assert rendered.startswith("<pre>") and rendered.endswith("</pre>")
    inner = rendered[len("<pre>") : -len("</pre>")]
    assert "<" not in inner and html.unescape(inner) == text


# --- notebook 00 ------------------------------------------------------------------------------


def test_rare_items_counts_the_items_nobody_rated():
    """Bug: np.bincount without minlength drops the never-rated items at the end of the range."""
    data = synthetic_movielens(n_users=30, n_items=60, seed=0)
    unrated = 4  # the last four items lose all their interactions
    kept = data.interactions[data.interactions["item"] < data.n_items - unrated]
    data = replace(data, interactions=kept)
    rated_counts = kept["item"].value_counts()  # only the items somebody rated
    never_rated = data.n_items - len(rated_counts)  # at least the last four
    right = int((rated_counts < nb00.RARE_THRESHOLD).sum()) + never_rated
    assert nb00.rare_items.check(right, data=data).status == CORRECT
    assert nb00.rare_items.check(right - unrated, data=data).status == INCORRECT


def test_head_density_divides_by_the_head_size_not_a_fifth_of_the_catalogue():
    """Bugs: the denominator n_items / 5 instead of the n_items // 5 head columns, and a
    tolerance loose enough (1 %) to accept that slip. With 201 items the two differ by 0.5 %
    (on ML-100K's 1,682 items by 0.12 %)."""
    data = synthetic_movielens(n_users=30, n_items=201, seed=0)
    counts = np.sort(np.bincount(data.interactions["item"], minlength=data.n_items))[::-1]
    n_head = 201 // 5  # 40 columns
    right = counts[:n_head].sum() / (data.n_users * n_head)
    slip = counts[:n_head].sum() / (data.n_users * 201 / 5)
    assert nb00.head_density.check(right, data=data).status == CORRECT
    assert nb00.head_density.check(slip, data=data).status == INCORRECT


# --- notebooks 02 and 03 ----------------------------------------------------------------------


def test_x_width_refuses_an_answer_off_by_one(tiny_split):
    """Bug: a tolerance of more than half a unit accepts a width that forgot a dense feature."""
    model = textbook_dnn(tiny_split, (16,), dim=8)
    first = next(m for m in model.query_tower.mlp.modules() if isinstance(m, torch.nn.Linear))
    width = first.in_features  # the explanation: x's width is the first layer's in_features
    assert nb02.x_width.check(width, model=model).status == CORRECT
    for wrong in (width - 1, width + 1):
        assert nb02.x_width.check(wrong, model=model).status == INCORRECT


def test_log_z_refuses_the_max_logit():
    """Bug: a loose tolerance (1 %) accepts max_k ⟨ψ, V_k⟩, the usual shortcut for log Z.
    Logits (5, 0, 0): log Z = 5 + log(1 + 2 e⁻⁵) ≈ 5.0134, 0.27 % above the max."""
    psi = torch.tensor([1.0, 0.0])
    V = torch.tensor([[5.0, 0.0], [0.0, 1.0], [0.0, 2.0]])  # noqa: N806 (the lesson's notation)
    log_z = 5 + np.log1p(2 * np.exp(-5.0))
    assert nb03.log_z.check(log_z, psi=psi, V=V).status == CORRECT
    largest = nb03.log_z.check(5.0, psi=psi, V=V)
    assert largest.status == INCORRECT and "the largest logit alone" in largest.message


# --- notebooks 05 and 06 ----------------------------------------------------------------------


def test_coverage_reads_every_column_of_a_list():
    """Bug: k taken from the number of lists (rows) instead of their length (columns), which
    cuts the lists short when there are fewer users than slots."""
    lists = np.array([[0, 1, 2], [0, 3, 4]])  # items 0-4 shown: 5 of 10
    assert nb05.coverage.check(0.5, lists=lists, n_items=10).status == CORRECT
    assert nb05.coverage.check(0.3, lists=lists, n_items=10).status == INCORRECT  # first two


def test_recall_refuses_one_miscounted_hit():
    """Bug: a loose tolerance (10 %) accepts a recall with one hit miscounted."""
    exact = np.arange(40).reshape(10, 4)
    approx = exact.copy()
    approx[:, 3] += 100  # the last exact id of every query is missed: 3 of 4 found
    assert nb06.recall.check(0.75, approx=approx, exact=exact).status == CORRECT
    one_more = (30 + 1) / 40
    assert nb06.recall.check(one_more, approx=approx, exact=exact).status == INCORRECT
