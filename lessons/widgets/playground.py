"""Notebook 02's "Try it": the DNN playground, a thin wrapper over `experiments.playground_run`.

Set the hidden layers, widths, activation, feature sets, dropout, epochs and learning rate,
press Train: the softmax DNN retrains (≈2 s of training, ≈3 s per click at the recipe's
settings on ML-100K), the loss and metric curves redraw during training (twice: each redraw
costs a few tenths of a second), and a row with Recall@20, NDCG@10 and the popularity
metrics is appended to the run table. Above it, one user's top 5 of this run stands beside the
previous run's, so the learner sees the recommendations themselves change. Bad input (a width
of 0, text in the widths box) is reported in the panel, which keeps working.
"""

import ipywidgets as widgets
import numpy as np
import pandas as pd

from lessons.config import DEFAULT_K, DEFAULT_SEED, RECALL_K
from lessons.data import Split
from lessons.experiments import playground_run
from lessons.plots.training import LiveCurves
from lessons.recipes import RECIPES
from lessons.widgets.base import INTERRUPTED_IN_EPOCH_1, MAX_EPOCHS, Panel, frame_html
from lessons.widgets.followed import FollowedUser

AT_K = ("ndcg", "coverage", "arp", "gini", "aplt")  # shown at DEFAULT_K, recall at RECALL_K
RUN_COLUMNS = ("layers", "widths", "activation", "side", "dense", "dropout", "epochs", "lr",
               f"recall@{RECALL_K}", *(f"{name}@{DEFAULT_K}" for name in AT_K),
               "seconds")  # fmt: skip


# 20 epochs of 4 layers: 1024 wide, 4 s and +0.2 GB; 2048, 10 s and +0.45 GB, which with the
# kernel's 0.7 GB overflows a 1 GB Binder pod; 4096 (in notebook 02) 39 s and a 1.9 GB peak.
MAX_WIDTH = 1024


def parse_widths(text: str, n_layers: int) -> tuple[int, ...]:
    """ "256", "256, 128" or "256 128" → one width per hidden layer (one width is repeated).

    Raises:
        ValueError: On text that is not integers separated by commas or spaces, a width
            below 1 or above `MAX_WIDTH`, or a count that does not match `n_layers`.
    """
    if n_layers == 0:  # the widths box is disabled then: its text must not raise
        return ()
    try:
        # Spaces separate too: deleting them read "256 128" as one layer 256128 wide.
        parts = str(text).replace(",", " ").split()
        widths = tuple(int(part) for part in parts)
    except ValueError:
        raise ValueError(
            f"widths must be integers separated by commas or spaces, like 256,128; got {text!r}"
        ) from None
    if widths and min(widths) < 1:  # the model's own message names its `hidden` argument
        raise ValueError(f"widths must be positive, like 256,128; got {text!r}")
    if len(widths) == 1:
        widths = widths * n_layers
    if len(widths) != n_layers:
        if n_layers == 1:
            raise ValueError(f"give one width for the one hidden layer, got {len(widths)}: "
                             f"{text!r}")  # fmt: skip
        raise ValueError(f"give one width (used for every layer) or one per layer ({n_layers}), "
                         f"got {len(widths)}: {text!r}")  # fmt: skip
    if max(widths) > MAX_WIDTH:  # measured: 4 layers of 4096 took 39 s and 1.9 GB
        raise ValueError(f"widths up to {MAX_WIDTH} here, got {max(widths)}: 4 layers of 2048 "
                         "took 10 s and 0.45 GB more memory, which a 1 GB Binder pod does not "
                         "have")  # fmt: skip
    return widths


