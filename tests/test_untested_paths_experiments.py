"""Paths of lessons.training_cost, lessons.experiments and lessons.evaluation_demos that a
mutation run found untested: each test names the mutant it catches, which passed every other
test. These are the timers and measurements notebooks 02, 03, 05 and 06 print; a mutant here
times another problem than the one reported, or prints a passing check for a failing one.
Expected values come from hand-built inputs or docstrings, never from the code under test.
"""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

import lessons.experiments as experiments
import lessons.training_cost as training_cost
from lessons.data import random_split, synthetic_movielens
from lessons.evaluation_demos import (
    UnconstrainedEASE,
    feedback_loop,
    leakage_table,
    scores_for,
)
from lessons.metrics import evaluate_dict
from lessons.models import SoftmaxDNN
from lessons.scoring import split_features, user_batches
from tests.helpers import ShiftedLogits

# --- lessons.training_cost ----------------------------------------------------------------


def test_the_sampled_step_without_an_update_times_a_sparse_gradient(monkeypatch):
    """Mutant training_cost.py:83 `sparse=optimizer == "SparseAdam"`: the "none" row got a
    dense (n, d) gradient, so the sampled forward + backward grows with n and nb06's claim
    that it does not would be measured wrong. The docstring: "none" has a sparse gradient."""
    flags = []
    real = training_cost.F.embedding

    def recording(*args, **kwargs):
        flags.append(kwargs.get("sparse"))
        return real(*args, **kwargs)

    monkeypatch.setattr(training_cost.F, "embedding", recording)
    for optimizer, sparse in (("none", True), ("SparseAdam", True), ("Adam", False)):
        flags.clear()
        training_cost.softmax_step_seconds(40, "sampled", optimizer=optimizer, dim=4, batch=3,
                                           repeats=2)  # fmt: skip
        assert flags == [sparse] * 3, optimizer  # the warm-up and two repeats


def test_each_timed_step_starts_from_a_fresh_gradient(monkeypatch):
    """Mutant training_cost.py:79 `psi.grad = None` (V.grad kept): V's gradient accumulates
    over the warm-up and the repeats, so steps 2 and 3 update with 2× and 3× one step's
    gradient, and the dense Adam row adds an (n, d) accumulation the table does not report.
    With lr 1e-3 one step's gradient barely changes between steps."""
    sizes = []

    class Recording(torch.optim.SparseAdam):
        def step(self, closure=None):
            (param,) = self.param_groups[0]["params"]
            sizes.append(float(param.grad.to_dense().abs().sum()))
            return super().step(closure)

    monkeypatch.setattr(torch.optim, "SparseAdam", Recording)
    training_cost.softmax_step_seconds(40, "sampled", optimizer="SparseAdam", dim=4, batch=3,
                                       n_negatives=2, repeats=2)  # fmt: skip
    assert len(sizes) == 3 and max(sizes) < 1.1 * min(sizes)


