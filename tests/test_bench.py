"""The benchmark runs end to end and reports every section (on small synthetic data)."""

import contextlib
import io
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from lessons.bench.core import main, run, to_markdown
from lessons.data import random_split, synthetic_movielens
from tests.helpers import bench_results_all_goals_met

DATA = {"n_users": 120, "n_items": 200, "seed": 0}  # small: the whole benchmark runs in seconds
MODELS = {"Popularity", "ItemKNN", "EASE", "MF", "SoftmaxDNN", "TwoTower"}
NEURAL = {"MF", "SoftmaxDNN", "TwoTower"}
# The README's columns, and the decimals each is printed with.
COLUMNS = {"Recall@20": ("recall@20", 3), "NDCG@10": ("ndcg@10", 3),
           "Coverage@10": ("coverage@10", 3), "ARP@10": ("arp@10", 1), "fit s": ("fit_s", 2),
           "s/epoch": ("epoch_s", 3), "peak MB": ("peak_mb", 0)}  # fmt: skip
SECTION_COLUMNS = ["Recall@20", "NDCG@10", "Coverage@10", "ARP@10", "fit s"]


@pytest.fixture(scope="module")
def bench_run() -> tuple[dict, str]:
    """(results, what the run wrote to stderr), progress bars on as in a maintainer's shell."""
    stderr = io.StringIO()
    with pytest.MonkeyPatch.context() as monkeypatch, contextlib.redirect_stderr(stderr):
        monkeypatch.setenv("LESSONS_QUIET", "0")
        return run(dataset=synthetic_movielens(**DATA)), stderr.getvalue()


@pytest.fixture(scope="module")
def results(bench_run) -> dict:
    return bench_run[0]


def test_the_half_minute_run_shows_its_stages_on_stderr(bench_run):
    err = bench_run[1]
    assert "bench" in err and "9/9" in err and "logQ" in err  # 6 models, speed, cold, logQ


def _table(text: str, corner: str) -> tuple[list[str], dict[str, list[str]]]:
    """The markdown table whose header starts with `| corner |`: column titles, rows by name."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {corner} |"))

    def cells(line: str) -> list[str]:
        return [c.strip() for c in line.strip().strip("|").split("|")]

    assert set(lines[start + 1]) == {"|", "-"}  # the header rule
    rows = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        name, *values = cells(line)
        rows[name] = values
    return cells(lines[start])[1:], rows


def _check_rows(rows: dict[str, list[str]], titles: list[str], measured: dict) -> None:
    """Every cell is its measured figure, printed with its column's decimals ("–" = none)."""
    for name, values in rows.items():
        for title, cell in zip(titles, values, strict=True):
            key, decimals = COLUMNS[title]
            if key not in measured[name]:
                assert cell == "–", (name, title)
            else:
                assert float(cell) == pytest.approx(measured[name][key], abs=0.5001 / 10**decimals)


def test_bench_runs_end_to_end(results):
    assert set(results) >= {"models", "speed", "cold_start", "logq", "machine", "goals"}
    assert set(results["models"]) == MODELS
    for name, row in results["models"].items():
        assert 0 <= row["ndcg@10"] <= 1 and row["fit_s"] > 0 and row["peak_mb"] > 50
        if name in NEURAL:  # the fit's wall time holds all its epochs
            assert 0 < row["epoch_s"] <= row["fit_s"]
    speed = results["speed"]
    assert speed["epoch_over_floor"] > 0 and speed["epoch_gemm_s"] > 0
    low, high = speed["epoch_over_floor_range"]  # one ratio per fit, each with its own peak
    assert low <= speed["epoch_over_floor"] <= high and len(speed["matmul_gflops_per_fit"]) == 5
    cold = results["cold_start"]
    for name, ratio in cold["ratio"].items():
        tower, profile = cold["models"]["TwoTower-cold"], cold["models"][name]
        assert ratio == pytest.approx(tower["recall@20"] / profile["recall@20"])
    assert len(results["goals"]) == 11 and all(isinstance(g["met"], bool) for g in results["goals"])
    json.dumps(results, default=float)  # the --json form is serialisable


