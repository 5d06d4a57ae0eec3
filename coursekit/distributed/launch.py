"""Start N training processes from Python (a notebook, a test) and collect what each did.

    from coursekit import distributed
    job = distributed.horovodrun(2, ["train", "--epochs", "4"])     # Horovod, Gloo on CPU
    job = distributed.torchrun(2, ["train", "--epochs", "4"])       # torch.distributed (DDP)
    job.ok, job.returncode, job.failed_rank, job.by_rank[1], job.results[0]

Both run ``python -m coursekit.distributed.train_worker`` in every process, with ``--out`` set
to a fresh folder from which each rank's ``rank<r>.json`` is read back. Every run has a
time limit: a job that hangs is killed whole (its process group) when the limit is
reached, and the result says so. Neither function raises for a failed job; call
``job.raise_for_failure()`` to turn a failure into an exception that names the rank.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

WORKER = "coursekit.distributed.train_worker"
DEFAULT_TIMEOUT_S = 300.0
# How long a surviving rank waits for a dead peer inside a Gloo collective before it
# gives up: Horovod's default is 30 s; the launcher kills the survivors sooner anyway.
GLOO_TIMEOUT_S = 20

_HOROVOD_LINE = re.compile(r"^\[(\d+)\]<(stdout|stderr)>:(.*)$")
_TORCHRUN_LINE = re.compile(r"^\[(?:default)?(\d+)\]:(.*)$")
_FAILED_RANK = [
    # horovodrun: "... The first process to do so was: Process name: 1 Exit code: 1"
    re.compile(r"first process to do so was:\s*Process name:\s*(\d+)", re.S),
    re.compile(r"Process (\d+) exit with status code"),
    # torchrun: "  rank      : 1 (local_rank: 1)" in its failure summary
    re.compile(r"rank\s*:\s*(\d+)\s*\(local_rank"),
]


# Errors a rank raises because another rank died, not because of its own code.
_AFTERSHOCK = re.compile(
    r"Horovod has been shut down|HorovodInternalError|Connection closed by peer|"
    r"Connection reset|Broken pipe|Gloo|ProcessGroup|DistNetworkError|SIGTERM|Terminated",
    re.I,
)


class LaunchError(RuntimeError):
    """A multi-process job failed or timed out; the message names the rank when known."""


@dataclass
class Job:
    """What a launched job did: its exit code, its output by rank, each rank's results."""

    launcher: str
    command: list[str]
    returncode: int | None
    wall_s: float
    output: str
    out_dir: Path
    timed_out: bool = False
    timeout_s: float | None = None
    results: dict[int, dict] = field(default_factory=dict)
    by_rank: dict[int, list[str]] = field(default_factory=dict)
    launcher_lines: list[str] = field(default_factory=list)
    line_times: list[float] = field(default_factory=list)  # when each output line came, s

    def seconds_after(self, text: str) -> float | None:
        """From the first output line containing ``text`` to the end of the job, in
        seconds (None if no line has it): e.g. how long a job took to end after a rank's
        error, apart from the seconds its processes took to start."""
        for line, at in zip(self.output.split("\n"), self.line_times, strict=False):
            if text in line:
                return self.wall_s - at
        return None

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    @property
    def failed_rank(self) -> int | None:
        """The rank whose own error brought the job down, or None if it succeeded.

        The launchers name the first process to *exit*, and that is often a bystander:
        when rank 1 raises, Horovod shuts down on every rank and rank 0 may exit first
        with "Horovod has been shut down". So the ranks' own error messages are read
        first: the rank whose error is not such an aftershock is the cause.
        """
        if self.ok:
            return None
        causes = [
            rank
            for rank, lines in sorted(self.by_rank.items())
            if (last := _last_error_line(lines)) and not _AFTERSHOCK.search(last)
        ]
        if causes:
            return causes[0]
        for pattern in _FAILED_RANK:
            match = pattern.search(self.output)
            if match:
                return int(match.group(1))
        return None

    @property
    def error(self) -> str:
        if self.ok:
            return ""
        if self.timed_out:
            return (
                f"{self.launcher} job timed out after {self.timeout_s:.0f} s and was killed "
                f"(all its processes): {' '.join(self.command)}"
            )
        rank = self.failed_rank
        where = f"rank {rank} failed" if rank is not None else "a process failed"
        last = _last_error_line(self.by_rank.get(rank, []) if rank is not None else [])
        last = last or _last_error_line(self.output.splitlines())
        return (
            f"{self.launcher} job failed: {where} (exit code {self.returncode}) after "
            f"{self.wall_s:.1f} s" + (f": {last}" if last else "")
        )

    def raise_for_failure(self) -> Job:
        if not self.ok:
            raise LaunchError(self.error + f"\n--- output ---\n{self.tail()}")
        return self

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.output.splitlines()[-lines:])

    def show(self, ranks=None, stderr: bool = False) -> None:
        """Print each rank's output under a heading, rank by rank."""
        for rank in sorted(self.by_rank) if ranks is None else ranks:
            print(f"--- rank {rank} ---")
            for line in self.by_rank.get(rank, []):
                if stderr or not line.startswith("(stderr) "):
                    print(line)