def _leaf_shapes(tensor: torch.Tensor) -> set[tuple[int, ...]]:
    """Shapes of the leaf tensors that backward from `tensor` writes a gradient into."""
    shapes, stack, seen = set(), [tensor.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        if hasattr(node, "variable"):
            shapes.add(tuple(node.variable.shape))
        stack.extend(next_node for next_node, _ in node.next_functions)
    return shapes


@pytest.mark.parametrize("loss", ["full", "sampled"])
def test_the_timed_backward_reaches_the_query_embeddings(monkeypatch, loss):
    """Mutant training_cost.py:72 ψ without requires_grad: backward skips ∂L/∂ψ, one of the
    two (B, n)-sized products of the full softmax's backward, so the timed step (and the
    speed-up) is that of a cheaper step than "forward + backward" says."""
    leaves = []
    real = training_cost.F.cross_entropy

    def recording(logits, target, *args, **kwargs):
        leaves.append(_leaf_shapes(logits))
        return real(logits, target, *args, **kwargs)

    monkeypatch.setattr(training_cost.F, "cross_entropy", recording)
    training_cost.softmax_step_seconds(40, loss, dim=4, batch=3, n_negatives=2, repeats=1)
    assert leaves and all({(3, 4), (40, 4)} <= shapes for shapes in leaves)  # ψ (B, d), V (n, d)


def test_the_cost_tables_time_the_settings_they_are_given(monkeypatch):
    """Mutants training_cost.py:105-106 (softmax_cost timing dim=32 or repeats=3 whatever
    was asked) and :124-125 (update_cost timing batch=32 or dim=32): nb06 passes DIM, BATCH
    and REPEATS and titles its figure "batch {BATCH}, d = {DIM}", so the figure would show
    another problem than its title."""
    calls = []

    def fake(n, loss, **kwargs):
        calls.append((n, loss, kwargs))
        return 1.0

    monkeypatch.setattr(training_cost, "softmax_step_seconds", fake)
    asked = {"dim": 5, "batch": 7, "repeats": 2, "seed": 11}
    training_cost.softmax_cost((10,), n_negatives=4, **asked)
    assert [kw for _, _, kw in calls] == [{**asked, "n_negatives": 4}] * 2
    calls.clear()
    training_cost.update_cost((10,), **asked)
    assert [kw for _, _, kw in calls] == [
        {**asked, "optimizer": o} for o in training_cost.OPTIMIZERS
    ]


@pytest.mark.parametrize("optimizer", ["Adam", "SparseAdam"])
def test_the_full_loss_refuses_every_optimizer(optimizer):
    """Mutant training_cost.py:65 `optimizer == "Adam"`: SparseAdam with the full loss then
    failed deep in torch ("SparseAdam does not support dense gradients") instead of the
    documented message."""
    with pytest.raises(ValueError, match="sampled loss only"):
        training_cost.softmax_step_seconds(40, "full", optimizer=optimizer)


# --- lessons.experiments ------------------------------------------------------------------


def test_textbook_dnn_logits_are_exactly_psi_times_v(tiny_split):
    """Mutant experiments.py:44 `"item_bias": True`: the textbook model gets a per-item bias
    that the lesson's p̂ = h(ψ(x) Vᵀ) and nb02's hand computation do not have. At init the
    bias is 0, so every parameter is moved first."""
    model = textbook_dnn_moved(tiny_split)
    batch = user_batches(tiny_split, np.arange(6), split_features(tiny_split))[0]
    with torch.no_grad():
        model.eval()
        torch.testing.assert_close(model(batch), model.query_tower(batch) @ model.item_embedding.T)


def textbook_dnn_moved(split):
    model = experiments.textbook_dnn(split, (8,), dim=4, seed=0)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen))
    return model


@pytest.fixture(scope="module")
def two_batches():
    """A split of 2100 users: scoring batches of 2048, so two batches."""
    return random_split(synthetic_movielens(n_users=2100, n_items=40, seed=0), 0.2, seed=0)


def test_collapse_gap_is_the_largest_absolute_gap_over_every_batch(monkeypatch, two_batches):
    """Mutants experiments.py:149 `min(` over batches and :150 without `.abs()`: a mismatch in
    one batch only, or of negative sign, reads as "< 1e-5" and nb02 prints True for a
    collapse that is wrong."""
    model = experiments.textbook_dnn(two_batches, (8,), dim=4, activation="linear",
                                     side=False, dense=False)  # fmt: skip
    real_collapsed, real_input = experiments.collapsed, experiments.tower_input
    w, b = real_collapsed(model)
    # A bias off by +1 on every output: ψ − (W x + b + 1) = −1 everywhere.
    monkeypatch.setattr(experiments, "collapsed", lambda m: (w, b + 1.0))
    assert experiments.collapse_gap(model, two_batches, range(2100)) == pytest.approx(1.0, abs=1e-4)
    # x off by +1 in the second (short) batch only: there the gap is max_i |Σ_j W_ij|.
    monkeypatch.setattr(experiments, "collapsed", real_collapsed)

    def shifted(m, bt):
        return real_input(m, bt) + float(bt.offsets.numel() < 2048)

    monkeypatch.setattr(experiments, "tower_input", shifted)
    expected = float(w.sum(1).abs().max())
    assert expected > 0.1
    gap = experiments.collapse_gap(model, two_batches, range(2100))
    assert gap == pytest.approx(expected, rel=1e-4)


def test_log_softmax_gap_reports_the_size_of_a_mismatch(tiny_split):
    """Mutant experiments.py:194 without `.abs()`: the signed maximum of log p̂ − (⟨ψ, V⟩ −
    log Z) hides a logit pushed down. Lowering item 0's logit by 5 changes log p̂_0 by
    −5 + log(Z / Z') with 0 ≤ log(Z / Z') ≤ −log(1 − p̂_0) < 0.7 when p̂_0 < 1/2 (by hand),
    so the gap exceeds 4; the signed maximum is log(Z / Z') < 0.7."""
    model = experiments.textbook_dnn(tiny_split, (16,), dim=8)
    batch = user_batches(tiny_split, np.arange(4), split_features(tiny_split))[0]
    with torch.no_grad():
        assert torch.softmax(model.eval()(batch), 1)[:, 0].max() < 0.5

    lowered = ShiftedLogits(model, -5.0 * (torch.arange(model.n_items) == 0))
    assert experiments.log_softmax_gap(lowered, batch) > 4


