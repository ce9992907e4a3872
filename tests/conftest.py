"""Shared fixtures: the real MovieLens 100K (only via $LESSONS_DATA_DIR) and a tiny fake one."""

import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

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


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Torch on one thread inside the block, then the count it had before."""
    import torch

    # Shared 2-core CI box: OpenMP threads spin-wait for busy cores; one thread is faster here.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="module")
def one_thread():
    """Run a module's tests on one torch thread, then restore the count."""
    with one_torch_thread():
        yield


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


# ------------------------------------------------------------------------------------------
# Real-data runs that several tests/test_lesson_figures_nb0*.py files read, built once per
# session. Each trains on one torch thread itself (`one_thread` is module-scoped), so its values
# do not depend on which module asks first. Tests only read these objects, never train them.

LESSON_SEED = 0  # the notebooks' parameters cells: SEED, TEST_FRAC, EASE_LAMBDA
LESSON_TEST_FRAC = 0.2
LESSON_EASE_LAMBDA = 500.0
MF_SHARE_EPOCHS = (10, 50)  # notebook 01, cell 6: the share of p̂ "grows from 34% to 40%"


@dataclass
class RecipeRun:
    """A recipe trained as a notebook trains it."""

    model: Any
    frame: Any  # the History as a DataFrame, one row per epoch, indexed by epoch
    metrics: dict = field(default_factory=dict)  # evaluate_model on test, where a test reads it
    recorded: dict = field(default_factory=dict)  # what the run's callbacks recorded


@pytest.fixture(scope="session")
def ml100k_split(ml100k):
    """The notebooks' split: random_split(data, TEST_FRAC = 0.2, seed=SEED = 0)."""
    from lessons.data import random_split

    return random_split(ml100k, LESSON_TEST_FRAC, seed=LESSON_SEED)


@pytest.fixture(scope="session")
def ml100k_cold_split(ml100k):
    """Notebooks 01 (section 5) and 04 (sections 3-4): cold_start_items(data, 0.2, seed=0)."""
    from lessons.data import cold_start_items

    return cold_start_items(ml100k, LESSON_TEST_FRAC, seed=LESSON_SEED)


@pytest.fixture(scope="session")
def ml100k_ease(ml100k_split):
    """EASE(λ = 500) fitted on `ml100k_split`'s training rows: notebook 00's honest row
    (cell 26), notebook 01's EASE row (cell 25) and notebook 05's EASE (cell 5)."""
    from lessons.baselines import EASE

    with one_torch_thread():
        return EASE(lam=LESSON_EASE_LAMBDA).fit(ml100k_split.train_matrix())


@pytest.fixture(scope="session")
def mf_recipe_run(ml100k_split) -> RecipeRun:
    """Notebook 01, cell 5: train("MF", split, seed=0, eval_every=10). Two callbacks record,
    in `recorded`:

    - "l2_term", {epoch: λ·(mean_u ‖U_u‖² + mean_j ‖V_j‖²)} after every epoch, over all users
      (the loss takes the mean over a batch's users);
    - "p_hat_share", {epoch: the share of p̂ = softmax(U_u Vᵀ) over ALL items that lands on
      user u's own training items, averaged over users} after epochs 10 and 50.

    Callbacks run on a fork of the RNG and evaluation draws nothing, so the weights are the
    notebook's own, and those of notebook 05's train("MF", split, seed=0, eval_every=None)
    (cell 5): the same to the bit, checked while merging these runs."""
    import numpy as np
    import torch

    from lessons.recipes import train
    from lessons.scoring import score_users

    split = ml100k_split
    X = split.train_matrix()  # (943, 1682) 0/1
    users = np.arange(split.n_users)
    l2_term, shares = {}, {}

    def record_l2(history, model):
        U, V = model.user_embedding.detach(), model.item_embedding.detach()
        penalty = U.pow(2).sum(1).mean() + V.pow(2).sum(1).mean()
        l2_term[history.rows[-1]["epoch"]] = float(model.l2 * penalty)

    def record_share(history, model):
        epoch = history.rows[-1]["epoch"]
        if epoch in MF_SHARE_EPOCHS:
            p_hat = torch.softmax(score_users(model, split, users), dim=1).numpy()
            per_user = np.asarray(X.multiply(p_hat).sum(axis=1)).ravel()  # Σ_{j ∈ train_u} p̂_uj
            shares[epoch] = float(per_user.mean())

    with one_torch_thread():
        model, history = train("MF", split, seed=LESSON_SEED, eval_every=10, progress=False,
                               callbacks=[record_l2, record_share])  # fmt: skip
    assert (np.diff(X.indptr) > 0).all()  # every user has training items: the mean is fair
    frame = history.to_frame().set_index("epoch")
    return RecipeRun(model, frame, recorded={"l2_term": l2_term, "p_hat_share": shares})


@pytest.fixture(scope="session")
def softmax_dnn_recipe_run(ml100k_split) -> RecipeRun:
    """Notebook 02, cell 18: train("SoftmaxDNN", split, seed=0, progress=False), which
    evaluates after every epoch, with `metrics` = evaluate_model on test. Evaluation draws no
    random numbers, so the weights are those of the same call with eval_every=None (notebook
    03's `dnn`, cell 3; notebook 05, cell 5) and of the recipe built and fitted on the history
    alone (the SoftmaxDNN docstring's "0.44 without"): the same to the bit, checked. 1.5 s."""
    from lessons.experiments import evaluate_model
    from lessons.recipes import train

    with one_torch_thread():
        model, history = train("SoftmaxDNN", ml100k_split, seed=LESSON_SEED, progress=False)
        metrics = evaluate_model(model, ml100k_split)
    return RecipeRun(model, history.to_frame().set_index("epoch"), metrics)


@pytest.fixture(scope="session")
def two_tower_recipe_model(ml100k_split):
    """The "TwoTower" recipe at its full training (40 epochs), seed 0, eval_every=None: a row of
    the benchmark's logQ table (notebook 04, cell 13) and notebook 05's TwoTower (cell 5)."""
    from lessons.recipes import train

    with one_torch_thread():
        model, _ = train("TwoTower", ml100k_split, seed=LESSON_SEED, eval_every=None,
                         progress=False)  # fmt: skip
    return model
