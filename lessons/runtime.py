"""Reproducibility and CPU threads: the two knobs every lesson and benchmark turns first."""

import os
import random

import numpy as np

from lessons.config import DEFAULT_SEED, ENV_NUM_THREADS


def seed_everything(seed: int = DEFAULT_SEED) -> int:
    """Seed Python's `random`, NumPy's global generator and torch, and return the seed.

    Seeding is opt-in (nothing is seeded at import) so that a learner sees where
    randomness is fixed. Library functions that draw random numbers take their own
    `seed` argument and do not rely on global state.

    Args:
        seed: A non-negative integer.

    Raises:
        ValueError: If `seed` is not a non-negative integer.
    """
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    import torch  # imported here so `import lessons` stays light

    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002  (the legacy global generator is what we seed)
    torch.manual_seed(seed)
    return int(seed)


def available_cores() -> int:
    """Cores this process may run on (respects CPU affinity, e.g. in containers)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS has no sched_getaffinity
        return os.cpu_count() or 1


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
        else:
            n = available_cores()
    if n < 1:
        raise ValueError(f"thread count must be >= 1, got {n}")
    import torch

    torch.set_num_threads(n)
    return n
