"""Shared fixtures: the real MovieLens 100K (only via $LESSONS_DATA_DIR) and a tiny fake one."""

import hashlib
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from lessons.config import ENV_DATA_DIR

# The 19 genre names of ML-100K's u.genre, in file order (names only, no MovieLens data).
ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """Folder holding the real `ml-100k/`; skips unless $LESSONS_DATA_DIR points at one."""
    raw = os.environ.get(ENV_DATA_DIR, "").strip()
    if not raw:
        pytest.skip(
            f"real MovieLens 100K not available: set {ENV_DATA_DIR} to a folder with ml-100k/"
        )
    folder = Path(raw).expanduser()
    if not (folder / "ml-100k" / "u.data").is_file():
        pytest.skip(f"{ENV_DATA_DIR}={raw} has no ml-100k/u.data")
    return folder


@pytest.fixture(scope="session")
def ml100k(real_data_dir):
    """The real MovieLens 100K `Dataset`, loaded once per test session (never downloaded)."""
    from lessons.data.loader import load_movielens

    return load_movielens("100k", data_dir=real_data_dir, download=False)


def _flags(*genres: str) -> str:
    return "|".join("1" if g in genres else "0" for g in ML100K_GENRES)


# A made-up, ml-100k-shaped folder. Users 1, 2, 5 -> ids 0, 1, 2; items 10, 20, 30, 40 -> 0..3
# (item 40 is never rated). Rows are deliberately out of (user, timestamp, item) order.
FAKE_ML100K = {
    "u.data": "5\t20\t4\t100\n1\t10\t5\t300\n1\t20\t3\t200\n2\t10\t1\t150\n1\t30\t2\t300\n",
    "u.item": (
        f"10|Alpha (1995)|01-Jan-1995||http://example.org/a|{_flags('Action')}\n"
        f"20|Beta (1996)|12-Mar-1996||http://example.org/b|{_flags('Comedy', 'Drama')}\n"
        f"30|unknown||||{_flags('unknown')}\n"
        # A title that ends in a space, as three of the real u.item's do.
        f"40|Gamma (1997) |01-Jan-1997||http://example.org/c|{_flags('Drama')}\n"
    ),
    "u.user": "1|24|M|technician|85711\n2|53|F|other|94043\n5|33|F|writer|T8H1N\n",
    "u.genre": "".join(f"{g}|{i}\n" for i, g in enumerate(ML100K_GENRES)) + "\n",
    "u.occupation": "other\ntechnician\nwriter\n",
}


@pytest.fixture
def fake_ml100k_files() -> dict[str, str]:
    """File name -> text of the fake ml-100k (write it Latin-1 encoded)."""
    return dict(FAKE_ML100K)


@pytest.fixture
def fake_ml100k(monkeypatch) -> Callable[[Path], Path]:
    """Factory: `fake_ml100k(parent)` writes `parent/ml-100k/` (FAKE_ML100K) and returns it.

    The loader checks an extracted folder's files against the published SHA-256s, so for the
    test the "100k" registry entry trusts the fake files instead.
    """
    from lessons.data import registry

    def sha(name: str) -> str:
        return hashlib.sha256(FAKE_ML100K[name].encode("latin-1")).hexdigest()

    others = tuple((name, sha(name)) for name, _ in registry.VARIANTS["100k"].other_sha256)
    trusted = replace(registry.VARIANTS["100k"], key_sha256=sha("u.data"), other_sha256=others)
    monkeypatch.setitem(registry.VARIANTS, "100k", trusted)

    def write(parent: Path) -> Path:
        folder = Path(parent) / "ml-100k"
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in FAKE_ML100K.items():
            (folder / name).write_text(text, encoding="latin-1")
        return folder

    return write


@pytest.fixture(scope="module")
def one_thread():
    """Run a module's tests on one torch thread, then restore the count."""
    import torch

    # Shared 2-core CI box: OpenMP threads spin-wait for busy cores; one thread is faster here.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_data():
    """A small synthetic MovieLens (60 users × 80 items) for exercises and widgets."""
    from lessons.data import synthetic_movielens

    return synthetic_movielens(n_users=60, n_items=80, seed=3)


@pytest.fixture(scope="module")
def tiny_split(tiny_data):
    from lessons.data import random_split

    return random_split(tiny_data, 0.2, seed=0)


@pytest.fixture(scope="module")
def tiny_mf(tiny_split):
    """An untrained MF (d = 8) over `tiny_split`, initialized from seed 0."""
    import torch

    from lessons.models import MatrixFactorization

    torch.manual_seed(0)
    return MatrixFactorization(tiny_split.n_users, tiny_split.n_items, dim=8)
