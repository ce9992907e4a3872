"""The DNN playground of notebook 02, headless: set controls, click Train, read the run table."""

import subprocess
import sys

import matplotlib
import pytest

from lessons.widgets import playground
from lessons.widgets.playground import DNNPlayground, compact_runs, parse_widths

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def panel(one_thread, tiny_split):
    panel = DNNPlayground(tiny_split, seed=0)
    panel.epochs.value = 2
    return panel


def test_parse_widths():
    assert parse_widths("256", 2) == (256, 256)
    assert parse_widths("256, 64", 2) == (256, 64)
    assert parse_widths("256 64", 2) == (256, 64)  # not one layer 25664 wide
    assert parse_widths(" 256 ,64 ", 2) == (256, 64)
    assert parse_widths("64", 0) == ()
    assert parse_widths("abc", 0) == ()  # the box is disabled at 0 layers: its text is moot
    with pytest.raises(ValueError, match="integers separated by commas"):
        parse_widths("abc", 1)
    with pytest.raises(ValueError, match=r"one per layer \(2\), got 3"):
        parse_widths("1,2,3", 2)
    with pytest.raises(ValueError, match=r"one width for the one hidden layer, got 2"):
        parse_widths("8,8", 1)
    with pytest.raises(ValueError, match="widths must be positive"):  # not the model's `hidden`
        parse_widths("64,0", 2)
    assert parse_widths("1024", 4) == (1024,) * 4
    with pytest.raises(ValueError, match="widths up to 1024 here"):  # 4 × 4096: 39 s, 1.9 GB
        parse_widths("256,4096", 2)


def test_without_a_hidden_layer_the_layer_controls_are_disabled_and_not_recorded(panel):
    """With 0 layers, widths, activation and dropout change nothing; they stayed enabled and
    the table listed "tanh" or dropout 0.50 against runs that ignored them."""
    panel.layers.value, panel.activation.value, panel.dropout.value = 0, "tanh", 0.5
    assert panel.widths.disabled and panel.activation.disabled and panel.dropout.disabled
    panel.button.click()
    shown = compact_runs(panel.runs).iloc[-1]
    assert (shown["hidden"], shown["activation"], shown["dropout"]) == ("-", "-", "-")
    panel.layers.value, panel.dropout.value = 1, 0.0
    assert not (panel.widths.disabled or panel.activation.disabled or panel.dropout.disabled)
    panel.activation.value = "relu"


def test_train_appends_a_run_and_draws_the_curve(panel):
    before = len(panel.runs)
    panel.layers.value, panel.widths.value, panel.activation.value = 2, "16,8", "tanh"
    panel.button.click()
    assert panel.error is None
    runs = panel.runs
    assert len(runs) == before + 1
    last = runs.iloc[-1]
    assert last["layers"] == 2 and last["widths"] == "16,8" and last["activation"] == "tanh"
    assert 0 <= last["recall@20"] <= 1 and 0 <= last["coverage@10"] <= 1
    assert panel.curves.value.startswith("<img") and "Runs so far" in panel.output.value


def test_bad_width_is_reported_and_the_panel_keeps_working(panel):
    before = len(panel.runs)
    panel.layers.value, panel.widths.value = 1, "0"
    panel.button.click()
    assert "widths must be positive" in panel.error and "⚠" in panel.status.value
    assert len(panel.runs) == before
    panel.widths.value = "8"
    panel.side.value = True
    panel.button.click()
    assert panel.error is None and len(panel.runs) == before + 1
    assert bool(panel.runs.iloc[-1]["side"]) is True
    shown = compact_runs(panel.runs).iloc[-1]  # the table as the panel shows it
    assert (shown["hidden"], shown["features"]) == ("8", "history+side")
    assert "<td>history+side</td>" in panel.output.value.replace(" ", "")


def test_the_shown_run_table_merges_settings_so_it_fits_beside_the_sidebar(panel):
    """15 columns were ~1040 px wide: beside Lab's sidebar the last metric was cut off."""
    assert len(compact_runs(panel.runs).columns) == len(playground.RUN_COLUMNS) - 2
    assert ">layers<" not in panel.output.value and ">hidden<" in panel.output.value


