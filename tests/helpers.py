"""Small models, data, training helpers and hand references shared by several test modules."""

import ast
import math
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from lessons.data.dataset import Dataset
from lessons.features import ItemFeatures, QueryBatch, make_batch
from lessons.models import SoftmaxDNN

DAY = 86_400  # seconds


def parse_cell(code: str) -> ast.Module:
    """A notebook code cell as Python, skipping IPython's magics and shell escapes (`%`, `!`)."""
    return ast.parse(
        "\n".join(ln for ln in code.splitlines() if not ln.lstrip().startswith(("%", "!")))
    )


def run_solution(exercise, namespace: dict):
    """`answer` as set by the exercise's solution code, run in `namespace` (plus np and pd)."""
    scope = {"np": np, "pd": pd, **namespace}
    exec(exercise.solution_code, scope)  # the code a learner would paste
    return scope["answer"]


def log_softmax_over(row: list[float], kept: list[int]) -> dict[int, float]:
    """log softmax of row restricted to the columns `kept`, written out (the hand reference)."""
    z = sum(math.exp(row[j]) for j in kept)
    return {j: row[j] - math.log(z) for j in kept}


def adam_steps(model, batch, steps: int, lr: float) -> None:
    """`steps` Adam steps on model.loss(batch)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        model.loss(batch).backward()
        optimizer.step()


def train_steps(model, batch, steps: int = 200, lr: float = 0.05) -> tuple[float, float]:
    """Loss before and after `steps` seeded Adam steps on one batch."""
    torch.manual_seed(0)
    first = model.loss(batch).item()
    adam_steps(model, batch, steps, lr)
    return first, model.loss(batch).item()


def tiny_dnn(n_items: int, seed: int = 0, **kwargs) -> SoftmaxDNN:
    """A small textbook SoftmaxDNN (d=16, one hidden layer of 32) for training-loop tests."""
    torch.manual_seed(seed)  # model initialization happens before fit, outside its seed
    textbook = {"residual": False, "input_dropout": 0.0, "item_bias": False,
                "label_smoothing": 0.0, "mask_inputs": False}  # fmt: skip
    return SoftmaxDNN(n_items, dim=16, hidden=(32,), **{**textbook, **kwargs})


N_USERS, N_ITEMS = 6, 40  # the tiny catalogue of the model tests


def histories(n_users=N_USERS, n_items=N_ITEMS, n_input=5, n_target=3, seed=0):
    """Disjoint input and target rows: user u reads n_input items, must predict n_target others."""
    rng = np.random.default_rng(seed)
    perm = np.argsort(rng.random((n_users, n_items)), axis=1)
    rows = np.repeat(np.arange(n_users), n_input + n_target)
    cols = perm[:, : n_input + n_target].ravel()
    is_target = np.tile(np.arange(n_input + n_target) >= n_input, n_users)

    def csr(mask):
        data = np.ones(mask.sum(), np.float32)
        return sp.csr_matrix((data, (rows[mask], cols[mask])), shape=(n_users, n_items))

    return csr(~is_target), csr(is_target)


def history_batch(n_target: int = 3, seed: int = 0) -> QueryBatch:
    """`histories()` as a training batch of all N_USERS users (dense target)."""
    inputs, targets = histories(n_target=n_target, seed=seed)
    return make_batch(np.arange(N_USERS), inputs, None, targets)


SIDE_CARDINALITIES = (7, 2, 4)  # the hand-made demographics of `side_batch`


def side_batch(inputs, targets, n_dense=2) -> QueryBatch:
    """make_batch's output plus hand-made side (7, 2, 4 categories) and dense features."""
    batch = make_batch(np.arange(N_USERS), inputs, None, targets)
    gen = torch.Generator().manual_seed(1)
    side = torch.stack(
        [torch.randint(0, c, (N_USERS,), generator=gen) for c in SIDE_CARDINALITIES], 1
    )
    dense = torch.rand(N_USERS, n_dense, generator=gen)
    return QueryBatch(batch.bag, batch.offsets, batch.users, side, dense, batch.target)


def fake_item_features(n_items=N_ITEMS, seed=0) -> ItemFeatures:
    """Random genres (4), year buckets (5) and title bags over 10 words; item 3 has no title."""
    rng = np.random.default_rng(seed)
    genres = (rng.random((n_items, 4)) < 0.4).astype(np.float32)
    lengths = rng.integers(1, 4, n_items)
    lengths[3] = 0
    bag = rng.integers(0, 10, lengths.sum())
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return ItemFeatures(
        genres=torch.from_numpy(genres),
        year_bucket=torch.from_numpy(rng.integers(0, 5, n_items)),
        title_bag=torch.from_numpy(bag),
        title_offsets=torch.from_numpy(offsets),
        vocabulary=tuple(f"w{i}" for i in range(10)),
        n_year_buckets=5,
    )


