"""Edge cases of the Try-it panels, driven headless. Each test guards a plausible bug that would
still look right (found by mutating the code by hand): a control whose value never reaches the
library, a constructor argument the panel ignores, a run table that records the wrong setting,
a panel that recomputes twice, or a result that no longer matches what the panel shows.

Controls are set through `.value`, buttons through `.click()`; the expected values are the
settings the test chose, or the library function the panel wraps, called directly. Training
is 1 epoch on the tiny synthetic split.
"""

import ipywidgets as widgets
import matplotlib
import numpy as np
import pandas as pd
import pytest

from lessons.data import cold_start_users
from lessons.experiments import textbook_dnn
from lessons.recipes import RECIPES
from lessons.serving import IVFIndex, brute_force_top_k
from lessons.widgets import (
    AlphaExplorer,
    IVFExplorer,
    SplitExplorer,
    alpha_report,
    build_user,
    logq,
    playground,
    split,
)
from lessons.widgets.base import Panel
from lessons.widgets.bias import BiasExplorer, bias_report
from lessons.widgets.build_user import BuildAUser, build_user_report
from lessons.widgets.logq import RECIPE, LogQExplorer
from lessons.widgets.split import split_sizes

matplotlib.use("Agg")

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread is fastest


def _spy(monkeypatch, module, name: str) -> list[tuple[dict, object]]:
    """Replace `module.name` by a pass-through that records (kwargs, return value) per call."""
    calls, real = [], getattr(module, name)

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        calls.append((kwargs, out))
        return out

    monkeypatch.setattr(module, name, spy)
    return calls


# --- the shared shell -------------------------------------------------------------------------


class _BadRender(Panel):
    """compute() returns the slider value; render() fails for values above `limit`."""

    def __init__(self, limit: int):
        self.limit = limit
        self.slider = widgets.IntSlider(value=1, max=10)
        super().__init__([self.slider])

    def compute(self):
        return self.slider.value

    def render(self, result):
        if result > self.limit:
            raise ValueError(f"cannot draw {result}")
        return f"<p>{result}</p>"


def test_a_failing_render_keeps_the_result_that_is_shown():
    """Bug: `result` was stored before `render` ran, so when drawing failed the panel showed
    the old output while `result` (what a test or the next cell reads) held the new value."""
    panel = _BadRender(limit=3)
    panel.slider.value = 2
    assert (panel.result, panel.output.value) == (2, "<p>2</p>")
    panel.slider.value = 5
    assert panel.error == "cannot draw 5" and "⚠" in panel.status.value
    assert (panel.result, panel.output.value) == (2, "<p>2</p>")


# --- DNN playground (notebook 02) -------------------------------------------------------------


def test_every_playground_control_and_the_seed_reach_training(tiny_split, monkeypatch):
    """Bug: a control (activation, dropout, side / dense, learning rate) or the panel's seed
    was not passed to `playground_run` (or two were swapped): the run table still showed the
    setting, so the learner compared identical models under different labels."""
    calls = _spy(monkeypatch, playground, "playground_run")
    panel = playground.DNNPlayground(tiny_split, seed=5)
    panel.layers.value, panel.widths.value, panel.activation.value = 2, "8", "tanh"
    panel.side.value, panel.dense.value, panel.dropout.value = True, False, 0.3
    panel.epochs.value, panel.lr.value = 1, 0.02
    panel.button.click()
    assert panel.error is None and len(calls) == 1
    kwargs = calls[0][0]
    assert kwargs["hidden"] == (8, 8) and kwargs["activation"] == "tanh"
    assert (kwargs["side"], kwargs["dense"]) == (True, False)
    assert kwargs["dropout"] == pytest.approx(0.3) and kwargs["lr"] == pytest.approx(0.02)
    assert (kwargs["epochs"], kwargs["seed"]) == (1, 5)