def test_the_command_line_prints_markdown_or_one_json_object(results, monkeypatch, capsys):
    """`python -m lessons.bench [--json]`: the flag picks the form; both carry the same run."""
    import lessons.bench.core as core

    monkeypatch.setattr(core, "run", lambda data_dir, download: results)
    assert main(["--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert {"models", "cold_start", "logq", "machine"} <= set(printed)
    assert set(printed["models"]) == MODELS
    assert printed["models"]["EASE"]["ndcg@10"] == results["models"]["EASE"]["ndcg@10"]
    assert main([]) == 0
    assert capsys.readouterr().out == to_markdown(results) + "\n"


def test_markdown_has_every_column_section_and_speed_figure(results):
    from lessons.bench.runners import training_flops_per_epoch
    from lessons.recipes import RECIPES

    text = to_markdown(results)
    titles, rows = _table(text, "model")
    assert titles == list(COLUMNS) and set(rows) == MODELS
    _check_rows(rows, titles, results["models"])
    assert all(rows[name][titles.index("s/epoch")] != "–" for name in NEURAL)

    titles, rows = _table(text, "Cold-start items")
    assert titles == SECTION_COLUMNS
    assert set(rows) == {"TwoTower-cold", "ContentProfile (cosine)", "ContentProfile (dot)"}
    _check_rows(rows, titles, results["cold_start"]["models"])
    held_out = results["cold_start"]["held_out_items"]
    assert f"Cold-start items: {held_out} movies (20%, seed 0) held out whole" in text
    ratios = ", ".join(f"{r:.2f} × {name}" for name, r in results["cold_start"]["ratio"].items())
    assert f"TwoTower-cold Recall@20 = {ratios}." in text
    assert "ContentProfile (cosine)" in ratios and "ContentProfile (dot)" in ratios

    titles, rows = _table(text, "logQ correction (warm split)")
    assert titles == SECTION_COLUMNS
    assert set(rows) == {"TwoTower-inbatch", "TwoTower-inbatch-logQ", "TwoTower", "TwoTower-cosine"}
    _check_rows(rows, titles, results["logq"])
    # TwoTower is trained in both tables: its two fit times are two runs, and the text says so.
    assert "own models on the warm split, so the fit time of TwoTower here is a second run." in text

    # The speed line: FLOPs per epoch of the default SoftmaxDNN and the matmul peaks in GFLOP/s.
    speed = results["speed"]
    line = re.search(r"Default SoftmaxDNN speed:\n\n- fit: [\d.]+ s, .*\n- epoch: .* its FLOP "
                     r"floor \(([\d.]+) GFLOP per epoch\)\. The ratio is the median of 5 fits.*, "
                     r"at (\d+)(?:–(\d+))? GFLOP/s;",
                     text)  # fmt: skip
    assert line is not None
    gflop, peak_low, peak_high = line.groups()
    assert gflop == f"{speed['flops_per_epoch'] / 1e9:.2f}"
    peaks = speed["matmul_gflops_per_fit"]
    assert (peak_low, peak_high or peak_low) == (f"{min(peaks):.0f}", f"{max(peaks):.0f}")
    split = random_split(synthetic_movielens(**DATA), test_frac=0.2, seed=0)  # the bench's split
    recipe = RECIPES["SoftmaxDNN"]
    model = recipe.build(split, **recipe.model_kwargs)
    share = recipe.fit_kwargs.get("target_share", 0.5)
    assert speed["flops_per_epoch"] == pytest.approx(training_flops_per_epoch(model, split, share))
    machine = results["machine"]
    assert f"float32 matmul {machine['matmul_gflops']} GFLOP/s" in text
    for name in ["timed bare", "| goal | target | measured | met |"]:
        assert name in text


def test_bench_cli_reports_a_missing_data_folder_and_how_to_fetch_it(tmp_path, capsys):
    """Bug: without the data the CLI ended in a traceback whose only advice was the synthetic
    dataset, which the benchmark cannot use. It now prints the loader's error, then how to
    get MovieLens 100K, and returns 1."""
    folder = tmp_path / "no data"
    assert main(["--data-dir", str(folder), "--offline"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: ") and err.count("\n") == 2
    assert str(folder) in err and f"python -m lessons.data 100k --data-dir '{folder}'" in err
    assert "not the synthetic stand-in" in err.splitlines()[1]
    # The loader's words for its Python arguments, as the command's options (lessons.data's too)
    assert "--offline was given" in err and "synthetic_movielens" not in err
    assert "LESSONS_DATA_DIR" not in err.splitlines()[1]  # --data-dir wins over it


def test_bench_module_exits_without_a_traceback_when_the_data_is_missing(tmp_path):
    """Bug: `python -m lessons.bench --offline` with no data raised out of main (rc 1 with a
    traceback). The data folder comes from LESSONS_DATA_DIR, as on a class machine."""
    env = {**os.environ, "LESSONS_DATA_DIR": str(tmp_path), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "lessons.bench", "--offline"],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 1 and done.stdout == ""
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 2
    assert "`python -m lessons.data 100k`" in done.stderr


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

    results = bench_results_all_goals_met()
    assert [g["met"] for g in goals(results)] == [True] * 11
    node = results
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    rows = goals(results)
    assert [g["met"] for g in rows] == [i != index for i in range(11)]
    assert to_markdown(rows)[2 + index].endswith("| no |")
