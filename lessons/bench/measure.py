"""Measuring on this machine: peak memory during a block, matmul throughput, wall time."""

import platform
import threading
import time
from collections.abc import Callable


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


def timed(fn: Callable, *args, **kwargs) -> tuple[object, float]:
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start
