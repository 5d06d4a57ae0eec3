"""The course notebooks as the tests run them, and the runs that go beside nbval's pass.

`make test` has nbval execute every notebook first, one after another in pytest's own
process. Three more runs of a course notebook are each a test's input: its claims run
(``python -m coursekit run NN``, test_notebooks.py), its null run (test_claims_can_fail.py)
and, for the notebooks that use MNIST, its run on the official split (test_notebooks.py).
Each is a process of its own, so they need not wait for nbval: they start when the session
does, one at a time in a background thread, while nbval works through the notebooks. On
two cores, nbval's kernel and one of these runs share the machine, as two notebooks do when
a learner runs `python -m coursekit seeds NN --jobs 2`; once a test waits for their results,
two of them run at once.

A notebook whose claims hold wall times (a `kind="timing"` check: 03, 07 and 10 today) is
run alone: while nbval runs one, or while its claims run runs, nothing runs in the
background (a run already started finishes first). Its null run, which judges no timing, may
share the machine. A notebook's claims run starts only after nbval's run of it has ended,
so the two never write the same files at once.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import nbformat

from coursekit import claims, runner

# Every notebook in notebooks/, in teaching order. A new notebook must be added here.
REGISTRY = {
    "01_gradient_descent": dict(min_checks=49),
    "02_stochastic_adaptive": dict(min_checks=59),
    "03_large_batch": dict(min_checks=18),
    "04_svi_coin_toss": dict(min_checks=9),
    "05_vae": dict(min_checks=9),
    "06_gan": dict(min_checks=13),
    "07_gaussian_processes": dict(min_checks=22),
    "08_probabilistic_programming": dict(min_checks=30),
    "09_transfer_learning": dict(min_checks=15),
    "10_horovod": dict(min_checks=30),
}
PROFILE = os.environ.get("COURSEKIT_PROFILE") or "smoke"
NOTEBOOK_FILES = {p.stem: p for p in runner.course_notebooks()}
# The real-data lane: the notebooks that use MNIST where it can be had run once more, on the
# official split from the shared copy beside the repository (never copied into it), with the
# checks each makes there (09's "frozen base holds back" claim is the digits' alone). 06 is out:
# its smoke run on MNIST takes about two minutes, twice the smoke budget.
SHARED_MNIST_FULL = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist-full"
MNIST_NOTEBOOKS = {"05_vae": dict(min_checks=9), "09_transfer_learning": dict(min_checks=14)}
# Each run's results (and the real-data lane's executed copy) go to a folder of its own.
RUNS = runner.BUILD / "test-runs"
# How many runs at once: one beside nbval (or beside the tests that need no run), and this many
# while a test waits for one. COURSEKIT_TEST_JOBS=1: none beside nbval; each test makes its
# run when it needs it, alone.
JOBS = int(os.environ.get("COURSEKIT_TEST_JOBS", "2"))


def run_in_process(stem: str, *options: str, env: dict | None = None) -> tuple[int, str]:
    """`python -m coursekit run NN --profile <the test profile> [options]` in a process of its
    own, as a learner would type it: (exit status, everything it printed)."""
    command = [sys.executable, "-m", "coursekit", "run", str(NOTEBOOK_FILES[stem])]
    command += ["--profile", PROFILE, *options]
    # A session of its own, so that the run and its kernel can be stopped together (see stop).
    process = subprocess.Popen(
        command,
        env=env,
        cwd=runner.REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    with _RUNNING_LOCK:
        _RUNNING.add(process)
    try:
        output, _ = process.communicate(timeout=1200)
    except subprocess.TimeoutExpired:
        stop_process(process)
        output, _ = process.communicate()
        output += f"\n(stopped after 1200 s: {' '.join(command)})"
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(process)
    return process.returncode, output


_RUNNING: set[subprocess.Popen] = set()
_RUNNING_LOCK = threading.Lock()


def stop_process(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:  # it ended meanwhile
        pass


def stop_all() -> None:
    """Stop every run still going (the session is ending: interrupted, or -x)."""
    with _RUNNING_LOCK:
        for process in list(_RUNNING):
            stop_process(process)


@cache
def has_timing_claims(stem: str) -> bool:
    """Whether a course notebook checks a wall time (a task notebook is not a course one)."""
    if stem not in NOTEBOOK_FILES:
        return False
    nb = nbformat.read(NOTEBOOK_FILES[stem], as_version=4)
    return any('kind="timing"' in c.source for c in nb.cells if c.cell_type == "code")


def fresh_folder(*parts: str) -> Path:
    folder = RUNS.joinpath(*parts)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


# --- The runs: what each one is ------------------------------------------------------------------


def claims_run(stem: str) -> tuple[Path, tuple[int, str]]:
    """The notebook as a learner runs it; its executed copy goes where `coursekit run` puts it
    (build/notebooks/<profile>/, which the site test builds from)."""
    results = fresh_folder("claims", stem)
    return results, run_in_process(stem, env={**os.environ, claims.ENV_RESULTS: str(results)})


def null_run(stem: str) -> tuple[Path, tuple[int, str]]:
    """The learning taken out, in collect mode so that one run shows every claim."""
    results = fresh_folder("null", stem)
    env = {**os.environ, "COURSEKIT_CHECKS": "collect", claims.ENV_RESULTS: str(results)}
    return results, run_in_process(stem, "-p", "null_run", "True", env=env)


def mnist_run(stem: str) -> tuple[Path, tuple[int, str]]:
    """The notebook on the shared copy of MNIST's official split."""
    folder = fresh_folder("mnist", stem)
    env = {
        **os.environ,
        "COURSEKIT_DATA": str(SHARED_MNIST_FULL),
        claims.ENV_RESULTS: str(folder / "results"),
    }
    return folder, run_in_process(stem, "--out", str(folder / "executed"), env=env)


