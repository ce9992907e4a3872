"""The training loop: History, model selection, interrupts, determinism, progress, schedules.

What fit refuses is tested in test_train_errors.py, fit on each model and split kind in
test_train_models.py; the three share the `data` / `split` fixtures of this folder's
conftest.py and `tests.helpers.tiny_dnn`.
"""

import copy
from dataclasses import replace

import numpy as np
import pytest
import torch

from lessons.data.splits import random_split
from lessons.metrics import evaluate_dict
from lessons.train import History, fit, score_users
from tests.helpers import tiny_dnn

K = 10


pytestmark = pytest.mark.usefixtures("one_thread")


def valid_ndcg(model, split) -> float:
    """NDCG@10 of the model on the validation part, computed by lessons.metrics.evaluate."""
    as_test = replace(split, test=split.valid, valid=None)
    return evaluate_dict(score_users(model, split), as_test, k=K, metrics=["ndcg"])["ndcg@10"]


def metrics_of(history: History):
    return history.to_frame().drop(columns="seconds")


def test_history_has_one_finite_row_per_epoch(split):
    history = fit(tiny_dnn(split.n_items), split, epochs=3, k=K)
    frame = history.to_frame()
    assert len(history) == 3 and frame.shape == (3, 7)
    assert list(frame.columns) == ["epoch", "train_loss", "valid_loss", "recall@10", "ndcg@10",
                                   "coverage@10", "seconds"]  # fmt: skip
    assert frame["epoch"].tolist() == [1, 2, 3]
    assert np.isfinite(frame.to_numpy(dtype=float)).all()
    assert frame[["recall@10", "ndcg@10", "coverage@10"]].stack().between(0, 1).all()
    assert history.monitor == "valid" and history.k == K
    assert history.best_epoch == int(frame["ndcg@10"].idxmax()) + 1
    assert not history.stopped_early and not history.interrupted


def test_history_matches_lessons_metrics_evaluate(data):
    # Without a validation part the loop monitors test; its last row must equal what
    # lessons.metrics.evaluate computes from score_users on the final weights.
    split = random_split(data, seed=1)
    model = tiny_dnn(split.n_items)
    history = fit(model, split, epochs=2)
    assert history.monitor == "test" and history.best_epoch is None
    expected = evaluate_dict(score_users(model, split), split, k=K, recall_k=K,
                             metrics=["recall", "ndcg", "coverage"])  # fmt: skip
    last = history.rows[-1]
    for name in ("recall@10", "ndcg@10", "coverage@10"):
        assert last[name] == pytest.approx(expected[name], abs=1e-9)
    with pytest.raises(ValueError, match="no validation part"):
        history.best()


def test_early_stopping_restores_the_best_weights(split):
    model = tiny_dnn(split.n_items)
    states = {}
    record = lambda h, m: states.update({len(h): copy.deepcopy(m.state_dict())})  # noqa: E731
    flags = []  # what a callback (a live plot) knows: is this epoch the last?
    last = lambda h, m: flags.append(h.stopped_early)  # noqa: E731
    history = fit(model, split, epochs=40, lr=0.05, patience=2, callbacks=[record, last])
    assert history.stopped_early and flags[-1] and not any(flags[:-1])
    assert len(history) == history.best_epoch + 2 < 40
    best = history.best()
    assert best["ndcg@10"] == max(r["ndcg@10"] for r in history.rows)
    assert history.rows[-1]["ndcg@10"] < best["ndcg@10"]
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(tensor, states[history.best_epoch][name], rtol=0, atol=0)
    assert valid_ndcg(model, split) == pytest.approx(best["ndcg@10"], abs=1e-9)
    assert not model.training


def test_keyboard_interrupt_keeps_best_weights_and_returns_history(split):
    model = tiny_dnn(split.n_items)
    states = {}

    def interrupt_at_3(history, m):
        states[len(history)] = copy.deepcopy(m.state_dict())
        if len(history) == 3:
            with torch.no_grad():  # as if stopped mid-epoch 4: weights moved since the best
                m.item_embeddings().add_(1.0)
            raise KeyboardInterrupt

    history = fit(model, split, epochs=10, lr=0.05, callbacks=[interrupt_at_3])
    assert history.interrupted and not history.stopped_early and len(history) == 3
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(tensor, states[history.best_epoch][name], rtol=0, atol=0)
    assert valid_ndcg(model, split) == pytest.approx(history.best()["ndcg@10"], abs=1e-9)


class ScriptedEvaluator:
    """Stands in for lessons.validation.Evaluator: validation NDCG@10 follows `curve`."""

    part = "valid"

    def __init__(self, curve):
        self.curve = iter(curve)

    def __call__(self, model):
        return {"valid_loss": 1.0, "recall@10": 0.1, "ndcg@10": next(self.curve),
                "coverage@10": 0.1}  # fmt: skip


