"""Reproducibility, CPU threads and progress bars: the knobs every lesson and benchmark turns."""

import math
import os
import random
from pathlib import Path

import numpy as np

from lessons.config import DEFAULT_SEED, ENV_NUM_THREADS, ENV_QUIET


def seed_everything(seed: int = DEFAULT_SEED) -> int:
    """Seed Python's `random`, NumPy's global generator and torch, and return the seed.

    Seeding is opt-in (nothing is seeded at import) so that a learner sees where
    randomness is fixed. Library functions that draw random numbers take their own
    `seed` argument and do not rely on global state.

    Args:
        seed: An integer in [0, 2**32 - 1], the range NumPy's global generator takes.

    Raises:
        ValueError: If `seed` is not an integer in that range.
    """
    # Checked before anything is seeded, so a refused seed leaves no generator half-seeded.
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an integer in [0, 2**32 - 1] (NumPy's range), got {seed!r}")
    import torch  # imported here so `import lessons` stays light

    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002  (the legacy global generator is what we seed)
    torch.manual_seed(seed)
    return int(seed)


def cgroup_cpu_limit(root: str | os.PathLike = "/sys/fs/cgroup") -> int | None:
    """The container's CPU quota in whole cores (rounded up), or None when there is none.

    Binder and JupyterHub pods cap CPU with a cgroup quota while CPU affinity still lists
    every core of the node; sizing torch's threads to the node would oversubscribe the quota.
    Reads cgroup v2 `cpu.max` ("<quota> <period>" or "max ...") or v1 `cpu/cpu.cfs_quota_us`.
    """
    root = Path(root)
    try:
        v2 = root / "cpu.max"
        if v2.is_file():
            quota, period = v2.read_text().split()[:2]
        else:
            quota = (root / "cpu" / "cpu.cfs_quota_us").read_text().strip()
            period = (root / "cpu" / "cpu.cfs_period_us").read_text().strip()
        if quota in ("max", "-1"):
            return None
        return max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError, ZeroDivisionError):  # no files (macOS, Windows), odd format
        return None


def available_cores() -> int:
    """Cores this process may use: CPU affinity, capped by a container's cgroup CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS has no sched_getaffinity
        cores = os.cpu_count() or 1
    limit = cgroup_cpu_limit()
    return cores if limit is None else min(cores, limit)


def set_threads(n: int | None = None) -> int:
    """Set torch's intra-op thread count and return it.

    Args:
        n: Threads to use. `None` reads the `LESSONS_NUM_THREADS` environment variable
            and otherwise uses every available core.

    Raises:
        ValueError: If the requested count is not a positive integer.
    """
    if n is None:
        raw = os.environ.get(ENV_NUM_THREADS, "").strip()
        if raw:
            try:
                n = int(raw)
            except ValueError:
                raise ValueError(
                    f"{ENV_NUM_THREADS}={raw!r} is not an integer; set it to a thread count "
                    "such as 2, or unset it to use every available core"
                ) from None
            if n < 1:
                raise ValueError(
                    f"{ENV_NUM_THREADS}={raw!r}: set it to a thread count >= 1, such as 2, or "
                    "unset it to use every available core"
                )
        else:
            n = available_cores()
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"thread count must be an integer >= 1, got {n!r}")
    import torch

    torch.set_num_threads(int(n))
    return int(n)


def show_progress(progress: bool | None = None) -> bool:
    """Whether to draw a progress bar: `progress` if given, else not when $LESSONS_QUIET is set.

    One rule for every bar (training, the depth grid, the download): "1", "true", "yes" and
    "on" (any case) silence them.
    """
    if progress is not None:
        return bool(progress)
    return os.environ.get(ENV_QUIET, "").strip().lower() not in ("1", "true", "yes", "on")
