"""The training loop: History, model selection, interrupts, determinism, progress, bad input."""

import copy
from dataclasses import replace

import numpy as np
import pytest
import torch

from lessons.baselines import Popularity
from lessons.data.splits import cold_start_items, cold_start_users, random_split
from lessons.data.synthetic import synthetic_movielens
from lessons.features import item_features
from lessons.metrics import evaluate_dict
from lessons.models import MatrixFactorization, SoftmaxDNN, TwoTower
from lessons.train import History, fit, score_users

K = 10


@pytest.fixture(autouse=True)
def quiet(monkeypatch):
    monkeypatch.setenv("LESSONS_QUIET", "1")


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def data():
    return synthetic_movielens(n_users=300, n_items=400, seed=0)


@pytest.fixture(scope="module")
def split(data):
    return random_split(data, test_frac=0.2, valid_frac=0.1, seed=0)


def tiny(n_items: int, seed: int = 0, **kwargs) -> SoftmaxDNN:
    torch.manual_seed(seed)  # model initialisation happens before fit, outside its seed
    textbook = {"residual": False, "input_dropout": 0.0, "item_bias": False,
                "label_smoothing": 0.0, "mask_inputs": False}  # fmt: skip
    return SoftmaxDNN(n_items, dim=16, hidden=(32,), **{**textbook, **kwargs})


def valid_ndcg(model, split) -> float:
    """NDCG@10 of the model on the validation part, computed by lessons.metrics.evaluate."""
    as_test = replace(split, test=split.valid, valid=None)
    return evaluate_dict(score_users(model, split), as_test, k=K, metrics=["ndcg"])["ndcg@10"]


def metrics_of(history: History):
    return history.to_frame().drop(columns="seconds")


def test_history_has_one_finite_row_per_epoch(split):
    history = fit(tiny(split.n_items), split, epochs=3, k=K)
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


def test_train_loss_goes_down(data, split):
    # A TwoTower with a plain full softmax: no label smoothing to raise the loss floor.
    torch.manual_seed(0)
    model = TwoTower(split.n_items, item_features(data), dim=16, query_hidden=(), item_hidden=())
    losses = fit(model, split, epochs=6, eval_every=None).to_frame()["train_loss"]
    assert losses.iloc[-1] < losses.iloc[0] - 0.2


def test_history_matches_lessons_metrics_evaluate(data):
    # Without a validation part the loop monitors test; its last row must equal what
    # lessons.metrics.evaluate computes from score_users on the final weights.
    split = random_split(data, seed=1)
    model = tiny(split.n_items)
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
    model = tiny(split.n_items)
    states = {}
    record = lambda h, m: states.update({len(h): copy.deepcopy(m.state_dict())})  # noqa: E731
    history = fit(model, split, epochs=40, lr=0.05, patience=2, callbacks=[record])
    assert history.stopped_early
    assert len(history) == history.best_epoch + 2 < 40
    best = history.best()
    assert best["ndcg@10"] == max(r["ndcg@10"] for r in history.rows)
    assert history.rows[-1]["ndcg@10"] < best["ndcg@10"]
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(tensor, states[history.best_epoch][name], rtol=0, atol=0)
    assert valid_ndcg(model, split) == pytest.approx(best["ndcg@10"], abs=1e-9)
    assert not model.training


def test_keyboard_interrupt_keeps_best_weights_and_returns_history(split):
    model = tiny(split.n_items)
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


def test_other_callback_errors_propagate(split):
    def broken(history, model):
        raise RuntimeError("plot failed")

    with pytest.raises(RuntimeError, match="plot failed"):
        fit(tiny(split.n_items), split, epochs=2, callbacks=[broken])


def test_same_seed_same_metrics_and_global_rng_untouched(split):
    base = tiny(split.n_items, dropout=0.3)  # dropout draws from torch's generator
    state = torch.get_rng_state()
    first = fit(copy.deepcopy(base), split, epochs=3, seed=7)
    assert torch.equal(torch.get_rng_state(), state)  # fit restored the caller's RNG
    torch.rand(10)  # disturb the global generator: fit must not depend on it
    second = fit(copy.deepcopy(base), split, epochs=3, seed=7)
    other = fit(copy.deepcopy(base), split, epochs=3, seed=8)
    assert metrics_of(first).equals(metrics_of(second))
    assert not np.allclose(metrics_of(first)["train_loss"], metrics_of(other)["train_loss"])


