"""Fixtures of the browser test: one JupyterLab and one headless chromium for the session.

The Lab serves a temporary copy of notebooks/ with the settings of binder/overrides.json
(plus `server.QUIET_OVERRIDES`); Playwright drives the distribution's chromium, never a
browser a tool downloads. Screenshots and the measured latencies go to test-artifacts/ at
the repository root (not tracked by git).
"""

import json
import os
import shutil
from pathlib import Path

import pytest

from lessons.config import ENV_DATA_DIR, ENV_NUM_THREADS, ENV_QUIET
from tests.browser.checks import illegible_texts, layout_faults
from tests.browser.notebook import error_texts, open_notebook, run_all
from tests.browser.server import (
    CHROMIUM_ARGS,
    QUIET_OVERRIDES,
    LabServer,
    chromium_path,
    merge_settings,
)

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(path.name for path in (REPO / "notebooks").glob("*.ipynb"))
RUN_TIMEOUT_S = 240.0  # ~30-90 s each on a busy 2-core box; generous so only hangs fail
VIEWPORT = {"width": 1400, "height": 1000}


def kernel_env() -> dict[str, str]:
    """The kernels' environment: quiet, this checkout importable, data dir and torch threads.

    Real data when the test run has $LESSONS_DATA_DIR, else the synthetic fallback. Chromium
    and the server share the (CI: 2) cores with the kernel; one torch thread avoids OpenMP
    spin-waits and ran the notebooks 1.5-3x faster here ($LESSONS_NUM_THREADS overrides).
    """
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    env = {ENV_QUIET: "1", "PYTHONPATH": path, ENV_NUM_THREADS: "1"}
    env.update({k: os.environ[k] for k in (ENV_DATA_DIR, ENV_NUM_THREADS) if os.environ.get(k)})
    return env


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of the distribution's chromium; skips when it or Playwright is missing."""
    reason = "Playwright (Python) is not installed: pip install playwright"
    pytest.importorskip("playwright.sync_api", reason=reason)
    path = chromium_path()
    if path is None:  # never fall back on a browser that a tool downloads
        pytest.skip("chromium is not installed: apt-get install chromium")
    return path


@pytest.fixture(scope="session")
def binder_overrides() -> dict:
    """binder/overrides.json: the JupyterLab settings a Binder learner starts with."""
    return json.loads((REPO / "binder" / "overrides.json").read_text())


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """test-artifacts/ at the repository root, for screenshots and measured figures."""
    folder = REPO / "test-artifacts"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def lab(chromium, binder_overrides, tmp_path_factory):
    """JupyterLab on a free localhost port, serving a temporary copy of notebooks/."""
    home = tmp_path_factory.mktemp("jupyterlab")
    root = home / "notebooks"
    root.mkdir()
    for name in NOTEBOOKS:
        shutil.copy2(REPO / "notebooks" / name, root / name)
    overrides = merge_settings(binder_overrides, QUIET_OVERRIDES)
    server = LabServer(root, home, overrides, kernel_env()).start()
    yield server
    try:
        server.shutdown_sessions()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser(chromium):
    """One headless chromium for the session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium, args=list(CHROMIUM_ARGS))
        yield instance
        instance.close()


@pytest.fixture
def new_page(browser):
    """`new_page()` → a browser page at the test viewport, closed at teardown."""
    pages = []

    def make():
        pages.append(browser.new_page(viewport=VIEWPORT))
        return pages[-1]

    yield make
    for page in pages:
        page.close()


@pytest.fixture(scope="session")
def measured(artifacts):
    """Latencies and run times gathered by the tests, written to browser_latency.json."""
    env = kernel_env()
    figures: dict = {"data": "real" if ENV_DATA_DIR in env else "synthetic",
                     "torch_threads": int(env[ENV_NUM_THREADS])}  # fmt: skip
    yield figures
    (artifacts / "browser_latency.json").write_text(json.dumps(figures, indent=2) + "\n")


@pytest.fixture
def run_notebook(lab, new_page, measured, artifacts):
    """`run_notebook(name)` → a page with that notebook cleared, run top to bottom, error-free.

    Teardown saves a screenshot of the page and shuts the kernel down.
    """
    pages = []

    def run(name: str):
        n_cells = len(json.loads((REPO / "notebooks" / name).read_text())["cells"])
        page = new_page()
        pages.append((name, page))
        open_notebook(page, lab.url, name, n_cells)
        seconds = run_all(page, timeout_s=RUN_TIMEOUT_S)
        measured.setdefault("run_all_seconds", {})[name] = round(seconds, 1)
        print(f"{name}: Run All Cells took {seconds:.1f} s")
        errors = error_texts(page)
        assert not errors, f"{name} shows errors in the browser:\n" + "\n".join(errors)
        faults = layout_faults(page.locator(".jp-Notebook"))
        assert not faults, f"{name}: widgets a learner cannot use at {VIEWPORT}: {faults}"
        illegible = illegible_texts(page)
        assert not illegible, f"{name}: output text a learner cannot read: {illegible}"
        return page

    yield run
    try:
        for name, page in pages:  # also after a failure: the page shows what went wrong
            page.screenshot(path=artifacts / f"{Path(name).stem}-page.png", full_page=True)
    finally:
        lab.shutdown_sessions()
