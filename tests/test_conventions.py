"""The conventions live in `lessons.config` alone: no function of the package writes its own
default seed or K, and no module indexes a table by a literal column name. The exercises are
the exception on purpose: their code is what a learner types (`table["item"]`)."""

import ast
from pathlib import Path

from lessons import config

ROOT = Path(__file__).resolve().parents[1]
CONVENTION_PARAMETERS = {"seed": "DEFAULT_SEED", "k": "DEFAULT_K or RECALL_K"}
COLUMNS = set(config.INTERACTION_COLUMNS)


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
        "    return data['item'], data[ITEM], data['title']\n"
        "def good(k=DEFAULT_K, seed=None):\n"
        "    pass\n"
    )
    assert [line.split(",")[0] for line in convention_breaks(source)] == [
        "1: fit(k=10)",
        "1: fit(seed=0)",
        "2: ['item']",
    ]
