"""Importing `lessons` has no side effects: no seed, thread count, plot style, warning filter,
environment variable, printed output or file. Seeding and threads are opt-in
(`lessons.seed_everything`, `lessons.set_threads`). Each check runs in a fresh interpreter."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROBE = Path(__file__).with_name("import_probe.py")


def _run(*args: str, cwd: Path, pythonpath: Path = ROOT) -> subprocess.CompletedProcess:
    # A fresh kernel as a learner has it: none of our settings, a HOME of its own.
    env = {k: v for k, v in os.environ.items() if not k.startswith("LESSONS_")}
    env |= {"PYTHONPATH": str(pythonpath), "HOME": str(cwd), "MPLCONFIGDIR": str(cwd / ".mpl")}
    return subprocess.run(
        [sys.executable, str(PROBE), *args], cwd=cwd, env=env, capture_output=True, text=True
    )


def import_effects(package: str, tmp_path: Path, pythonpath: Path = ROOT) -> dict:
    """What importing every module of `package` changes: state, output and files."""
    work = tmp_path / "work"
    work.mkdir()
    listed = _run("list", package, cwd=work, pythonpath=pythonpath)
    assert listed.returncode == 0, listed.stderr
    (tmp_path / "loaded.json").write_text(listed.stdout.splitlines()[-1])
    probe = _run("probe", package, str(tmp_path / "loaded.json"), cwd=work, pythonpath=pythonpath)
    assert probe.returncode == 0, probe.stderr
    *printed, changes = probe.stdout.split("\n")
    files = sorted(str(p.relative_to(work)) for p in work.rglob("*") if ".mpl" not in p.parts)
    found = {"printed": "".join(printed), "stderr": probe.stderr, "files": files}
    return json.loads(changes) | {k: v for k, v in found.items() if v}


def test_importing_lessons_changes_nothing(tmp_path):
    assert import_effects("lessons", tmp_path) == {}


@pytest.fixture
def noisy_package(tmp_path):
    """A package that does at import what `lessons` must not."""
    package = tmp_path / "src" / "noisy"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "effects.py").write_text(
        "import os, warnings\nimport matplotlib\nimport torch\n"
        "torch.manual_seed(0)\ntorch.set_num_threads(1)\n"
        "matplotlib.rcParams['lines.linewidth'] = 9\n"
        "warnings.simplefilter('ignore')\nos.environ['NOISY'] = '1'\n"
        "print('hello')\nopen('cache.txt', 'w').close()\n"
    )
    return tmp_path / "src"


def test_the_import_check_sees_each_side_effect(tmp_path, noisy_package):
    effects = import_effects("noisy", tmp_path, pythonpath=noisy_package)
    assert effects.keys() >= {"torch RNG", "torch threads", "matplotlib rcParams",
                              "warning filters", "environment", "printed", "files"}  # fmt: skip
    assert effects["files"] == ["cache.txt"] and effects["environment"] == {"NOISY": "1"}
