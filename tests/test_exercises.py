"""The exercises of notebooks 00 and 01 (right, wrong and untouched), every exercise's
solution and wrong options, the committed scaffolds and the teacher's key."""

import copy
import importlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from lessons.data import synthetic_movielens
from lessons.exercises import (
    CORRECT,
    INCORRECT,
    NOT_ATTEMPTED,
    nb00,
    nb01,
    nb05,
)
from lessons.exercises.__main__ import NOTEBOOKS as NOTEBOOK_MODULES
from tests.helpers import run_solution

# --- notebook 00 ------------------------------------------------------------------------------


def test_nb00_rare_items(tiny_data):
    counts = np.bincount(tiny_data.interactions["item"], minlength=tiny_data.n_items)
    right = int((counts < nb00.RARE_THRESHOLD).sum())
    assert nb00.rare_items.check(right, data=tiny_data).status == CORRECT
    assert nb00.rare_items.check(right + 1, data=tiny_data).status == INCORRECT
    # A classic slip: value_counts() forgets the items nobody rated.
    slip = int((tiny_data.interactions["item"].value_counts() < nb00.RARE_THRESHOLD).sum())
    if slip != right:
        assert nb00.rare_items.check(slip, data=tiny_data).status == INCORRECT


def test_nb00_rare_items_names_the_slips():
    data = synthetic_movielens(n_users=30, n_items=60, seed=0)
    counts = np.bincount(data.interactions["item"], minlength=data.n_items)
    limit = nb00.RARE_THRESHOLD
    assert (counts == limit).any() and (counts == 0).any()  # so that both slips differ
    at_most = nb00.rare_items.check(int((counts <= limit).sum()), data=data)
    assert at_most.status == INCORRECT and f"at most {limit}" in at_most.message
    rated_only = nb00.rare_items.check(int((counts[counts > 0] < limit).sum()), data=data)
    assert rated_only.status == INCORRECT and "nobody rated" in rated_only.message


def test_nb00_head_density(tiny_data):
    # Pairs are unique, so an item's count is its column's number of ones.
    counts = np.sort(np.bincount(tiny_data.interactions["item"], minlength=tiny_data.n_items))
    n_head = tiny_data.n_items // 5
    right = counts[::-1][:n_head].sum() / (tiny_data.n_users * n_head)
    assert nb00.head_density.check(right, data=tiny_data).status == CORRECT
    # Slips: the density of all of X, the head's ones over all cells, the least-interacted fifth.
    cells = tiny_data.n_users * tiny_data.n_items
    overall = len(tiny_data.interactions) / cells
    over_all_cells = counts[::-1][:n_head].sum() / cells
    rarest = counts[:n_head].sum() / (tiny_data.n_users * n_head)
    for wrong, named in ((overall, "all of X"), (over_all_cells, "every cell"),
                         (rarest, "least-interacted"), (right * 1.1, "too large")):  # fmt: skip
        result = nb00.head_density.check(wrong, data=tiny_data)
        assert result.status == INCORRECT and named in result.message


def test_nb00_protocol():
    assert nb00.protocol.check("b").status == CORRECT
    for wrong in ("a", "c", "d"):
        assert nb00.protocol.check(wrong).status == INCORRECT
    assert "(b) temporal" in str(nb00.protocol.question_text())


# --- notebook 01 ------------------------------------------------------------------------------


def test_nb01_alpha_top_hand_computed(tiny_mf, tiny_split):
    u = tiny_mf.user_embedding.detach().numpy()[0]
    v = tiny_mf.item_embedding.detach().numpy()
    scores = (v @ u) / np.linalg.norm(v, axis=1)
    seen = set(tiny_split.train.loc[tiny_split.train["user"] == 0, "item"])
    right = [j for j in np.argsort(-scores) if j not in seen][:5]
    assert nb01.alpha_top.check(right, model=tiny_mf, split=tiny_split).status == CORRECT
    plain = [j for j in np.argsort(-(v @ u)) if j not in seen][:5]  # forgot the ‖V_j‖ divisor
    assert plain != right  # else the slip below proves nothing
    result = nb01.alpha_top.check(plain, model=tiny_mf, split=tiny_split)
    assert result.status == INCORRECT and "dot-product list" in result.message
    with_seen = list(np.argsort(-scores)[:5])  # forgot to leave out the known items
    assert with_seen != right
    result = nb01.alpha_top.check(with_seen, model=tiny_mf, split=tiny_split)
    assert result.status == INCORRECT and "already has" in result.message
    reversed_ = nb01.alpha_top.check(right[::-1], model=tiny_mf, split=tiny_split)
    assert reversed_.status == INCORRECT and "wrong order" in reversed_.message


def test_nb01_alpha_top_sees_v_normalized_in_place(tiny_mf, tiny_split):
    """The hint's detach().numpy() shares the model's memory: `V /= norms` changed the trained
    model, and the list computed from it was still marked correct (the ranking by
    ⟨U_u, V_j⟩ / ‖V_j‖ does not change when every ‖V_j‖ becomes 1)."""
    model = copy.deepcopy(tiny_mf)
    u = model.user_embedding.detach().numpy()[0]
    v = model.item_embeddings().detach().numpy()
    v /= np.linalg.norm(v, axis=1, keepdims=True)  # in place: the model's own V
    seen = set(tiny_split.train.loc[tiny_split.train["user"] == 0, "item"])
    answer = [j for j in np.argsort(-(v @ u)) if j not in seen][:5]
    result = nb01.alpha_top.check(answer, model=model, split=tiny_split)
    assert result.status == INCORRECT and "in place" in result.message
    assert "Re-run the training cell" in result.message


