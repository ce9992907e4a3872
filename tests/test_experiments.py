"""The measured claims of notebooks 02/03 (`lessons.experiments`) and their figures."""

import matplotlib
import numpy as np
import pytest
import torch

from lessons.experiments import (
    collapse_gap,
    collapsed,
    grid_summary,
    log_softmax_gap,
    main_genre,
    mf_as_dnn,
    mf_dnn_gap,
    one_hot_batch,
    playground_run,
    run_grid,
    textbook_dnn,
    tower_input,
)
from lessons.models import MatrixFactorization, SoftmaxDNN
from lessons.plots import training as pt
from lessons.scoring import split_features, user_batches
from tests.helpers import ShiftedLogits

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def split(tiny_split):
    return tiny_split


@pytest.fixture(scope="module")
def batch(split):
    return user_batches(split, np.arange(4), split_features(split))[0]


def test_tower_input_is_mean_history_then_side_then_dense(split, batch):
    model = textbook_dnn(split, (16,), dim=8)
    x = tower_input(model, batch)
    tower = model.query_tower
    first = batch.bag[: batch.offsets[1]]
    expected = torch.cat([tower.bag.weight[first].mean(0)]
                         + [e.weight[batch.side[0, i]] for i, e in enumerate(tower.side)]
                         + [batch.dense[0]])  # fmt: skip
    assert x.shape == (4, 8 + 3 * 8 + 2)
    torch.testing.assert_close(x[0], expected)


def test_collapsed_reproduces_a_linear_stack(split, batch):
    model = textbook_dnn(split, (16, 12), dim=8, activation="linear")
    w, b = collapsed(model)
    assert w.shape == (8, 34) and b.shape == (8,)
    assert collapse_gap(model, split, [0, 1, 2]) < 1e-5
    # Hand check of the composition on one vector.
    layers = [m for m in model.query_tower.mlp if isinstance(m, torch.nn.Linear)]
    v = torch.randn(34, generator=torch.Generator().manual_seed(0))
    out = v
    for layer in layers:
        out = layer(out)
    torch.testing.assert_close(w @ v + b, out.detach(), atol=1e-5, rtol=1e-5)


def test_collapse_gap_reads_psi_of_a_linear_tower_with_an_item_bias(split, batch):
    # Notebook 02's linear towers keep the recipe's item bias: query_embedding is [ψ, 1].
    model = SoftmaxDNN(split.n_items, dim=8, hidden=(16, 12), activation="linear",
                       residual=False, item_bias=True)  # fmt: skip
    assert model.query_embedding(batch).shape == (4, 8 + 1)
    assert collapse_gap(model, split, [0, 1, 2]) < 1e-5


def test_collapsed_refuses_a_nonlinear_stack(split):
    with pytest.raises(ValueError, match="activation='linear'"):
        collapsed(textbook_dnn(split, (16,), dim=8, activation="relu"))
    with pytest.raises(ValueError, match="no hidden layer"):
        collapsed(textbook_dnn(split, (), dim=8, side=False, dense=False))  # ψ = x
    with pytest.raises(ValueError, match="non-empty list of integer ids"):
        collapse_gap(textbook_dnn(split, (16,), dim=8, activation="linear"), split, [])


def test_log_softmax_identity_and_its_failure(split, batch):
    model = textbook_dnn(split, (16,), dim=8)
    assert log_softmax_gap(model, batch) < 1e-5

    shifted = ShiftedLogits(model, torch.arange(model.n_items, dtype=torch.float32) * 0.01)
    assert log_softmax_gap(shifted, batch) > 0.1  # logits that are NOT ψVᵀ: the gap shows it


def test_mf_as_dnn_copies_mf_exactly(split):
    torch.manual_seed(0)
    mf = MatrixFactorization(split.n_users, split.n_items, dim=6, item_bias=True)
    with torch.no_grad():
        mf.item_bias.normal_()
    assert mf_dnn_gap(mf, range(split.n_users)) < 1e-5
    dnn = mf_as_dnn(mf)
    with torch.no_grad():
        dnn.item_bias.add_(1.0)  # a changed copy no longer matches, so the check can fail
        batch = one_hot_batch([0, 1], split.n_users)
        assert (mf(batch) - dnn(batch)).abs().max() > 0.5


def test_one_hot_batch_rejects_bad_ids():
    with pytest.raises(ValueError, match="unknown user ids"):
        one_hot_batch([5], 3)
    with pytest.raises(ValueError, match="integer ids"):
        one_hot_batch([0.7, 1.2], 10)  # not truncated to [0, 1]


def test_playground_run_and_grid(split, one_thread, capsys, monkeypatch):
    model, history, metrics = playground_run(split, hidden=(8,), epochs=2, lr=0.05)
    assert len(history) == 2 and 0 <= metrics["recall@20"] <= 1 and "aplt@10" in metrics
    with pytest.raises(ValueError, match="positive layer widths"):
        playground_run(split, hidden=(0,), epochs=1)
    grid = run_grid(split, depths=(0, 1), seeds=(0, 1), width=8, epochs=1)
    assert len(grid) == 2 * 2 * 2
    summary = grid_summary(grid)
    assert len(summary) == 4 and (summary["std"] >= 0).all()
    pt.grid_bars(summary)
    pt.history_curves(history)
    with pytest.raises(ValueError, match="unknown metric"):
        grid_summary(grid, "nope")
    capsys.readouterr()
    monkeypatch.setenv("LESSONS_QUIET", "0")  # a learner's kernel: the grid's ~10 s show a bar
    run_grid(split, depths=(0,), seeds=(0,), feature_sets=("history",), width=8, epochs=1)
    assert "grid" in capsys.readouterr().err
    for bad in (-1, 1.5):  # -1 used to run as depth 0, labelled -1
        with pytest.raises(ValueError, match="depth must be an integer >= 0"):
            run_grid(split, depths=(bad,), seeds=(0,), width=8, epochs=1)
    # A misspelled feature set and an empty list are two mistakes, each named as such.
    with pytest.raises(ValueError, match=r"unknown feature sets \['histroy'\]"):
        run_grid(split, depths=(0,), seeds=(0,), feature_sets=("histroy",))
    with pytest.raises(ValueError, match="each need at least one value, e.g. depths="):
        run_grid(split, depths=(0,), seeds=())


def test_main_genre_and_map(split):
    data = split.dataset
    codes, labels = main_genre(data, data.genres[:2])
    flags = data.items[list(data.genres[:2])].to_numpy(dtype=bool)
    assert labels[-1] == "other" and (codes[flags[:, 0]] == 0).all()
    assert (codes[~flags.any(1)] == 2).all()
    coords = pt.project_2d(np.random.default_rng(0).normal(size=(20, 5)))
    assert coords.shape == (20, 2)
    pt.embedding_map(coords, codes[:20], labels=labels, title="t")
    with pytest.raises(ValueError, match="unknown genres"):
        main_genre(data, ["Nope"])


def test_live_curves_draws_into_a_widget(split):
    class Target:
        value = ""

    _, history, _ = playground_run(split, hidden=(), epochs=1, lr=0.05, eval_every=1)
    target = Target()
    pt.LiveCurves(target)(history, None)
    assert target.value.startswith("<img")
    with pytest.raises(ValueError, match="positive integer"):
        pt.LiveCurves(target, every=0)
    live = pt.LiveCurves(target, every=4, last=40)
    live(history, None)  # epoch 1 of 40: not yet
    assert live.calls == 0 and live.drawn is None
    history.stopped_early = True  # ...unless early stopping makes it the last
    live(history, None)
    assert live.calls == 1 and live.drawn == 1
