"""Two of the contributor guide's rules, checked on the source.

The conventions live in `lessons.config` alone: no function of the package writes its own
default seed or K, and no module indexes a table by a literal column name. The exercises are
the exception on purpose: their code is what a learner types (`table["item"]`).

Models are pure `torch.nn.Module`s: no optimizer, file I/O, printing or plotting in
`lessons.models`; `lessons.train` and the widgets do that around them."""

import ast
from pathlib import Path

from lessons import config

ROOT = Path(__file__).resolve().parents[1]
CONVENTION_PARAMETERS = {"seed": "DEFAULT_SEED", "k": "DEFAULT_K or RECALL_K"}
COLUMNS = set(config.INTERACTION_COLUMNS)
MODEL_IMPORTS = ("collections", "typing", "numpy", "torch", "lessons.features", "lessons.losses",
                 "lessons.fused_ce", "lessons.models")  # fmt: skip


def _defaults(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[tuple[str, ast.expr]]:
    args = function.args
    positional = args.posonlyargs + args.args
    pairs = zip(positional[len(positional) - len(args.defaults) :], args.defaults, strict=True)
    keyword = [
        (a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None
    ]
    return [(arg.arg, default) for arg, default in [*pairs, *keyword]]


def convention_breaks(source: str) -> list[str]:
    """Literal seed/K defaults and literal column subscripts in `source`, with their lines."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found += [
                f"{node.lineno}: {node.name}({name}={default.value!r}), use config."
                f"{CONVENTION_PARAMETERS[name]}"
                for name, default in _defaults(node)
                if name in CONVENTION_PARAMETERS
                and isinstance(default, ast.Constant)
                and isinstance(default.value, int)
            ]
        elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            if node.slice.value in COLUMNS:
                found.append(f"{node.lineno}: [{node.slice.value!r}], use config's column name")
        elif isinstance(node, ast.keyword) and node.arg in ("columns", "on", "by"):
            if isinstance(node.value, ast.Constant) and node.value.value in COLUMNS:
                found.append(f"{node.value.lineno}: {node.arg}={node.value.value!r}, use config's")
    return found


def test_the_package_takes_seed_k_and_column_names_from_config():
    modules = [p for p in sorted(ROOT.glob("lessons/**/*.py")) if "exercises" not in p.parts]
    assert len(modules) > 50
    breaks = {
        str(path.relative_to(ROOT)): found
        for path in modules
        if (found := convention_breaks(path.read_text(encoding="utf-8")))
    }
    assert breaks == {}


def test_the_convention_scan_catches_literals():
    source = (
        "def fit(data, k=10, *, seed=0, name='x', other=None):\n"
        "    return data['item'], data[ITEM], data['title'], data.drop(columns='user')\n"
        "def good(k=DEFAULT_K, seed=None):\n"
        "    pass\n"
    )
    assert [line.split(",")[0] for line in convention_breaks(source)] == [
        "1: fit(k=10)",
        "1: fit(seed=0)",
        "2: ['item']",
        "2: columns='user'",
    ]


def _not_a_model_import(name: str) -> bool:
    return not name.startswith(MODEL_IMPORTS) or name.startswith("torch.optim")


def impurities(source: str) -> list[str]:
    """What in a model module is not a model: other imports, I/O, printing, an optimizer."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, f"import {a.name}") for a in node.names
                      if _not_a_model_import(a.name)]  # fmt: skip
        elif isinstance(node, ast.ImportFrom) and _not_a_model_import(node.module or ""):
            found.append((node.lineno, f"from {node.module} import"))
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("open", "print"):
            found.append((node.lineno, f"{node.func.id}(...)"))
        elif isinstance(node, ast.Attribute) and node.attr in ("optim", "save", "load"):
            found.append((node.lineno, f".{node.attr}"))
    return [f"{line}: {what}" for line, what in sorted(found)]


def test_models_are_pure_modules_without_optimizer_io_or_plots():
    modules = sorted(ROOT.glob("lessons/models/*.py"))
    assert len(modules) >= 4
    found = {p.name: f for p in modules if (f := impurities(p.read_text(encoding="utf-8")))}
    assert found == {}


def test_the_purity_scan_catches_an_optimizer_io_and_plots():
    source = (
        "import torch\nimport matplotlib.pyplot as plt\nfrom torch.optim import Adam\n"
        "opt = torch.optim.SGD([])\nprint(1)\ntorch.save({}, 'x')\n"
    )
    assert [f.split(":")[0] for f in impurities(source)] == ["2", "3", "4", "5", "6"]
