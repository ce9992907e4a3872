"""Safe defaults: JupyterLab on localhost with a token, safe checkpoint loading, and no lesson
code writing outside the data cache and the notebook's own folder."""

import ast
import json
import os
import re
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.fake_archive import fake_ml100k_members, make_zip, register_archive
from tests.helpers import parse_cell

ROOT = Path(__file__).resolve().parents[1]
STDLIB = sysconfig.get_paths()["stdlib"]
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def test_make_lab_keeps_token_auth_and_binds_to_localhost():
    makefile = (ROOT / "Makefile").read_text()
    lab = re.search(r"^lab:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert lab, "the Makefile has no `lab` target"
    command = lab[1]
    assert "--ip=127.0.0.1" in command
    assert not re.search(r"token|password|--ip=0\.0\.0\.0|--ip=\*", command), command
    assert "make lab" in (ROOT / "README.md").read_text()


def _torch_load_calls(tree: ast.AST) -> list[ast.Call]:
    def is_torch_load(node: ast.AST) -> bool:
        func = getattr(node, "func", None)
        return (isinstance(func, ast.Attribute) and func.attr == "load"
                and isinstance(func.value, ast.Name) and func.value.id == "torch")  # fmt: skip

    return [node for node in ast.walk(tree) if isinstance(node, ast.Call) and is_torch_load(node)]


def _is_weights_only(call: ast.Call) -> bool:
    return any(kw.arg == "weights_only" and isinstance(kw.value, ast.Constant)
               and kw.value.value is True for kw in call.keywords)  # fmt: skip


def _sources() -> list[tuple[str, str]]:
    """(where, code) for every module of the package and every notebook code cell."""
    found = [
        (str(p.relative_to(ROOT)), p.read_text()) for p in sorted(ROOT.glob("lessons/**/*.py"))
    ]
    for nb in sorted(ROOT.glob("notebooks/*.ipynb")):
        cells = json.loads(nb.read_text())["cells"]
        code = [c for c in cells if c["cell_type"] == "code"]
        found += [(f"{nb.name} cell {i}", "".join(c["source"])) for i, c in enumerate(code)]
    return found


def test_the_checkpoint_scan_catches_an_unsafe_load():
    calls = _torch_load_calls(ast.parse("torch.load(f)\ntorch.load(f, weights_only=True)"))
    assert [_is_weights_only(c) for c in calls] == [False, True]


def test_every_checkpoint_load_is_weights_only():
    unsafe = []
    for where, code in _sources():
        tree = parse_cell(code)
        unsafe += [
            f"{where}:{c.lineno}" for c in _torch_load_calls(tree) if not _is_weights_only(c)
        ]
    assert not unsafe, f"torch.load without weights_only=True (runs pickled code): {unsafe}"


class WriteRecorder:
    """An audit hook (PEP 578) recording what a package writes while `active`: files opened for
    writing, folders made, files renamed or removed. A write counts as the package's when the
    innermost frame outside the standard library is the package's own code, so a library's
    own cache (matplotlib's config folder, torch's compile cache) is not charged to it. Audit
    hooks cannot be removed: it is installed once per process and switched off after a test."""

    active = False
    owner = ROOT / "lessons"
    seen: list[tuple[str, str]] = []

    @classmethod
    def hook(cls, event: str, args: tuple) -> None:
        if not cls.active:
            return
        if event == "open":
            path, mode, flags = args
            writes = any(c in mode for c in "wax+") if mode else bool(flags & WRITE_FLAGS)
            paths = [path] if writes and isinstance(path, (str, bytes, os.PathLike)) else []
        elif event in ("os.mkdir", "os.remove", "os.rmdir", "shutil.rmtree"):
            paths = [args[0]]
        elif event == "os.rename":
            paths = [args[0], args[1]]
        else:
            return
        if paths and cls._writer().is_relative_to(cls.owner):
            cls.seen += [(event, os.fsdecode(p)) for p in paths]

    @staticmethod
    def _writer() -> Path:
        """File of the innermost caller outside the standard library."""
        frame = sys._getframe(2)
        while frame is not None:
            name = frame.f_code.co_filename
            if not name.startswith(("<", STDLIB)):
                return Path(name)
            frame = frame.f_back
        return Path("<none>")


@pytest.fixture
def writes(monkeypatch, tmp_path):
    """Run a test inside a notebook folder with its own cache; yields (recorded writes, folders)."""
    if not getattr(sys, "_lessons_write_recorder", False):
        sys.addaudithook(WriteRecorder.hook)
        sys._lessons_write_recorder = True
    notebook_dir, cache = tmp_path / "notebooks", tmp_path / "cache"
    notebook_dir.mkdir()
    monkeypatch.chdir(notebook_dir)
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.delenv("LESSONS_DATA_DIR", raising=False)
    monkeypatch.setenv("LESSONS_QUIET", "1")
    WriteRecorder.seen = []
    WriteRecorder.active = True
    try:
        yield WriteRecorder.seen, (notebook_dir, cache)
    finally:
        WriteRecorder.active = False


def _outside(seen: list[tuple[str, str]], allowed: tuple[Path, ...]) -> list[tuple[str, str]]:
    roots = [a.resolve() for a in allowed]
    return [(e, p) for e, p in seen
            if not any(Path(p).resolve().is_relative_to(r) for r in roots)]  # fmt: skip


def test_the_recorder_sees_a_write_outside(writes, tmp_path, monkeypatch):
    seen, allowed = writes
    monkeypatch.setattr(WriteRecorder, "owner", Path(__file__).parent)  # charge this file
    (tmp_path / "elsewhere.txt").write_text("x")
    (allowed[0] / "inside.txt").write_text("x")
    assert _outside(seen, allowed) == [("open", str(tmp_path / "elsewhere.txt"))]


def test_a_lesson_session_writes_only_to_the_cache_and_the_notebook_folder(
    writes, fake_ml100k_files, monkeypatch, one_thread
):
    from lessons.data import random_split
    from lessons.data.loader import SyntheticFallbackWarning, load_lesson_data
    from lessons.metrics import evaluate
    from lessons.plots import training as pt
    from lessons.recipes import RECIPES, train
    from lessons.recommend import recommend, recommend_for_query, similar_items
    from lessons.scoring import score_users
    from lessons.widgets import BuildAUser, DNNPlayground

    seen, allowed = writes
    # Publish a fake ml-100k.zip as a file:// URL and register its checksums: the real download
    # path (stream, verify, extract, rename) runs against it into the per-user cache.
    archive = make_zip(fake_ml100k_members(fake_ml100k_files))
    mirror = allowed[0].parent / "mirror"
    WriteRecorder.active = False  # the mirror is the test's own doing
    mirror.mkdir()
    (mirror / "ml-100k.zip").write_bytes(archive)
    WriteRecorder.active = True
    register_archive(monkeypatch, archive)
    monkeypatch.setenv("LESSONS_DATA_URL", mirror.as_uri() + "/")
    assert load_lesson_data().name == "ml-100k"
    assert (allowed[1] / "lessons" / "ml-100k" / "u.data").is_file()

    # Then a lesson's work on data big enough to train: every recipe, recommendations, plots,
    # and the two widgets that retrain or re-rank.
    with pytest.warns(SyntheticFallbackWarning):
        data = load_lesson_data(data_dir=allowed[1] / "absent", download=False)
    split = random_split(data, seed=0)
    models = {name: train(name, split, epochs=1)[0] for name in RECIPES}
    history = train("SoftmaxDNN", split, epochs=2)[1]
    pt.figure_html(pt.history_curves(history)[0].figure)
    evaluate(score_users(models["MF"], split), split)
    recommend(models["SoftmaxDNN"], split, [0, 1])
    recommend_for_query(models["TwoTower"], split, [1, 2])
    similar_items(models["SoftmaxDNN"], split, 3)
    panel = DNNPlayground(split)
    panel.epochs.value = 1
    panel.button.click()
    assert len(panel.runs) == 1, panel.error
    BuildAUser(models["SoftmaxDNN"], split, mf=models["MF"], liked=(1, 2)).liked.value = (3, 4)

    assert seen, "the recorder saw no write at all: the download did not run"
    outside = _outside(seen, allowed)
    assert not outside, f"lesson code wrote outside the cache and the notebook folder: {outside}"
