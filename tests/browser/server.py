"""The browser test's JupyterLab: a throw-away server and the chromium to drive it.

The server is the current interpreter's JupyterLab (`python -m jupyterlab`) on 127.0.0.1,
without a token, serving a temporary copy of the notebooks; every Jupyter directory lives
under a temporary folder, so ~/.jupyter is never read or written. Setting overrides go where
JupyterLab reads them, `<app_settings_dir>/overrides.json` (`--LabApp.app_settings_dir`),
and become the schema defaults that `/lab/api/settings/<plugin>` reports.
"""

import json
import os
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