def test_nb01_alpha_top_solution_holds_on_a_split_with_validation(tiny_data):
    """Bug: the solution left out the training items only, while `recommend` (the expected
    answer) leaves out validation items too, so the official solution was marked wrong."""
    from lessons.data import random_split
    from lessons.models import MatrixFactorization

    for seed in range(8):
        split = random_split(tiny_data, 0.2, valid_frac=0.3, seed=seed)
        torch.manual_seed(seed)
        model = MatrixFactorization(split.n_users, split.n_items, dim=8)
        answer = run_solution(nb01.alpha_top, {"model": model, "split": split})
        assert nb01.alpha_top.check(answer, model=model, split=split).correct


def test_nb01_arp_hand_computed():
    table = pd.DataFrame({"user": [0, 0, 1], "item": [5, 6, 7], "popularity": [10, 20, 60]})
    right = (15 + 60) / 2  # per-user means 15 and 60, then their mean
    assert nb01.arp.check(right, table=table).status == CORRECT
    pooled = nb01.arp.check((10 + 20 + 60) / 3, table=table)  # weights users by list length
    assert pooled.status == INCORRECT and "a longer list weighs more" in pooled.message


def test_nb01_new_user():
    assert nb01.new_user.check("b").status == CORRECT
    assert nb01.new_user.check("a").status == INCORRECT


# --- every exercise ---------------------------------------------------------------------------


def _multiple_choice():
    modules = [importlib.import_module(f"lessons.exercises.{name}") for name in NOTEBOOK_MODULES]
    return [ex for module in modules for ex in module.EXERCISES if ex.choices]


@pytest.mark.parametrize("ex", _multiple_choice(), ids=lambda e: e.name)
def test_every_wrong_option_says_why_it_is_wrong(ex):
    right = ex.expected()  # a multiple-choice answer needs no context
    assert set(ex.why_not) == set(ex.choices) - {right}
    for letter, why in ex.why_not.items():
        message = ex.check(letter).message
        assert message.startswith(f"'{letter}' is not the right option: {why}."), message
    assert ex.check(right).correct


def _context(tiny_data, tiny_split, tiny_mf):
    table = pd.DataFrame({"user": [0, 0, 1, 1], "item": [1, 2, 3, 4], "popularity": [1, 3, 4, 9]})
    return {"data": tiny_data, "split": tiny_split, "model": tiny_mf, "table": table}


def test_missing_context_says_what_to_pass(tiny_data):
    result = nb00.rare_items.check(3)
    assert result.status == INCORRECT and "check(answer, data=...)" in result.message


def test_a_reassigned_context_is_feedback_not_a_crash():
    result = nb00.rare_items.check(3, data=5)  # a cell above did `data = ...` with something else
    assert result.status == INCORRECT and "re-run the cell that defines it" in result.message
    assert "AttributeError" in result.message


@pytest.mark.parametrize("ex", [*nb00.EXERCISES, *nb01.EXERCISES], ids=lambda e: e.name)
def test_every_solution_is_correct_and_scaffold_not_attempted(ex, tiny_data, tiny_split, tiny_mf):
    context = _context(tiny_data, tiny_split, tiny_mf)  # extra objects are ignored
    assert ex.check(..., **context).status == NOT_ATTEMPTED
    assert ex.check(run_solution(ex, context), **context).status == CORRECT
    assert str(ex.hint()) and str(ex.solution())


# --- the committed notebooks ------------------------------------------------------------------

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.mark.parametrize(
    ("notebook", "module"),
    [
        ("00_movielens_tour.ipynb", nb00),
        ("01_matrix_factorization.ipynb", nb01),
        ("05_popularity_bias.ipynb", nb05),
    ],
)
def test_notebook_exercises_are_untouched_scaffolds(notebook, module):
    """Every exercise of the module is checked in its notebook, on a placeholder answer."""
    cells = json.loads((NOTEBOOKS / notebook).read_text(encoding="utf-8"))["cells"]
    sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    for ex in module.EXERCISES:
        checking = [s for s in sources if f"{ex.name}.check(answer" in s]
        assert len(checking) == 1, f"{ex.name} is checked in {len(checking)} cells"
        assert "answer = ...  #" in checking[0], f"{ex.name}: the scaffold is not a placeholder"


def test_the_teachers_key_prints_each_exercise_with_hints_and_solution(capsys):
    from lessons.exercises import nb04
    from lessons.exercises.__main__ import NOTEBOOKS, main

    assert main(["nb04"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("## nb04") and "## nb05" not in out
    for exercise in nb04.EXERCISES:
        assert f"### {exercise.name}\n\n{exercise.question}" in out
        assert f"```python\n{exercise.solution_code}\n```" in out
        assert all(f"{i}. {hint}" in out for i, hint in enumerate(exercise.hints, 1))
        assert all(f"- ({k}) {v}" in out for k, v in exercise.choices.items())
        assert all(f"- ({k}) {exercise.choices[k]}\n  - why not: {why}" in out
                   for k, why in exercise.why_not.items())  # fmt: skip
    assert nb04.popularity_aversion.why_not  # so the line above checked something
    assert main([]) == 0
    assert [line for line in capsys.readouterr().out.splitlines() if line.startswith("## ")] == [
        f"## {notebook}" for notebook in NOTEBOOKS
    ]


def test_the_teachers_key_refuses_an_unknown_notebook(capsys):
    from lessons.exercises.__main__ import main

    with pytest.raises(SystemExit) as refused:
        main(["nb9"])
    assert refused.value.code == 2 and "unknown notebook 'nb9'" in capsys.readouterr().err
