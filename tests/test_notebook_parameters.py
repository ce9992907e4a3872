"""A learner changes the `parameters` cell, re-runs the notebook and pastes in the solutions.

Each case puts new settings in a cell right after the `parameters` cell, as papermill does,
pastes each exercise's `solution()` over its `answer = ...` placeholder, and runs the notebook
in a fresh kernel: every cell must run and every pasted solution must be marked correct. So a
solution uses the notebook's own names (`p`, `psi3`, `dnn`, `BATCH`, `K`), not the names of the
exercise's context, and still works when the parameters change. The cases include the changes
that once broke a lesson: a K other than 10 (notebooks 01 and 05 had "@10" written into a cell),
a single user in 02's USERS, and a NEURAL without the two-tower model in 05. Outputs are not
compared, since other settings give other numbers, but none may show a NaN (a column computed
at one K and read at another). Epochs, grids and rounds are cut so each case runs in about
20 s. Last, each notebook runs as a learner without the data sees it: offline, on the
synthetic fallback, with the same solutions pasted in.
"""

import importlib
import json
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run_with(name: str, settings: str, *, solutions: bool = True):
    """Run notebook `name` with `settings` (Python source) injected after its parameters.

    With `solutions`, every exercise cell runs its solution and asserts that it is correct.
    Returns the executed notebook.
    """
    notebook = nbformat.reads((NOTEBOOKS / name).read_text(encoding="utf-8"), as_version=4)
    index = next(
        i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", [])
    )
    injected = nbformat.v4.new_code_cell(settings, metadata={"tags": ["injected-parameters"]})
    notebook.cells.insert(index + 1, injected)
    if solutions:
        cells = [c for c in notebook.cells if c.cell_type == "code" and CHECK.search(c.source)]
        exercises = importlib.import_module(f"lessons.exercises.nb{name[:2]}").EXERCISES
        assert len(cells) == len(exercises), f"{name}: {len(cells)} exercise cells"
        for cell in cells:
            cell.source = with_solution(cell.source)
    client = NotebookClient(notebook, timeout=600, resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()
    return notebook


NAN = re.compile(r"\bnan\b", re.IGNORECASE)  # pandas prints NaN, an f-string nan


def nan_cells(notebook) -> list[str]:
    """The sources of the cells whose shown output holds a NaN: a column computed at one K
    and read at another (notebook 04's table at K = 20 once was half NaN). The plain-text form
    is read line by line: a "relative change" row may be NaN on purpose (a change from 0)."""
    found = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            text = output.get("text", "") + output.get("data", {}).get("text/plain", "")
            lines = [line for line in text.splitlines() if not line.startswith("relative change")]
            if any(NAN.search(line) for line in lines):
                found.append(cell.source)
                break
    return found


CHECK = re.compile(r"^(nb\d\d)\.(\w+)\.check\(answer\b.*\)$", re.MULTILINE)


def with_solution(source: str) -> str:
    """An exercise cell with its solution pasted over `answer = ...` and the check asserted."""
    module, name = CHECK.search(source).groups()
    exercise = getattr(importlib.import_module(f"lessons.exercises.{module}"), name)
    lines = source.splitlines()
    placeholder = [i for i, line in enumerate(lines) if line.startswith("answer = ...")]
    assert len(placeholder) == 1 and CHECK.fullmatch(lines[-1]), source
    lines[placeholder[0]] = exercise.solution_code
    lines[-1] = f"result = {lines[-1]}\nassert result.correct, result"
    return "\n".join(lines)


CASES = {
    "00 with another split and λ": (
        "00_movielens_tour.ipynb",
        "SEED = 3\nTEST_FRAC = 0.1\nEASE_LAMBDA = 100.0",
    ),
    "01 with K = 5": ("01_matrix_factorization.ipynb", "K = 5\nALPHAS = (0.0, 1.0)"),
    "02 with one user": (
        "02_softmax_dnn.ipynb",
        "USERS = [5]\nGRID_DEPTHS = (0,)\nGRID_SEEDS = (0,)\nGRID_EPOCHS = 1",
    ),
    "03 with K = 20, one movie": (
        "03_softmax_embeddings.ipynb",
        'K = 20\nMOVIES = ("Fargo (1996)",)\nMAP_GENRES = ("Horror",)\nMF_EPOCHS = 5\n'
        "NEW_USERS = 0.3",
    ),
    "04 with K = 20, more cold items": (
        "04_two_tower.ipynb",
        "K = 20\nCOLD_FRAC = 0.3\nINBATCH_EPOCHS = 1\nCOLD_EPOCHS = 2\nDNN_EPOCHS = 1\n"
        "TRY_USER = 5",
    ),
    "05 with K = 5, no two-tower": (
        "05_popularity_bias.ipynb",
        'K = 5\nNEURAL = ("MF", "SoftmaxDNN")\nN_NEGATIVES = 20\nLOOP_ROUNDS = 1',
    ),
    "06 with K = 20, small grids": (
        "06_serving_and_scale.ipynb",
        "K = 20\nEPOCHS = 2\nUSER = 942\nML_CLUSTERS = (8,)\nNPROBES = (1, 4)\n"
        "SIZES = (1_000, 10_000)\nUPDATE_SIZES = (1_000, 5_000)",
    ),
}


# Cases whose settings make a NaN right: with one grid seed, the grid's std over seeds is
# undefined (pandas' NaN, and the bar chart draws no error bar).
NAN_IS_RIGHT = {"02 with one user": "grid = run_grid"}

# Lines a case must print: results that follow the new settings, not the defaults'. With
# ML_CLUSTERS = (8,) and NPROBES = (1, 4) no row of the table probes every list, and notebook
# 06 once printed "recall with every list probed: []".
MUST_PRINT = {"06 with K = 20, small grids": "C = 8: recall with every list probed 1.000000"}


def printed(notebook) -> str:
    return "".join(o.get("text", "") for c in notebook.cells for o in c.get("outputs", []))


@pytest.mark.parametrize("case", CASES)
def test_notebook_runs_with_changed_parameters(case):
    notebook = run_with(*CASES[case])
    found = nan_cells(notebook)
    allowed = NAN_IS_RIGHT.get(case)
    assert [cell for cell in found if not (allowed and cell.startswith(allowed))] == []
    assert MUST_PRINT.get(case, "") in printed(notebook)


def test_a_setting_the_lesson_cannot_use_is_refused_where_it_is_used():
    with pytest.raises(CellExecutionError) as refused:
        run_with("05_popularity_bias.ipynb", 'NEURAL = ("MF",)', solutions=False)
    assert "keep ['SoftmaxDNN'] in NEURAL" in ANSI.sub("", str(refused.value))


def test_every_case_names_settings_its_notebook_has():
    for name, settings in CASES.values():
        params = json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))["cells"][2]["source"]
        names = {line.split(" = ")[0] for line in "".join(params).splitlines() if " = " in line}
        assert {line.split(" = ")[0] for line in settings.splitlines()} <= names, name


