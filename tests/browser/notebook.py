"""Playwright helpers that work a notebook as a learner does: open it, Run All, find outputs.

They wait on what JupyterLab renders (the kernel indicator's `data-status`, the `[n]:`
prompts, "Loading widget...") instead of sleeping, and fail with the running cell and the
error outputs.
"""

import re
import time

# A cell's input prompt while it is queued or running.
BUSY_PROMPT = "[*]:"

# JS: every code cell's prompt, source start and error outputs. A traceback, or a line that
# starts with an exception name (IPython's SyntaxError display), is an error; a warning
# on stderr (e.g. the synthetic-data notice) is not.
_CELLS_JS = """() => Array.from(document.querySelectorAll('.jp-Notebook .jp-CodeCell')).map(
  (cell, i) => ({
    index: i,
    prompt: (cell.querySelector('.jp-InputPrompt')?.textContent || '').trim(),
    source: (cell.querySelector('.jp-InputArea-editor')?.textContent || '').slice(0, 80),
    errors: Array.from(cell.querySelectorAll(
      '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'))
      .map(e => e.textContent).filter(t => /Traceback|^\\s*\\w*(Error|Exception)\\b/m.test(t)),
  }))"""

# JS: what the page shows: notebook panels, cells, code-cell prompts, kernel status.
_STATE_JS = """() => ({
  panels: document.querySelectorAll('.jp-NotebookPanel').length,
  cells: document.querySelectorAll('.jp-Notebook .jp-Cell').length,
  prompts: Array.from(document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt'))
    .map(p => p.textContent.trim()),
  kernel: document.querySelector('.jp-Notebook-ExecutionIndicator')?.dataset.status ?? 'none',
  loading: Array.from(document.querySelectorAll('.jp-Notebook .jp-OutputArea-output'))
    .filter(e => e.textContent.trim().startsWith('Loading widget')).length,
})"""


def cells(page) -> list[dict]:
    """Each code cell: index, prompt (e.g. "[3]:", "[*]:"), source start, error texts."""
    return page.evaluate(_CELLS_JS)


def error_texts(page) -> list[str]:
    """Tracebacks/errors in any output and "Error displaying widget" messages."""
    errors = [
        f"cell {c['index']} ({c['source']!r}): {e[-600:]}" for c in cells(page) for e in c["errors"]
    ]
    widget_errors = page.locator(".jp-OutputArea-output", has_text="Error displaying widget")
    errors += [f"widget: {t[:300]}" for t in widget_errors.all_inner_texts()]
    return errors


def _wait(page, condition_js: str, arg, timeout_s: float, what: str) -> None:
    """Wait until `condition_js(state, arg)` holds; on timeout say `what` and show the state."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(f"arg => ({condition_js})(({_STATE_JS})(), arg)", arg=arg,
                               timeout=timeout_s * 1000, polling=250)  # fmt: skip
    except PlaywrightTimeout:
        state = page.evaluate(_STATE_JS)
        busy = [c for c in cells(page) if c["prompt"] == BUSY_PROMPT][:1]
        raise AssertionError(
            f"{what} within {timeout_s:.0f} s; kernel {state['kernel']!r}, {state['cells']} "
            f"cells, {state['loading']} widgets loading, running: {busy or 'none'}; error "
            f"outputs: {error_texts(page) or 'none'}"
        ) from None


def open_notebook(page, base_url: str, name: str, n_cells: int, timeout_s: float = 90.0) -> None:
    """Open /lab/tree/<name> alone, wait for its `n_cells` cells and an idle kernel.

    `?reset` drops the saved workspace, which would otherwise reopen earlier notebooks next
    to this one. JupyterLab first shows a one-cell placeholder with an idle indicator, so the
    cell count is what tells that the document itself has loaded.
    """
    page.goto(f"{base_url}/lab/tree/{name}?reset")
    opened = "(s, n) => s.panels === 1 && s.cells === n && s.kernel === 'idle'"
    _wait(page, opened, n_cells, timeout_s, f"{name} did not open with {n_cells} cells and an "
          "idle kernel")  # fmt: skip


def menu_command(page, menu: str, command: str) -> None:
    """Click a top-level menu, then the item bound to `command` (as a learner would)."""
    page.locator(".lm-MenuBar-itemLabel", has_text=menu).first.click()
    page.locator(f'.lm-Menu-item[data-command="{command}"]').first.click()


def run_all(page, timeout_s: float = 180.0) -> float:
    """Edit > Clear Outputs of All Cells, Run > Run All Cells, wait; returns the seconds taken.

    Clearing first resets the execution counts, so a `[n]:` on every code cell really means
    "ran in this session". Done = kernel idle, no `[*]:` (queued/running) prompt and no
    widget still loading; a cell that raised stops the run, leaving later cells uncounted.

    Raises:
        AssertionError: On timeout (naming the running cell), or when some cell did not run
            (with the error outputs).
    """
    menu_command(page, "Edit", "editmenu:clear-all")
    _wait(page, "s => s.prompts.every(p => p === '[ ]:')", None, 10, "outputs were not cleared")
    start = time.monotonic()
    menu_command(page, "Run", "runmenu:run-all")
    _wait(page, "s => s.prompts.some(p => p !== '[ ]:')", None, 30, "Run All did not start")
    # A widget view renders after its cell finished ("Loading widget..." first); its error,
    # e.g. "Error displaying widget: model not found", only shows up then.
    finished = f"s => s.kernel === 'idle' && !s.prompts.includes('{BUSY_PROMPT}') && !s.loading"
    _wait(page, finished, None, timeout_s, "the notebook did not finish")
    seconds = time.monotonic() - start
    not_run = [c for c in cells(page) if not re.fullmatch(r"\[\d+\]:", c["prompt"])]
    if not_run:
        raise AssertionError(
            f"{len(not_run)} code cells did not run, from cell "
            f"{not_run[0]['index']} ({not_run[0]['source']!r}); error outputs: "
            f"{error_texts(page) or 'none'}"
        )
    return seconds


def output_of(page, source_start: str):
    """Locator of the output area of the code cell whose source starts with `source_start`."""
    summary = cells(page)
    matches = [c["index"] for c in summary if c["source"].startswith(source_start)]
    if len(matches) != 1:
        raise AssertionError(
            f"expected one code cell starting with {source_start!r}, found "
            f"{len(matches)} among {[c['source'][:40] for c in summary]}"
        )
    cell = page.locator(".jp-Notebook .jp-CodeCell").nth(matches[0])
    return cell.locator(".jp-OutputArea")