def _interrupting_curves(after_epoch: int) -> type:
    """LiveCurves that raises KeyboardInterrupt (Kernel ▸ Interrupt) after an epoch."""

    class InterruptingCurves(playground.LiveCurves):
        def __call__(self, history, model):
            super().__call__(history, model)
            if len(history) == after_epoch:
                raise KeyboardInterrupt

    return InterruptingCurves


def test_an_interrupted_run_says_so_and_shows_its_epochs(tiny_split, monkeypatch):
    """Kernel ▸ Interrupt raises KeyboardInterrupt inside fit, which keeps the run so far."""

    monkeypatch.setattr(playground, "LiveCurves", _interrupting_curves(after_epoch=3))
    panel = DNNPlayground(tiny_split, seed=0)
    panel.epochs.value = 20  # redraws every 10 epochs, so epochs 1-3 were never drawn
    panel.button.click()
    assert panel.error is None and panel.runs.iloc[-1]["epochs"] == 3
    assert "interrupted after 3 of 20 epochs" in panel.output.value
    assert panel.curves.value.startswith("<img")
    panel.epochs.value = 2
    panel.button.click()
    assert "interrupted" not in panel.output.value


def test_the_run_table_shows_a_small_learning_rate_as_set(panel):
    panel.layers.value, panel.widths.value, panel.lr.value = 0, "8", 4e-4
    panel.button.click()
    assert panel.error is None and "<td>0.0004</td>" in panel.output.value


def test_each_run_shows_the_users_top_titles_beside_the_previous_runs(one_thread, tiny_split):
    panel = DNNPlayground(tiny_split, seed=0, user=3)
    panel.epochs.value = 2
    panel.button.click()
    assert panel.followed.user == 3 and len(panel.followed.lists) == 1
    assert "this run" in panel.output.value and "previous run" not in panel.output.value
    panel.layers.value = 0
    panel.button.click()
    assert len(panel.followed.lists) == 2 and panel.error is None
    html = panel.output.value
    newest = panel.followed.lists[-1][0]
    assert html.index("previous run") < html.index("this run") < html.index(f"{newest}<")
    assert html.index(f"{newest}<") < html.index("Runs so far")  # the list above the runs


def test_an_unknown_user_is_refused_when_the_playground_is_built(tiny_split):
    with pytest.raises(ValueError, match="unknown user ids"):
        DNNPlayground(tiny_split, user=tiny_split.n_users)


def test_an_interrupt_inside_epoch_1_adds_no_run(tiny_split, monkeypatch):
    """Bug: the row read "0 epochs" with the metrics of a half-trained model, and the curves
    still showed the previous run. Now no row is added and the panel says why."""
    import lessons.train

    panel = DNNPlayground(tiny_split, seed=0)
    panel.epochs.value = 2
    panel.button.click()
    runs, curves = panel.runs.copy(), panel.curves.value

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt  # Kernel ▸ Interrupt during the first epoch

    monkeypatch.setattr(lessons.train, "_train_epoch", interrupted)
    panel.epochs.value = 3  # the same settings again would not train
    panel.button.click()
    assert "before the first epoch finished" in panel.error
    assert panel.runs.equals(runs) and panel.curves.value == curves
    assert len(panel.followed.lists) == 1


def test_a_second_click_with_the_same_settings_does_not_train_again(tiny_split, monkeypatch):
    """Bug: a second click that reached the kernel before the button greyed out (ipywidgets
    queues it) trained again and added an identical row; a run cut short by Kernel ▸ Interrupt
    may still be run to the end with the same settings."""
    panel = DNNPlayground(tiny_split, seed=0)
    panel.layers.value, panel.epochs.value = 0, 3
    panel.button.click()
    panel.button.click()
    assert len(panel.runs) == 1 and panel.error is None
    assert "same settings as the last run" in panel.status.value
    assert "Runs so far" in panel.output.value  # the run is still shown
    panel.lr.value = 0.01
    panel.button.click()
    assert len(panel.runs) == 2 and panel.status.value == ""

    with monkeypatch.context() as patch:
        patch.setattr(playground, "LiveCurves", _interrupting_curves(after_epoch=2))
        panel.lr.value = 0.02
        panel.button.click()
    assert panel.runs.iloc[-1]["epochs"] == 2
    panel.button.click()  # the same settings: the interrupted run is completed
    assert len(panel.runs) == 4 and panel.runs.iloc[-1]["epochs"] == 3