def test_log_softmax_gap_of_a_model_left_in_training_mode(tiny_split):
    """Mutant experiments.py:190 without `evaluating(model)`: nb03 checks the recipe's model
    (input dropout 0.2); in training mode the logits and ψ draw different dropout masks and
    the identity "fails" (the notebook prints False)."""
    torch.manual_seed(0)
    model = SoftmaxDNN(tiny_split.n_items, dim=8, hidden=(16,), residual=False, dropout=0.5,
                       input_dropout=0.5).train()  # fmt: skip
    batch = user_batches(tiny_split, np.arange(4), split_features(tiny_split))[0]
    assert experiments.log_softmax_gap(model, batch) < 1e-5
    assert model.training  # the caller's mode is restored


def test_evaluate_model_reports_at_its_own_k(tiny_split):
    """Mutant experiments.py:81 `k=DEFAULT_K`: evaluate_model(model, split, k=5) returned @10
    metrics under a documented k it ignored."""
    metrics = experiments.evaluate_model(experiments.textbook_dnn(tiny_split, (8,), dim=4),
                                         tiny_split, k=5)  # fmt: skip
    assert {"ndcg@5", "coverage@5", "aplt@5"} <= set(metrics)
    assert not any(name.endswith("@10") for name in metrics)


def test_main_genre_refuses_an_empty_list_by_name(tiny_data):
    """Mutant experiments.py:274 `if unknown:`: main_genre(data, []) failed in NumPy's
    argmax ("attempt to get argmax of an empty sequence") instead of naming the genres."""
    with pytest.raises(ValueError, match="choose from"):
        experiments.main_genre(tiny_data, [])


# --- lessons.evaluation_demos -------------------------------------------------------------


@pytest.fixture(scope="module")
def loop_split():
    return random_split(synthetic_movielens(n_users=150, n_items=120, seed=1), 0.2, seed=0)


class _LowIdsFirst:
    """A fitted "model" that ranks items by id, item 0 first, for every user."""

    def __init__(self, x):
        self.n_items = x.shape[1]

    def scores(self, h):
        return np.tile(-np.arange(self.n_items, dtype=np.float32), (h.shape[0], 1))


def test_feedback_loop_consumes_item_zero_like_any_other(loop_split):
    """Mutant evaluation_demos.py:288 `keep = taken > 0`: the padding test (-1) also dropped
    item id 0, so the first movie of the catalogue (Toy Story on ML-100K) was never consumed.
    With consume = k every listed item that is not a test item is taken."""
    fits = []

    def fitter(x):
        fits.append(x.copy())
        return _LowIdsFirst(x)

    feedback_loop(loop_split, fitter, rounds=1, k=5, consume=5)
    blocked = (loop_split.seen_matrix() + loop_split.test_matrix()).tocsc()[:, 0].toarray().ravel()
    free = np.flatnonzero(blocked == 0)  # users for whom item 0 is listed and may be taken
    assert free.size > 0
    assert (fits[1].tocsc()[:, 0].toarray().ravel()[free] == 1).all()


def test_leakage_table_compares_both_rows_at_the_same_k(loop_split):
    """Mutant evaluation_demos.py:121 honest row at the default k: with k=5 the honest row
    held ndcg@10 and the leaky one ndcg@5, so the table was half NaN and the inflation NaN."""
    x = loop_split.train_matrix()
    model = UnconstrainedEASE(50.0).fit(x)
    table = leakage_table(model, loop_split, k=5)
    assert list(table.columns) == ["recall@20", "ndcg@5"] and not table.isna().any().any()
    honest = evaluate_dict(scores_for(model, loop_split), loop_split, k=5,
                           metrics=("recall", "ndcg"))  # fmt: skip
    assert table.loc["honest", "ndcg@5"] == pytest.approx(honest["ndcg@5"], abs=1e-12)


def test_unconstrained_ease_refuses_an_empty_training_matrix():
    """Mutant evaluation_demos.py:87 (no empty-train check): B = I − λ(0 + λI)⁻¹ = 0, so the
    "copying" model silently scores every item 0 and the leakage demo shows no leak."""
    with pytest.raises(ValueError, match="train is empty"):
        UnconstrainedEASE().fit(sp.csr_matrix((3, 4)))
