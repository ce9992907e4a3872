"""Benchmark: `python -m lessons.bench [--json]` measures every model on this machine.

Protocol (fixed so figures are comparable): MovieLens 100K, all ratings implicit, a per-user
random 80/20 split with seed 0, full-catalogue ranking with training items excluded. The
markdown table it prints goes into the README; `--json` prints one object with sections
`models`, `machine` (and, once the neural models exist, `cold_start` and `logq`).

It is a benchmark, not a test: it prints figures and asserts nothing.
"""

import argparse
import json
import platform
import sys
import threading
import time
from collections.abc import Callable

import numpy as np

from lessons.config import DEFAULT_K, DEFAULT_SEED, RECALL_K


class PeakRSS:
    """Context manager sampling this process's resident memory; `.peak_mb` after exit.

    Sampling (every 5 ms, in a thread) gives the peak *during* the block, which
    `getrusage` cannot: its maximum only ever grows over the process's life.
    """

    def __init__(self, interval: float = 0.005):
        import psutil

        self._proc, self._interval = psutil.Process(), interval
        self.peak_mb = 0.0

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, self._proc.memory_info().rss / 2**20)
            self._stop.wait(self._interval)

    def __enter__(self) -> "PeakRSS":
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, self._proc.memory_info().rss / 2**20)


def matmul_gflops(n: int = 1024, repeats: int = 5) -> float:
    """Measured float32 matmul throughput of this machine with torch's threads, in GFLOP/s."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm-up: thread pool and caches
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def machine_info() -> dict:
    import torch

    from lessons.runtime import available_cores

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cores": available_cores(),
        "torch_threads": torch.get_num_threads(),
        "matmul_gflops": round(matmul_gflops(), 1),
        "platform": platform.platform(),
    }


def _timed(fn: Callable, *args, **kwargs) -> tuple[object, float]:
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def _baseline(make: Callable) -> Callable:
    """Runner for a baseline: fit on the training matrix, score every user's history."""

    def runner(split) -> tuple[np.ndarray, dict]:
        train = split.train_matrix()
        model, fit_s = _timed(make().fit, train)
        scores, score_s = _timed(model.scores, train)
        return scores, {"fit_s": fit_s, "score_s": score_s}

    return runner


def _ease(split) -> tuple[np.ndarray, dict]:
    """EASE with λ chosen on a validation carve-out; the search is timed apart from the fit."""
    from lessons.baselines import EASE

    train = split.train_matrix()
    lam, select_s = _timed(EASE().select_lambda, train)
    model, fit_s = _timed(EASE(lam=lam).fit, train)
    scores, score_s = _timed(model.scores, train)
    return scores, {"fit_s": fit_s, "score_s": score_s, "select_s": select_s, "lambda": lam}


def runners() -> dict[str, Callable]:
    """Model name -> runner(split) returning (scores, timings)."""
    from lessons.baselines import ItemKNN, Popularity

    return {"Popularity": _baseline(Popularity), "ItemKNN": _baseline(ItemKNN), "EASE": _ease}


def _measure(runner: Callable, split) -> dict:
    from lessons.metrics import evaluate_dict

    with PeakRSS() as mem:
        scores, info = runner(split)
        metrics = evaluate_dict(scores, split, k=DEFAULT_K, recall_k=RECALL_K)
    return {**metrics, **info, "peak_mb": mem.peak_mb}


def run(data_dir: str | None = None) -> dict:
    """Run the whole benchmark and return its results as one JSON-ready dict."""
    from lessons.data.loader import load_movielens
    from lessons.data.splits import random_split
    from lessons.runtime import set_threads

    set_threads()
    with PeakRSS() as total:
        start = time.perf_counter()
        data = load_movielens("100k", data_dir=data_dir)
        load_s = time.perf_counter() - start
        split = random_split(data, test_frac=0.2, seed=DEFAULT_SEED)
        models = {name: _measure(runner, split) for name, runner in runners().items()}
    return {
        "protocol": f"{data.name}, per-user random 80/20, seed {DEFAULT_SEED}, "
        "all ratings implicit",
        "load_s": load_s,
        "models": models,
        "machine": {**machine_info(), "peak_rss_mb": total.peak_mb},
    }


COLUMNS = (
    ("recall@20", "Recall@20", "{:.3f}"),
    ("ndcg@10", "NDCG@10", "{:.3f}"),
    ("coverage@10", "Coverage@10", "{:.3f}"),
    ("arp@10", "ARP@10", "{:.1f}"),
    ("fit_s", "fit s", "{:.2f}"),
    ("peak_mb", "peak MB", "{:.0f}"),
)


def to_markdown(results: dict) -> str:
    """Render the results as the markdown the README quotes."""
    head = "| model | " + " | ".join(title for _, title, _ in COLUMNS) + " |"
    lines = [f"Protocol: {results['protocol']}.", "", head, "|---" * (len(COLUMNS) + 1) + "|"]
    for name, row in results["models"].items():
        cells = (fmt.format(row[key]) if key in row else "–" for key, _, fmt in COLUMNS)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    m = results["machine"]
    lines += [
        "",
        f"Machine: {m['cores']} cores, torch {m['torch']} with {m['torch_threads']} threads, "
        f"float32 matmul {m['matmul_gflops']} GFLOP/s; peak RSS {m['peak_rss_mb']:.0f} MB; "
        f"ML-100K loaded in {results['load_s']:.2f} s.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lessons.bench", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--data-dir", help="folder holding ml-100k/ (default: LESSONS_DATA_DIR)")
    args = parser.parse_args(argv)
    results = run(args.data_dir)
    if args.json:
        json.dump(results, sys.stdout, indent=2, default=float)
        print()
    else:
        print(to_markdown(results))


if __name__ == "__main__":
    main()
