"""binder/ builds the same environment as requirements.txt, and the README's badge launches it."""

import ast
import json
import os
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def pins(path: Path) -> tuple[dict[str, str], list[str]]:
    """`name==version` lines of a requirements file → ({name: version}, [pip options])."""
    found, options = {}, []
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-"):
            options.append(line)
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==(\S+)", line)
        assert match, f"{path.name}: {raw!r} is not an exact `name==version` pin"
        name = match[1].lower().replace("_", "-")
        assert name not in found, f"{path.name} pins {name} twice"
        found[name] = match[2]
    return found, options


def test_binder_requirements_match_the_root_pins_apart_from_torch_build():
    root, root_options = pins(ROOT / "requirements.txt")
    binder, binder_options = pins(BINDER / "requirements.txt")
    assert sorted(binder) == sorted(root), "binder/ and the root requirements list other packages"
    differ = {n: (root[n], binder[n]) for n in root if n != "torch" and root[n] != binder[n]}
    assert not differ, f"versions differ (root, binder): {differ}"
    # The same torch release, as the CPU-only build from PyTorch's CPU wheel index.
    assert binder["torch"] == f"{root['torch']}+cpu"
    assert binder_options == [f"--extra-index-url {CPU_INDEX}"]
    assert root_options == []


def test_runtime_pins_python_311_which_the_package_supports():
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=3.11"


def test_post_build_fails_fast_installs_fetches_data_and_writes_overrides():
    """Fails fast, except for the data: GroupLens down at build time must not mean no Binder."""
    script = BINDER / "postBuild"
    assert os.access(script, os.X_OK), "repo2docker runs postBuild only when it is executable"
    lines = [ln.strip() for ln in script.read_text().splitlines()]
    assert lines[0] == "#!/usr/bin/env bash"
    assert "set -euo pipefail" in lines
    commands = [ln for ln in lines if ln and not ln.startswith("#")]
    assert "python -m pip install --no-cache-dir --no-deps -e ." in commands
    assert "if ! python -m lessons.data 100k; then" in commands  # our verified loader, not curl
    assert 'cp binder/overrides.json "$settings/overrides.json"' in commands


def _start_env(**preset: str) -> dict[str, str]:
    """The environment binder/start hands to the command it starts (here `env`)."""
    base = {k: v for k, v in os.environ.items() if k not in _START_DEFAULTS}
    out = subprocess.run([str(BINDER / "start"), "env"], env={**base, **preset},
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


_START_DEFAULTS = {
    "LESSONS_NUM_THREADS": "1",
    "MALLOC_MMAP_THRESHOLD_": "33554432",
    "MALLOC_TRIM_THRESHOLD_": "1073741824",
}


def test_start_sets_thread_and_allocator_defaults_a_teacher_can_override():
    assert os.access(BINDER / "start", os.X_OK)
    env = _start_env()  # also shows the script execs its arguments: `env` ran
    assert {k: env.get(k) for k in _START_DEFAULTS} == _START_DEFAULTS
    assert _start_env(LESSONS_NUM_THREADS="2")["LESSONS_NUM_THREADS"] == "2"
    assert _start_env(MALLOC_MMAP_THRESHOLD_="0")["MALLOC_MMAP_THRESHOLD_"] == "0"


def test_overrides_save_widget_state_keep_cells_rendered_and_free_closed_kernels():
    overrides = json.loads((BINDER / "overrides.json").read_text())
    assert overrides == {
        "@jupyter-widgets/jupyterlab-manager:plugin": {"saveState": True},
        "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none", "kernelShutdown": True},
    }


def test_readme_badge_deep_links_the_first_notebook_of_this_repository():
    readme = (ROOT / "README.md").read_text()
    badges = re.findall(r"\(https://mybinder\.org/v2/gh/([^/]+/[^/]+)/([^?]+)\?urlpath=([^)]+)\)",
                        readme)  # fmt: skip
    assert len(badges) == 1, f"expected one Binder badge link, found {badges}"
    repo, ref, urlpath = badges[0]
    urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]
    assert urls["Repository"] == f"https://github.com/{repo}"
    assert ref == "main"
    first = sorted((ROOT / "notebooks").glob("0*.ipynb"))[0]
    assert urlpath == f"lab/tree/notebooks/{first.name}"


def imported_distributions(folder: Path) -> dict[str, str]:
    """Third-party distributions that `.py` files under `folder` import: {dist: a file}."""
    owners = packages_distributions()
    found = {}
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in ("lessons", "tests"):
                    continue
                for dist in owners.get(top, [top]):
                    found.setdefault(dist.lower().replace("_", "-"), path.name)
    return found


def test_every_library_the_code_imports_is_pinned():
    """A library reached only as a dependency of another floats with it: threadpoolctl (in
    lessons.serving) and nbformat (in a test) once came in through scikit-learn and nbclient."""
    pinned, _ = pins(ROOT / "requirements.txt")
    used = imported_distributions(ROOT / "lessons") | imported_distributions(ROOT / "tests")
    assert {dist: where for dist, where in used.items() if dist not in pinned} == {}
    ranges = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    declared = {re.match(r"[A-Za-z0-9_.\-]+", spec)[0].lower() for spec in ranges}
    needed = imported_distributions(ROOT / "lessons")
    assert {dist: where for dist, where in needed.items() if dist not in declared} == {}
