"""The benchmark runs end to end and reports every section (on small synthetic data)."""

import json

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
    assert results["speed"]["epoch_over_floor"] > 0
    assert results["cold_start"]["ratio"]["ContentProfile (cosine)"] > 0
    text = to_markdown(results)
    for name in [*expected, "Cold-start items", "logQ correction", "FLOP floor"]:
        assert name in text
    json.dumps(results, default=float)  # the --json form is serialisable


def test_bench_cli_reports_a_missing_data_folder(tmp_path, monkeypatch, capsys):
    import pytest

    from lessons.data import DataError

    with pytest.raises(DataError, match="ml-100k"):
        main(["--data-dir", str(tmp_path / "nowhere"), "--offline"])