def test_progress_bar_on_stderr_unless_quiet(split, capsys, monkeypatch):
    fit(tiny(split.n_items), split, epochs=1)  # LESSONS_QUIET=1 from the autouse fixture
    assert capsys.readouterr().err == ""
    fit(tiny(split.n_items), split, epochs=2, progress=True)
    err = capsys.readouterr().err
    assert "2/2" in err and "epoch" in err and "ndcg=" in err
    monkeypatch.delenv("LESSONS_QUIET")
    fit(tiny(split.n_items), split, epochs=1, progress=False)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epochs": 0}, "epochs"),
        ({"epochs": 2.5}, "epochs"),
        ({"lr": 0}, "lr"),
        ({"lr": float("nan")}, "lr"),
        ({"batch_size": 0}, "batch_size"),
        ({"k": 0}, "k must"),
        ({"k": 401}, "k must"),
        ({"target_share": 0.0}, "target_share"),
        ({"target_share": 1.0}, "target_share"),
        ({"weight_decay": -1e-3}, "weight_decay"),
        ({"patience": 0}, "patience"),
        ({"seed": -1}, "seed"),
        ({"callbacks": [42]}, "callbacks"),
    ],
)
def test_bad_arguments_raise(split, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit(tiny(split.n_items), split, **kwargs)


def test_bad_model_or_data_raise(data, split):
    with pytest.raises(ValueError, match="n_items=split.n_items"):
        fit(SoftmaxDNN(split.n_items + 1, dim=8, hidden=()), split, epochs=1)
    with pytest.raises(ValueError, match="lessons.models"):
        fit(Popularity(), split, epochs=1)
    with pytest.raises(ValueError, match="Split"):
        fit(tiny(split.n_items), data, epochs=1)
    with pytest.raises(ValueError, match="validation part"):
        fit(tiny(split.n_items), random_split(data), epochs=1, patience=2)


def test_diverging_loss_is_reported(split):
    model = tiny(split.n_items)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.fill_(float("nan"))
    with pytest.raises(ValueError, match="diverged"):
        fit(model, split, epochs=1)


def test_matrix_factorization_trains_and_refuses_cold_users(data, split):
    torch.manual_seed(0)
    mf = MatrixFactorization(split.n_users, split.n_items, dim=16)
    history = fit(mf, split, epochs=4, lr=0.05)
    losses = history.to_frame()["train_loss"]
    assert losses.iloc[-1] < losses.iloc[0]
    cold = cold_start_users(data, seed=0)
    with pytest.raises(ValueError, match="matrix factorization has no trained row"):
        fit(mf, cold, epochs=1)
    with pytest.raises(ValueError, match="matrix factorization has no trained row"):
        score_users(mf, cold)


def test_score_users_reads_the_query_of_cold_users(data):
    cold = cold_start_users(data, seed=0)
    model = tiny(cold.n_items)
    fit(model, cold, epochs=1)
    scores = score_users(model, cold)
    assert scores.shape == (cold.n_users, cold.n_items) and torch.isfinite(scores).all()
    held_out = np.unique(cold.test["user"].to_numpy())[:3]
    torch.testing.assert_close(score_users(model, cold, held_out), scores[held_out])
    with pytest.raises(ValueError, match="unknown user ids"):
        score_users(model, cold, [cold.n_users])


def test_softmax_dnn_beats_popularity_on_synthetic_data():
    # Measured (seed 0, 943 users × 1682 items, 8 epochs): popularity NDCG@10 0.215,
    # SoftmaxDNN with demographics 0.250 (×1.16). A regression below ×1.10 fails.
    data = synthetic_movielens(seed=0)
    split = random_split(data, seed=0)
    torch.manual_seed(0)
    model = SoftmaxDNN(data.n_items, dim=64, hidden=(256,), side_cardinalities=(7, 2, 21),
                       n_dense=2)  # fmt: skip
    fit(model, split, epochs=8, lr=1e-2, batch_size=128, seed=0)
    train = split.train_matrix()
    popularity = Popularity().fit(train).scores(train)
    pop = evaluate_dict(popularity, split, metrics=["ndcg"])["ndcg@10"]
    dnn = evaluate_dict(score_users(model, split), split, metrics=["ndcg"])["ndcg@10"]
    assert pop == pytest.approx(0.215, abs=0.02)  # the baseline itself did not drift
    assert dnn >= 1.10 * pop


def test_eval_every_none_evaluates_only_after_the_last_epoch(split):
    frame = fit(tiny(split.n_items), split, epochs=3, eval_every=None).to_frame()
    assert frame["train_loss"].notna().all()
    assert frame["ndcg@10"].isna().tolist() == [True, True, False]


def test_eval_every_two_evaluates_even_epochs_and_the_last(split):
    frame = fit(tiny(split.n_items), split, epochs=5, eval_every=2).to_frame()
    assert frame["ndcg@10"].notna().tolist() == [False, True, False, True, True]


def test_cosine_schedule_ends_near_zero_and_differs_from_constant(split):
    seen = []

    def record_lr(history, model):  # the optimizer is internal; watch the weights move instead
        seen.append(torch.cat([p.detach().flatten() for p in model.parameters()]).clone())

    fit(tiny(split.n_items), split, epochs=4, lr=0.05, callbacks=[record_lr])
    cosine_last_step = (seen[-1] - seen[-2]).abs().mean()
    seen.clear()
    fit(tiny(split.n_items), split, epochs=4, lr=0.05, lr_schedule="constant",
        callbacks=[record_lr])  # fmt: skip
    constant_last_step = (seen[-1] - seen[-2]).abs().mean()
    # The last cosine epoch runs at lr · (0…0.15): its weights move far less.
    assert cosine_last_step < 0.5 * constant_last_step


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"lr_schedule": "step"}, "lr_schedule"), ({"eval_every": 0}, "eval_every")],
)
def test_bad_schedule_arguments_raise(split, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit(tiny(split.n_items), split, epochs=1, **kwargs)


# --- cold-start items: the held-out items stay out of the training softmax ------------------


def record_exclusions(model) -> list[tuple[bool, torch.Tensor | None]]:
    """Make `model.loss` record (training mode?, batch.exclude_items) of every call."""
    calls, loss = [], model.loss
    model.loss = lambda batch: (calls.append((model.training, batch.exclude_items)), loss(batch))[1]
    return calls


def test_fit_leaves_cold_items_out_of_training_and_scores_only_candidates_at_test(data):
    cold = cold_start_items(data, item_frac=0.2, seed=0)
    candidates = torch.zeros(cold.n_items, dtype=torch.bool)
    candidates[cold.candidates] = True
    model = tiny(cold.n_items)
    calls = record_exclusions(model)
    history = fit(model, cold, epochs=2, batch_size=64)
    training = [ex for is_training, ex in calls if is_training]
    testing = [ex for is_training, ex in calls if not is_training]
    assert len(training) == 2 * int(np.ceil(cold.train["user"].nunique() / 64))
    assert all(torch.equal(ex, candidates) for ex in training)
    # the monitored test loss ranks among the candidates only, like the metrics do
    assert testing and all(torch.equal(ex, ~candidates) for ex in testing)
    assert np.isfinite(history.to_frame()["valid_loss"]).all()


def test_fit_can_keep_cold_items_in_the_softmax_and_warm_splits_exclude_nothing(data, split):
    cold = cold_start_items(data, item_frac=0.2, seed=0)
    model = tiny(cold.n_items)
    calls = record_exclusions(model)
    fit(model, cold, epochs=1, exclude_cold_items=False)
    assert all(ex is None for is_training, ex in calls if is_training)
    model = tiny(split.n_items)
    calls = record_exclusions(model)
    fit(model, split, epochs=1)
    assert calls and all(ex is None for _, ex in calls)


def test_training_batches_have_sparse_targets_and_visit_each_user_once_per_epoch(split):
    model = tiny(split.n_items)
    batches, loss = [], model.loss
    model.loss = lambda batch: (batches.append((model.training, batch)), loss(batch))[1]
    fit(model, split, epochs=1, batch_size=64)
    training = [batch for is_training, batch in batches if is_training]
    users = torch.cat([batch.users for batch in training]).tolist()
    assert sorted(users) == np.flatnonzero(np.diff(split.train_matrix().indptr) >= 2).tolist()
    for batch in training:  # p stays sparse: no (B, n_items) target is built per step
        assert batch.target is None and batch.target_weights is not None
        lengths = torch.diff(batch.target_offsets, append=torch.tensor([len(batch.target_items)]))
        rows = torch.repeat_interleave(torch.arange(batch.size), lengths)
        sums = torch.zeros(batch.size).index_add_(0, rows, batch.target_weights)
        torch.testing.assert_close(sums, torch.ones(batch.size))
