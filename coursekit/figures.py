"""How the course's figures are drawn and shown, so that they can be read where they are shown.

``ck.setup`` calls :func:`use_course_style` once per notebook. It does two things:

* renders every figure at :data:`DPI` dots per inch (matplotlib's default, 100, is soft
  on a high-density screen and on the site);
* in a Jupyter kernel, gives each figure's PNG output a little metadata under
  ``"coursekit"``: an alt text that says what the figure shows (its titles and axis
  labels), the size in points of its smallest text, its dpi, the axes that show values
  without a label, and the share of each panel's points its legend covers. The site uses the
  alt text for the image, and its figure test checks that the figure's text stays at least
  :data:`MIN_TEXT_PX` pixels high at the width the page shows it, that every axis that shows
  values says what they are, and that no legend covers more than :data:`MAX_LEGEND_COVER` of
  its panel's points.

Text height on the page is ``points / 72 * dpi * shown_px / natural_px``: a figure wider
than the page column is shrunk, and its text with it. :func:`text_px` computes it.
"""

from __future__ import annotations

import re

import matplotlib

DPI = 150
MIN_TEXT_PX = 8.0
# A legend may cover at most this share of its panel's plotted points: "legends that do not
# cover data", with room for a dense scatter's few points under a legend box.
MAX_LEGEND_COVER = 0.03

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


# a tick label that shows a value: digits, signs, a decimal point, a power of ten in mathtext
_NUMBER = re.compile(r"[\s$\d.,+\-\u2212^{}eE\u00d7%]*\d[\s$\d.,+\-\u2212^{}eE\u00d7%]*")


def _panels(fig):
    """The axes of ``fig`` that plot data: visible, with their axes drawn, and neither an
    image (a grid of digits) nor a colour bar."""
    for ax in fig.get_axes():
        if ax.get_visible() and ax.axison and not ax.images and not hasattr(ax, "_colorbar"):
            yield ax


def _needs_label(ax, which: str) -> bool:
    """Whether ``ax``'s x or y axis shows values without saying what they are: it has tick
    labels, no label of its own, and no labelled axes sharing it (subplots that share an
    axis label it once)."""
    axis = ax.xaxis if which == "x" else ax.yaxis
    if axis.get_label().get_text().strip() or not axis.get_visible():
        return False
    shown = [t.get_text() for t in axis.get_ticklabels() if t.get_visible() and t.get_text()]
    if not shown:
        return False  # no values shown (ticks removed, or shared and hidden)
    if not all(_NUMBER.fullmatch(text.replace("\\mathdefault", "")) for text in shown):
        return False  # the ticks name categories (methods, classes), which say what they are
    shared = ax.get_shared_x_axes() if which == "x" else ax.get_shared_y_axes()
    siblings = shared.get_siblings(ax)
    return not any(
        (s.xaxis if which == "x" else s.yaxis).get_label().get_text().strip() for s in siblings
    )


def unlabelled_axes(fig) -> list[str]:
    """Each data panel's axis that shows values without a label, as "title: x" ("" if none)."""
    found = []
    for ax in _panels(fig):
        name = ax.get_title().strip() or ax.get_title(loc="left").strip() or "a panel"
        found += [f"{name}: {w}" for w in ("x", "y") if _needs_label(ax, w)]
    return found


def legend_cover(fig) -> float:
    """The largest share, over the panels with a legend, of a panel's plotted points (line
    vertices and scatter points) that its legend's box covers. Call after the figure is drawn."""
    return max(legend_cover_by_panel(fig).values(), default=0.0)


def legend_cover_by_panel(fig) -> dict[str, float]:
    """For each panel with a legend (by its title), the share of its points the legend covers."""
    import numpy as np

    cover = {}
    for k, ax in enumerate(_panels(fig)):
        legend = ax.get_legend()
        if legend is None or not legend.get_visible():
            continue
        box = legend.get_window_extent()
        points = [line.get_xydata() for line in ax.get_lines() if line.get_visible()]
        points += [c.get_offsets() for c in ax.collections if hasattr(c, "get_offsets")]
        points = [np.asarray(p, dtype=float).reshape(-1, 2) for p in points if len(p)]
        if not points:
            continue
        xy = ax.transData.transform(np.concatenate(points))
        xy = xy[np.isfinite(xy).all(axis=1) & _inside(ax.get_window_extent(), xy)]  # drawn
        if len(xy):
            cover[ax.get_title().strip() or f"panel {k + 1}"] = float(_inside(box, xy).mean())
    return cover


def _inside(box, xy):
    return (xy[:, 0] >= box.x0) & (xy[:, 0] <= box.x1) & (xy[:, 1] >= box.y0) & (xy[:, 1] <= box.y1)


def describe(fig) -> dict:
    """The metadata a figure's PNG output carries (see the module's docstring)."""
    return {
        "alt": alt_text(fig),
        "min_font_pt": smallest_font_pt(fig),
        "dpi": float(fig.dpi),
        "unlabelled": unlabelled_axes(fig),
        "legend_cover": {k: round(v, 4) for k, v in legend_cover_by_panel(fig).items()},
    }


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
