"""Execute the course's notebooks with papermill and report what each measured.

    python -m coursekit run --profile smoke                 # every notebook
    python -m coursekit run 04 --profile lab -p steps 500   # one, with a parameter

Executed copies go to ``build/notebooks/<profile>/``; each notebook records its checks
in ``build/results/<notebook>.json``, which the summary table reads back.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from coursekit import claims
from coursekit.bars import ENV_BATCH
from coursekit.runtime import resolve_profile

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
BUILD = REPO / "build"


def course_notebooks(folder: Path = NOTEBOOKS) -> list[Path]:
    """The course's notebooks in teaching order (``NN_topic.ipynb``)."""
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb") if p.is_file())


def find_notebooks(names: list[str], folder: Path = NOTEBOOKS) -> list[Path]:
    """Notebooks named by path, file name, stem, or number prefix (``01``)."""
    available = course_notebooks(folder)
    if not names:
        return available
    chosen = []
    for name in names:
        path = Path(name)
        if path.suffix == ".ipynb" and path.exists():
            chosen.append(path.resolve())
            continue
        matches = [p for p in available if p.stem == path.stem or p.name.startswith(f"{name}_")]
        if len(matches) != 1:
            listing = ", ".join(p.stem for p in available) or "(none)"
            raise ValueError(f"notebook={name!r} matches no single notebook; available: {listing}")
        chosen.append(matches[0])
    return chosen


@dataclass
class Outcome:
    notebook: str
    profile: str
    ok: bool
    wall_time_s: float
    checks_passed: int = 0
    checks_total: int = 0
    error: str = ""
    output: Path | None = None


@functools.cache  # one class (jupyter_client is imported only when a notebook is run)
def _ipc_kernel_manager():
    """A kernel manager whose kernels talk to it over local sockets (ZeroMQ's IPC), not TCP,
    and are shut down without an interrupt.

    Every kernel here runs on the machine that starts it, so nothing needs a TCP port; over
    TCP without encryption, ipykernel warns at every start ("Kernel is running over TCP
    without encryption"), and a sweep's kernels, started from inside a notebook, would print
    that warning into the notebook's outputs.
    """
    import tempfile
    import uuid

    from jupyter_client.manager import AsyncKernelManager

    class IPCKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.transport = "ipc"
            # The sockets' path prefix ("<ip>-<port>"): one of its own for every kernel. The
            # default, "kernel-ipc" in the working folder, would be shared by kernels that a
            # sweep starts at once, and their messages would cross.
            self.ip = str(Path(tempfile.gettempdir()) / f"coursekit-{uuid.uuid4().hex[:16]}")

        async def _async_interrupt_kernel(self):
            # jupyter_client interrupts (SIGINT) every kernel it shuts down. papermill shuts a
            # kernel down once it is idle, so the signal only ever lands in the middle of a
            # message the kernel is handling, which then logs "KeyboardInterrupt caught in
            # kernel" into the notebook that started it. An interrupt asked for while the
            # kernel runs (a cell's timeout) still goes through.
            if self.shutting_down:
                return
            await super()._async_interrupt_kernel()

    return IPCKernelManager


def _relative_paths(executed: Path) -> None:
    """papermill records the paths it read and wrote, as given (absolute here), in the
    executed copy's metadata, which the site publishes: keep them relative to the repository."""
    import nbformat

    if not executed.is_file():
        return
    nb = nbformat.read(executed, as_version=4)
    recorded = nb.metadata.get("papermill", {})
    for key in ("input_path", "output_path"):
        if recorded.get(key):
            recorded[key] = claims.shown_path(Path(recorded[key]))
    nbformat.write(nb, executed)


def _failure(err: Exception, executed: Path) -> str:
    """Where and why a notebook failed, in one line a learner can find the cell from."""
    import nbformat
    import papermill

    if not isinstance(err, papermill.PapermillExecutionError):
        return f"{type(err).__name__}: {err}"
    evalue = str(err.evalue).strip().splitlines()
    reason = f"{err.ename}: {evalue[0] if evalue else ''}"
    # papermill adds cells of its own to the executed copy: error banners (not counted in
    # err.cell_index) and the injected parameters (counted there, absent from the source)
    cells = [
        c
        for c in nbformat.read(executed, as_version=4).cells
        if "papermill-error-cell-tag" not in c.metadata.get("tags", [])
    ]
    injected = [
        i for i, c in enumerate(cells) if "injected-parameters" in c.metadata.get("tags", [])
    ]
    number = err.cell_index + 1 - sum(1 for i in injected if i < err.cell_index)
    first_line = cells[err.cell_index].source.strip().splitlines()[0][:60]
    return (
        f"cell {number} of the notebook (In [{err.exec_count}] in the executed copy, "
        f"starting `{first_line}`) raised {reason}"
    )


