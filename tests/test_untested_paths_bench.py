"""Paths of lessons.bench that a mutation run found untested: each test names the mutant it
catches, which passed every other test. A mutant here puts another model's figures, or a wrong
time or memory figure, in the README's benchmark table. The runners are stubbed (fake recipes,
clocks and RSS samples), so each test checks which model, split and setting a row comes from.
"""

import itertools
import time
import types

import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode

import lessons.baselines
import lessons.data.loader
import lessons.metrics
import lessons.recipes
import lessons.runtime
import lessons.scoring
from lessons.bench import core, measure, runners, sections
from lessons.data import cold_start_items
from lessons.data.registry import ChecksumError
from lessons.history import History
from lessons.models import SoftmaxDNN
from tests.helpers import bench_results_for_markdown


class _Stop(Exception):
    """Raised by a fake to stop a runner once it has shown what it would train."""


# --- lessons.bench ------------------------------------------------------------------------


def test_each_benchmark_row_is_the_model_it_is_named_after(monkeypatch, tiny_split):
    """Mutants bench/runners.py:62-68 (a row fitted with another model: "TwoTower" trained as the
    SoftmaxDNN recipe, "ItemKNN" as Popularity): the README table would print one model's
    figures under another's name. No existing test looks past the names."""
    trained = []

    def fake_train(name, *args, **kwargs):
        trained.append(name)
        raise _Stop

    def fake_timed(fn, *args, **kwargs):
        if not hasattr(fn, "__self__"):  # a recipe: fake_train records its name
            return fn(*args, **kwargs)
        trained.append(type(fn.__self__).__name__)  # a baseline's bound `fit`
        raise _Stop

    monkeypatch.setattr(lessons.recipes, "train", fake_train)
    monkeypatch.setattr(runners, "timed", fake_timed)
    table = runners.runners()
    for name in ("Popularity", "ItemKNN", "MF", "SoftmaxDNN", "TwoTower"):
        trained.clear()
        with pytest.raises(_Stop):
            table[name](tiny_split)
        assert trained == [name]


def test_ease_is_fitted_with_the_lambda_its_search_chose(monkeypatch, tiny_split):
    """Mutants bench/runners.py:35 `EASE().fit` (the default λ, not the searched one) and :34 a λ
    changed after the search: the EASE row, and every goal measured against EASE, would
    come from another model than the one whose λ the JSON reports."""
    fitted = []

    class FakeEASE:
        def __init__(self, lam=None):
            self.lam = lam

        def select_lambda(self, train):
            return 123.0

        def fit(self, train):
            fitted.append(self.lam)
            return self

        def scores(self, train):
            return np.zeros(train.shape, np.float32)

    monkeypatch.setattr(lessons.baselines, "EASE", FakeEASE)
    _, info = runners._ease(tiny_split)
    assert fitted == [123.0] and info["lambda"] == 123.0


def test_a_neural_row_reports_its_fit_and_median_epoch_without_the_evaluating_one(monkeypatch):
    """Mutants bench/runners.py:49 (the last epoch, which evaluates, kept), :51 (max/mean instead
    of the median) and a fit time with the scoring subtracted: the README's "s/epoch" and
    "fit s" columns (:48). Epoch seconds 0.1, 0.3, 0.2 and 5.0 (evaluating): median of the first
    three = 0.2."""
    history = History(rows=[{"epoch": e, "train_loss": 1.0, "seconds": s}
                            for e, s in enumerate([0.1, 0.3, 0.2, 5.0], 1)])  # fmt: skip

    def fake_train(name, split, **kwargs):
        return "model", history

    seconds = {fake_train: 2.0}
    monkeypatch.setattr(lessons.recipes, "train", fake_train)
    monkeypatch.setattr(lessons.scoring, "score_users", lambda m, s: torch.zeros(2, 3))
    monkeypatch.setattr(runners, "timed", lambda fn, *a, **k: (fn(*a, **k), seconds.get(fn, 0.5)))
    _, info = runners._recipe("SoftmaxDNN")(None)
    assert info == {"fit_s": 2.0, "score_s": 0.5, "epochs": 4, "epoch_s": pytest.approx(0.2)}


