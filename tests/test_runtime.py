"""Opt-in seeding and the thread setting."""

import random

import numpy as np
import pytest
import torch

from lessons import seed_everything, set_threads
from lessons.config import ENV_NUM_THREADS
from lessons.runtime import available_cores, show_progress


def _draw():
    # The legacy global generator is exactly what seed_everything seeds.
    return random.random(), np.random.rand(), torch.rand(1).item()  # noqa: NPY002


def test_seed_everything_makes_python_numpy_and_torch_repeat():
    seed_everything(7)
    first = _draw()
    seed_everything(7)
    assert _draw() == first
    seed_everything(8)
    assert _draw() != first


@pytest.mark.parametrize("bad", [-1, 1.5, "0", True, 2**32])
def test_seed_everything_rejects_bad_seeds(bad):
    state = random.getstate()
    with pytest.raises(ValueError, match=r"integer in \[0, 2\*\*32 - 1\]"):
        seed_everything(bad)
    assert random.getstate() == state  # refused before any generator was seeded


def test_set_threads_reads_the_environment_then_defaults_to_available_cores(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv(ENV_NUM_THREADS, "1")
        assert set_threads() == 1 and torch.get_num_threads() == 1
        monkeypatch.delenv(ENV_NUM_THREADS)
        assert set_threads() == available_cores()
        assert set_threads(1) == 1
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize(
    ("env", "arg", "message"),
    [
        ("two", None, "not an integer"),
        ("0", None, "LESSONS_NUM_THREADS='0': set it to a thread count >= 1"),
        ("", 0, "integer >= 1"),
        ("", 1.5, "integer >= 1, got 1.5"),  # e.g. os.cpu_count() / 2
        ("", True, "integer >= 1, got True"),
        ("", "2", "integer >= 1, got '2'"),
    ],
)
def test_set_threads_rejects_bad_counts(monkeypatch, env, arg, message):
    monkeypatch.setenv(ENV_NUM_THREADS, env)
    with pytest.raises(ValueError, match=message):
        set_threads(arg)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"cpu.max": "150000 100000\n"}, 2),  # v2: 1.5 cores → 2 threads
        ({"cpu.max": "50000 100000\n"}, 1),
        ({"cpu.max": "max 100000\n"}, None),  # v2, no quota
        ({"cpu/cpu.cfs_quota_us": "300000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 3),  # v1
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({"cpu.max": "garbage\n"}, None),
        ({"cpu.max": "100000 0\n"}, None),  # a zero period: unexpected, not a crash
        ({}, None),  # no cgroup files at all
    ],
)
def test_cgroup_cpu_limit_reads_v2_and_v1_quotas(tmp_path, files, expected):
    from lessons.runtime import cgroup_cpu_limit

    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert cgroup_cpu_limit(tmp_path) == expected


def test_available_cores_is_capped_by_the_container_quota(monkeypatch):
    from lessons import runtime

    monkeypatch.setattr(runtime.os, "sched_getaffinity", lambda pid: set(range(64)))
    monkeypatch.setattr(runtime, "cgroup_cpu_limit", lambda: 2)
    assert runtime.available_cores() == 2
    monkeypatch.setattr(runtime, "cgroup_cpu_limit", lambda: None)
    assert runtime.available_cores() == 64


@pytest.mark.parametrize(
    ("env", "shown"), [("", True), ("0", True), ("1", False), ("TRUE", False), (" on ", False)]
)
def test_show_progress_follows_lessons_quiet_unless_told(monkeypatch, env, shown):
    monkeypatch.setenv("LESSONS_QUIET", env)
    assert show_progress() is shown
    assert show_progress(True) is True and show_progress(False) is False
