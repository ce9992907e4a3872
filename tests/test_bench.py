"""The benchmark runs end to end and reports every section (on small synthetic data)."""

import json

import numpy as np
import pytest

from lessons.bench.core import main, run, to_markdown
from lessons.data import synthetic_movielens


def test_bench_runs_end_to_end_and_renders(monkeypatch, capsys):
    monkeypatch.setenv("LESSONS_QUIET", "1")
    results = run(dataset=synthetic_movielens(n_users=120, n_items=200, seed=0))
    assert set(results) >= {"models", "speed", "cold_start", "logq", "machine", "goals"}
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
    assert len(results["goals"]) == 11 and all(isinstance(g["met"], bool) for g in results["goals"])
    sections = ["Cold-start items", "logQ correction", "FLOP floor", "timed bare", "| goal |"]
    for name in [*expected, *sections]:
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


def _all_goals_met() -> dict:
    return {
        "models": {"SoftmaxDNN": {"ndcg@10": 0.44, "coverage@10": 0.40},
                   "EASE": {"ndcg@10": 0.444, "coverage@10": 0.188}, "MF": {"ndcg@10": 0.42}},
        "cold_start": {"ratio": {"ContentProfile (cosine)": 1.6, "ContentProfile (dot)": 1.6}},
        "logq": {"TwoTower-inbatch": {"arp@10": 200.0, "coverage@10": 0.2},
                 "TwoTower-inbatch-logQ": {"arp@10": 150.0, "coverage@10": 0.3}},
        "speed": {"fit_s": 1.0, "epoch_over_floor": 2.5, "score_all_users_s": 0.04},
        "machine": {"peak_rss_mb": 500.0},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("index", "path", "value"),
    [
        (0, ("models", "SoftmaxDNN", "ndcg@10"), 0.433),  # EASE − 0.011
        (1, ("models", "SoftmaxDNN", "coverage@10"), 0.37),  # < 2 × 0.188
        (2, ("models", "MF", "ndcg@10"), 0.39),
        (3, ("cold_start", "ratio", "ContentProfile (cosine)"), 1.4),
        (4, ("cold_start", "ratio", "ContentProfile (dot)"), 1.4),
        (5, ("logq", "TwoTower-inbatch-logQ", "arp@10"), 210.0),
        (6, ("logq", "TwoTower-inbatch-logQ", "coverage@10"), 0.19),
        (7, ("speed", "fit_s"), 2.1),
        (8, ("speed", "epoch_over_floor"), 3.2),
        (9, ("speed", "score_all_users_s"), 0.11),
        (10, ("machine", "peak_rss_mb"), 1100.0),
    ],
)
def test_each_goal_turns_unmet_when_only_its_figure_misses(index, path, value):
    from lessons.bench.goals import goals, to_markdown

    results = _all_goals_met()
    assert [g["met"] for g in goals(results)] == [True] * 11
    node = results
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    rows = goals(results)
    assert [g["met"] for g in rows] == [i != index for i in range(11)]
    assert to_markdown(rows)[2 + index].endswith("| no |")
