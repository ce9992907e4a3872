"""The "Try it" panels, headless: set a control's value, then read result / error / output."""

import ipywidgets as widgets
import numpy as np
import pytest

from lessons.data import cold_start_users
from lessons.recommend import recommend
from lessons.widgets import AlphaExplorer, SplitExplorer, alpha_sweep, protocol_table
from lessons.widgets.alpha import model_scores
from lessons.widgets.base import Panel, frame_html
from lessons.widgets.split import make_split, split_report, split_sizes

# --- split explorer (notebook 00) -------------------------------------------------------------


def test_split_sizes_add_up(tiny_data):
    for protocol in ("random", "temporal", "cold_users", "cold_items"):
        sizes = split_sizes(make_split(tiny_data, protocol, 0.25))
        assert sizes["interactions"].sum() == len(tiny_data.interactions), protocol


def test_cold_users_have_no_training_rows(tiny_data):
    tiny_split = make_split(tiny_data, "cold_users", 0.25)
    assert not set(tiny_split.test["user"]) & set(tiny_split.train["user"])


def test_split_explorer_updates_on_value_change(tiny_data):
    w = SplitExplorer(tiny_data)
    sizes, _ = w.result
    assert w.error is None and "Split sizes" in w.output.value
    test_rows = int(sizes.loc[sizes["part"] == "test", "interactions"].iloc[0])
    w.test_frac.value = 0.4
    bigger = w.result[0]
    assert int(bigger.loc[bigger["part"] == "test", "interactions"].iloc[0]) > test_rows
    w.protocol.value = "cold_items"
    assert set(w.result[0]["part"]) == {"train", "test"}


def test_split_explorer_shows_error_and_recovers(tiny_data):
    w = SplitExplorer(tiny_data)
    good = w.output.value
    w.test_frac.value = 0.0  # a split needs a positive test share
    # Named as the learner sees it: the split's own message says test_frac (or user_frac,
    # item_frac for the cold protocols), arguments the panel does not show.
    assert w.error == "test share must lie strictly between 0 and 1, got 0.00"
    assert "⚠" in w.status.value and w.output.value == good  # last good result stays
    assert "(random: 20% of each user's interactions held out" in w.output.value  # which split
    w.test_frac.value = 0.3
    assert w.error is None and w.status.value == "" and w.output.value != good
    w.protocol.value = "cold_users"  # the slider's share is then one of users, and it says so
    assert "(cold_users: 30% of the users held out whole" in w.output.value
    w.protocol.value, w.test_frac.value = "cold_items", 0.2  # 16 of 80 items, under Recall@20
    assert "only 16 cold items" in w.error and "raise the test share" in w.error


def test_make_split_rejects_unknown_protocol(tiny_data):
    with pytest.raises(ValueError, match="choose one of"):
        make_split(tiny_data, "shuffled", 0.2)


def test_protocol_table_has_one_row_per_protocol(tiny_data):
    table = protocol_table(tiny_data, 0.3)  # 24 cold items >= the cut-off 20
    assert list(table.index) == ["random", "temporal", "cold_users", "cold_items"]
    assert table["recall@20"].between(0, 1).all()


# --- alpha explorer (notebook 01) -------------------------------------------------------------


def test_model_scores_alpha_divides_by_norm(tiny_mf, tiny_split):
    plain = model_scores(tiny_mf, tiny_split)
    v = tiny_mf.item_embedding.detach().numpy()
    discounted = model_scores(tiny_mf, tiny_split, alpha=1.0)
    np.testing.assert_allclose(discounted, plain / np.linalg.norm(v, axis=1), rtol=1e-4)
    with pytest.raises(ValueError, match="cosine"):
        model_scores(tiny_mf, tiny_split, alpha=1.0, scoring="cosine")


def test_mf_on_held_out_users_is_refused_not_scored_from_untrained_rows(tiny_mf, tiny_data):
    split = cold_start_users(tiny_data, user_frac=0.25, seed=0)
    with pytest.raises(ValueError, match="cannot be scored.*refit or a fold-in"):
        model_scores(tiny_mf, split)
    warm = int(np.setdiff1d(np.arange(split.n_users), split.test["user"].unique())[0])
    panel = AlphaExplorer(tiny_mf, split, user=warm)
    assert panel.result is None and "cannot be scored" in panel.error


def test_alpha_sweep_rows(tiny_mf, tiny_split):
    frame = alpha_sweep(tiny_mf, tiny_split, [0.0, 2.0])
    assert list(frame["alpha"]) == [0.0, 2.0]
    assert {"arp@10", "coverage@10", "recall@20"} <= set(frame.columns)
    with pytest.raises(ValueError, match="alphas is empty"):
        alpha_sweep(tiny_mf, tiny_split, [])


