"""Edge cases of the benchmark (goals, its markdown, FLOP counts and speed ratios).

Each test guards a plausible bug that would still give believable results (found by mutating
the code by hand); results are hand-made dicts or come from tiny synthetic splits, and every
expected figure is worked out by hand from the documented definitions.
"""

import types

import numpy as np
import pandas as pd
import pytest

import lessons.recipes
from lessons.bench import goals as goals_module
from lessons.bench import measure, runners
from lessons.bench.core import to_markdown
from lessons.config import ITEM, RATING, TIMESTAMP, USER
from lessons.data import Split, synthetic_movielens
from lessons.models import MatrixFactorization, SoftmaxDNN
from tests.helpers import bench_results_all_goals_met, bench_results_for_markdown


def _results() -> dict:
    """Benchmark results (hand-made) where every figure is distinct, so a wrong one shows."""
    results = bench_results_all_goals_met()
    results["cold_start"]["ratio"]["ContentProfile (dot)"] = 1.7
    return results


def test_each_goal_row_shows_its_own_target_and_figure():
    """Bugs: a row printing another model's figure (SoftmaxDNN's NDCG as MF's), the corrected
    model's ARP as the target it must beat, EASE ÷ SoftmaxDNN instead of SoftmaxDNN ÷ EASE, or
    seconds scaled to "ms" by 100: "met" stays right, the README's table is wrong."""
    rows = goals_module.goals(_results())
    assert [(r["target"], r["measured"]) for r in rows] == [
        ("≥ 0.434", "0.440"),
        ("≥ 0.376", "0.400 (2.13 × EASE)"),  # 0.40 / 0.188 = 2.128
        ("≥ 0.400", "0.420"),
        ("≥ 1.50 ×", "1.60 ×"),
        ("≥ 1.50 ×", "1.70 ×"),
        ("< 200.0", "150.0"),
        ("> 0.200", "0.300"),
        ("≤ 2.0 s", "1.00 s"),
        ("≤ 3.0 ×", "2.5 ×"),
        ("≤ 100 ms", "40 ms"),
        ("≤ 1024 MB", "500 MB"),
    ]


def test_a_figure_exactly_on_an_inclusive_target_meets_it():
    """Bug: a strict comparison where the goal says ≥ or ≤, so a model landing exactly on its
    target (e.g. a ratio of 1.50 ×, a fit of 2.0 s) is reported as failing it."""
    results = _results()
    ease = results["models"]["EASE"]
    ease["ndcg@10"], ease["coverage@10"] = 0.5, 0.2
    results["models"]["SoftmaxDNN"] = {"ndcg@10": 0.5 - 0.01, "coverage@10": 2.0 * 0.2}
    results["models"]["MF"]["ndcg@10"] = 0.40
    results["cold_start"]["ratio"] = {"ContentProfile (cosine)": 1.5}
    results["speed"] = {"fit_s": 2.0, "epoch_over_floor": 3.0, "score_all_users_s": 0.1}
    results["machine"]["peak_rss_mb"] = 1024.0
    met = {r["goal"]: r["met"] for r in goals_module.goals(results)}
    assert all(met.values()), [goal for goal, ok in met.items() if not ok]


def test_a_logq_figure_equal_to_plain_in_batch_does_not_meet_a_strict_goal():
    """Bug: ≥ / ≤ where the goal says "higher" / "lower": a correction that changes nothing
    would be reported as lowering ARP and raising coverage."""
    results = _results()
    results["logq"]["TwoTower-inbatch-logQ"] = dict(results["logq"]["TwoTower-inbatch"])
    rows = goals_module.goals(results)
    assert [r["met"] for r in rows[5:7]] == [False, False]


def test_a_figure_rounded_onto_its_target_prints_the_digits_that_decide():
    """Bug: an epoch just above 3 × its floor printed "3.0 ×" beside "≤ 3.0 ×" and "no" (a run
    on 2026-12-01 did): a reader who checks the figures finds the verdict wrong. Where rounding
    would read against the verdict, figure and target both get the digits that decide."""
    results = _results()
    results["models"]["SoftmaxDNN"]["ndcg@10"] = 0.4339  # EASE's 0.444 − 0.01 = 0.434
    results["cold_start"]["ratio"]["ContentProfile (dot)"] = 1.497
    results["logq"]["TwoTower-inbatch-logQ"]["arp@10"] = 199.96  # plain in-batch: 200.0
    results["speed"] = {"fit_s": 2.004, "epoch_over_floor": 3.04, "score_all_users_s": 0.1004}
    rows = goals_module.goals(results)
    assert [(r["target"], r["measured"], r["met"]) for r in rows] == [
        ("≥ 0.4340", "0.4339", False),
        ("≥ 0.376", "0.400 (2.13 × EASE)", True),
        ("≥ 0.400", "0.420", True),
        ("≥ 1.50 ×", "1.60 ×", True),
        ("≥ 1.500 ×", "1.497 ×", False),
        ("< 200.00", "199.96", True),
        ("> 0.200", "0.300", True),
        ("≤ 2.00 s", "2.004 s", False),
        ("≤ 3.00 ×", "3.04 ×", False),
        ("≤ 100.0 ms", "100.4 ms", False),
        ("≤ 1024 MB", "500 MB", True),
    ]


