"""Every "section N" in the lessons, the package and the docs points at the section it means.

Notebooks, exercises, hints, docstrings and the teaching plan send the reader to "section 6",
"notebook 03, section 5" or "§1–4". A section inserted or renumbered would leave those
pointers aimed at another topic, and nothing else would notice. Each pointed-at section is
pinned here to a word of its heading: a renumbered section fails on that word, and a new
pointer fails until it is pinned.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# (notebook, section) -> a word its heading must keep.
TOPICS = {
    ("00", "3"): "long tail",
    ("00", "4"): "interaction matrix",
    ("00", "6"): "Leakage",
    ("01", "1"): "Train matrix factorization",
    ("01", "2"): "Dot product or cosine",
    ("01", "3"): "norm",
    ("01", "4"): "knob",
    ("01", "5"): "cannot be scored",
    ("01", "6"): "Popularity bias",
    ("02", "1"): "input layer",
    ("02", "2"): "Hidden layers",
    ("02", "3"): "cross-entropy",
    ("02", "4"): "tuned recipe",
    ("02", "5"): "Linear collapse",
    ("02", "6"): "features",
    ("03", "1"): "identity",
    ("03", "2"): "nearest neighbours",
    ("03", "3"): "map of $V$",
    ("03", "4"): "generalizes matrix factorization",
    ("03", "5"): "never saw",
    ("03", "6"): "side features",
    ("04", "2"): "logQ",
    ("04", "3"): "Cold-start",
    ("05", "1"): "side by side",
    ("05", "2"): "evaluation mistakes",
    ("05", "2.1"): "target left in the input",
    ("05", "2.4"): "Coverage read alone",
    ("06", "3"): "larger catalogue",
    ("06", "4"): "Training cost",
}

_NUMBER = r"\d+(?:\.\d+)?"
_POINTER = re.compile(rf"\b[Ss]ections? ({_NUMBER})(?: and ({_NUMBER}))?")
_NOTEBOOK_BEFORE = re.compile(r"[Nn]otebook (\d\d)(?:, | \()$")  # "notebook 03, section 5"
_NOTEBOOK_AFTER = re.compile(r" of notebook (\d\d)")  # "section 3 of notebook 00"
_SIGN = re.compile(rf"§(\d+)–(\d+)|§({_NUMBER})")  # "§1–4", "§2.4" (the teaching plan's tables)
_SIGN_NOTEBOOK = re.compile(r"\b(\d\d) $|^\|[^|]*\| (\d\d) \|")  # "06 §4", a row of notebook 02
_HEADING = re.compile(rf"^#{{2,3}} ({_NUMBER})\.? (.+)$", re.MULTILINE)


def _notebooks() -> dict[str, tuple[str, list[dict]]]:
    """{"05": ("05_popularity_bias.ipynb", cells), ...}"""
    return {
        path.name[:2]: (path.name, json.loads(path.read_text())["cells"])
        for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    }


def _headings() -> dict[str, dict[str, str]]:
    """Numbered headings of each notebook: {"05": {"2.4": "Coverage read alone", ...}}."""
    return {
        number: {
            m[1]: m[2]
            for cell in cells
            if cell["cell_type"] == "markdown"
            for m in _HEADING.finditer("".join(cell["source"]))
        }
        for number, (_, cells) in _notebooks().items()
    }


def _texts() -> list[tuple[str, str | None, str]]:
    """(where, home notebook or None, text) for every notebook cell, package module and doc."""
    texts = [
        (f"notebooks/{name}, cell {i}", number, "".join(cell["source"]))
        for number, (name, cells) in _notebooks().items()
        for i, cell in enumerate(cells)
    ]
    for path in sorted((ROOT / "lessons").rglob("*.py")):
        home = re.fullmatch(r"nb(\d\d)", path.stem)  # an exercise module speaks of its notebook
        texts.append((str(path.relative_to(ROOT)), home and home[1], path.read_text()))
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        texts.append((str(path.relative_to(ROOT)), None, path.read_text()))
    return texts


def pointers(text: str, home: str | None) -> list[tuple[str | None, str]]:
    """The (notebook, section) pairs a text points at; a bare "section N" means `home`'s."""
    found = []
    for m in _POINTER.finditer(text):
        before = _NOTEBOOK_BEFORE.search(text[max(0, m.start() - 20) : m.start()])
        after = _NOTEBOOK_AFTER.match(text, m.end())
        notebook = (before or after)[1] if before or after else home
        found += [(notebook, section) for section in m.groups() if section]
    for m in _SIGN.finditer(text):
        line = text[text.rfind("\n", 0, m.start()) + 1 : m.start()]
        named = _NOTEBOOK_BEFORE.search(line) or _SIGN_NOTEBOOK.search(line)
        notebook = next(n for n in named.groups() if n) if named else home
        sections = [m[3]] if m[3] else [str(n) for n in range(int(m[1]), int(m[2]) + 1)]
        found += [(notebook, section) for section in sections]
    return found


def test_pointers_are_read_as_written():
    assert pointers("notebook 03, section 5, measures", "01") == [("03", "5")]
    assert pointers("Notebook 01 (section 3) plots", "05") == [("01", "3")]
    assert pointers("(section 3 of notebook 00)", "05") == [("00", "3")]
    assert pointers("sections 2.1 and 2.4 use them", "05") == [("05", "2.1"), ("05", "2.4")]
    assert pointers("than section 6's table and notebook 02's", "03") == [("03", "6")]
    assert pointers("Section 4 printed", None) == [(None, "4")]
    assert pointers("if the kernel dies in 06 §4, set", None) == [("06", "4")]
    row = "| 35–65 | 02 | §1–2 (x; ψ(x) and h), the playground | §5: state the results |"
    assert pointers(row, None) == [("02", "1"), ("02", "2"), ("02", "5")]
    assert pointers("(§2 needs the first two)", "05") == [("05", "2")]
    assert pointers("at 237 (notebook 05, §2.4).", None) == [("05", "2.4")]


def test_every_section_pointer_reaches_the_section_it_means():
    headings = _headings()
    problems, seen = [], set()
    for where, home, text in _texts():
        for notebook, section in pointers(text, home):
            seen.add((notebook, section))
            heading = headings.get(notebook, {}).get(section)
            if notebook is None:
                problems.append(f"{where}: 'section {section}' names no notebook: write "
                                f"'notebook NN, section {section}'")  # fmt: skip
            elif heading is None:
                problems.append(f"{where}: notebook {notebook} has no section {section}")
            elif (notebook, section) not in TOPICS:
                problems.append(f"{where}: pin ({notebook!r}, {section!r}) in TOPICS: {heading!r}")
            elif TOPICS[notebook, section] not in heading:
                problems.append(
                    f"{where}: notebook {notebook}'s section {section} is now {heading!r}, "
                    f"not the one about {TOPICS[notebook, section]!r}"
                )
    assert not problems, "\n".join(problems)
    # A pin that no pointer uses any more would guard nothing.
    assert set(TOPICS) <= seen, f"unused pins: {sorted(set(TOPICS) - seen)}"


@pytest.mark.parametrize("notebook", sorted(_notebooks()))
def test_headings_are_found(notebook):
    # The check above is only as good as this parse: each lesson has numbered sections.
    assert "1" in _headings()[notebook]