class DNNPlayground(Panel):
    """Controls + Train button → retrain, live loss curve, one more row in the run table.

    Headless use: `w = DNNPlayground(split); w.layers.value = 2; w.button.click()`;
    `w.runs` (DataFrame) has one row per successful run, `w.error` the last message, and
    `w.followed.lists` one list per run: `user`'s top-5 titles (`lessons.widgets.followed`).
    """

    def __init__(self, split: Split, *, seed: int = DEFAULT_SEED, user: int = 0) -> None:
        self.split, self.seed, self.model = split, seed, None
        self.followed = FollowedUser(split, user)
        self.note = ""  # said under the table about the last run (an interrupt)
        fit_defaults = RECIPES["SoftmaxDNN"].fit_kwargs
        style = {"description_width": "110px"}
        self.layers = widgets.IntSlider(value=1, min=0, max=4, description="hidden layers",
                                        continuous_update=False, style=style)  # fmt: skip
        self.widths = widgets.Text(value="256", description="widths", continuous_update=False,
                                  tooltip="one width for every layer, or one per layer: 256,64",
                                   style=style)  # fmt: skip
        self.activation = widgets.Dropdown(options=["relu", "tanh", "linear"], value="relu",
                                           description="activation", style=style)  # fmt: skip
        wide = {"style": {"description_width": "initial"}, "layout": {"width": "auto"}}
        self.side = widgets.Checkbox(value=False, description="side features (age, gender, job)",
                                     **wide)  # fmt: skip
        self.dense = widgets.Checkbox(value=False, description="dense features (activity)", **wide)
        self.dropout = widgets.FloatSlider(value=0.0, min=0.0, max=0.8, step=0.1,
                                           description="dropout", continuous_update=False,
                                           style=style)  # fmt: skip
        self.epochs = widgets.IntSlider(value=fit_defaults["epochs"], min=1, max=MAX_EPOCHS,
                                        description="epochs", continuous_update=False,
                                        style=style)  # fmt: skip
        self.lr = widgets.FloatLogSlider(value=fit_defaults["lr"], base=10, min=-4, max=0,
                                         description="learning rate", readout_format=".4f",
                                         continuous_update=False, style=style)  # fmt: skip
        self.button = widgets.Button(description="Train", button_style="primary")
        self.curves = widgets.HTML()
        self.rows: list[dict] = []
        left = widgets.VBox([self.layers, self.widths, self.activation, self.dropout])
        right = widgets.VBox([self.epochs, self.lr, self.side, self.dense, self.button])
        super().__init__([left, right], auto=False, trigger=self.button)
        self.children = (*self.children, self.curves)
        # Without a hidden layer, widths, activation and dropout change nothing: say so by
        # disabling them (a learner comparing activations at 0 layers saw identical rows).
        self.layers.observe(lambda _: self._enable_layer_controls(), names="value")
        self._enable_layer_controls()
        self.button.on_click(lambda _: self.refresh())
        self.output.value = (
            "<i>Press Train: the DNN retrains in a few seconds, and each run adds a row here.</i>"
        )

    def settings(self) -> tuple:
        """The run's settings as training reads them: "256" and " 256 ", or "256" and "256,256"
        at 2 layers, are one model, and without a hidden layer the activation and dropout
        change nothing. Training is seeded, so those would have repeated the last run."""
        try:
            hidden: tuple[int, ...] | str = parse_widths(self.widths.value, self.layers.value)
        except ValueError:  # refused by compute(), with its message
            hidden = self.widths.value
        per_layer = (self.activation.value, self.dropout.value) if hidden else ()
        return (hidden, *per_layer, self.side.value, self.dense.value, self.epochs.value,
                self.lr.value)  # fmt: skip

    def _enable_layer_controls(self) -> None:
        for control in (self.widths, self.activation, self.dropout):
            control.disabled = self.layers.value == 0

    @property
    def runs(self) -> pd.DataFrame:
        """The run table: one row per successful training run."""
        return pd.DataFrame(self.rows, columns=list(RUN_COLUMNS))

    def compute(self) -> dict:
        hidden = parse_widths(self.widths.value, self.layers.value)
        before = self.curves.value
        try:
            return self._train(hidden)
        except BaseException:  # the failed run's curves would sit beside the last good row
            self.curves.value = before
            raise

    def _train(self, hidden: tuple[int, ...]) -> dict:
        self.status.value = "<i>training…</i>"
        every = max(1, self.epochs.value // 4)  # ~4 metric points, ~2 redraws: both cost time
        curves = LiveCurves(self.curves, 2 * every, self.epochs.value)

        def progress(history, model) -> None:  # between redraws, a count shows it is not hung
            self.status.value = f"<i>training… epoch {len(history)} of {self.epochs.value}</i>"

        model, history, metrics = playground_run(
            self.split, hidden=hidden, activation=self.activation.value, side=self.side.value,
            dense=self.dense.value, dropout=float(self.dropout.value), epochs=self.epochs.value,
            lr=float(self.lr.value), seed=self.seed, eval_every=every,
            callbacks=[curves, progress],
        )  # fmt: skip
        if not history.rows:  # fit has put the initial weights back: there is no run to show
            raise ValueError(INTERRUPTED_IN_EPOCH_1)
        # Kernel ▸ Interrupt ends fit between two redraws: show the epochs that did run.
        if curves.drawn != history.rows[-1]["epoch"]:
            curves.draw(history)
        self.model = model
        row = {"layers": len(hidden), "widths": ",".join(map(str, hidden)) or "-",
               "activation": self.activation.value if hidden else "-", "side": self.side.value,
               "dense": self.dense.value, "dropout": self.dropout.value if hidden else np.nan,
               "epochs": len(history.rows), "lr": self.lr.value, **metrics,
               "seconds": float(history.to_frame()["seconds"].sum())}  # fmt: skip
        self.followed.add(model)  # before the row: a failure here leaves both as they were
        self.rows.append(row)
        self.partial = history.interrupted  # the same settings may then run to the end
        self.note = (f"<br><i>The last run was interrupted after {len(history.rows)} of "
                     f"{self.epochs.value} epochs: its row and curves cover those epochs "
                     "only.</i>") if history.interrupted else ""  # fmt: skip
        return row

    def render(self, result: dict) -> str:
        # The short list first: the run table below it grows with every run.
        return (self.followed.html()
                + "<b>Runs so far</b> (newest last)<br><small>Table: the final model's "
                f"Recall@{RECALL_K}, and NDCG, coverage, ARP, Gini and APLT at {DEFAULT_K}. "
                f"Curves: Recall@{DEFAULT_K} and NDCG@{DEFAULT_K} while training.</small>"
                f"{self.note}"
                + frame_html(compact_runs(self.runs), formats=RUN_FORMATS))  # fmt: skip


# Settings read as the learner set them; ARP is a training count, so one decimal.
RUN_FORMATS = {"lr": "{:.3g}", "arp": "{:.1f}", "seconds": "{:.1f}"}


def compact_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The run table as shown: widths as "hidden" (their count is the layers), side and dense
    as one "features" column, and the metrics at DEFAULT_K without their "@k" (the caption
    says it). With 15 columns and full names it was wider than the notebook beside Lab's
    sidebar, and the last metric was cut off."""
    features = ["+".join(["history"] + [name for name in ("side", "dense") if row[name]])
                for _, row in runs.iterrows()]  # fmt: skip
    at_k = {f"{name}@{DEFAULT_K}": name for name in AT_K}
    shown = runs.drop(columns=["layers", "side", "dense"])
    shown = shown.rename(columns={"widths": "hidden", **at_k})
    shown.insert(2, "features", features)
    # No dropout without a hidden layer: "-", as for the activation and the widths.
    shown["dropout"] = ["-" if pd.isna(d) else f"{d:.2f}" for d in shown["dropout"]]
    return shown


__all__ = [
    "DNNPlayground",
    "MAX_WIDTH",
    "RUN_COLUMNS",
    "compact_runs",
    "parse_widths",
]
