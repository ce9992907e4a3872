"""The README's Python examples run as printed, in order, in one namespace.

ruff does not read Markdown, so this is what keeps the examples a reader copies from rotting.
They run offline: an empty data folder and an unreachable download URL give the synthetic
fallback, which has MovieLens 100K's shape (the examples name items 0, 49 and 180).
"""

import re
import warnings
from pathlib import Path

import torch

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_examples_run(tmp_path, monkeypatch, one_thread):
    text = README.read_text()
    blocks = re.findall(r"^```python\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)
    assert len(blocks) == 2, "the README's data and package examples"
    monkeypatch.setenv("LESSONS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LESSONS_DATA_URL", (tmp_path / "offline").as_uri())
    monkeypatch.setenv("LESSONS_QUIET", "1")
    namespace: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fallback's notice, which the example expects
        for block in blocks:
            exec(compile(block, str(README), "exec"), namespace)  # noqa: S102
    assert namespace["data"].is_synthetic and namespace["split"].n_items == 1682
    assert isinstance(namespace["model"], torch.nn.Module) and len(namespace["history"]) > 0


def test_the_steps_without_make_are_the_makefiles():
    """The README's by-hand install runs the pip commands of `make setup` (and no others)."""
    text = README.read_text()
    by_hand = next(b for b in re.findall(r"^```bash\n(.*?)^```", text, re.M | re.S) if "pip" in b)
    makefile = (README.parent / "Makefile").read_text().replace("$(PY)", ".venv/bin/python")

    def installs(source: str) -> list[str]:
        lines = [line.strip() for line in source.splitlines() if "pip install" in line]
        lines = [line for line in lines if "--upgrade pip" not in line]  # make updates pip first
        return [
            " ".join(w for w in line.split() if w not in {"--quiet", "$$index"}) for line in lines
        ]

    make_setup = [
        ".venv/bin/python -m pip install -r requirements.txt",
        ".venv/bin/python -m pip install --no-deps -e .",
    ]
    assert installs(makefile) == make_setup and installs(by_hand) == make_setup
    assert ".venv/bin/jupyter lab --ip=127.0.0.1 notebooks/" in by_hand  # as `make lab`
