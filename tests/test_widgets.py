"""The "Try it" panels, headless: set a control's value, then read result / error / output."""

import ipywidgets as widgets
import numpy as np
import pytest
import torch

from lessons.data import random_split, synthetic_movielens
from lessons.models import MatrixFactorization
from lessons.widgets import AlphaExplorer, SplitExplorer, alpha_sweep, protocol_table
from lessons.widgets.alpha import model_scores
from lessons.widgets.base import Panel, frame_html
from lessons.widgets.split import make_split, split_report, split_sizes


@pytest.fixture(scope="module")
def data():
    return synthetic_movielens(n_users=60, n_items=80, seed=3)


@pytest.fixture(scope="module")
def split(data):
    return random_split(data, 0.2, seed=0)


@pytest.fixture(scope="module")
def model(split):
    torch.manual_seed(0)
    return MatrixFactorization(split.n_users, split.n_items, dim=8)


# --- split explorer (notebook 00) -------------------------------------------------------------


def test_split_sizes_add_up(data):
    for protocol in ("random", "temporal", "cold_users", "cold_items"):
        sizes = split_sizes(make_split(data, protocol, 0.25))
        assert sizes["interactions"].sum() == len(data.interactions), protocol


def test_cold_users_have_no_training_rows(data):
    split = make_split(data, "cold_users", 0.25)
    assert not set(split.test["user"]) & set(split.train["user"])


def test_split_explorer_updates_on_value_change(data):
    w = SplitExplorer(data)
    sizes, _ = w.result
    assert w.error is None and "Split sizes" in w.output.value
    test_rows = int(sizes.loc[sizes["part"] == "test", "interactions"].iloc[0])
    w.test_frac.value = 0.4
    bigger = w.result[0]
    assert int(bigger.loc[bigger["part"] == "test", "interactions"].iloc[0]) > test_rows
    w.protocol.value = "cold_items"
    assert set(w.result[0]["part"]) == {"train", "test"}


def test_split_explorer_shows_error_and_recovers(data):
    w = SplitExplorer(data)
    good = w.output.value
    w.test_frac.value = 0.0  # a split needs a positive test share
    assert w.error is not None and "test_frac" in w.error
    assert "⚠" in w.status.value and w.output.value == good  # last good result stays
    w.test_frac.value = 0.3
    assert w.error is None and w.status.value == "" and w.output.value != good


def test_make_split_rejects_unknown_protocol(data):
    with pytest.raises(ValueError, match="choose one of"):
        make_split(data, "shuffled", 0.2)


def test_protocol_table_has_one_row_per_protocol(data):
    table = protocol_table(data, 0.3)  # 24 cold items >= the cut-off 20
    assert list(table.index) == ["random", "temporal", "cold_users", "cold_items"]
    assert table["recall@20"].between(0, 1).all()


# --- alpha explorer (notebook 01) -------------------------------------------------------------


def test_model_scores_alpha_divides_by_norm(model, split):
    plain = model_scores(model, split)
    v = model.item_embedding.detach().numpy()
    discounted = model_scores(model, split, alpha=1.0)
    np.testing.assert_allclose(discounted, plain / np.linalg.norm(v, axis=1), rtol=1e-4)
    with pytest.raises(ValueError, match="cosine"):
        model_scores(model, split, alpha=1.0, scoring="cosine")


def test_alpha_sweep_rows(model, split):
    frame = alpha_sweep(model, split, [0.0, 2.0])
    assert list(frame["alpha"]) == [0.0, 2.0]
    assert {"arp@10", "coverage@10", "recall@20"} <= set(frame.columns)
    with pytest.raises(ValueError, match="alphas is empty"):
        alpha_sweep(model, split, [])


def test_alpha_explorer_updates_list_and_metrics(model, split):
    w = AlphaExplorer(model, split)
    table0, metrics0 = w.result
    assert len(table0) == 10 and w.error is None
    w.alpha.value = 2.0
    table2, metrics2 = w.result
    v = model.item_embedding.detach().numpy()
    norms = np.linalg.norm(v, axis=1)
    # A larger α favours short item vectors: the mean norm of the list must not grow.
    assert norms[table2["item"]].mean() <= norms[table0["item"]].mean()
    assert metrics2 != metrics0


def test_alpha_explorer_bad_user_shows_error_and_recovers(model, split):
    w = AlphaExplorer(model, split)
    w.user.value = split.n_users + 5
    assert w.error is not None and "unknown user ids" in w.error and "⚠" in w.status.value
    w.user.value = 3
    assert w.error is None and set(w.result[0]["rank"]) == set(range(1, 11))


def test_popularity_on_cold_items_recommends_only_zero_count_items(data):
    _, metrics = split_report(data, "cold_items", 0.3)
    assert metrics["arp@10"] == 0.0  # candidates have no training interaction by construction
    _, warm = split_report(data, "random", 0.3)
    assert warm["arp@10"] > 0


# --- the shared panel shell --------------------------------------------------------------------


class _Flaky(Panel):
    """A panel whose compute fails with whatever `fault` holds, else returns the slider value."""

    def __init__(self):
        self.fault = None
        self.slider = widgets.IntSlider(value=1)
        super().__init__([self.slider])

    def compute(self):
        if self.fault is not None:
            raise self.fault
        return self.slider.value

    def render(self, result):
        return f"<p>{result}</p>"


def test_any_error_in_a_callback_is_shown_in_the_panel_which_keeps_working():
    panel = _Flaky()
    panel.slider.value = 2
    assert panel.output.value == "<p>2</p>"
    panel.fault = RuntimeError("the <model> broke")
    panel.slider.value = 3  # the observer's callback: nothing may escape it
    assert panel.error == "RuntimeError: the <model> broke"
    assert "RuntimeError: the &lt;model&gt; broke" in panel.status.value
    assert panel.output.value == "<p>2</p>" and panel.result == 2  # last good result kept
    panel.fault = ValueError("widths must be positive")
    panel.slider.value = 4
    assert panel.error == "widths must be positive"  # the learner's message, without a type
    panel.fault = None
    panel.slider.value = 5
    assert (panel.error, panel.status.value, panel.output.value) == (None, "", "<p>5</p>")


def test_frame_html_uses_jupyterlabs_table_style():
    import pandas as pd

    html = frame_html(pd.DataFrame({"a": [1.23456]}))
    assert html.startswith("<div class='jp-RenderedHTMLCommon'") and "<td>1.235</td>" in html
