"""Reading a lesson widget in the browser: its tables, its error line, waiting for an update.

`output` is the Playwright locator of a code cell's output area (`notebook.output_of`);
a panel (lessons.widgets.base.Panel) renders its results as HTML tables and its errors as a
red "⚠ message" line.
"""

import re

from tests.browser.checks import illegible_texts

UPDATE_TIMEOUT_S = 60.0  # one widget retrain / recommendation refresh


def table_rows(output) -> list[dict[str, str]]:
    """The rows of the last HTML table in a widget's output, as header → cell text."""
    tables = output.locator(".widget-html-content table")
    if tables.count() == 0:
        return []
    table = tables.last
    headers = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    return [
        dict(zip(headers, (c.strip() for c in row.locator("td").all_inner_texts()), strict=True))
        for row in table.locator("tbody tr").all()
    ]


# JS predicates on the last table of a widget's output (or undefined) and one argument.
MORE_ROWS_JS = "(table, n) => table?.querySelectorAll('tbody tr').length > n"
NEW_LIST_JS = "(table, old) => !!table && table.querySelector('tbody').innerText !== old"


def wait_for_table(page, output, predicate_js: str, arg) -> None:
    """Wait until `predicate_js(last table in the widget output, arg)` holds."""
    last_table = "Array.from(el.querySelectorAll('.widget-html-content table')).pop()"
    page.wait_for_function(f"([el, arg]) => ({predicate_js})({last_table}, arg)",
                           arg=[output.element_handle(), arg],
                           timeout=UPDATE_TIMEOUT_S * 1000, polling="raf")  # fmt: skip


def rendered_widgets(page) -> int:
    """Widget views inside outputs (an unrenderable one is the output itself, so not counted)."""
    return page.locator(".jp-OutputArea-output .jupyter-widgets").count()


def widget_error(output) -> str:
    """The panel's own error line (red ⚠ message), or ''."""
    texts = output.locator(".widget-html-content", has_text="⚠").all_inner_texts()
    return " | ".join(texts)


def wait_for_text(page, output, text: str) -> None:
    """Wait until the widget output shows `text` (e.g. the panel's error message)."""
    page.wait_for_function("([el, text]) => el.innerText.includes(text)",
                           arg=[output.element_handle(), text],
                           timeout=UPDATE_TIMEOUT_S * 1000)  # fmt: skip


def assert_refused_legibly(page, output, message: str, kept: list[dict[str, str]]) -> None:
    """The panel shows `message` in its error line, legible in both themes, and keeps `kept`."""
    wait_for_text(page, output, message)
    assert message in widget_error(output)
    assert table_rows(output) == kept, "the panel must keep its last good result"
    illegible = illegible_texts(page)
    assert not illegible, f"the error line must be legible: {illegible}"


def is_metric(text: str) -> bool:
    """A rendered metric: a decimal number in [0, 1]."""
    return re.fullmatch(r"\d+\.\d+", text) is not None and 0.0 <= float(text) <= 1.0
