"""Notebook 04's "Try it": in-batch softmax with the logQ correction and a temperature.

The two-tower model is trained with the in-batch sampled softmax of Yi et al. (2019): for
example i (a query ψ_i and its positive item) the other examples' items are the negatives,

    s_ij = ⟨ψ_i, φ_j⟩ / τ − β log q_j,   L = −(1/P) Σ_i log softmax_j(s_i·)_i,

with q_j the probability that item j is in a batch (its training frequency,
`lessons.losses.item_log_q`). β = 1 is the full correction, β = 0 none; τ sharpens the
softmax. `logq_run` trains one setting through `lessons.recipes.train`
("TwoTower-inbatch-logQ", with `log_q_weight` = β) and measures it with
`lessons.metrics.evaluate_dict`; `LogQExplorer` wires controls and a Train button to it,
keeps a table of every run, and shows one user's top 5 beside the previous run's: with β = 0
the list drifts to rarely watched movies, with β = 1 it comes back.
"""

import math
import time

import ipywidgets as widgets
import numpy as np
import pandas as pd

from lessons.config import DEFAULT_K, DEFAULT_SEED
from lessons.data import Split
from lessons.metrics import evaluate_dict
from lessons.models import TwoTower
from lessons.recipes import RECIPES, train
from lessons.scoring import check_int, score_users
from lessons.widgets.base import INTERRUPTED_IN_EPOCH_1, MAX_EPOCHS, Panel, frame_html
from lessons.widgets.followed import FollowedUser

RECIPE = "TwoTower-inbatch-logQ"
LOGQ_METRICS = ("recall", "ndcg", "coverage", "arp")
WIDGET_EPOCHS = 3  # the recipe trains 10 epochs; 3 keep a retrain within seconds
# The in-batch logits grow with the square of a batch's (user, target) pairs: 3 epochs at 128
# users took 1.9 s and 0.3 GB more memory; at 400, 0.76 GB, and a batch then overflowed.
MAX_BATCH = 128
SETTINGS = ("beta", "temperature", "batch_size", "epochs")  # what a run is trained with


def _number(name: str, value, low: float, strict: bool, example: str) -> float:
    ok = isinstance(value, int | float | np.number) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or (value <= low if strict else value < low):
        rule = f"> {low:g}" if strict else f">= {low:g}"
        raise ValueError(f"{name} must be a finite number {rule} (e.g. {example}), got {value!r}")
    return float(value)