@pytest.mark.parametrize(
    ("curve", "best"),
    [((0.300, 0.310, 0.3095, 0.309, 0.305), 2),  # later near-ties must not replace the best
     ((0.300, 0.300, 0.290), 1)],  # an exact tie keeps the first epoch
)  # fmt: skip
def test_the_best_epoch_is_the_first_maximum_of_the_validation_curve(split, monkeypatch, curve,
                                                                      best):  # fmt: skip
    monkeypatch.setattr("lessons.train.Evaluator.build",
                        lambda *args, **kwargs: ScriptedEvaluator(curve))  # fmt: skip
    model, states = tiny_dnn(split.n_items), {}
    history = fit(
        model,
        split,
        epochs=len(curve),
        lr=0.05,
        callbacks=lambda h, m: states.update({len(h): copy.deepcopy(m.state_dict())}),
    )
    assert history.best_epoch == best and history.best()["ndcg@10"] == max(curve)
    for name, tensor in model.state_dict().items():  # and the model holds that epoch's weights
        torch.testing.assert_close(tensor, states[best][name], rtol=0, atol=0)


def test_other_callback_errors_propagate(split):
    def broken(history, model):
        raise RuntimeError("plot failed")

    with pytest.raises(RuntimeError, match="plot failed"):
        fit(tiny_dnn(split.n_items), split, epochs=2, callbacks=[broken])


def test_same_seed_same_metrics_and_global_rng_untouched(split):
    base = tiny_dnn(split.n_items, dropout=0.3)  # dropout draws from torch's generator
    state = torch.get_rng_state()
    first = fit(copy.deepcopy(base), split, epochs=3, seed=7)
    assert torch.equal(torch.get_rng_state(), state)  # fit restored the caller's RNG
    torch.rand(10)  # disturb the global generator: fit must not depend on it
    second = fit(copy.deepcopy(base), split, epochs=3, seed=7)
    other = fit(copy.deepcopy(base), split, epochs=3, seed=8)
    assert metrics_of(first).equals(metrics_of(second))
    assert not np.allclose(metrics_of(first)["train_loss"], metrics_of(other)["train_loss"])


def test_progress_bar_on_stderr_unless_quiet(split, capsys, monkeypatch):
    fit(tiny_dnn(split.n_items), split, epochs=1)  # LESSONS_QUIET=1 from the autouse fixture
    assert capsys.readouterr().err == ""
    fit(tiny_dnn(split.n_items), split, epochs=2, progress=True)
    err = capsys.readouterr().err
    assert "2/2" in err and "epoch" in err and "ndcg=" in err
    monkeypatch.delenv("LESSONS_QUIET")
    fit(tiny_dnn(split.n_items), split, epochs=1, progress=False)
    assert capsys.readouterr().err == ""


def test_eval_every_none_evaluates_only_after_the_last_epoch(split):
    frame = fit(tiny_dnn(split.n_items), split, epochs=3, eval_every=None).to_frame()
    assert frame["train_loss"].notna().all()
    assert frame["ndcg@10"].isna().tolist() == [True, True, False]


def test_eval_every_two_evaluates_even_epochs_and_the_last(split):
    frame = fit(tiny_dnn(split.n_items), split, epochs=5, eval_every=2).to_frame()
    assert frame["ndcg@10"].notna().tolist() == [False, True, False, True, True]


def test_cosine_schedule_ends_near_zero_and_differs_from_constant(split):
    seen = []

    def record_lr(history, model):  # the optimizer is internal; watch the weights move instead
        seen.append(torch.cat([p.detach().flatten() for p in model.parameters()]).clone())

    fit(tiny_dnn(split.n_items), split, epochs=4, lr=0.05, callbacks=[record_lr])
    cosine_last_step = (seen[-1] - seen[-2]).abs().mean()
    seen.clear()
    fit(tiny_dnn(split.n_items), split, epochs=4, lr=0.05, lr_schedule="constant",
        callbacks=[record_lr])  # fmt: skip
    constant_last_step = (seen[-1] - seen[-2]).abs().mean()
    # The last cosine epoch runs at lr · (0…0.15): its weights move far less.
    assert cosine_last_step < 0.5 * constant_last_step