def test_the_goal_table_has_the_rows_cells_in_header_order():
    """Bug: the markdown put `measured` under the `target` header (and vice versa), so the
    README disagrees with the JSON of the same run."""
    rows = goals_module.goals(_results())
    rows[0]["met"] = False
    lines = goals_module.to_markdown(rows)
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header == ["goal", "target", "measured", "met"]
    for row, line in zip(rows, lines[2:], strict=True):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert cells == [row["goal"], row["target"], row["measured"], "yes" if row["met"] else "no"]


def test_the_speed_line_compares_the_bare_gemms_with_the_flop_floor():
    """Bug: the bare matrix products were divided by the epoch time instead of the FLOP floor,
    printing a believable but wrong "× the floor"."""
    results = bench_results_for_markdown()
    text = to_markdown(results)
    assert "timed bare: 30 ms (2.0 × the floor)" in text  # 0.030 s / 0.015 s
    # A range whose ends print alike is one figure: "at 100 GFLOP/s", not "at 100–100".
    assert "2.9–3.1 ×, at 100 GFLOP/s;" in text


def _split_with_short_histories():
    """Users 0, 1, 2 with 1, 3 and 0 training interactions, on a 20-item catalogue."""
    data = synthetic_movielens(n_users=3, n_items=20, seed=0)
    train = pd.DataFrame({USER: [0, 1, 1, 1], ITEM: [4, 1, 2, 3], RATING: 4.0, TIMESTAMP: 1})
    test = pd.DataFrame({USER: [0, 1, 2], ITEM: [5, 6, 7], RATING: 4.0, TIMESTAMP: 2})
    return Split(data, train, test)


def test_a_model_without_history_trains_on_every_user_with_a_target():
    """Bug: the "needs an input item too" rule of history models applied to MF, so a user with
    a single training item was left out of MF's FLOP count."""
    split = _split_with_short_histories()
    mf = MatrixFactorization(split.n_users, split.n_items, dim=4)  # V is (20, 4)
    assert runners.epoch_gemms(mf, split) == [(2, 4, 20)]  # users 0 and 1
    dnn = SoftmaxDNN(split.n_items, dim=4, hidden=())
    assert [b for b, _, _ in runners.epoch_gemms(dnn, split)] == [1]  # user 1 only


def test_pooling_flops_count_the_input_share_not_the_target_share(tiny_split):
    """Bug: the pooled history was counted over the target share instead of the input share
    (1 − target_share); identical at the 0.5 of the other test, wrong at the recipe's 0.6."""
    model = SoftmaxDNN(tiny_split.n_items, dim=8, hidden=())  # no Linear: logits only, d = 9
    n, train = tiny_split.n_items, tiny_split.train_matrix()
    users = int((np.diff(train.indptr) >= 2).sum())
    expected = 3 * (users * 2 * 9 * n + 0.8 * train.nnz * 9)  # 80% of the items are input
    flops = runners.training_flops_per_epoch(model, tiny_split, target_share=0.2)
    assert flops == pytest.approx(expected)


def test_matmul_throughput_counts_two_flops_per_multiply_add(monkeypatch):
    """Bug: n³ instead of 2n³ FLOPs for an n×n product halves the machine's peak, which makes
    every "× its FLOP floor" ratio look twice as good."""
    ticks = iter(np.arange(0.0, 100.0, 0.5))  # each clock read is 0.5 s after the previous
    monkeypatch.setattr(measure, "time", types.SimpleNamespace(perf_counter=lambda: next(ticks)))
    assert measure.matmul_gflops(n=64, repeats=3) == pytest.approx(2 * 64**3 / 0.5 / 1e9)


def test_speed_ratios_pair_each_fit_with_its_own_peak(tiny_split, monkeypatch, one_thread):
    """Bugs: a ratio off by the GFLOP → FLOP factor 1e9, or a floor from the largest peak
    instead of the median one; both still print plausible-looking speed figures."""
    peaks, histories = iter([10.0, 30.0]), []
    real_train = lessons.recipes.train

    def train(*args, **kwargs):
        model, history = real_train(*args, **{**kwargs, "epochs": 3})
        histories.append(history)
        return model, history

    monkeypatch.setattr(runners, "matmul_gflops", lambda: next(peaks))
    monkeypatch.setattr(lessons.recipes, "train", train)
    report = runners.speed_report(tiny_split, repeats=2)
    flops = report["flops_per_epoch"]
    assert report["epoch_floor_s"] == pytest.approx(flops / 20e9)  # median of 10 and 30 GFLOP/s
    epochs = [h.to_frame()["seconds"].iloc[:-1].median() for h in histories]
    # A fit's ratio: its epoch time over the time its FLOPs take at its own peak.
    ratios = sorted(e / (flops / (p * 1e9)) for e, p in zip(epochs, [10.0, 30.0], strict=True))
    assert report["epoch_over_floor_range"] == pytest.approx(tuple(ratios))
    assert report["epoch_over_floor"] == pytest.approx(np.median(ratios))
