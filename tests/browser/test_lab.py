"""The browser test's own ground: Binder's settings reach JupyterLab, and its checks can fail.

The notebooks themselves are run and used in test_try_it.py. Run both: `pytest -m browser`.
"""

import json
import time

import pytest

from tests.browser.checks import illegible_texts
from tests.browser.notebook import error_texts, menu_command, open_notebook, run_all
from tests.browser.server import get_json, setting_default

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_binder_overrides_reach_jupyterlab(lab, binder_overrides):
    """Every setting of binder/overrides.json is a real setting and is what Lab now defaults to."""
    assert binder_overrides, "binder/overrides.json is empty"
    for plugin, values in binder_overrides.items():
        for key, value in values.items():
            assert setting_default(lab.url, plugin, key) == value, (plugin, key)


def kernels_become(url: str, count: int, timeout_s: float = 30.0) -> bool:
    """Poll the server until it runs `count` kernels; False after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while len(get_json(f"{url}/api/kernels")) != count:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.25)
    return True


def test_closing_a_notebook_shuts_its_kernel_down(lab, new_page):
    """Binder gives 1-2 GB; a kernel keeps 0.55-0.72 GB after Run All of a lesson, even idle.

    So binder/overrides.json makes File > Close Tab shut the notebook's kernel down: a learner
    who closes each lesson before opening the next never holds two or three of them.
    """
    name = "00_movielens_tour.ipynb"
    n_cells = len(json.loads((lab.root_dir / name).read_text())["cells"])
    page = new_page()
    try:
        open_notebook(page, lab.url, name, n_cells)
        assert kernels_become(lab.url, 1), "opening the notebook started no kernel"
        menu_command(page, "File", "application:close")
        assert kernels_become(lab.url, 0), "the kernel outlived its notebook's tab"
    finally:
        lab.shutdown_sessions()


def test_broken_outputs_are_reported(lab, new_page):
    """The checks can fail: a traceback and an unrenderable widget are caught, a warning is not.

    Amber text that reads on white but not on the dark theme's #111 is reported for Dark only.
    """
    sources = [
        "import warnings\nwarnings.warn('only a warning, not an error')",
        "from IPython.display import HTML\n"
        "HTML(\"<b style='color:#8a6d00'>amber</b> next to the theme's own text colour\")",
        "display({'application/vnd.jupyter.widget-view+json': {'model_id': 'no-such-model', "
        "'version_major': 2, 'version_minor': 0}}, raw=True)",
        "1 / 0",
        "print('never runs')",
    ]
    cells = [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
              "source": src} for src in sources]  # fmt: skip
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook = {"cells": cells, "metadata": {"kernelspec": kernelspec}, "nbformat": 4,
                "nbformat_minor": 4}  # fmt: skip
    (lab.root_dir / "broken.ipynb").write_text(json.dumps(notebook))
    page = new_page()
    try:
        open_notebook(page, lab.url, "broken.ipynb", len(cells))
        with pytest.raises(AssertionError, match="did not run, from cell 4"):
            run_all(page, timeout_s=60)
        errors = error_texts(page)
        illegible = illegible_texts(page)
    finally:
        lab.shutdown_sessions()
    assert len(errors) == 2, errors
    assert "ZeroDivisionError" in errors[0] and errors[1].startswith("widget: Error displaying")
    assert list(illegible) == ["JupyterLab Dark"], illegible
    assert [fault.split(":")[0] for fault in illegible["JupyterLab Dark"]] == ['"amber"'], illegible
