"""The shared shell of every lesson widget: controls, a result area and an error line.

A panel recomputes when a control's value changes (controls use `continuous_update=False`,
so a slider fires once, on release) or when its button is clicked. `compute()` is a thin call
into the library; a `ValueError` it raises is shown in the panel's status line, in red, and the
panel keeps its last good result (the status line says so) and keeps working. Everything is
plain ipywidgets state, so a test can set `.value` (or call `refresh()`) and read `result`,
`error` and `output.value` without a browser.
"""

import html
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import ipywidgets as widgets
import pandas as pd

from lessons import theme

ERROR_STYLE = f"color:{theme.ERROR};font-weight:bold"
MAX_EPOCHS = 60  # of a training panel: a typo of 1000 would otherwise train for minutes
# A training panel's message when Kernel ▸ Interrupt came before epoch 1 ended (`fit` then puts
# the initial weights back, and a row of that untrained model would read as a run).
INTERRUPTED_IN_EPOCH_1 = (
    "interrupted before the first epoch finished: nothing was trained, so no run was added; "
    "press Train again"
)
# Training is seeded: a click with the last complete run's settings would repeat it row for row.
SAME_SETTINGS = (
    "same settings as the last run, which training (seeded) would only repeat: change a "
    "setting, then press Train"
)


def _settings(controls: Sequence[widgets.Widget]) -> tuple:
    """The values of `controls` and of the controls inside their boxes, in order."""
    values: list = []
    for control in controls:
        if isinstance(control, widgets.Box):
            values.extend(_settings(control.children))
        elif hasattr(control, "value"):
            values.append(control.value)
    return tuple(values)


def distinct_titles(titles: Sequence[str]) -> list[str]:
    """Each item's title, with " #id" appended where two items share it (18 in ML-100K), so
    a menu or a list never shows two movies the same way."""
    counts = pd.Series(titles, dtype=str).value_counts()
    return [t if counts[t] == 1 else f"{t} #{i}" for i, t in enumerate(map(str, titles))]


def frame_html(
    frame: pd.DataFrame, floatfmt: str = "{:.3f}", formats: Mapping[str, str] | None = None
) -> str:
    """A DataFrame as a compact HTML table (floats rounded), for an HTML widget.

    `formats` overrides `floatfmt` for some columns: a setting such as a learning rate of
    0.0004 must read as the learner set it, not as 0.000.

    JupyterLab styles tables (padding, alignment, stripes) only inside its rendered-HTML
    class, which an HTML widget's content lacks; the wrapper gives the widget the same look
    as a DataFrame in an output cell. A table wider than the notebook (the playground's run
    table beside Lab's open sidebar) scrolls in its own box, right under the table, instead of
    widening the whole panel.
    """
    columns = {name: frame[name].map(fmt.format) for name, fmt in (formats or {}).items()}
    table = frame.assign(**columns).to_html(index=False, float_format=floatfmt.format, border=0)
    table = table.replace("<table ", "<table style='margin-left:0' ", 1)  # Lab centres tables
    # contain:inline-size keeps the table's width out of the widget's own width, so the box
    # stays as wide as the notebook and overflow-x scrolls inside it.
    style = "padding:0;overflow-x:auto;contain:inline-size"
    return f"<div class='jp-RenderedHTMLCommon' style='{style}'>{table}</div>"


class Panel(widgets.VBox):
    """Controls on top, a status line, then an HTML result area.

    Subclasses implement `compute()` (returns the result, raises ValueError on bad input) and
    `render(result)` (returns HTML).

    Args:
        controls: The widgets on top; with `auto`, a change of any control's value recomputes.
        auto: False for a panel that recomputes on a button's click only.
        trigger: That button: disabled while `compute()` runs. A click with the settings of the
            last complete run is answered with `SAME_SETTINGS` instead of a second identical
            run: the disabled button does not stop an impatient second click that reached the
            kernel before it greyed out (ipywidgets queues it, and handles it once the run
            has ended and the button is enabled again).

    Attributes:
        result: The last good result of `compute()`, or None.
        error: The message of the last failed `compute()`, or None after a success.
        status: HTML widget with the error message (empty when all is well).
        output: HTML widget with the rendered result.
    """

    def __init__(self, controls: Sequence[widgets.Widget], *, auto: bool = True,
                 trigger: widgets.Button | None = None, **kwargs: Any) -> None:  # fmt: skip
        self.trigger = trigger
        self.result: Any = None
        self.error: str | None = None
        self.status = widgets.HTML()
        self.output = widgets.HTML()
        self.controls = list(controls)
        # The settings of the last run that finished; a subclass sets `partial` for a run cut
        # short (Kernel ▸ Interrupt), which the same settings may then complete.
        self.partial, self._last_run = False, None
        if auto:  # a button-driven panel recomputes on click only
            for control in self.controls:
                if hasattr(control, "value"):
                    control.observe(self._on_change, names="value")
        # Wrap, not shrink: beside Lab's open sidebar a row of five controls is wider than the
        # notebook, and flexbox would squeeze the sliders' tracks to nothing.
        row = widgets.HBox(self.controls, layout=widgets.Layout(flex_flow="row wrap"))
        super().__init__([row, self.status, self.output], **kwargs)

    def compute(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def render(self, result: Any) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def _on_change(self, change: Any = None) -> None:
        self.refresh()

    def settings(self) -> tuple:
        """What a triggered run depends on, compared with the last complete run's: by default
        the controls' values. A subclass may say which values are the same run."""
        return _settings(self.controls)

    @contextmanager
    def _busy(self) -> Iterator[None]:
        """The trigger button disabled while the body runs (and enabled again however it ends)."""
        if self.trigger is not None:
            self.trigger.disabled = True
        try:
            yield
        finally:
            if self.trigger is not None:
                self.trigger.disabled = False

    def refresh(self) -> Any:
        """Recompute and redraw; on an error show its message and keep the last result.

        A ValueError is the learner's input (its message says what to change); any other
        exception is a fault, shown with its type; Kernel ▸ Interrupt is reported as such.
        Either way it appears in the panel: an exception escaping a widget callback would only
        reach JupyterLab's log console.
        """
        settings = self.settings()
        if self.trigger is not None and settings == self._last_run:
            # The panel shows that run's result again, with no error of a later attempt.
            self.error, self.status.value = None, f"<i>{SAME_SETTINGS}</i>"
            return self.result
        try:
            with self._busy():
                self.partial = False
                result = self.compute()
                rendered = self.render(result)
        except KeyboardInterrupt:  # Kernel ▸ Interrupt outside a training loop (which keeps
            # its model): say so here, or the status line would go on saying "training…".
            message = "interrupted (Kernel ▸ Interrupt) before the result was ready"
        except Exception as exc:  # noqa: BLE001 - shown in the panel, which keeps working
            message = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
        else:
            self.result, self.error = result, None
            self._last_run = None if self.partial else settings
            self.status.value = ""
            self.output.value = rendered
            return result
        self.error = message
        # Without a word, the last result reads as the answer to the rejected input.
        kept = "" if self.result is None else " (below: the result of the last valid input)"
        self.status.value = f"<span style='{ERROR_STYLE}'>⚠ {html.escape(message)}</span>{kept}"
        return None


__all__ = [
    "ERROR_STYLE",
    "INTERRUPTED_IN_EPOCH_1",
    "MAX_EPOCHS",
    "Panel",
    "SAME_SETTINGS",
    "distinct_titles",
    "frame_html",
]