def test_settings_that_make_the_same_model_are_the_same_settings(tiny_split):
    """A learner who retyped the widths with a space, or tried another activation with no
    hidden layer, retrained the same seeded model and got a duplicate row."""
    panel = DNNPlayground(tiny_split, seed=0)
    panel.layers.value, panel.epochs.value, panel.widths.value = 2, 2, "8"
    panel.button.click()
    for widths in (" 8 ", "8,8", "8 8"):
        panel.widths.value = widths
        panel.button.click()
        assert len(panel.runs) == 1 and "same settings" in panel.status.value, widths
    panel.widths.value = "8,4"
    panel.button.click()
    assert len(panel.runs) == 2
    panel.layers.value = 0
    panel.button.click()
    for control, value in ((panel.activation, "tanh"), (panel.dropout, 0.5),
                           (panel.widths, "64")):  # fmt: skip
        control.value = value
        panel.button.click()
        assert len(panel.runs) == 3 and "same settings" in panel.status.value, control
    panel.widths.value = "0"  # still refused with its message once a layer reads it
    panel.layers.value = 1
    panel.button.click()
    assert "positive" in panel.error and len(panel.runs) == 3


def test_the_status_line_counts_the_epochs_while_training(tiny_split, monkeypatch):
    """A run showed one static "training…" between two redraws; the logQ panel counted."""
    run, seen = playground.playground_run, []

    def recording(*args, callbacks=(), **kwargs):
        record = lambda history, model: seen.append(panel.status.value)  # noqa: E731
        return run(*args, callbacks=[*callbacks, record], **kwargs)

    monkeypatch.setattr(playground, "playground_run", recording)
    panel = DNNPlayground(tiny_split, seed=0)
    panel.epochs.value = 3
    panel.button.click()
    assert seen == [f"<i>training… epoch {e} of 3</i>" for e in (1, 2, 3)]
    assert panel.status.value == "" and panel.error is None


def test_a_run_that_fails_midway_leaves_the_last_good_runs_curves(tiny_split, monkeypatch):
    """Bug: an error in epoch 6 (out of memory, say) kept the table and said "below: the result
    of the last valid input", but the curves above showed the failed run's first epochs."""
    import lessons.train

    panel = DNNPlayground(tiny_split, seed=0)
    panel.layers.value, panel.epochs.value = 0, 8  # redrawn every 4 epochs
    panel.button.click()
    runs, curves = panel.runs.copy(), panel.curves.value
    real, calls = lessons.train._train_epoch, []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 6:
            raise RuntimeError("out of memory")
        return real(*args, **kwargs)

    monkeypatch.setattr(lessons.train, "_train_epoch", failing)
    panel.epochs.value = 9
    panel.button.click()
    assert panel.error == "RuntimeError: out of memory" and len(calls) == 6
    assert panel.runs.equals(runs) and panel.curves.value == curves


def test_the_run_table_follows_the_configured_k():
    """Bug: the columns were written "ndcg@10", …, so with another `config.DEFAULT_K` the
    playground computed ndcg@5 and showed ndcg@10 as NaN. In a fresh interpreter, since the
    modules read DEFAULT_K when imported."""
    code = (
        "import lessons.config as c; c.DEFAULT_K = 5\n"
        "from lessons.data import random_split, synthetic_movielens\n"
        "from lessons.widgets.playground import DNNPlayground\n"
        "w = DNNPlayground(random_split(synthetic_movielens(), seed=0), seed=0)\n"
        "w.layers.value, w.epochs.value = 0, 1\n"
        "w.button.click()\n"
        "assert w.error is None, w.error\n"
        "assert not w.runs.drop(columns='dropout').isna().any().any(), w.runs.T\n"
        "assert 'APLT at 5' in w.output.value and 'ndcg@5' in w.runs\n"
    )
    env = {"LESSONS_QUIET": "1", "OMP_NUM_THREADS": "1", "PATH": ""}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
