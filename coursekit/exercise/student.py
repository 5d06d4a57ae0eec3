"""The learner's notebooks: every solution replaced by a stub.

    python -m coursekit student [--out DIR]     # make student

The notebooks in git are the instructor's: each solution sits between ``### BEGIN SOLUTION``
and ``### END SOLUTION`` (nbgrader's markers, so nbgrader can work on them too). The learner's
copy keeps everything else, and in place of each solution a line that raises
``NotImplementedError`` naming the exercise; its check then says "not solved" and the
notebook goes on with the course's own implementation. A prediction's solution (a number)
becomes ``variable = None``: the learner writes the number there.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat

from coursekit.exercise import BEGIN, END

# the calls that name an exercise: a check of the learner's function, or a prediction
CHECK_CALL = re.compile(r"""ck\.exercise\.(?:check|predict)\(\s*["']([\w.]+)["']""")
# a prediction's variable: its solution becomes `variable = None`, which the notebook can run
PREDICT_CALL = re.compile(r"""ck\.exercise\.predict\(\s*["']([\w.]+)["']\s*,\s*(\w+)\s*\)""")


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
        raise MarkerError(
            f"{where}: marks a solution but calls no ck.exercise.check or ck.exercise.predict"
        )
    predicted = dict(PREDICT_CALL.findall(source))
    out, inside, indent, stubbed = [], False, "", 0
    for line in source.splitlines():
        stripped = line.strip()
        if stripped == BEGIN:
            inside, indent = True, line[: len(line) - len(line.lstrip())]
            name = names[min(stubbed, len(names) - 1)]
            if name in predicted:  # a number, not code: the learner's line to write
                out.append(f"{indent}{predicted[name]} = None  # exercise {name}: your prediction")
            else:
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
        if cell.cell_type == "code" and (BEGIN in cell.source or CHECK_CALL.search(cell.source)):
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