def test_patience_counts_only_evaluated_epochs(split):
    # Evaluated every 2 epochs with patience 1: an epoch without an evaluation cannot show
    # that the model stopped improving (it used to stop at epoch 3, after one evaluation).
    history = fit(tiny_dnn(split.n_items), split, epochs=40, lr=0.05, eval_every=2, patience=1)
    evaluated = [r for r in history.rows if "ndcg@10" in r]
    assert history.stopped_early and len(evaluated) >= 2
    last = history.rows[-1]
    assert last in evaluated and last["epoch"] > history.best_epoch
    assert last["ndcg@10"] <= history.best()["ndcg@10"]


def test_an_interrupt_before_the_first_validation_keeps_the_last_completed_epoch(split):
    """Bug: with eval_every=5, an interrupt in epoch 3 left the half-trained weights, and
    best() said "no epoch completed" after two had."""
    model, states = tiny_dnn(split.n_items), {}

    def interrupt_at_2(history, m):
        states[len(history)] = copy.deepcopy(m.state_dict())
        if len(history) == 2:
            with torch.no_grad():
                m.item_embeddings().add_(1.0)  # as if stopped mid-epoch 3
            raise KeyboardInterrupt

    history = fit(model, split, epochs=8, eval_every=5, callbacks=[interrupt_at_2])
    assert history.interrupted and len(history) == 2 and history.best_epoch is None
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(tensor, states[2][name], rtol=0, atol=0)
    with pytest.raises(ValueError, match="none of the 2 completed epochs was evaluated"):
        history.best()


def test_monitoring_test_an_interrupt_keeps_the_last_completed_epoch(data):
    split = random_split(data, seed=0)  # no validation part: test is monitored, not selected
    model, states = tiny_dnn(split.n_items), {}

    def interrupt_at_3(history, m):
        states[len(history)] = copy.deepcopy(m.state_dict())
        if len(history) == 3:  # epoch 3 is not evaluated (every 2)
            with torch.no_grad():
                m.item_embeddings().add_(1.0)  # as if stopped mid-epoch 4
            raise KeyboardInterrupt

    history = fit(model, split, epochs=8, eval_every=2, callbacks=[interrupt_at_3])
    assert history.interrupted and len(history) == 3
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(tensor, states[3][name], rtol=0, atol=0)


def test_an_interrupt_inside_epoch_1_puts_the_initial_weights_back(split, monkeypatch):
    """Bug: with no epoch completed, fit left the half-trained weights under an empty History;
    the DNN playground then showed a row "0 epochs" whose metrics were those of a trained model."""
    model = tiny_dnn(split.n_items)
    start = copy.deepcopy(model.state_dict())
    loss, steps = model.loss, []

    def interrupt_at_step_3(batch):
        steps.append(1)
        if len(steps) == 3:
            raise KeyboardInterrupt
        return loss(batch)

    monkeypatch.setattr(model, "loss", interrupt_at_step_3)
    history = fit(model, split, epochs=3, lr=0.05, batch_size=32)
    assert history.interrupted and len(history) == 0 and len(steps) == 3
    for name, tensor in model.state_dict().items():  # two steps were taken, then undone
        torch.testing.assert_close(tensor, start[name], rtol=0, atol=0)


def test_a_callback_that_draws_random_numbers_does_not_change_the_run(split):
    """Bug: callbacks ran on fit's seeded generator, so a callback that sampled moved the
    dropout masks of every later epoch: same seed, other metrics."""
    base = tiny_dnn(split.n_items, dropout=0.3)  # dropout draws from torch's generator
    modes = []

    def sampling(history, model):
        modes.append(model.training)
        torch.rand(1000)

    plain = fit(copy.deepcopy(base), split, epochs=3, seed=7)
    with_callback = fit(copy.deepcopy(base), split, epochs=3, seed=7, callbacks=[sampling])
    assert metrics_of(plain).equals(metrics_of(with_callback))
    assert modes == [False] * 3  # callbacks see the model in eval mode (no dropout noise)


def test_stopped_early_only_when_epochs_were_cut_short(split, monkeypatch):
    """Bug: patience reached on the last requested epoch set stopped_early, though every
    epoch had run."""
    curve = (0.30, 0.31, 0.30, 0.29)  # best at 2; patience 2 is reached at epoch 4, the last
    monkeypatch.setattr("lessons.train.Evaluator.build",
                        lambda *args, **kwargs: ScriptedEvaluator(curve))  # fmt: skip
    full = fit(tiny_dnn(split.n_items), split, epochs=4, patience=2)
    assert len(full) == 4 and not full.stopped_early
    monkeypatch.setattr("lessons.train.Evaluator.build",
                        lambda *args, **kwargs: ScriptedEvaluator(curve + (0.28,)))  # fmt: skip
    cut = fit(tiny_dnn(split.n_items), split, epochs=5, patience=2)
    assert len(cut) == 4 and cut.stopped_early