def _count(name: str, value, example: int, high: int | None = None, why: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer (e.g. {example}), got {value!r}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be at most {high} here{why}, got {value}")
    return int(value)


def logq_run(split: Split, **settings) -> dict[str, float]:
    """`logq_trained` (same arguments) without the model: the settings trained and the metrics."""
    return logq_trained(split, **settings)[1]


def logq_trained(
    split: Split,
    *,
    beta: float = 1.0,
    temperature: float | None = None,
    batch_size: int | None = None,
    epochs: int = WIDGET_EPOCHS,
    seed: int = DEFAULT_SEED,
    k: int = DEFAULT_K,
    callbacks=(),
) -> tuple[TwoTower, dict[str, float]]:
    """Train the in-batch two-tower with correction strength β and temperature τ; measure it.

    Args:
        split: A warm split (e.g. `random_split`).
        beta: β >= 0 in s_ij − β log q_j (0 = uncorrected, 1 = Yi et al.'s correction).
        temperature: τ > 0; None keeps the recipe's 0.1.
        batch_size: Users per batch (each brings ~20% of its items as examples); None keeps
            the recipe's 32.
        epochs: Training epochs (the recipe's 10 take too long for a widget; default 3).
        seed: Seed of initialization and training.
        k: Cut-off of NDCG, coverage and ARP (Recall is at 20).
        callbacks: `fit` callbacks, cb(history, model) after every epoch (the panel's progress).

    Returns:
        The model, and its row: beta, temperature, batch_size, epochs (those trained: fewer
        than asked after an interrupt), recall@20, ndcg@k, coverage@k, arp@k, seconds.

    Raises:
        ValueError: On β < 0, τ <= 0, an epoch count outside 1..`MAX_EPOCHS`, a batch size
            outside 1..`MAX_BATCH`, or a batch with too many examples for the in-batch softmax.
    """
    recipe = RECIPES[RECIPE]
    beta = _number("beta", beta, 0.0, strict=False, example="1.0")
    tau = recipe.model_kwargs["temperature"] if temperature is None else temperature
    tau = _number("temperature", tau, 0.0, strict=True, example="0.1")
    size = recipe.fit_kwargs["batch_size"] if batch_size is None else batch_size
    size = _count("batch_size", size, 32, MAX_BATCH,
                  ": the in-batch logits grow with the square of the batch, and larger ones take "
                  "more memory than a Binder pod has")  # fmt: skip
    epochs = _count("epochs", epochs, WIDGET_EPOCHS, MAX_EPOCHS, " (each takes a second or so)")
    start = time.perf_counter()
    model, history = train(
        RECIPE, split, seed=seed, model_kwargs={"log_q_weight": beta, "temperature": tau},
        epochs=epochs, batch_size=size, eval_every=None, progress=False, callbacks=callbacks,
    )  # fmt: skip
    metrics = evaluate_dict(score_users(model, split).numpy(), split, k=k, metrics=LOGQ_METRICS)
    # The epochs that ran: after Kernel ▸ Interrupt, fewer than asked (fit keeps that model).
    trained = len(history.rows)
    settings = dict(zip(SETTINGS, (beta, tau, size, trained), strict=True))
    return model, {**settings, **metrics, "seconds": time.perf_counter() - start}


class LogQExplorer(Panel):
    """β, τ, batch size and epochs + a Train button -> one more row in the run table.

    Headless use: `w = LogQExplorer(split); w.beta.value = 0.0; w.train_button.click()`;
    `w.runs` is the table of all runs (`w.result` too); a bad setting (τ = 0, batch size 0)
    leaves its message in `w.error`, and the next click trains again.

    Args:
        split: A warm split.
        runs: Earlier runs to start the table with (rows of `logq_run`), e.g. the notebook's
            static comparison, so the committed notebook shows a table without a kernel.
        epochs: Default number of epochs.
        seed: Seed of every run.
        user: The user whose top 5 each run lists (`w.followed.lists`).
        k: Cut-off of NDCG, coverage and ARP in the table (Recall is at 20); the notebook's K,
            so the panel's columns match the static runs above it.
    """

    def __init__(self, split: Split, runs: pd.DataFrame | None = None,
                 epochs: int = WIDGET_EPOCHS, seed: int = DEFAULT_SEED,
                 user: int = 0, k: int = DEFAULT_K) -> None:  # fmt: skip
        self.split, self.seed = split, seed
        self.k = check_int("k", k, 1, split.n_items, hint=" (at most the catalogue size)")
        self.followed = FollowedUser(split, user)
        recipe = RECIPES[RECIPE]
        style = {"description_width": "initial"}
        self.beta = widgets.FloatSlider(
            value=1.0, min=0.0, max=1.5, step=0.25, description="logQ strength β",
            tooltip="each in-batch logit minus β · log q_j, q_j item j's share of the training "
            "interactions (how often it is drawn as a negative): 0 is plain in-batch softmax",
            continuous_update=False, style=style,
        )  # fmt: skip
        self.temperature = widgets.FloatText(
            value=recipe.model_kwargs["temperature"], step=0.05, description="temperature τ",
            tooltip="logits divided by τ: a smaller τ sharpens the softmax",
            style=style, layout=widgets.Layout(width="170px"),
        )  # fmt: skip
        self.batch_size = widgets.IntText(
            value=recipe.fit_kwargs["batch_size"], description="batch size", style=style,
            tooltip="users per batch: the batch's other target items are each one's negatives",
            layout=widgets.Layout(width="150px"),
        )  # fmt: skip
        self.epochs = widgets.IntText(
            value=epochs, description="epochs", style=style, layout=widgets.Layout(width="120px")
        )
        self.train_button = widgets.Button(description="Train", button_style="primary")
        self.note = ""  # said above the table about the last run (an interrupt, a repeat)
        self._partial_runs: set[int] = set()  # interrupted: another run's settings, cut short
        self.runs = pd.DataFrame(runs) if runs is not None else pd.DataFrame()
        if len(self.runs) and "run" not in self.runs:
            self.runs.insert(0, "run", np.arange(1, len(self.runs) + 1))
        controls = [self.beta, self.temperature, self.batch_size, self.epochs, self.train_button]
        super().__init__(controls, auto=False, trigger=self.train_button)
        self.train_button.on_click(lambda _: self.refresh())
        if len(self.runs):  # show the earlier runs before the first click
            self.result, self.output.value = self.runs, self.render(self.runs)

    def compute(self) -> pd.DataFrame:
        self.status.value = "training…"

        def progress(history, model) -> None:  # a slow run must not look like a hung one
            self.status.value = f"training… epoch {len(history)} of {self.epochs.value}"

        model, row = logq_trained(
            self.split, beta=self.beta.value, temperature=self.temperature.value,
            batch_size=self.batch_size.value, epochs=self.epochs.value, seed=self.seed,
            k=self.k, callbacks=[progress],
        )  # fmt: skip
        if row["epochs"] == 0:  # fit has put the initial weights back: there is no run to show
            raise ValueError(INTERRUPTED_IN_EPOCH_1)
        self.followed.add(model)
        self.partial = row["epochs"] < self.epochs.value  # the same settings may then finish
        self.note = (f"<br><i>The last run was interrupted after {row['epochs']} of "
                     f"{self.epochs.value} epochs: its row covers those epochs only.</i>"
                     if self.partial else "")  # fmt: skip
        repeated = None if self.partial else self._run_with_settings(row)
        # e.g. the first click at the defaults, which is notebook 04, section 2's last run
        if repeated is not None:
            self.note = (f"<br><i>Run {repeated} had these settings: training is seeded, so "
                         "this run repeated it. Its list is above; the table gets no new "
                         "row.</i>")  # fmt: skip
            return self.runs
        if self.partial:
            self._partial_runs.add(len(self.runs) + 1)
        row = {"run": len(self.runs) + 1, **row}
        self.runs = pd.concat([self.runs, pd.DataFrame([row])], ignore_index=True)
        return self.runs

    def _run_with_settings(self, row: dict) -> int | None:
        """The number of a complete run in the table with `row`'s settings, if any."""
        for run in self.runs.itertuples(index=False):
            if run.run not in self._partial_runs and all(
                getattr(run, name) == row[name] for name in SETTINGS
            ):
                return int(run.run)
        return None

    def render(self, result: pd.DataFrame) -> str:
        settings = {"beta": "{:.3g}", "temperature": "{:.3g}"}  # as typed, not rounded to 0.000
        return (self.followed.html() + "<b>Runs (newest last)</b>" + self.note
                + frame_html(result, formats=settings))  # fmt: skip


__all__ = [
    "LOGQ_METRICS",
    "LogQExplorer",
    "RECIPE",
    "WIDGET_EPOCHS",
    "logq_run",
    "logq_trained",
]