def _last_error_line(lines: list[str]) -> str:
    for line in reversed(lines):
        text = line.removeprefix("(stderr) ").strip()
        text = re.sub(r"^\[rank\d+\]:\s*", "", text)  # torch.distributed's own prefix
        if re.match(r"^[A-Za-z_.]*(Error|Exception)\b", text):
            return text
    return ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bin(name: str) -> str:
    """A console script of this Python's environment (e.g. .venv/bin/horovodrun)."""
    beside = Path(sys.executable).with_name(name)
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} is not installed in {Path(sys.executable).parent}")
    return found


def _descendants(pid: int) -> list:
    try:
        import psutil  # a dependency of Horovod; without it the process group must do
    except ImportError:
        return []
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _stop(proc: subprocess.Popen, grace_s: float = 5.0) -> None:
    """End a launcher and every process under it. horovodrun starts each worker in a
    session of its own (so the launcher's process group does not hold them): the
    descendants are listed first, then asked to stop (SIGTERM), then killed."""
    family = _descendants(proc.pid)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        for child in family:
            with contextlib.suppress(Exception):
                child.send_signal(sig)
        try:
            proc.wait(timeout=grace_s)
            alive = [c for c in family if c.is_running() and c.status() != "zombie"]
            if not alive:
                return
            time.sleep(0.5)
        except subprocess.TimeoutExpired:
            continue


def _run(launcher: str, command: list[str], out_dir: Path, timeout: float, env: dict, echo: bool):
    """Run ``command`` in its own process group, reading its output as it comes; kill the
    whole group at the time limit."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        text=True,
        errors="replace",
        start_new_session=True,  # its own process group: killed as one on a timeout
    )
    lines: list[str] = []
    times: list[float] = []

    def pump():
        for line in proc.stdout:
            times.append(time.perf_counter() - start)
            lines.append(line.rstrip("\n"))
            if echo:
                print(line, end="", flush=True)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _stop(proc)
    except BaseException:  # Ctrl-C in a notebook: leave no processes behind
        _stop(proc)
        raise
    reader.join(timeout=5)
    job = Job(
        launcher=launcher,
        command=command,
        returncode=proc.returncode,
        wall_s=time.perf_counter() - start,
        output="\n".join(lines),
        out_dir=out_dir,
        timed_out=timed_out,
        timeout_s=timeout,
        line_times=times,
    )
    for line in lines:
        match = _HOROVOD_LINE.match(line) or _TORCHRUN_LINE.match(line)
        if match and len(match.groups()) == 3:
            rank, stream, text = int(match.group(1)), match.group(2), match.group(3)
            job.by_rank.setdefault(rank, []).append(
                text if stream == "stdout" else f"(stderr) {text}"
            )
        elif match:
            job.by_rank.setdefault(int(match.group(1)), []).append(match.group(2))
        else:
            job.launcher_lines.append(line)
    for path in sorted(out_dir.glob("rank*.json")):
        data = json.loads(path.read_text())
        job.results[int(data["rank"])] = data
    return job


def _environment(extra: dict | None) -> dict:
    env = dict(os.environ)
    env.setdefault("HOROVOD_GLOO_TIMEOUT_SECONDS", str(GLOO_TIMEOUT_S))
    env["PYTHONUNBUFFERED"] = "1"  # each line reaches the launcher as it is printed
    env.pop("COURSEKIT_BATCH", None)
    env.update(extra or {})
    return env


def _out_dir(out_dir) -> Path:
    if out_dir is None:
        return Path(tempfile.mkdtemp(prefix="coursekit-distributed-"))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("rank*.json"):
        stale.unlink()
    return out_dir


def horovodrun_command(
    np: int, worker_args: list[str], hosts: str | None = None, gloo: bool = True
) -> list[str]:
    """The command line: ``horovodrun -np N [-H hosts] --gloo python -m <worker> ...``."""
    command = [_bin("horovodrun"), "-np", str(np)]
    if hosts:
        command += ["-H", hosts]
    if gloo:
        command.append("--gloo")
    return command + [sys.executable, "-m", WORKER, *worker_args]


def horovodrun(
    np: int,
    worker_args: list[str],
    *,
    hosts: str | None = None,
    out_dir=None,
    timeout: float = DEFAULT_TIMEOUT_S,
    env: dict | None = None,
    echo: bool = False,
) -> Job:
    """Run the worker in ``np`` processes under ``horovodrun --gloo``.

    ``hosts`` is horovodrun's ``-H``, e.g. ``"localhost:1,127.0.0.1:1"``: two "hosts"
    with one slot each. ``--out`` is added to ``worker_args``.
    """
    out = _out_dir(out_dir)
    command = horovodrun_command(np, [*worker_args, "--out", str(out)], hosts=hosts)
    return _run("horovodrun", command, out, timeout, _environment(env), echo)


def torchrun(
    nproc: int,
    worker_args: list[str],
    *,
    out_dir=None,
    timeout: float = DEFAULT_TIMEOUT_S,
    env: dict | None = None,
    echo: bool = False,
) -> Job:
    """Run the worker in ``nproc`` processes under ``torchrun --standalone`` (engine ddp)."""
    out = _out_dir(out_dir)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={nproc}",
        "--tee=3",  # each rank's stdout and stderr, prefixed with "[r]:" (or "[defaultr]:")
        "--max-restarts=0",
        "-m",
        WORKER,
        *worker_args,
        "--engine",
        "ddp",
        "--out",
        str(out),
    ]
    extra = {"OMP_NUM_THREADS": "1", **(env or {})}
    return _run("torchrun", command, out, timeout, _environment(extra), echo)
