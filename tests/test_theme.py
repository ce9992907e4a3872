"""lessons.theme: each colour reads (WCAG AA, 4.5:1) in JupyterLab's light and dark themes.

The contrast is computed from the installed JupyterLab's own theme CSS, against the notebook's
background (--jp-layout-color0), so a JupyterLab upgrade that darkens a colour fails here.
The browser test measures the rendered page; this also covers colours that a Run All never
shows (a correct or an incorrect exercise answer).
"""

import re
from pathlib import Path

import pytest

from lessons import theme
from tests.browser.checks import MIN_CONTRAST

COLOURS = {"ERROR": theme.ERROR, "SUCCESS": theme.SUCCESS, "MUTED": theme.MUTED}
THEMES = ("theme-light-extension", "theme-dark-extension")
NAMED = {"white": "#fff", "black": "#000"}


def rgba(value: str) -> tuple[float, float, float, float]:
    """'#b00020', '#111', 'white' or 'rgba(0,0,0,.54)' as (r, g, b, alpha), r/g/b in 0-255."""
    value = NAMED.get(value.strip(), value.strip())
    if value.startswith("#"):
        digits = value[1:] if len(value) == 7 else "".join(c * 2 for c in value[1:])
        return (*(int(digits[i : i + 2], 16) for i in (0, 2, 4)), 1.0)
    r, g, b, a = (float(x) for x in re.fullmatch(r"rgba\((.+)\)", value).group(1).split(","))
    return r, g, b, a


def contrast(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio of `foreground` (alpha-blended over `background`) on it."""
    *fg, alpha = rgba(foreground)
    bg = rgba(background)[:3]
    fg = [alpha * f + (1 - alpha) * b for f, b in zip(fg, bg, strict=True)]

    def luminance(rgb):
        linear = [(c / 255) / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4
                  for c in rgb]  # fmt: skip
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def theme_colours(name: str) -> dict[str, str]:
    """The --jp-* colours of an installed JupyterLab theme; var(--md-x, #hex) → #hex."""
    jupyterlab = pytest.importorskip("jupyterlab")
    css = Path(jupyterlab.__file__).parent / "themes" / "@jupyterlab" / name / "index.css"
    variables = dict(re.findall(r"(--jp-[\w-]+):([^;}]+)", css.read_text()))
    return {k: re.sub(r"^var\(--md-[\w-]+,(.+)\)$", r"\1", v) for k, v in variables.items()}


def test_contrast_matches_wcag_reference_values():
    assert contrast("black", "white") == pytest.approx(21.0)
    assert contrast("#777", "#fff") == pytest.approx(4.48, abs=0.01)  # the classic near miss
    assert contrast("rgba(0,0,0,.54)", "white") == pytest.approx(contrast("#757575", "white"), 0.01)


@pytest.mark.parametrize("theme_name", THEMES)
@pytest.mark.parametrize("colour", COLOURS)
def test_colour_reads_in_jupyterlab_theme(colour, theme_name):
    variables = theme_colours(theme_name)
    variable = re.fullmatch(r"var\((--jp-[\w-]+), #\w+\)", COLOURS[colour]).group(1)
    ratio = contrast(variables[variable], variables["--jp-layout-color0"])
    assert ratio >= MIN_CONTRAST, f"{colour} ({variable}) is {ratio:.2f}:1 in {theme_name}"


@pytest.mark.parametrize("colour", COLOURS)
def test_fallback_reads_on_white(colour):
    """Renderers without Lab's variables (GitHub, nbviewer) use the fallback, on white."""
    fallback = re.fullmatch(r"var\(--jp-[\w-]+, (#\w+)\)", COLOURS[colour]).group(1)
    assert contrast(fallback, "white") >= MIN_CONTRAST
