"""Every lesson keeps the notebook skeleton of the contributor guide, so a learner finds the same
landmarks in each: title and goals, one imports cell, one `parameters` cell of UPPER_CASE
settings, numbered sections, a "Try it" widget, a summary and exercises. The notebooks are
committed with their outputs, run top to bottom in one kernel, without errors or warnings."""

import ast
import json
import re
import statistics
from pathlib import Path

import pytest

from tests.helpers import parse_cell

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
WIDGET = "application/vnd.jupyter.widget-view+json"
MEDIAN_CELL_LINES = 6  # the guide's "median about 5 lines", with one line of slack
CLOSING = ["Summary", "Exercises"]  # the headings after "Try it", in order


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def _headings(cells: list[dict]) -> list[tuple[int, str]]:
    """(cell index, text) of every level-2 heading, in order."""
    return [
        (i, line[3:].strip())
        for i, cell in enumerate(cells)
        if cell["cell_type"] == "markdown"
        for line in _source(cell).splitlines()
        if line.startswith("## ")
    ]


def _is_constant_setting(node: ast.stmt) -> bool:
    targets = node.targets if isinstance(node, ast.Assign) else []
    names = [
        t
        for target in targets
        for t in (target.elts if isinstance(target, ast.Tuple) else [target])
    ]
    return bool(names) and all(isinstance(n, ast.Name) and n.id.isupper() for n in names)


def _imports(code: str) -> list[ast.Import | ast.ImportFrom]:
    return [n for n in ast.walk(parse_cell(code)) if isinstance(n, (ast.Import, ast.ImportFrom))]


def _opening_problems(cells: list[dict], code: list[tuple[int, dict]], name: str) -> list[str]:
    """Title and goals, then the imports cell, then the `parameters` cell."""
    problems = []
    title = _source(cells[0]) if cells[0]["cell_type"] == "markdown" else ""
    if not re.match(rf"# {name[:2]} — \S", title) or "**Goals**" not in title:
        problems.append(f"cell 0 is not the title '# {name[:2]} — …' with its **Goals**")
    importing = [i for i, cell in code if _imports(_source(cell))]
    if importing != [1] or len(_imports(_source(cells[1]))) != len(
        parse_cell(_source(cells[1])).body
    ):
        problems.append(f"imports belong in cell 1 alone, found in cells {importing}")
    if any(alias.name == "*" for _, c in code for n in _imports(_source(c)) for alias in n.names):
        problems.append("a star import")
    tagged = [i for i, cell in code if "parameters" in cell["metadata"].get("tags", [])]
    if tagged != [2]:
        problems.append(f"cell 2 must be the one cell tagged 'parameters', tagged: {tagged}")
    elif not all(_is_constant_setting(n) for n in parse_cell(_source(cells[2])).body):
        problems.append("the parameters cell holds more than UPPER_CASE settings")
    return problems


def _section_problems(cells: list[dict], code: list[tuple[int, dict]]) -> list[str]:
    """Numbered sections, then Try it (with a widget), Summary and Exercises."""
    headings = _headings(cells)
    numbered = [text for _, text in headings if re.match(r"\d+\. ", text)]
    if [int(text.split(".")[0]) for text in numbered] != list(range(1, len(numbered) + 1)):
        return [f"sections are not numbered 1, 2, …: {numbered}"]
    closing = [(i, text) for i, text in headings if text not in numbered]
    texts = [text for _, text in closing]
    if len(texts) != 3 or not texts[0].startswith("Try it") or texts[1:] != CLOSING:
        return [f"after the sections come Try it, Summary, Exercises; found {texts}"]
    if headings[-3:] != closing:
        return ["Try it, Summary and Exercises must follow the numbered sections"]
    (try_it, _), (summary, _) = closing[:2]
    shown = [out for i, cell in code if try_it < i < summary for out in cell["outputs"]]
    return (
        []
        if any(WIDGET in out.get("data", {}) for out in shown)
        else ["the Try it section shows no widget"]
    )


