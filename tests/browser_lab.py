"""Support for the browser test: a throw-away JupyterLab server and Playwright helpers.

The server is the current interpreter's JupyterLab (`python -m jupyterlab`) on 127.0.0.1,
without a token, serving a temporary copy of the notebooks; every Jupyter directory lives
under a temporary folder, so ~/.jupyter is never read or written. Setting overrides go where
JupyterLab reads them, `<app_settings_dir>/overrides.json` (`--LabApp.app_settings_dir`),
and become the schema defaults that `/lab/api/settings/<plugin>` reports.

The page helpers wait on what JupyterLab renders (the kernel indicator's `data-status`, the
`[n]:` prompts, "Loading widget...") instead of sleeping, and fail with the running cell
and the error outputs.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

# The network is closed in CI: without the background-networking, component-update and
# sync switches chromium keeps dialling Google services.
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync")  # fmt: skip

# Test-only settings merged over binder/overrides.json: no news/update toast that could
# cover a widget in a screenshot, and no request to the (closed) internet.
QUIET_OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}
}

# A cell's input prompt while it is queued or running.
BUSY_PROMPT = "[*]:"


def chromium_path() -> str | None:
    """The distribution's chromium (never a browser a tool downloads), or None."""
    return shutil.which("chromium") or (
        "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def merge_settings(base: Mapping, extra: Mapping) -> dict:
    """`base` with `extra` merged in, plugin by plugin (extra wins per key)."""
    merged = {plugin: dict(values) for plugin, values in base.items()}
    for plugin, values in extra.items():
        merged.setdefault(plugin, {}).update(values)
    return merged


def get_json(url: str, timeout: float = 10.0) -> dict:
    """GET `url` and decode its JSON body."""
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (localhost)
        return json.loads(response.read().decode("utf-8"))


def setting_default(base_url: str, plugin: str, key: str):
    """The effective default of one JupyterLab setting (overrides.json lands here)."""
    schema = get_json(f"{base_url}/lab/api/settings/{plugin}")["schema"]
    return schema["properties"][key].get("default")


class LabServer:
    """`jupyter lab` on 127.0.0.1 serving `root_dir`, with isolated Jupyter directories.

    Args:
        root_dir: Folder the server serves (a temporary copy of the notebooks).
        home: Temporary folder for the Jupyter dirs, the app settings and the log.
        overrides: JupyterLab setting overrides to write to `<home>/app-settings/overrides.json`.
        env: Extra environment variables for the server and its kernels.
    """

    def __init__(self, root_dir: Path, home: Path, overrides: Mapping, env: Mapping[str, str]):
        self.root_dir, self.home = Path(root_dir), Path(home)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.home / "jupyterlab.log"
        self.app_settings = self.home / "app-settings"
        self.app_settings.mkdir(parents=True, exist_ok=True)
        (self.app_settings / "overrides.json").write_text(json.dumps(overrides, indent=2))
        names = ("config", "runtime", "data", "workspaces", "user-settings", "ipython", "mpl")
        dirs = {name: self.home / name for name in names}
        for folder in dirs.values():
            folder.mkdir(exist_ok=True)
        self.env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(dirs["config"]),
            "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
            "JUPYTER_DATA_DIR": str(dirs["data"]),
            "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"]),
            "JUPYTERLAB_SETTINGS_DIR": str(dirs["user-settings"]),
            "IPYTHONDIR": str(dirs["ipython"]),
            "MPLCONFIGDIR": str(dirs["mpl"]),
            **env,
        }
        self.proc: subprocess.Popen | None = None
        self._log = None

    def command(self) -> list[str]:
        cmd = [
            sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={self.root_dir}", "--ServerApp.open_browser=False",
            "--IdentityProvider.token=", "--ServerApp.password=",
            # No token, so no XSRF cookie for urllib: let `shutdown_sessions` DELETE.
            "--ServerApp.disable_check_xsrf=True",
            f"--LabApp.app_settings_dir={self.app_settings}", "--LabApp.news_url=None",
        ]  # fmt: skip
        if hasattr(os, "getuid") and os.getuid() == 0:
            cmd.append("--allow-root")
        return cmd

    def start(self, timeout: float = 60.0) -> "LabServer":
        """Start the server and wait until `/api/status` answers.

        Raises:
            RuntimeError: If the server exits or does not answer within `timeout` seconds
                (the message carries the tail of its log).
        """
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen(self.command(), cwd=self.root_dir, env=self.env,
                                     stdout=self._log, stderr=subprocess.STDOUT)  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"JupyterLab exited with code {self.proc.returncode} before "
                    f"answering; log tail:\n{self.log_tail()}"
                )
            try:
                get_json(f"{self.url}/api/status", timeout=2.0)
                return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.25)
        self.stop()
        raise RuntimeError(
            f"JupyterLab did not answer {self.url}/api/status within {timeout:.0f} s;"
            f" log tail:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 40) -> str:
        """The last `lines` lines of the server log."""
        if not self.log_path.exists():
            return "(no log)"
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def shutdown_sessions(self) -> None:
        """Shut down every kernel session (frees the memory of a finished notebook)."""
        for session in get_json(f"{self.url}/api/sessions"):
            request = urllib.request.Request(
                f"{self.url}/api/sessions/{session['id']}", method="DELETE"
            )
            with urllib.request.urlopen(request, timeout=30):  # noqa: S310 (localhost)
                pass

    def stop(self) -> None:
        """Terminate the server (and with it its kernels), then kill it if it hangs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        if self._log is not None:
            self._log.close()
            self._log = None


# ---- Playwright helpers (they take a `playwright.sync_api.Page`) -------------------------

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
