"""The training-cost timers: full against sampled softmax, and the optimizer update.

Timings are only compared where one side does hundreds of times the work of the other, so a
busy machine cannot flip them; everything else is checked on shapes, counts and calls.
"""

import itertools

import numpy as np
import pandas as pd
import pytest
import torch

import lessons.training_cost as training_cost
from lessons.training_cost import (
    OPTIMIZERS,
    softmax_cost,
    softmax_step_seconds,
    speedup,
    update_cost,
)


def test_softmax_cost_counts_the_sampled_negatives_in_the_logits():
    """Bug: the sampled loss's logits per step counted as B·B, forgetting the m negatives."""
    cost = softmax_cost((50,), dim=4, batch=8, n_negatives=5, repeats=1)
    logits = cost.set_index("loss")["logits"]
    assert logits["sampled"] == 8 * (8 + 5) and logits["full"] == 8 * 50


def test_softmax_step_builds_logits_of_the_documented_width(monkeypatch):
    """Bug: the sampled step drops its m shared negatives (columns = the B positives only), so
    the measured cost is that of a smaller problem than the one reported."""
    shapes = []
    real = training_cost.F.cross_entropy

    def recording(logits, target, *args, **kwargs):
        shapes.append(tuple(logits.shape))
        return real(logits, target, *args, **kwargs)

    monkeypatch.setattr(training_cost.F, "cross_entropy", recording)
    softmax_step_seconds(50, "sampled", dim=4, batch=8, n_negatives=5, repeats=2)
    assert shapes and set(shapes) == {(8, 8 + 5)}
    shapes.clear()
    softmax_step_seconds(50, "full", dim=4, batch=8, repeats=2)
    assert shapes and set(shapes) == {(8, 50)}


def test_softmax_step_returns_the_fastest_repeat(monkeypatch):
    """Bug: the mean (or last) repeat is returned instead of the documented minimum, so a
    busy machine's hiccups leak into the comparison."""
    clock = itertools.chain([0.0, 3.0, 10.0, 11.0, 20.0, 22.0], itertools.count(100.0))
    monkeypatch.setattr(training_cost.time, "perf_counter", lambda: next(clock))
    assert softmax_step_seconds(20, "full", dim=2, batch=2, repeats=3) == 1.0  # of 3, 1, 2


def test_speedup_is_full_over_sampled():
    """Bug: the ratio inverted (sampled / full), which reads as a slowdown below 1."""
    cost = pd.DataFrame({"n_items": [10, 10, 1000, 1000],
                         "loss": ["full", "sampled", "full", "sampled"],
                         "seconds": [0.1, 0.2, 0.4, 0.1]})  # fmt: skip
    result = speedup(cost)
    assert result[10] == pytest.approx(0.5) and result[1000] == pytest.approx(4.0)


def test_softmax_cost_rows_and_growth():
    sizes = (1_000, 200_000)
    cost = softmax_cost(sizes, dim=8, batch=16, repeats=2)
    assert isinstance(cost, pd.DataFrame) and len(cost) == 4
    assert set(zip(cost["n_items"], cost["loss"], strict=True)) == {
        (n, loss) for n in sizes for loss in ("full", "sampled")
    }
    full = cost[cost["loss"] == "full"].set_index("n_items")["seconds"]
    assert full[200_000] > full[1_000]  # 200× the logits: robust to machine noise
    assert cost.loc[cost["loss"] == "sampled", "logits"].eq(16 * 16).all()
    assert speedup(cost).index.tolist() == list(sizes)


def test_softmax_step_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown loss"):
        softmax_step_seconds(100, "hierarchical")
    with pytest.raises(ValueError, match="n_negatives"):
        softmax_step_seconds(100, "sampled", n_negatives=-1)
    with pytest.raises(ValueError, match="sizes is empty"):
        softmax_cost(())


def test_softmax_step_takes_numpy_integers():
    assert softmax_step_seconds(100, "sampled", n_negatives=np.int64(8), repeats=1) > 0


