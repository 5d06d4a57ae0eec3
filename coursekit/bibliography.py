"""The papers and books the notebooks cite, for the site's bibliography page.

    mentions(text)        # where a citation ("Goyal et al. (2017)") stands in Markdown
    link_citations(text)  # each known citation as a link to its bibliography entry
    page(notebooks)       # the bibliography page, as MyST Markdown

The notebooks cite in prose, as a reader would ("Kingma & Ba, 2015"), and stay that way in
JupyterLab. The entries are in ``docs/bibliography.toml``. On the site each citation becomes a link to its entry on the bibliography page,
and the entry links to the paper. Every citation in a notebook must have an entry here
(``tests/test_site.py`` finds them with :data:`CITATION`): a new citation without one fails.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import nbformat


@dataclass(frozen=True)
class Paper:
    key: str
    cited: str  # the short form: "Goyal et al. 2017"
    title: str
    venue: str
    url: str
    # How the notebooks cite it, as written (line breaks and spaces may differ).
    cited_as: tuple[str, ...]


SOURCE = Path(__file__).resolve().parents[1] / "docs" / "bibliography.toml"


def _read(path: Path = SOURCE) -> list[Paper]:
    with path.open("rb") as f:
        entries = tomllib.load(f)["paper"]
    return [Paper(**{**e, "cited_as": tuple(e["cited_as"])}) for e in entries]


PAPERS = _read()

# A citation in prose: "Name et al. 2017", "Name & Name, 2015", "Name, Name and Name (2016)",
# "Name (1996)". What the test looks for; words that are not authors are listed in NOT_AUTHORS.
_NAME = r"[A-Z][a-zà-ÿ'’]+(?:-[A-Z][a-zà-ÿ]+)?"
_PARTICLE = r"(?:van der |de |Del )?"
CITATION = re.compile(
    rf"(?:{_NAME}\s+et\s+al\.|{_PARTICLE}{_NAME}(?:,\s+{_PARTICLE}{_NAME})*,?\s+(?:&|and)\s+"
    rf"{_PARTICLE}{_NAME}|{_NAME}),?\s+\(?(?:19|20)\d\d\b"
)
NOT_AUTHORS = {
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
    "In",
    "Since",
    "From",
    "Until",
}


def _pattern(text: str) -> str:
    return r"\s+".join(re.escape(word) for word in text.split())


def mentions(text: str) -> list[tuple[int, int, Paper]]:
    """Where known citations stand in ``text``: (start, end, paper), in order."""
    found = []
    for paper in PAPERS:
        for cited in paper.cited_as:
            for m in re.finditer(_pattern(cited), text):
                found.append((m.start(), m.end(), paper))
    return sorted(found, key=lambda f: f[0])


def unknown_citations(text: str) -> list[str]:
    """Citations in ``text`` (by :data:`CITATION`) that no entry's ``cited_as`` covers."""
    known = [(start, end) for start, end, _ in mentions(text)]
    missing = []
    for m in CITATION.finditer(text):
        if m.group().split()[0].strip(",") in NOT_AUTHORS:
            continue
        if not any(
            start <= m.start() < end or m.start() <= start < m.end() for start, end in known
        ):
            missing.append(" ".join(m.group().split()))
    return missing


def link_citations(text: str) -> str:
    """``text`` with each known citation a link to its entry on the bibliography page."""
    out, last = [], 0
    for start, end, paper in mentions(text):
        if start < last:
            continue  # inside a citation already linked
        words = " ".join(text[start:end].split())
        out += [text[last:start], f"{{ref}}`{words} <bib-{paper.key}>`"]
        last = end
    return "".join(out) + text[last:]


def cited_in(notebooks: list[Path]) -> dict[str, list[str]]:
    """Each paper's key -> the notebooks (stems) whose Markdown cites it."""
    cites: dict[str, list[str]] = {p.key: [] for p in PAPERS}
    for notebook in notebooks:
        nb = nbformat.read(notebook, as_version=4)
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        for _, _, paper in mentions(text):
            if notebook.stem not in cites[paper.key]:
                cites[paper.key].append(notebook.stem)
    return cites


def page(notebooks: list[Path]) -> str:
    """The bibliography page, as MyST Markdown: every entry, with the notebooks citing it."""
    cites = cited_in(notebooks)
    out = [
        "# Bibliography",
        "",
        "The papers and books the notebooks cite, in the order the course first cites them; "
        "each entry links to the paper and to the notebooks that cite it.",
    ]
    for paper in PAPERS:
        where = ", ".join(f"[{stem[:2]}](notebooks/{stem}.ipynb)" for stem in cites[paper.key])
        out += [
            "",
            f"(bib-{paper.key})=",
            f"**{paper.cited}.** [{paper.title}]({paper.url}). {paper.venue}."
            + (f" Cited in {where}." if where else ""),
        ]
    return "\n".join(out) + "\n"
