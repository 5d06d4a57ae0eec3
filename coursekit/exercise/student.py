"""The learner's notebooks: every solution replaced by a stub that raises NotImplementedError.

    python -m coursekit student [--out DIR]     # make student

The notebooks in git are the instructor's: each solution sits between ``### BEGIN SOLUTION``
and ``### END SOLUTION`` (nbgrader's markers, so nbgrader can work on them too). The learner's
copy keeps everything else, and in place of each solution a line that raises
``NotImplementedError`` naming the exercise; its check then says "not solved" and the
notebook goes on with the course's own implementation.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat

from coursekit.exercise import BEGIN, END

CHECK_CALL = re.compile(r"""ck\.exercise\.check\(\s*["']([\w.]+)["']""")


class MarkerError(ValueError):
    """A solution without both markers, or an exercise check without a solution."""


def strip_solutions(source: str, where: str = "a cell") -> tuple[str, list[str]]:
    """``source`` with each marked solution replaced by a stub; the exercises it checks."""
    names = CHECK_CALL.findall(source)
    begins, ends = source.count(BEGIN), source.count(END)
    if begins != ends:
        raise MarkerError(f"{where}: {begins} '{BEGIN}' but {ends} '{END}'")
    if names and not begins:
        raise MarkerError(f"{where}: checks {', '.join(names)} but marks no solution")
    if begins and not names:
        raise MarkerError(f"{where}: marks a solution but calls no ck.exercise.check")
    out, inside, indent, stubbed = [], False, "", 0
    for line in source.splitlines():
        stripped = line.strip()
        if stripped == BEGIN:
            inside, indent = True, line[: len(line) - len(line.lstrip())]
            name = names[min(stubbed, len(names) - 1)]
            out.append(f'{indent}raise NotImplementedError("exercise {name}: your code here")')
            stubbed += 1
        elif stripped == END:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out), names


def student_notebook(nb: nbformat.NotebookNode, where: str) -> list[str]:
    """Replace every solution in ``nb`` (in place); the exercises it holds, in order."""
    names = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and (
            BEGIN in cell.source or "ck.exercise.check(" in cell.source
        ):
            cell.source, found = strip_solutions(cell.source, f"{where}, cell {i}")
            cell.outputs, cell.execution_count = [], None
            names += found
    return names


def write_student_set(notebooks_dir: Path, out: Path) -> dict[str, list[str]]:
    """The learner's copy of ``notebooks_dir`` (with its other files) in ``out``."""
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(notebooks_dir, out, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    made = {}
    for path in sorted(out.rglob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        made[path.relative_to(out).as_posix()] = student_notebook(nb, path.name)
        nbformat.write(nb, path)
    return made