KINDS = {"claims": claims_run, "null": null_run, "mnist": mnist_run}


# --- Running them beside nbval ------------------------------------------------------------------


class Gate:
    """Runs that may share the machine, and the ones that must have it to themselves."""

    def __init__(self):
        self._changed = threading.Condition()
        self._sharing = 0
        self._alone = 0

    @contextmanager
    def shared(self):
        with self._changed:
            self._changed.wait_for(lambda: self._alone == 0)
            self._sharing += 1
        try:
            yield
        finally:
            with self._changed:
                self._sharing -= 1
                self._changed.notify_all()

    def hold_alone(self) -> None:
        """Stop new shared runs at once, then wait for those under way to end."""
        with self._changed:
            self._alone += 1
            self._changed.wait_for(lambda: self._sharing == 0)

    def release_alone(self) -> None:
        with self._changed:
            self._alone -= 1
            self._changed.notify_all()

    @contextmanager
    def alone(self):
        self.hold_alone()
        try:
            yield
        finally:
            self.release_alone()


@dataclass
class Job:
    kind: str
    stem: str
    future: Future = field(default_factory=Future)


class Background:
    """Runs started at the beginning of the session; a test asks for one with ``result``."""

    def __init__(self, kinds: dict | None = None):
        self.kinds = kinds or KINDS  # what each kind of run is (the tests give stand-ins)
        self.gate = Gate()
        self._changed = threading.Condition()
        self._queue: list[Job] = []
        self._jobs: dict[tuple[str, str], Job] = {}
        self._nbval_pending: set[str] = set()  # course notebooks nbval has still to finish
        self._waiting = 0  # tests waiting for a result: then two runs go at once
        self._stopped = False

    def start(self, jobs: list[tuple[str, str]], nbval_stems: set[str], workers: int = 2):
        with self._changed:
            self._nbval_pending = set(nbval_stems)
            for kind, stem in jobs:
                job = Job(kind, stem)
                self._queue.append(job)
                self._jobs[kind, stem] = job
        for i in range(workers):
            threading.Thread(target=self._work, args=(i,), daemon=True, name=f"runs-{i}").start()

    def nbval_finished(self, stem: str) -> None:
        with self._changed:
            self._nbval_pending.discard(stem)
            self._changed.notify_all()

    def stop(self) -> None:
        """At the session's end: runs not started are not started, and runs still going (after
        an interruption, or -x) are stopped."""
        with self._changed:
            self._stopped = True
            for job in self._queue:
                job.future.cancel()
            self._queue.clear()
            self._changed.notify_all()
        stop_all()

    def result(self, kind: str, stem: str):
        """The run's (folder, (exit status, output)); run here and now if it was not planned."""
        job = self._jobs.get((kind, stem))
        if job is None:
            if kind == "claims" and has_timing_claims(stem):
                with self.gate.alone():
                    return self.kinds[kind](stem)
            return self.kinds[kind](stem)
        with self._changed:
            self._waiting += 1
            # nbval's cells run before every test that reads a run (conftest orders them so):
            # when one asks, nbval is done, whatever the hooks saw.
            self._nbval_pending.clear()
            self._changed.notify_all()
        try:
            return job.future.result()
        finally:
            with self._changed:
                self._waiting -= 1

    def _next(self, worker: int) -> Job | None:
        """The first run that may start now; None when there are none left."""
        with self._changed:
            while True:
                if self._stopped or not self._queue:
                    return None
                if worker == 0 or self._waiting:
                    for job in self._queue:
                        if job.kind != "claims" or job.stem not in self._nbval_pending:
                            self._queue.remove(job)
                            return job
                self._changed.wait(timeout=5)

    def _work(self, worker: int) -> None:
        while (job := self._next(worker)) is not None:
            if not job.future.set_running_or_notify_cancel():
                continue
            try:
                with self.gate.shared():
                    job.future.set_result(self.kinds[job.kind](job.stem))
            except BaseException as error:  # the test that asks for it reports it
                job.future.set_exception(error)


BACKGROUND = Background()
# The longest null runs first (smoke wall times of a CI run), so that none is left for the end.
NULL_ORDER = ["03", "10", "09", "06", "08", "02", "05", "04", "07", "01"]


def plan(selected: dict[str, set[str]]) -> list[tuple[str, str]]:
    """The background's runs, in the order they are tried: claims runs in teaching order (each
    once nbval has finished that notebook), the real-data lane, then the null runs."""
    jobs = [("claims", s) for s in sorted(selected.get("claims", ())) if not has_timing_claims(s)]
    jobs += [("mnist", s) for s in sorted(selected.get("mnist", ()))]
    nulls = sorted(selected.get("null", ()), key=lambda s: (NULL_ORDER + [s[:2]]).index(s[:2]))
    return jobs + [("null", s) for s in nulls]