def test_the_playground_keeps_the_model_it_just_trained(tiny_split, monkeypatch):
    """Bug: `panel.model` was not updated after Train, so a later cell inspecting the model
    (its layers, its embeddings) read the previous run's model, or None."""
    calls = _spy(monkeypatch, playground, "playground_run")
    panel = playground.DNNPlayground(tiny_split, seed=0)
    panel.layers.value, panel.widths.value, panel.epochs.value = 0, "8", 1
    panel.button.click()
    panel.lr.value = 0.01  # the same settings again would not train (test_playground.py)
    panel.button.click()
    assert panel.error is None and len(calls) == 2
    assert panel.model is calls[1][1][0] and panel.model is not calls[0][1][0]


def test_the_run_table_records_dense_features_and_dropout_as_set(tiny_split):
    """Bug: the row's `dense` column copied the side-features box, or `dropout` was not
    recorded, so two different runs read the same in the table."""
    panel = playground.DNNPlayground(tiny_split, seed=0)
    panel.layers.value, panel.widths.value, panel.epochs.value = 1, "8", 1
    panel.side.value, panel.dense.value, panel.dropout.value = False, True, 0.2
    panel.button.click()
    assert panel.error is None
    row = panel.runs.iloc[-1]
    assert (bool(row["side"]), bool(row["dense"])) == (False, True)
    assert row["dropout"] == pytest.approx(0.2)


def test_the_playground_starts_at_the_recipes_settings(tiny_split):
    """Bug: the epochs or learning-rate slider started at a hand-typed value instead of the
    SoftmaxDNN recipe's, so the first Train did not reproduce the lesson's model."""
    fit = RECIPES["SoftmaxDNN"].fit_kwargs
    panel = playground.DNNPlayground(tiny_split)
    assert panel.epochs.value == fit["epochs"]
    assert panel.lr.value == pytest.approx(fit["lr"])


# --- logQ explorer (notebook 04) --------------------------------------------------------------


def test_every_logq_control_the_epochs_and_the_seed_reach_training(tiny_split, monkeypatch):
    """Bug: the panel trained with the default epochs (ignoring the epochs box or the
    constructor's `epochs`) or without its seed, while the table showed other settings."""
    calls = _spy(monkeypatch, logq, "logq_trained")
    w = logq.LogQExplorer(tiny_split, epochs=1, seed=5)
    assert w.epochs.value == 1
    w.beta.value, w.temperature.value, w.batch_size.value = 0.5, 0.2, 8
    w.train_button.click()
    assert w.error is None and len(calls) == 1
    kwargs = calls[0][0]
    assert (kwargs["beta"], kwargs["temperature"], kwargs["batch_size"]) == (0.5, 0.2, 8)
    assert (kwargs["epochs"], kwargs["seed"]) == (1, 5)
    assert w.runs.iloc[-1]["epochs"] == 1


def test_the_logq_panel_starts_at_the_recipes_temperature_and_batch_size(tiny_split):
    """Bug: τ or the batch size started at a hand-typed value, not the recipe's, so the first
    Train differed from the lesson's model that the notebook describes."""
    w = LogQExplorer(tiny_split, epochs=1)
    assert w.temperature.value == pytest.approx(RECIPES[RECIPE].model_kwargs["temperature"])
    assert w.batch_size.value == RECIPES[RECIPE].fit_kwargs["batch_size"]


# --- bias explorer (notebook 05) and α explorer (notebook 01) ---------------------------------


def test_bias_explorer_starts_at_the_given_user(tiny_split, tiny_mf):
    """Bug: the constructor's `user` was not put in the user box, so the panel opened on
    user 0 whatever the notebook asked for."""
    w = BiasExplorer({"MF": tiny_mf}, tiny_split, user=3, k=5)
    assert w.user.value == 3 and w.error is None
    pd.testing.assert_frame_equal(w.result[0], bias_report(tiny_mf, tiny_split, 3, k=5)[0])


def test_bias_explorer_summary_counts_tail_items(tiny_split, tiny_mf):
    """Bug: the summary's "tail items" share counted the head badges instead."""
    w = BiasExplorer({"MF": tiny_mf}, tiny_split, user=0, k=5)
    for user in range(4):  # some list with both badges, so head and tail shares differ
        w.user.value = user
        tail = int((w.result[0]["badge"] == "tail").sum())
        if 0 < tail < 5:
            break
    assert 0 < tail < 5, "no test list mixes head and tail items"
    assert f"<td>{tail / 5:.0%}</td>" in w.output.value


