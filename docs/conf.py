"""Sphinx configuration of the course site.

Build with ``python -m coursekit site`` (or ``make site``): it copies this folder to
``build/site-src/`` with the executed notebooks and the generated pages, and writes
``_site.json`` there with what this configuration needs to know about the build.
"""

import json
from pathlib import Path

_info = Path(__file__).with_name("_site.json")
if not _info.is_file():
    raise RuntimeError("build the site with `python -m coursekit site`, not sphinx-build docs/")
SITE = json.loads(_info.read_text())

project = "Modern machine learning, checked"
author = "the course's authors"
copyright = "the course's authors, MIT licence"

extensions = ["myst_nb", "sphinx.ext.mathjax", "sphinx_copybutton"]
# A copy button on code a reader would run: notebook cells and the shell and Python blocks of
# the pages, not on outputs.
copybutton_selector = (
    "div.cell_input div.highlight pre, div.highlight-bash div.highlight pre, "
    "div.highlight-python div.highlight pre"
)
exclude_patterns = ["_generated", "_extra", "_site.json", "**/.ipynb_checkpoints"]
templates_path = ["_templates"]
# Text as written, as JupyterLab shows it (and check names match their results files).
smartquotes = False

# The notebooks were executed by `coursekit run` or the tests; render what they hold.
nb_execution_mode = "off"
# No widget JavaScript from a CDN: the site must work offline.
nb_ipywidgets_js = {}
myst_enable_extensions = ["dollarmath", "amsmath", "substitution", "attrs_inline"]
myst_heading_anchors = 3
myst_substitutions = {"profile": SITE["profile"], "built_at": SITE["built_at"]}

# MathJax 3 is served from the site (vendored from npm by coursekit.site), never a CDN.
mathjax_path = "mathjax/tex-mml-chtml.js"

html_theme = "sphinx_book_theme"
html_title = project
html_favicon = "_static/favicon.svg"
html_static_path = ["_static", SITE["static_vendor"]]
html_css_files = ["course.css"]
# Click a figure to see it at full size; click again (or press Escape) to put it back.
html_js_files = ["course.js"]
# Each notebook as stored (no outputs) sits next to its page as notebooks/NN_topic.ipynb;
# _sources/ keeps the executed copy the page was rendered from.
html_extra_path = ["_extra"]
html_sourcelink_suffix = ""
html_last_updated_fmt = None
# "auto" follows the reader's system setting; the header's button switches light/dark.
html_context = {"default_mode": "auto", "site": SITE}

_launch = {}
if SITE["repo_url"]:
    _launch = {
        "notebook_interface": "jupyterlab",
        "binderhub_url": "https://mybinder.org",
        "colab_url": "https://colab.research.google.com",
    }
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "use_download_button": False,  # the page's "Run this notebook" box links both downloads
    "use_fullscreen_button": False,
    # One search box per page: the sidebar's field on a wide screen, the header's button on
    # a narrow one (the theme would add a second field above the page on a wide screen).
    "navbar_persistent": [],
    "repository_url": SITE["repo_url"],
    "repository_branch": SITE["branch"],
    "path_to_docs": "",  # pages are notebooks/NN_topic, as in the repository
    "use_repository_button": bool(SITE["repo_url"]),
    "use_source_button": bool(SITE["repo_url"]),  # the notebook as stored, in the repository
    "launch_buttons": _launch,
    "extra_footer": (
        f"<p>Built {SITE['built_at']} from the executed notebooks of the "
        f"<strong>{SITE['profile']}</strong> profile (build/notebooks/{SITE['profile']}/).</p>"
    ),
}


def _describe_figures(app, doctree):
    """Give each figure the alt text its notebook output carries (coursekit.figures).

    myst-nb names an output image by the sha256 of its bytes; coursekit.site collected each
    figure's description under that name into _site.json."""
    from docutils import nodes

    for image in doctree.findall(nodes.image):
        info = SITE["figures"].get(Path(image["uri"]).stem)
        if info:
            image["alt"] = info["alt"]
            image["classes"].append("ck-figure")


def setup(app):
    app.connect("doctree-read", _describe_figures)
    return {"parallel_read_safe": True}
