"""Run as a script: what importing every module of a package changes in the interpreter.

`python import_probe.py list PACKAGE` prints, as JSON, the modules that importing the whole
package loads from elsewhere, in import order. `python import_probe.py probe PACKAGE LIST`
imports those first (so the libraries' own import-time effects happen before the snapshot),
then every module of the package, and prints as JSON what changed.
"""

import hashlib
import importlib
import json
import os
import pkgutil
import random
import sys
import warnings


def _import_all(package: str) -> None:
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, f"{package}."):
        if not info.name.endswith(".__main__"):  # a `python -m` entry point runs on import
            importlib.import_module(info.name)


def _digest(value) -> str:
    return hashlib.sha1(repr(value).encode()).hexdigest()


def _snapshot() -> dict:
    """The global state a library could change on import without being asked."""
    import matplotlib
    import numpy as np
    import pandas as pd
    import torch

    pandas_keys = ("display.max_columns", "display.max_rows", "display.precision", "display.width")
    return {
        "torch RNG": _digest(torch.random.get_rng_state().tolist()),
        "numpy RNG": _digest(np.random.get_state()[1].tolist()),  # noqa: NPY002 (np.random.seed)
        "random RNG": _digest(random.getstate()),
        "torch threads": torch.get_num_threads(),
        "torch deterministic": torch.are_deterministic_algorithms_enabled(),
        "torch grad mode": torch.is_grad_enabled(),
        "torch default dtype": str(torch.get_default_dtype()),
        "numpy errors": np.geterr(),
        "numpy print options": repr(np.get_printoptions()),
        "matplotlib backend": matplotlib.get_backend(),
        "matplotlib rcParams": {k: repr(v) for k, v in matplotlib.rcParams.items()},
        "pandas options": {key: repr(pd.get_option(key)) for key in pandas_keys},
        "warning filters": [repr(f) for f in warnings.filters],
        "environment": dict(os.environ),
    }


def _changes(before: dict, after: dict) -> dict:
    changed = {}
    for key, old in before.items():
        new = after[key]
        if isinstance(old, dict) and isinstance(new, dict):
            diff = {k: new.get(k) for k in old.keys() | new.keys() if old.get(k) != new.get(k)}
            if diff:
                changed[key] = diff
        elif old != new:
            changed[key] = [old, new]
    return changed


if __name__ == "__main__":
    mode, package = sys.argv[1:3]
    if mode == "list":
        loaded = set(sys.modules)
        _import_all(package)
        names = [m for m in sys.modules if m not in loaded and m.split(".")[0] != package]
        print(json.dumps(names))
    else:
        with open(sys.argv[3]) as f:
            for name in json.load(f):
                try:
                    importlib.import_module(name)
                except Exception:  # aliases and private shims that cannot be imported by name
                    pass
        before = _snapshot()
        _import_all(package)
        sys.stdout.write("\n" + json.dumps(_changes(before, _snapshot())))