def test_update_cost_rows_and_the_dense_update_growing_with_the_catalogue():
    sizes = (1_000, 200_000)
    cost = update_cost(sizes, dim=8, batch=16, repeats=2)
    assert list(cost.columns) == ["n_items", "optimizer", "seconds"]
    assert set(zip(cost["n_items"], cost["optimizer"], strict=True)) == {
        (n, opt) for n in sizes for opt in OPTIMIZERS
    }
    adam = cost[cost["optimizer"] == "Adam"].set_index("n_items")["seconds"]
    assert adam[200_000] > adam[1_000]  # 200× the rows to update: robust to machine noise


@pytest.mark.parametrize(
    "optimizer, layout", [("Adam", torch.strided), ("SparseAdam", torch.sparse_coo)]
)
def test_each_timed_step_runs_the_update_on_the_documented_gradient(monkeypatch, optimizer, layout):
    """Bug: the update never runs (the time is that of optimizer="none"), or dense Adam is fed
    the sparse gradient of the looked-up rows, which would time a cheaper update than an
    `nn.Embedding` without `sparse=True` pays: a dense (n, d) gradient over every row of V."""
    calls = []
    base = getattr(torch.optim, optimizer)

    class Recording(base):
        def step(self, closure=None):
            (param,) = self.param_groups[0]["params"]
            calls.append((tuple(param.shape), param.grad.layout))
            return super().step(closure)

    monkeypatch.setattr(torch.optim, optimizer, Recording)
    softmax_step_seconds(50, "sampled", optimizer=optimizer, dim=4, batch=3, repeats=2)
    assert calls == [((50, 4), layout)] * 3  # the warm-up step and two timed repeats


def test_the_optimizer_is_for_the_sampled_loss_and_must_be_known():
    with pytest.raises(ValueError, match="unknown optimizer"):
        softmax_step_seconds(100, "sampled", optimizer="sgd")
    with pytest.raises(ValueError, match="sampled loss only"):
        softmax_step_seconds(100, "full", optimizer="Adam")
    with pytest.raises(ValueError, match="sizes is empty"):
        update_cost(())


def _record_cross_entropy(monkeypatch):
    shapes, threads = [], []
    real = training_cost.F.cross_entropy

    def recording(logits, target, *args, **kwargs):
        shapes.append(tuple(logits.shape))
        threads.append(torch.get_num_threads())
        return real(logits, target, *args, **kwargs)

    monkeypatch.setattr(training_cost.F, "cross_entropy", recording)
    return shapes, threads


def test_softmax_cost_times_the_problem_it_reports(monkeypatch):
    """Bugs: n_negatives or batch not passed to the timed step, or the full logits
    narrower than n: the timed logits must be the B × n and B × (B + m) that
    the table's `logits` column reports."""
    shapes, _ = _record_cross_entropy(monkeypatch)
    cost = training_cost.softmax_cost((3000,), dim=4, batch=8, n_negatives=5, repeats=1)
    assert set(shapes) == {(8, 3000), (8, 13)}
    assert sorted(cost["logits"]) == sorted(a * b for a, b in set(shapes))


def test_update_cost_times_each_optimizer(monkeypatch):
    """Bug: every row of update_cost timed without an update ("none")."""
    calls = []

    def fake(n, loss, *, optimizer, **kwargs):
        calls.append((n, loss, optimizer))
        return 1.0

    monkeypatch.setattr(training_cost, "softmax_step_seconds", fake)
    cost = training_cost.update_cost((10, 20), dim=4, batch=3, repeats=1)
    expected = [(n, "sampled", o) for n in (10, 20) for o in training_cost.OPTIMIZERS]
    assert calls == expected
    assert list(zip(cost["n_items"], cost["optimizer"], strict=True)) == [
        (n, o) for n, _, o in expected
    ]


def test_timed_steps_run_on_one_thread_and_restore_the_count(monkeypatch):
    """Bugs: steps timed on every thread, not the documented single thread, or the
    caller's thread count left at 1 afterwards (the rest of the notebook slows down)."""
    _, threads = _record_cross_entropy(monkeypatch)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        training_cost.softmax_step_seconds(50, "full", dim=4, batch=4, repeats=2)
        assert threads and set(threads) == {1}
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