def test_every_notebook_has_a_case():
    cased = {name for name, _ in CASES.values()}
    assert cased == {path.name for path in NOTEBOOKS.glob("*.ipynb")}


def test_a_solution_is_pasted_over_the_placeholder_and_asserted():
    cell = 'print(nb05.sampled.question_text())\nanswer = ...  # "a"\nnb05.sampled.check(answer)'
    assert with_solution(cell) == (
        'print(nb05.sampled.question_text())\nanswer = "c"\n'
        "result = nb05.sampled.check(answer)\nassert result.correct, result"
    )


@pytest.mark.parametrize("name", sorted(path.name for path in NOTEBOOKS.glob("*.ipynb")))
def test_notebook_runs_offline_on_the_synthetic_fallback(name, tmp_path, monkeypatch):
    """No data and no network (an offline classroom): every cell runs and every solution is right.

    CI always has the real data, so without this the fallback path of a lesson is never run: a
    cell that assumed a real title, year or id would break only for the learners without it.
    """
    (tmp_path / "no-data").mkdir()
    monkeypatch.setenv("LESSONS_DATA_DIR", str(tmp_path / "no-data"))  # the kernel inherits it
    monkeypatch.setenv("LESSONS_DATA_URL", "http://127.0.0.1:9/")  # refused at once: offline
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # no cached copy either
    assert nan_cells(run_with(name, "")) == []
