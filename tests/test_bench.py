"""The benchmark runs end to end and reports every section (on small synthetic data)."""

import json

import numpy as np
import pytest

from lessons.bench.core import main, run, to_markdown
from lessons.data import synthetic_movielens


def test_bench_runs_end_to_end_and_renders(monkeypatch, capsys):
    monkeypatch.setenv("LESSONS_QUIET", "1")
    results = run(dataset=synthetic_movielens(n_users=120, n_items=200, seed=0))
    assert set(results) >= {"models", "speed", "cold_start", "logq", "machine"}
    expected = {"Popularity", "ItemKNN", "EASE", "MF", "SoftmaxDNN", "TwoTower"}
    assert set(results["models"]) == expected
    for row in results["models"].values():
        assert 0 <= row["ndcg@10"] <= 1 and row["fit_s"] >= 0 and row["peak_mb"] > 0
    speed = results["speed"]
    assert speed["epoch_over_floor"] > 0 and speed["epoch_gemm_s"] > 0
    low, high = speed["epoch_over_floor_range"]  # one ratio per fit, each with its own peak
    assert low <= speed["epoch_over_floor"] <= high and len(speed["matmul_gflops_per_fit"]) == 5
    assert results["cold_start"]["ratio"]["ContentProfile (cosine)"] > 0
    text = to_markdown(results)
    for name in [*expected, "Cold-start items", "logQ correction", "FLOP floor", "timed bare"]:
        assert name in text
    json.dumps(results, default=float)  # the --json form is serialisable


def test_bench_cli_reports_a_missing_data_folder(tmp_path, monkeypatch, capsys):
    from lessons.data import DataError

    with pytest.raises(DataError, match="ml-100k"):
        main(["--data-dir", str(tmp_path / "nowhere"), "--offline"])


def test_the_timed_gemms_are_the_counted_flops(tiny_split):
    from lessons.bench.runners import epoch_gemms, training_flops_per_epoch
    from lessons.models import SoftmaxDNN

    model = SoftmaxDNN(tiny_split.n_items, dim=8, hidden=(16,))  # a residual block: 2 Linears
    n, train = tiny_split.n_items, tiny_split.train_matrix()
    users = int((np.diff(train.indptr) >= 2).sum())  # a history model needs input + target
    gemms = epoch_gemms(model, tiny_split, batch_size=7)
    assert [b for b, _, _ in gemms[::3]] == [7] * (users // 7) + ([users % 7] if users % 7 else [])
    assert {(i, o) for _, i, o in gemms} == {(9, n), (8, 16), (16, 8)}  # d = 8 + the bias
    per_row = 2 * 9 * n + 2 * (8 * 16 + 16 * 8)  # logits ψVᵀ + b, then W₁, W₂
    pooled = 0.5 * train.nnz * 9  # the EmbeddingBag mean over the 50% input items
    expected = 3 * (users * per_row + pooled)
    assert training_flops_per_epoch(model, tiny_split, target_share=0.5) == pytest.approx(expected)
    assert 3 * sum(2 * b * i * o for b, i, o in gemms) == pytest.approx(expected - 3 * pooled)
