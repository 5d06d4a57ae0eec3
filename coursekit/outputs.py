"""What an executed notebook shows its reader, and the machine noise it must not show.

An executed copy of a notebook is what the site publishes and what a learner reads after
``python -m coursekit run``. Three kinds of output in it are noise, not lesson:

* anything written to **stderr**: a library's warning (``RuntimeWarning: ...``), a logger's
  line (a sampler's "Initializing NUTS ..."), a kernel's own complaint. A warning that
  matters is dealt with at its cause, or turned into a sentence the notebook prints;
* an **absolute path** of the machine that ran it (``/tmp/...``, ``/home/...``, a
  ``site-packages`` file): it says where one machine keeps its files, and nothing to a
  reader; a page names files relative to the repository;
* a progress bar's **drawing** left as text (``100%|##########| 50/50``).

:func:`noise` finds them; the tests run it on every notebook the test run executed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# An absolute path: a root folder that machines keep files in, after a space, a quote, a
# bracket or the start of a line (so that a URL's path, "https://host/tmp/x", is not one).
_ABSOLUTE = re.compile(
    r"(?:(?<=[\s'\"(\[=:,])|^)/(?:root|home|tmp|work|usr|opt|var|private|Users|mnt|srv)/\S*"
    r"|\S*site-packages\S*"
    r"|\b[A-Z]:\\\S+",
    re.MULTILINE,
)
# A text progress bar: "42%|####      |" or a run of block characters.
_BAR = re.compile(r"\d+%\|[#█▏▎▍▌▋▊▉ ]*\||\|[#█]{3,}")


@dataclass(frozen=True)
class Noise:
    cell: int  # the cell's index in the notebook (0 is the first cell)
    kind: str  # "stderr", "absolute path" or "progress bar"
    text: str  # the offending line, shortened

    def __str__(self) -> str:
        return f"cell {self.cell}: {self.kind}: {self.text}"


def _texts(output: dict) -> list[str]:
    """The text a reader sees of one output: a stream's, or a result's plain text and HTML."""
    if output.get("output_type") == "stream":
        return [output.get("text", "")]
    data = output.get("data", {})
    return [data[kind] for kind in ("text/plain", "text/html", "text/markdown") if kind in data]


def _short(line: str, limit: int = 160) -> str:
    line = line.strip()
    return line if len(line) <= limit else line[: limit - 3] + "..."


def noise(nb) -> list[Noise]:
    """Every piece of machine noise in an executed notebook's outputs, cell by cell (and in
    the paths papermill records in its metadata, as cell -1)."""
    found = []
    for key, value in nb.metadata.get("papermill", {}).items():
        if key.endswith("_path") and isinstance(value, str) and _ABSOLUTE.search(value):
            found.append(Noise(-1, "absolute path", f"metadata.papermill.{key}: {value}"))
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                lines = [ln for ln in output.get("text", "").splitlines() if ln.strip()]
                found += [Noise(index, "stderr", _short(ln)) for ln in lines[:3]]
                continue
            for text in _texts(output):
                text = "".join(text) if isinstance(text, list) else text
                for line in text.splitlines():
                    if _ABSOLUTE.search(line):
                        found.append(Noise(index, "absolute path", _short(line)))
                    elif _BAR.search(line):
                        found.append(Noise(index, "progress bar", _short(line)))
    return found


def report(nb, name: str) -> str:
    """A failure message: which notebook, and each piece of noise with its cell."""
    found = noise(nb)
    listing = "\n".join(f"  {n}" for n in found)
    return f"{name}: {len(found)} outputs are machine noise, not lesson:\n{listing}"