def test_speed_report_takes_the_best_fit_the_median_epoch_and_the_recipe_batches(
    monkeypatch, tiny_split
):
    """Mutants bench/runners.py:178 (fit_s the slowest fit), :179 (epoch_s the fastest, not the
    median), :180 (bare GEMMs timed as one batch, not the recipe's batch_size) and :174
    (scoring timed without excluding the seen items, unlike the served lists)."""
    model = SoftmaxDNN(tiny_split.n_items, dim=8, hidden=(16,))
    epochs = iter([[0.1, 0.1, 9.0], [0.3, 0.3, 9.0], [0.2, 0.2, 9.0]])  # medians 0.1, 0.3, 0.2
    fit_seconds = iter([3.0, 1.0, 2.0])

    def fake_train(name, split, **kwargs):
        rows = [{"epoch": e, "train_loss": 1.0, "seconds": s} for e, s in enumerate(next(epochs))]
        return model, History(rows=rows)

    def fake_timed(fn, *args, **kwargs):
        out = fn(*args, **kwargs)
        return out, next(fit_seconds) if fn is fake_train else 0.01

    gemm_batches, excluded = [], []
    real_top_k = lessons.metrics.top_k

    def top_k(scores, k, exclude=None, **kwargs):
        excluded.append(exclude)
        return real_top_k(scores, k, exclude=exclude, **kwargs)

    monkeypatch.setattr(lessons.recipes, "train", fake_train)
    monkeypatch.setattr(lessons.metrics, "top_k", top_k)
    monkeypatch.setattr(runners, "timed", fake_timed)
    monkeypatch.setattr(runners, "matmul_gflops", lambda: 10.0)

    def gemm_seconds(m, s, batch_size, repeats):
        gemm_batches.append(batch_size)
        return 0.01

    monkeypatch.setattr(runners, "epoch_gemm_seconds", gemm_seconds)
    report = runners.speed_report(tiny_split, repeats=3)
    assert report["fit_s"] == 1.0
    assert report["epoch_s"] == pytest.approx(0.2)
    assert gemm_batches == [lessons.recipes.RECIPES["SoftmaxDNN"].fit_kwargs["batch_size"]]
    seen = tiny_split.train_matrix()
    assert excluded and all(e is not None and abs(e - seen).sum() == 0 for e in excluded)