def tiny_dataset(users: pd.DataFrame | None = "default") -> Dataset:
    """4 users × 5 items with hand-picked titles, years, ages and timestamps."""
    inter = pd.DataFrame(
        {
            "user": [0, 0, 0, 1, 1, 2],
            "item": [0, 1, 2, 1, 3, 4],
            "rating": [5.0] * 6,
            "timestamp": [0, 5 * DAY, 10 * DAY, 2 * DAY, 3 * DAY, 10 * DAY],
        }
    )
    items = pd.DataFrame(
        {
            "title": [
                "Toy Story (1995)",
                "Story of Us, The (1999)",
                "Toy Soldiers (1991)",
                "Alien (1979)",
                "unknown",
            ],
            "year": [1995.0, 1999.0, 1991.0, 1979.0, np.nan],
            "Action": [0, 1, 1, 0, 0],
            "Comedy": [1, 0, 0, 1, 0],
        }
    )
    if isinstance(users, str):
        users = pd.DataFrame(
            {
                "age": [17, 18, 56, 30],
                "gender": ["M", "F", "F", "M"],
                "occupation": ["student", "writer", "student", "artist"],
                "zip": ["1", "2", "3", "4"],
            }
        )
    return Dataset("tiny", inter, items, ("Action", "Comedy"), users, np.arange(4), np.arange(5))


def random_csr(n_users=200, n_items=300, seed=0) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    dense = rng.random((n_users, n_items)) < 0.05
    dense[3] = False  # an empty row
    dense[4] = False
    dense[4, 7] = True  # a single-item row
    return sp.csr_matrix(dense.astype(np.float32))


def bench_results_all_goals_met() -> dict:
    """Benchmark results (hand-made) that meet every goal of `lessons.bench.goals`."""
    return {
        "models": {"SoftmaxDNN": {"ndcg@10": 0.44, "coverage@10": 0.40},
                   "EASE": {"ndcg@10": 0.444, "coverage@10": 0.188}, "MF": {"ndcg@10": 0.42}},
        "cold_start": {"ratio": {"ContentProfile (cosine)": 1.6, "ContentProfile (dot)": 1.6}},
        "logq": {"TwoTower-inbatch": {"arp@10": 200.0, "coverage@10": 0.2},
                 "TwoTower-inbatch-logQ": {"arp@10": 150.0, "coverage@10": 0.3}},
        "speed": {"fit_s": 1.0, "epoch_over_floor": 2.5, "score_all_users_s": 0.04},
        "machine": {"peak_rss_mb": 500.0},
    }  # fmt: skip


def bench_results_for_markdown(**speed) -> dict:
    """Hand-made benchmark results with every section `lessons.bench.core.to_markdown` prints;
    `speed` overrides figures of the speed section (tests give each figure a distinct value)."""
    row = {"recall@20": 0.3, "ndcg@10": 0.2, "coverage@10": 0.1, "arp@10": 50.0, "fit_s": 1.0}
    return {
        "protocol": "hand-made", "load_s": 0.1,
        "models": {"SoftmaxDNN": {**row, "epoch_s": 0.05, "peak_mb": 300.0}},
        "cold_start": {"item_frac": 0.2, "held_out_items": 4, "models": {"TwoTower-cold": row},
                       "ratio": {"ContentProfile": 1.6}},
        "logq": {"TwoTower": row},
        "speed": {"fit_s": 1.0, "epoch_s": 0.045, "epoch_gemm_s": 0.030, "epoch_floor_s": 0.015,
                  "flops_per_epoch": 1.5e9, "matmul_gflops_per_fit": [100.0, 100.0],
                  "epoch_over_floor": 3.0, "epoch_over_floor_range": (2.9, 3.1),
                  "score_all_users_s": 0.02, **speed},
        "machine": {"cores": 2, "torch": "x", "torch_threads": 2, "matmul_gflops": 100.0,
                    "peak_rss_mb": 400.0},
        "goals": [],
    }  # fmt: skip


class ShiftedLogits(torch.nn.Module):
    """`model`'s ψ and V, with `shift` (n_items,) added to its logits: logits that are no longer
    ψVᵀ, which a check of log p̂_j = ⟨ψ, V_j⟩ − log Z must catch."""

    uses_history = True

    def __init__(self, model: torch.nn.Module, shift: torch.Tensor):
        super().__init__()
        self.model, self.shift = model, shift

    def query_embedding(self, batch):
        return self.model.query_embedding(batch)

    def item_embeddings(self):
        return self.model.item_embeddings()

    def forward(self, batch):
        return self.model(batch) + self.shift


def write_ml1m(
    parent: Path, users: str, movies: str, ratings: str = "1::1::5::978300019\n"
) -> Path:
    """Write a tiny `parent/ml-1m/` (users.dat, movies.dat, ratings.dat) and return it."""
    folder = Path(parent) / "ml-1m"
    folder.mkdir()
    (folder / "users.dat").write_text(users, encoding="latin-1")
    (folder / "movies.dat").write_text(movies, encoding="latin-1")
    (folder / "ratings.dat").write_text(ratings)
    return folder


def write_latest_small(parent: Path, movies: bytes, ratings: str = "1,1,4.0,964982224\n") -> Path:
    """Write a tiny `parent/ml-latest-small/`: movies.csv as given (header included, as bytes),
    ratings.csv as the header plus `ratings`."""
    folder = Path(parent) / "ml-latest-small"
    folder.mkdir()
    (folder / "movies.csv").write_bytes(movies)
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n" + ratings)
    return folder


def in_rounding_band(value: float, printed: float, decimals: int) -> bool:
    """Whether `value` prints as `printed` at `decimals` places (half-open band, no ties)."""
    half = 0.5 * 10.0**-decimals
    return printed - half <= value < printed + half
