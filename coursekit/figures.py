"""How the course's figures are drawn and shown, so that they can be read where they are shown.

``ck.setup`` calls :func:`use_course_style` once per notebook. It does two things:

* renders every figure at :data:`DPI` dots per inch (matplotlib's default, 100, is soft
  on a high-density screen and on the site);
* in a Jupyter kernel, gives each figure's PNG output a little metadata under
  ``"coursekit"``: an alt text that says what the figure shows (its titles and axis
  labels), the size in points of its smallest text, and its dpi. The site uses the alt text
  for the image, and its figure test uses the font size to check that the figure's text
  stays at least :data:`MIN_TEXT_PX` pixels high at the width the page shows it.

Text height on the page is ``points / 72 * dpi * shown_px / natural_px``: a figure wider
than the page column is shrunk, and its text with it. :func:`text_px` computes it.
"""

from __future__ import annotations

import matplotlib

DPI = 150
MIN_TEXT_PX = 8.0

STYLE = {
    "figure.dpi": DPI,
    "savefig.dpi": "figure",
}


def use_course_style() -> None:
    """Apply the course's figure settings and, in a Jupyter kernel, describe each figure."""
    matplotlib.rcParams.update(STYLE)
    _describe_figures_in_outputs()


def text_px(points: float, dpi: float, natural_px: float, shown_px: float) -> float:
    """How many pixels high text of ``points`` is in an image ``natural_px`` wide shown at ``shown_px``."""
    return points / 72 * dpi * shown_px / natural_px


def smallest_font_pt(fig) -> float | None:
    """The size in points of the smallest non-empty text that ``fig`` draws (None if none)."""
    sizes = [
        t.get_fontsize() for t in _drawn_texts(fig) if t.get_visible() and t.get_text().strip()
    ]
    return min(sizes) if sizes else None


def _drawn_texts(fig):
    """The text artists of ``fig`` that can be drawn: those of hidden axes and legends not."""
    yield from fig.texts
    for legend in fig.legends:
        yield from _legend_texts(legend)
    for ax in fig.get_axes():
        if not ax.get_visible():
            continue
        yield from (ax.title, ax._left_title, ax._right_title, *ax.texts)
        yield from _legend_texts(ax.get_legend())
        if ax.axison:
            for axis in ax._axis_map.values():
                if axis.get_visible():
                    yield from (axis.label, axis.offsetText, *axis.get_ticklabels(which="both"))


def _legend_texts(legend):
    if legend is not None and legend.get_visible():
        yield from (legend.get_title(), *legend.get_texts())


def alt_text(fig) -> str:
    """A sentence that says what ``fig`` shows: its title, and each panel's title and axes."""
    panels = [ax for ax in fig.get_axes() if ax.get_visible() and (ax.axison or ax.images)]
    parts = []
    title = fig._suptitle.get_text().strip() if getattr(fig, "_suptitle", None) else ""
    for ax in panels:
        name = ax.get_title().strip() or ax.get_title(loc="left").strip()
        x, y = ax.get_xlabel().strip(), ax.get_ylabel().strip()
        axes = " against ".join(label for label in (y, x) if label)
        if name and axes:
            parts.append(f"{name} ({axes})")
        elif name or axes:
            parts.append(name or axes)
        elif ax.images:
            parts.append("an image")
    count = len(panels)
    what = "A figure" if count <= 1 else f"A figure of {count} panels"
    text = what + (f', "{title}"' if title else "")
    if parts:
        shown = "; ".join(dict.fromkeys(parts))  # each distinct panel once
        text += ": " + shown
    return " ".join(text.split()) + "."  # a title of two lines is one line here


def describe(fig) -> dict:
    """The metadata a figure's PNG output carries (see the module's docstring)."""
    return {"alt": alt_text(fig), "min_font_pt": smallest_font_pt(fig), "dpi": float(fig.dpi)}


# --- the kernel side -------------------------------------------------------------------


def _describe_figures_in_outputs() -> None:
    """Wrap the inline backend's PNG formatter so each figure output carries describe()."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return
    backend = str(matplotlib.rcParams._get_backend_or_none() or "")
    if "inline" not in backend:
        return
    # Importing the inline backend registers its PNG formatter (matplotlib loads it lazily,
    # at the first figure); it does so once, so the wrapper below stays.
    import matplotlib_inline.backend_inline  # noqa: F401
    from matplotlib.figure import Figure

    png = shell.display_formatter.formatters["image/png"]
    try:
        draw = png.lookup_by_type(Figure)
    except KeyError:
        return
    if getattr(draw, "coursekit", False):
        return

    def draw_and_describe(fig):
        data = draw(fig)
        return (data, {"coursekit": describe(fig)}) if data else data

    draw_and_describe.coursekit = True
    png.for_type(Figure, draw_and_describe)