def test_alpha_explorer_uses_the_given_k_and_user(tiny_split, tiny_mf):
    """Bug: the constructor's `k` was not passed on (the list and metrics stayed at 10), or
    its `user` not put in the user box."""
    w = AlphaExplorer(tiny_mf, tiny_split, user=3, k=5)
    table, metrics = w.result
    assert w.user.value == 3 and len(table) == 5 and "ndcg@5" in metrics
    pd.testing.assert_frame_equal(table, alpha_report(tiny_mf, tiny_split, 3, 0.0, k=5)[0])


# --- build a user (notebook 03) ---------------------------------------------------------------


@pytest.fixture(scope="module")
def side_dnn(tiny_split):
    return textbook_dnn(tiny_split, (16,), dim=8, side=True, dense=False).eval()


def test_gender_and_occupation_reach_the_dnn(tiny_split, side_dnn):
    """Bug: only the liked movies and the age slider triggered a recompute, or the gender was
    not passed on: changing gender or occupation left the list as it was."""
    w = BuildAUser(side_dnn, tiny_split, liked=(0, 1), k=5)
    assert len(w.occupation.options) > 1
    other = next(o for o in w.occupation.options if o != w.occupation.value)
    w.gender.value = "M"
    w.occupation.value = other
    expected, _ = build_user_report(side_dnn, tiny_split, (0, 1), age=w.age.value,
                                    gender="M", occupation=other, k=5)  # fmt: skip
    assert w.error is None
    pd.testing.assert_frame_equal(w.result[0], expected)


def test_one_change_recomputes_once(tiny_split, side_dnn, monkeypatch):
    """Bug: the liked-movies box was observed twice (the shell's auto-observer and the panel's
    own), so every click in the list ranked the catalogue twice."""
    calls = _spy(monkeypatch, build_user, "build_user_report")
    w = build_user.BuildAUser(side_dnn, tiny_split, liked=(0,), k=5)
    assert len(calls) == 1
    w.liked.value = (0, 1)
    assert len(calls) == 2
    w.age.value = 60
    assert len(calls) == 3


# --- split explorer (notebook 00) -------------------------------------------------------------


def test_choosing_a_protocol_recomputes_once(tiny_data, monkeypatch):
    """Bug: the shell observed every trait of a control, not only `value`: picking an entry of
    a dropdown (which also changes its `index` and `label`) split and scored the data three
    times."""
    calls = _spy(monkeypatch, split, "split_report")
    w = split.SplitExplorer(tiny_data)
    w.protocol.value = "temporal"
    assert w.error is None and len(calls) == 2


def test_split_explorer_uses_its_seed(tiny_data):
    """Bug: the panel's seed was not passed to the split, so `SplitExplorer(data, seed=SEED)`
    showed another split than the notebook's own cells."""
    w = SplitExplorer(tiny_data, seed=11)
    w.protocol.value = "cold_users"
    assert w.error is None
    expected = split_sizes(cold_start_users(tiny_data, user_frac=0.2, seed=11))
    pd.testing.assert_frame_equal(w.result[0], expected)


# --- IVF explorer (notebook 06) ---------------------------------------------------------------


@pytest.fixture(scope="module")
def vectors():
    rng = np.random.default_rng(0)
    return rng.normal(size=(300, 8)).astype(np.float32), rng.normal(size=(6, 8)).astype(np.float32)


def test_ivf_explorer_measures_recall_at_the_given_k(vectors):
    """Bug: the exact lists were built at the default k, so a panel made with k=3 reported
    recall@10."""
    items, queries = vectors
    w = IVFExplorer(items, queries, k=3, n_clusters=8)
    np.testing.assert_array_equal(w.exact, brute_force_top_k(queries, items, 3))


def test_ivf_explorer_builds_its_index_with_its_seed(vectors):
    """Bug: the index was built with the default seed, so the panel's k-means lists differed
    from the notebook's `IVFIndex.build(..., seed=SEED)`."""
    items, queries = vectors
    w = IVFExplorer(items, queries, k=3, n_clusters=8, seed=7)
    np.testing.assert_array_equal(w.index(8).centroids, IVFIndex.build(items, 8, 7).centroids)
