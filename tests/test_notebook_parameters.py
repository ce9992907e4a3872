"""A learner changes the `parameters` cell and re-runs the notebook: it must still run.

Each case puts new settings in a cell right after the `parameters` cell, as papermill does,
and runs the notebook in a fresh kernel. The cases are the changes that once broke a lesson:
a K other than 10 (notebooks 01 and 05 had "@10" written into a cell), a single user in 02's
USERS, and a NEURAL without the two-tower model in 05. Outputs are not compared: other
settings give other numbers. The epochs, grids and rounds are cut so the cases run in seconds.
"""

import json
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run_with(name: str, settings: str) -> None:
    """Run notebook `name` with `settings` (Python source) injected after its parameters."""
    notebook = nbformat.reads((NOTEBOOKS / name).read_text(encoding="utf-8"), as_version=4)
    index = next(
        i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", [])
    )
    injected = nbformat.v4.new_code_cell(settings, metadata={"tags": ["injected-parameters"]})
    notebook.cells.insert(index + 1, injected)
    client = NotebookClient(notebook, timeout=600, resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()


CASES = {
    "01 with K = 5": ("01_matrix_factorization.ipynb", "K = 5\nALPHAS = (0.0, 1.0)"),
    "02 with one user": (
        "02_softmax_dnn.ipynb",
        "USERS = [5]\nGRID_DEPTHS = (0,)\nGRID_SEEDS = (0,)\nGRID_EPOCHS = 1",
    ),
    "05 with K = 5, no two-tower": (
        "05_popularity_bias.ipynb",
        'K = 5\nNEURAL = ("MF", "SoftmaxDNN")\nN_NEGATIVES = 20\nLOOP_ROUNDS = 1',
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_notebook_runs_with_changed_parameters(case):
    run_with(*CASES[case])


def test_a_setting_the_lesson_cannot_use_is_refused_where_it_is_used():
    with pytest.raises(CellExecutionError) as refused:
        run_with("05_popularity_bias.ipynb", 'NEURAL = ("MF",)')
    assert "keep ['SoftmaxDNN'] in NEURAL" in ANSI.sub("", str(refused.value))


def test_every_case_names_settings_its_notebook_has():
    for name, settings in CASES.values():
        params = json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))["cells"][2]["source"]
        names = {line.split(" = ")[0] for line in "".join(params).splitlines() if " = " in line}
        assert {line.split(" = ")[0] for line in settings.splitlines()} <= names, name
