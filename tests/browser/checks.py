"""What a learner cannot use or read on a rendered notebook page: JS probes for the browser test.

* Layout: a slider whose track flexbox squeezed to a few pixels, or a panel wider than the
  notebook, whose right-hand part hides behind the panel's own scrollbar.
* Legibility: output text under WCAG AA's 4.5:1 contrast against what is behind it, in
  JupyterLab's light and dark themes (a colour fixed for white can vanish on #111).
"""

import re

LAYOUT_FAULTS_JS = """([root, minTrack]) => {
  const faults = [];
  for (const track of root.querySelectorAll('.widget-slider .noUi-target')) {
    const width = Math.round(track.getBoundingClientRect().width);
    const label = track.closest('.widget-slider').innerText.trim().replace(/\\s+/g, ' ');
    if (width < minTrack) faults.push(`slider "${label}": track ${width} px wide`);
  }
  for (const panel of root.querySelectorAll('.widget-vbox')) {
    const over = panel.scrollWidth - panel.clientWidth;
    if (over > 1) faults.push(`a panel is ${over} px wider than the notebook`);
  }
  return faults;
}"""
MIN_TRACK_PX = 80

# Every visible element of an output with text of its own: its colour blended over the
# backgrounds behind it (WCAG 2 relative luminance), one line per distinct pair of colours.
# stderr is skipped: JupyterLab colours it (tracebacks' ANSI colours), and a traceback fails
# the run anyway.
LOW_CONTRAST_JS = """([root, minRatio]) => {
  const rgba = css => {
    const parts = css.match(/rgba?\\(([^)]+)\\)/)[1].split(/[\\s,\\/]+/).filter(Boolean);
    return [...parts.slice(0, 3).map(Number), parts.length > 3 ? Number(parts[3]) : 1];
  };
  const over = (top, below) => [0, 1, 2].map(i => top[i] * top[3] + below[i] * (1 - top[3]));
  const linear = v => (v /= 255) <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  const luminance = c => 0.2126 * linear(c[0]) + 0.7152 * linear(c[1]) + 0.0722 * linear(c[2]);
  const backdrop = el => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = rgba(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    return layers.reverse().reduce((below, top) => over(top, below), [255, 255, 255]);
  };
  const faults = new Map();
  for (const el of root.querySelectorAll('.jp-OutputArea-output *')) {
    const text = Array.from(el.childNodes, n => n.nodeType === 3 ? n.textContent : '')
      .join(' ').trim();
    const style = getComputedStyle(el);
    if (!text || !el.getClientRects().length || style.visibility === 'hidden') continue;
    if (el.closest('[data-mime-type="application/vnd.jupyter.stderr"]')) continue;
    const bg = backdrop(el), fg = over(rgba(style.color), bg);
    const [hi, lo] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const key = `rgb(${fg.map(Math.round)}) on rgb(${bg.map(Math.round)})`;
    if (ratio < minRatio && !faults.has(key))
      faults.set(key, `"${text.slice(0, 40)}": ${key}, ${ratio.toFixed(2)}:1`);
  }
  return [...faults.values()];
}"""
MIN_CONTRAST = 4.5  # WCAG 2 AA for body text
THEMES = ("JupyterLab Light", "JupyterLab Dark")


def layout_faults(locator) -> list[str]:
    """Squeezed slider tracks and overflowing widget panels under `locator` (see the JS)."""
    return locator.evaluate(f"(el, arg) => ({LAYOUT_FAULTS_JS})([el, arg])", MIN_TRACK_PX)


def use_theme(page, name: str) -> None:
    """Settings > Theme > `name`, as a learner would; returns once the theme is drawn."""
    if page.evaluate("() => document.body.dataset.jpThemeName") == name:
        return
    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").first.click()
    page.locator(".lm-Menu-item", has_text="Theme").first.hover()
    label = page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(name)}$"))
    label.first.click()
    # Lab sets the name once the theme's CSS has loaded, and hides the shell for one frame; its
    # splash (the Jupyter logo over a faded page) fades out after that, and a screenshot taken
    # before it has gone shows the logo over the widgets.
    page.wait_for_function("name => document.body.dataset.jpThemeName === name && "
                           "document.querySelector('.jp-LabShell').getClientRects().length && "
                           "!document.getElementById('jupyterlab-splash')",
                           arg=name, timeout=30_000)  # fmt: skip


def illegible_texts(page) -> dict[str, list[str]]:
    """Output text under `MIN_CONTRAST`, per theme of `THEMES`; the page ends in the first."""
    notebook = page.locator(".jp-Notebook")
    found = {}
    try:
        for theme in THEMES:
            use_theme(page, theme)
            faults = notebook.evaluate(f"(el, arg) => ({LOW_CONTRAST_JS})([el, arg])",
                                       MIN_CONTRAST)  # fmt: skip
            if faults:
                found[theme] = faults
    finally:  # the theme is a user setting: later pages of the same server would inherit it
        use_theme(page, THEMES[0])
    return found