def _output_problems(code: list[tuple[int, dict]]) -> list[str]:
    """Short cells, run top to bottom in one kernel, committed without errors or warnings."""
    problems = []
    median = statistics.median(len(_source(cell).strip().splitlines()) for _, cell in code)
    if median > MEDIAN_CELL_LINES:
        problems.append(f"median code cell is {median} lines")
    counts = [cell["execution_count"] for _, cell in code]
    if counts != list(range(1, len(code) + 1)):
        problems.append(f"not run top to bottom in one fresh kernel: execution counts {counts}")
    for i, cell in code:
        for out in cell["outputs"]:
            if out["output_type"] == "error" or out.get("name") == "stderr":
                problems.append(f"cell {i} committed an error or a warning: {out['output_type']}")
    return problems


def layout_problems(notebook: dict, name: str) -> list[str]:
    """What in `notebook` (file `name`) breaks the lesson skeleton; empty when it follows it."""
    cells = notebook["cells"]
    code = [(i, cell) for i, cell in enumerate(cells) if cell["cell_type"] == "code"]
    if len(cells) < 3 or not code:
        return ["no title, imports and parameters cells"]
    return (
        _opening_problems(cells, code, name)
        + _section_problems(cells, code)
        + _output_problems(code)
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_keeps_the_lesson_skeleton(path):
    assert layout_problems(json.loads(path.read_text(encoding="utf-8")), path.name) == []


def test_there_are_lessons_to_check():
    assert len(NOTEBOOKS) >= 7


def _cell(kind: str, source: str, **extra) -> dict:
    cell = {"cell_type": kind, "metadata": extra.pop("metadata", {}), "source": source}
    return cell | ({"execution_count": None, "outputs": []} | extra if kind == "code" else {})


def _good_notebook() -> dict:
    widget = {"output_type": "display_data", "data": {WIDGET: {"model_id": "x"}}}
    cells = [
        _cell("markdown", "# 07 — A lesson\n\n**Goals**\n1. Learn."),
        _cell("code", "import numpy as np\nfrom lessons import seed_everything"),
        _cell("code", "SEED = 0\nK, N = 10, 5", metadata={"tags": ["parameters"]}),
        _cell("markdown", "## 1. First\nText."),
        _cell("code", "x = np.arange(K)\nx.sum()"),
        _cell("markdown", "## 2. Second"),
        _cell("code", "%time seed_everything(SEED)"),
        _cell("markdown", "## Try it: a slider"),
        _cell("code", "Explorer()", outputs=[widget]),
        _cell("markdown", "## Summary\n- a\n\n## Exercises"),
        _cell("code", "answer = ...  # your code"),
    ]
    count = iter(range(1, 100))
    for cell in cells:
        if cell["cell_type"] == "code":
            cell["execution_count"] = next(count)
    return {"cells": cells, "metadata": {}}


def _broken(change) -> dict:
    notebook = _good_notebook()
    change(notebook["cells"])
    return notebook


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda c: c[0].update(source="# A lesson without goals"), "title"),
        (lambda c: c[0].update(source="# 08 — Another lesson\n\n**Goals**"), "title"),
        (lambda c: c[4].update(source="import pandas as pd\npd"), "imports belong"),
        (lambda c: c[1].update(source="import numpy as np\nnp.ones(3)"), "imports belong"),
        (lambda c: c[1].update(source="from numpy import *"), "star import"),
        (lambda c: c[2].update(metadata={}), "tagged 'parameters'"),
        (lambda c: c[2].update(source="SEED = 0\nseed_everything(SEED)"), "UPPER_CASE"),
        (lambda c: c[2].update(source="seed = 0"), "UPPER_CASE"),
        (lambda c: c[5].update(source="## 3. Second"), "numbered"),
        (lambda c: c[9].update(source="## Summary"), "Try it, Summary, Exercises"),
        (lambda c: c.append(_cell("markdown", "## 3. Late")), "must follow"),
        (lambda c: c[8].update(outputs=[]), "no widget"),
        (lambda c: [cell.update(source="x = 1\n" * 20) for cell in c[4::2]], "median"),
        (lambda c: c[6].update(execution_count=7), "top to bottom"),
        (lambda c: c[4].update(outputs=[{"output_type": "stream", "name": "stderr"}]), "warning"),
    ],
)
def test_the_layout_check_catches(change, problem):
    assert layout_problems(_good_notebook(), "07_a_lesson.ipynb") == []
    found = layout_problems(_broken(change), "07_a_lesson.ipynb")
    assert any(problem in p for p in found), found
