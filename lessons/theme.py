"""Text colours of the lessons' own HTML, legible in JupyterLab's light and dark themes.

Each colour is a JupyterLab theme variable, so it follows the learner's theme, with a fallback
for renderers that lack the variables (GitHub, nbviewer). Fixed colours cannot serve both
themes: no colour has WCAG AA's 4.5:1 text contrast against both the light theme's white and
the dark theme's #111. Contrast of each pick against the notebook's background:

| colour    | variable                 | Light  | Dark   |
|-----------|--------------------------|--------|--------|
| `ERROR`   | --jp-error-color1        | 5.0:1  | 5.1:1  |
| `SUCCESS` | --jp-success-color0      | 7.9:1  | 4.6:1  |
| `MUTED`   | --jp-content-font-color2 | 4.6:1  | 9.5:1  |

The warning variables are not listed: the light theme's --jp-warn-color0 reaches only 3.8:1.
The browser test checks every output's text contrast in both themes.
"""

ERROR = "var(--jp-error-color1, #b00020)"
SUCCESS = "var(--jp-success-color0, #1b7e1b)"
MUTED = "var(--jp-content-font-color2, #555)"

__all__ = ["ERROR", "MUTED", "SUCCESS"]