class _CountProducts(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.names = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.names.append(getattr(func, "__name__", str(func)))
        return func(*args, **(kwargs or {}))


def test_bare_gemms_run_the_forward_and_both_backward_products(monkeypatch, tiny_split):
    """Mutants bench/runners.py:144 (∂L/∂W product dropped: the "timed bare" figure a third short)
    and :147 (the slowest repeat instead of the best). The docstring: per product one
    forward linear and two backward matmuls; best of `repeats`."""
    model = SoftmaxDNN(tiny_split.n_items, dim=8, hidden=(16,))
    gemms = runners.epoch_gemms(model, tiny_split, 7)
    with _CountProducts() as mode:
        runners.epoch_gemm_seconds(model, tiny_split, 7, repeats=1)
    linear = mode.names.count("linear")
    matmul = sum(n in ("__matmul__", "matmul") for n in mode.names)
    assert (linear, matmul) == (2 * len(gemms), 4 * len(gemms))  # warm-up + one repeat
    ticks = iter([5.0, 1.0, 3.0])
    monkeypatch.setattr(runners, "timed", lambda fn: (fn(), next(ticks)))
    assert runners.epoch_gemm_seconds(model, tiny_split, 7, repeats=3) == 1.0


def test_cold_start_rows_are_their_models_on_the_seeded_split(monkeypatch, tiny_data):
    """Mutants bench/sections.py:33-36 (the cosine and dot profiles swapped, TwoTower-cold trained
    as the warm TwoTower recipe), :32 (another seed than the "seed 0" the text prints) and
    :46 (held_out_items as the catalogue size): the README's cold-start table and its
    "Cold-start items: N movies" line."""
    value = {"TwoTower-cold": 0.6, "cosine": 0.3, "dot": 0.2}
    splits = []

    def fake_measure(runner, split):
        splits.append(split)
        return dict.fromkeys(sections.KEYS, value[runner(split)])

    monkeypatch.setattr(sections, "_recipe", lambda name: lambda split: name)
    monkeypatch.setattr(sections, "_content_profile", lambda scoring: lambda split: scoring)
    monkeypatch.setattr(sections, "measure", fake_measure)
    cold = sections.cold_start(tiny_data)
    recall = {name: row["recall@20"] for name, row in cold["models"].items()}
    assert recall == {"TwoTower-cold": 0.6, "ContentProfile (cosine)": 0.3,
                      "ContentProfile (dot)": 0.2}  # fmt: skip
    ratio = {"ContentProfile (cosine)": 2.0, "ContentProfile (dot)": 3.0}
    assert cold["ratio"] == pytest.approx(ratio)
    expected = cold_start_items(tiny_data, item_frac=0.2, seed=0).candidates
    assert all(np.array_equal(s.candidates, expected) for s in splits)
    assert cold["held_out_items"] == len(expected) < tiny_data.n_items


def test_logq_rows_are_their_own_recipes(monkeypatch, tiny_split):
    """Mutant bench/sections.py:56-57 (a row trained with another recipe, e.g. the logQ row as plain
    in-batch): the two logQ goals would compare a model with itself."""
    names = ("TwoTower-inbatch", "TwoTower-inbatch-logQ", "TwoTower", "TwoTower-cosine")
    value = dict(zip(names, (0.1, 0.2, 0.3, 0.4), strict=True))
    monkeypatch.setattr(sections, "_recipe", lambda name: lambda split: name)

    def fake_measure(runner, split):
        return dict.fromkeys(sections.KEYS, value[runner(split)])

    monkeypatch.setattr(sections, "measure", fake_measure)
    rows = sections.logq(tiny_split)
    assert {name: row["arp@10"] for name, row in rows.items()} == value


def test_run_times_the_load_and_files_each_runner_under_its_name(monkeypatch, tiny_data):
    """Mutant bench/core.py:48 (load_s not measured: the README's "ML-100K loaded in 0.00 s").
    Everything slow is replaced; the loader takes at least 50 ms."""

    def slow_load(*args, **kwargs):
        time.sleep(0.05)
        return tiny_data

    monkeypatch.setattr(lessons.data.loader, "load_movielens", slow_load)
    monkeypatch.setattr(lessons.runtime, "set_threads", lambda *a, **k: None)
    monkeypatch.setattr(core, "machine_info", lambda: {"cores": 1})
    monkeypatch.setattr(core, "warm_up", lambda: None)
    monkeypatch.setattr(core, "runners", lambda: {"A": lambda s: "a", "B": lambda s: "b"})
    monkeypatch.setattr(core, "measure", lambda runner, split: runner(split))
    monkeypatch.setattr(core, "speed_report", lambda split: "speed")
    monkeypatch.setattr(core, "cold_start", lambda data: "cold")
    monkeypatch.setattr(core, "logq", lambda split: "logq")
    monkeypatch.setattr(core, "goals", types.SimpleNamespace(goals=lambda results: []))
    results = core.run(data_dir="unused", download=False)
    assert results["load_s"] >= 0.05
    assert results["models"] == {"A": "a", "B": "b"}
    assert (results["speed"], results["cold_start"], results["logq"]) == ("speed", "cold", "logq")


def test_damaged_data_gets_the_error_but_no_fetch_advice(monkeypatch, capsys):
    """Mutant bench/core.py:181 advice printed for every DataError: a checksum failure (a damaged
    file) was followed by "fetch it with python -m lessons.data 100k", which would not help."""

    def damaged(data_dir, download):
        raise ChecksumError("u.data is not the published file")

    monkeypatch.setattr(core, "run", damaged)
    assert core.main([]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "fetch it" not in err


def test_the_speed_line_prints_each_figure_of_the_speed_section():
    """Mutants bench/core.py:121 (epoch ms from the bare-GEMM time), :121 (× floor recomputed as
    epoch_s / epoch_floor_s instead of the median of per-fit ratios) and :127 (scoring ms
    scaled by 100): the README's speed lines. Every figure here is distinct."""
    results = bench_results_for_markdown(epoch_over_floor=2.7, epoch_over_floor_range=(2.5, 2.9))
    text = core.to_markdown(results)
    assert "- epoch: 45 ms = 2.7 × its FLOP floor" in text
    assert "- scoring all users: 20 ms." in text


def test_peak_rss_is_the_largest_sample_not_the_last(monkeypatch):
    """Mutant bench/measure.py:24 `peak_mb = rss` (the last sample): the "peak MB" column and the
    1 GB goal would read the memory at the end of a stage, after its big arrays are freed."""
    mib = 2**20
    samples = iter([100 * mib, 300 * mib, 200 * mib])

    class FakeProcess:
        def memory_info(self):
            return types.SimpleNamespace(rss=next(samples, 150 * mib))

    import psutil

    monkeypatch.setattr(psutil, "Process", FakeProcess)
    with measure.PeakRSS(interval=0.001) as mem:
        deadline = time.monotonic() + 5
        while mem.peak_mb < 300 and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(0.02)  # more samples, all 150 MB
    assert mem.peak_mb == 300.0


def test_matmul_peak_is_the_best_repeat_and_timed_is_one_interval(monkeypatch):
    """Mutants bench/measure.py:49 (the last repeat instead of the best: a lower peak, so every
    "× its FLOP floor" looks better) and :70 (timed reporting half the interval)."""
    clock = itertools.chain([0.0, 0.5, 1.0, 1.25, 2.0, 3.0], itertools.count(10.0))
    monkeypatch.setattr(measure, "time", types.SimpleNamespace(perf_counter=lambda: next(clock)))
    assert measure.matmul_gflops(n=8, repeats=3) == pytest.approx(2 * 8**3 / 0.25 / 1e9)
    clock = iter([5.0, 5.75])
    assert measure.timed(lambda x: x + 1, 1) == (2, 0.75)


def test_machine_info_reports_the_threads_torch_uses(monkeypatch):
    """Mutant bench/measure.py:62 a fixed thread count: the README's "with N threads"."""
    monkeypatch.setattr(measure, "matmul_gflops", lambda: 1.0)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert measure.machine_info()["torch_threads"] == 2
    finally:
        torch.set_num_threads(before)