@contextlib.contextmanager
def environment(**values: str):
    """Set environment variables for the block (kernels started in it inherit them), then
    put back what was there before."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def execute(
    notebook: Path,
    profile: str,
    parameters: dict | None = None,
    out_dir: Path | None = None,
    timeout: float | None = None,
) -> Outcome:
    """Execute one notebook with papermill; never raises for a failing notebook.

    A null run (``null_run=True``) goes to ``build/notebooks/<profile>-null/`` and, unless
    ``$COURSEKIT_RESULTS`` says where, records in ``build/results-null/``: it must not
    stand in for the real run on the site.
    """
    import papermill

    null = bool((parameters or {}).get("null_run"))
    out_dir = out_dir or BUILD / "notebooks" / (f"{profile}-null" if null else profile)
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / notebook.name
    settings = {ENV_BATCH: "1"}  # the kernel inherits it: progress bars print their last line
    if null and not os.environ.get(claims.ENV_RESULTS):
        settings[claims.ENV_RESULTS] = str(BUILD / "results-null")
    params = {"profile": profile, **(parameters or {})}
    error = ""
    # (restored afterwards: a sweep from an interactive notebook keeps its live progress bars)
    with environment(**settings):
        results_file = claims.results_dir() / f"{notebook.stem}.json"
        results_file.unlink(missing_ok=True)  # a stale file must not pass for this run's numbers
        start = time.perf_counter()
        try:
            papermill.execute_notebook(
                str(notebook),
                str(output),
                parameters=params,
                cwd=str(notebook.parent),
                kernel_name="python3",
                progress_bar=False,
                execution_timeout=timeout,
                kernel_manager_class=_ipc_kernel_manager(),
            )
        except Exception as err:  # any failure is reported in the summary, not as a traceback
            error = _failure(err, output)
        wall = time.perf_counter() - start
        _relative_paths(output)
        recorded = claims.load_results(notebook.stem) or {}
    if not error and not recorded:
        error = f"the notebook wrote no results file ({results_file}); does it call ck.setup?"
    return Outcome(
        notebook=notebook.stem,
        profile=profile,
        ok=not error,
        wall_time_s=wall,
        checks_passed=recorded.get("checks_passed", 0),
        checks_total=recorded.get("checks_total", 0),
        error=error,
        output=output,
    )


def table(outcomes: list[Outcome]) -> str:
    header = f"{'notebook':<32} {'profile':<7} {'status':<6} {'wall time':>9}  checks"
    lines = [header, "-" * len(header)]
    for o in outcomes:
        status = "ok" if o.ok else "FAILED"
        checks = f"{o.checks_passed}/{o.checks_total} passed"
        lines.append(f"{o.notebook:<32} {o.profile:<7} {status:<6} {o.wall_time_s:8.1f}s  {checks}")
    return "\n".join(lines)


def run_course(
    names: list[str],
    profile: str = "auto",
    parameters: dict | None = None,
    fail_fast: bool = False,
    timeout: float | None = None,
    out_dir: Path | None = None,
) -> int:
    """Run notebooks, print the summary table, return a process exit code. The executed
    copies go to ``out_dir`` (default: as ``execute`` says)."""
    profile = resolve_profile(profile)
    notebooks = find_notebooks(names)
    if not notebooks:
        print(f"no notebooks found in {NOTEBOOKS}", file=sys.stderr)
        return 2
    outcomes = []
    for i, nb in enumerate(notebooks, 1):
        print(f"[{i}/{len(notebooks)}] {nb.stem} ({profile}) ...", flush=True)
        outcome = execute(nb, profile, parameters, timeout=timeout, out_dir=out_dir)
        outcomes.append(outcome)
        print(f"    {'ok' if outcome.ok else 'FAILED'} in {outcome.wall_time_s:.1f}s", flush=True)
        if not outcome.ok and fail_fast:
            break
    print()
    print(table(outcomes))
    failed = [o for o in outcomes if not o.ok]
    for o in failed:
        print(f"\nFAILED {o.notebook}: {o.error}\n    executed copy: {o.output}")
    executed = {o.output.parent for o in outcomes if o.output is not None}
    print(f"\nexecuted notebooks: {', '.join(map(str, sorted(executed))) or '(none)'}")
    print(f"recorded results:   {claims.results_dir()}")
    return 1 if failed else 0