def test_alpha_explorer_updates_list_and_metrics(tiny_mf, tiny_split):
    w = AlphaExplorer(tiny_mf, tiny_split)
    assert "‖V_j‖^α" in w.alpha.tooltip  # what α does, where the learner moves it
    table0, metrics0 = w.result
    assert len(table0) == 10 and w.error is None
    assert "<b>User 0, α = 0.00</b>" in w.output.value  # whose list, at which α
    w.alpha.value = 2.0
    table2, metrics2 = w.result
    assert "<b>User 0, α = 2.00</b>" in w.output.value
    v = tiny_mf.item_embedding.detach().numpy()
    norms = np.linalg.norm(v, axis=1)
    # A larger α favours short item vectors: the mean norm of the list must not grow.
    assert norms[table2["item"]].mean() <= norms[table0["item"]].mean()
    assert metrics2 != metrics0
    # The list itself follows α (a list built without α kept equal means and passed the above).
    assert list(table2["item"]) == list(recommend(tiny_mf, tiny_split, 0, 10, alpha=2.0)["item"])
    assert list(table2["item"]) != list(table0["item"])


def test_alpha_explorer_bad_user_shows_error_and_recovers(tiny_mf, tiny_split):
    w = AlphaExplorer(tiny_mf, tiny_split)
    w.user.value = tiny_split.n_users + 5
    assert w.error is not None and "unknown user ids" in w.error and "⚠" in w.status.value
    # The list still shown is user 0's: the status line and the heading say so.
    assert "the result of the last valid input" in w.status.value and "User 0," in w.output.value
    w.user.value = 3
    assert w.error is None and set(w.result[0]["rank"]) == set(range(1, 11))
    assert "User 3," in w.output.value


def test_popularity_on_cold_items_recommends_only_zero_count_items(tiny_data):
    _, metrics = split_report(tiny_data, "cold_items", 0.3)
    assert metrics["arp@10"] == 0.0  # candidates have no training interaction by construction
    _, warm = split_report(tiny_data, "random", 0.3)
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
    panel.fault = RuntimeError("the <tiny_mf> broke")
    panel.slider.value = 3  # the observer's callback: nothing may escape it
    assert panel.error == "RuntimeError: the <tiny_mf> broke"
    assert "RuntimeError: the &lt;tiny_mf&gt; broke" in panel.status.value
    assert panel.output.value == "<p>2</p>" and panel.result == 2  # last good result kept
    assert "(below: the result of the last valid input)" in panel.status.value
    panel.fault = ValueError("widths must be positive")
    panel.slider.value = 4
    assert panel.error == "widths must be positive"  # the learner's message, without a type
    panel.fault = None
    panel.slider.value = 5
    assert (panel.error, panel.status.value, panel.output.value) == (None, "", "<p>5</p>")


def test_the_trigger_button_is_disabled_while_computing_and_enabled_however_it_ends():
    class Triggered(_Flaky):
        def __init__(self):
            self.fault, self.slider = None, widgets.IntSlider(value=1)
            self.button, self.during = widgets.Button(description="Train"), []
            Panel.__init__(self, [self.slider, self.button], auto=False, trigger=self.button)

        def compute(self):
            self.during.append(self.button.disabled)
            return super().compute()

    panel = Triggered()
    for fault in (None, ValueError("bad"), RuntimeError("broke"), KeyboardInterrupt()):
        panel.fault = fault
        panel.refresh()
        assert panel.during[-1] is True and panel.button.disabled is False, fault


def test_a_first_failure_does_not_point_to_a_result_that_is_not_there():
    panel = _Flaky()
    panel.fault = ValueError("bad")
    panel.refresh()  # no good result yet
    assert panel.result is None and "last valid input" not in panel.status.value


def test_an_interrupt_in_a_callback_is_reported_in_the_panel_which_keeps_working():
    """Kernel ▸ Interrupt outside fit (while scoring) escaped the callback and left the status
    line saying whatever it said before, e.g. "training…"."""
    panel = _Flaky()
    panel.slider.value = 2
    panel.status.value = "<i>training…</i>"
    panel.fault = KeyboardInterrupt()
    panel.slider.value = 3  # must not raise
    assert "interrupted" in panel.error and "interrupted" in panel.status.value
    assert panel.output.value == "<p>2</p>" and panel.result == 2
    panel.fault = None
    panel.slider.value = 4
    assert (panel.error, panel.status.value, panel.output.value) == (None, "", "<p>4</p>")


def test_frame_html_uses_jupyterlabs_table_style():
    import pandas as pd

    html = frame_html(pd.DataFrame({"a": [1.23456]}))
    assert html.startswith("<div class='jp-RenderedHTMLCommon'") and "<td>1.235</td>" in html


def test_split_explorer_opens_at_the_notebooks_test_share(tiny_data):
    """Bug: the panel always opened at 0.2, so with TEST_FRAC = 0.1 its first figures
    disagreed with the table right above it."""
    w = SplitExplorer(tiny_data, test_frac=0.1, seed=3)
    assert w.test_frac.value == 0.1
    sizes, metrics = split_report(tiny_data, "random", 0.1, 3)
    assert w.result[0].equals(sizes) and w.result[1] == metrics
    for outside in (0.95, 0, 3):  # a slider would clamp 0.95 to 0.9 without a word
        with pytest.raises(ValueError, match=r"test_frac must lie in \(0, 0.9\]"):
            SplitExplorer(tiny_data, outside)
