"""Multi-process data-parallel training: Horovod and torch.distributed, side by side.

    from coursekit import distributed
    distributed.horovod_status()            # (True, "Horovod 0.28.1 ...") or (False, why and how to fix)
    print(distributed.check_build())        # horovodrun --check-build
    job = distributed.horovodrun(2, ["train", "--epochs", "4"])
    job = distributed.torchrun(2, ["train", "--epochs", "4"])

The training script every process runs is :mod:`coursekit.distributed.train_worker`; the
launchers are in :mod:`coursekit.distributed.launch`; the single-process studies (batch size,
gradient noise scale) in :mod:`coursekit.distributed.study`. Horovod itself is built by
``make horovod`` (``tools/build_horovod.sh``); nothing here imports it until asked.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from coursekit.distributed.launch import (
    Job,
    LaunchError,
    free_port,
    horovodrun,
    horovodrun_command,
    torchrun,
)

HOROVOD_VERSION = "0.28.1"
REPO = Path(__file__).resolve().parents[2]
BUILD_LOG = REPO / "build" / "horovod" / "build.log"
HOW_TO_INSTALL = (
    f"run `make horovod` (tools/build_horovod.sh) in {REPO}; if it failed, its log is {BUILD_LOG}"
)


def horovod_status() -> tuple[bool, str]:
    """Whether Horovod's PyTorch binding imports here, and a sentence saying so.

    Checked in a subprocess, so that a broken build cannot crash the caller (a notebook
    kernel) and the caller does not pay Horovod's import.
    """
    probe = (
        "import horovod, horovod.torch as hvd; "
        "print(horovod.__version__, hvd.gloo_built(), hvd.nccl_built())"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        return False, f"Horovod is not usable here ({last}): {HOW_TO_INSTALL}"
    version, gloo, nccl = done.stdout.split()
    if version != HOROVOD_VERSION:
        return False, f"Horovod {version} is installed, this course needs {HOROVOD_VERSION}"
    ops = ", ".join(name for name, on in (("Gloo", gloo), ("NCCL", nccl)) if on == "True")
    return True, f"Horovod {version} with PyTorch ({ops})"


def require_horovod() -> str:
    """The status sentence, or a RuntimeError that says how to install Horovod."""
    ok, message = horovod_status()
    if not ok:
        raise RuntimeError(message)
    return message


def check_build(require_pytorch: bool = True) -> str:
    """The output of ``horovodrun --check-build``: frameworks, controllers, operations.

    Raises RuntimeError, saying how to build Horovod, when horovodrun is missing or
    (``require_pytorch``) when its PyTorch binding does not load."""
    from coursekit.distributed.launch import _bin

    try:
        command = [_bin("horovodrun"), "--check-build"]
    except FileNotFoundError as err:
        raise RuntimeError(f"Horovod is not installed ({err}): {HOW_TO_INSTALL}") from None
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(
            f"horovodrun --check-build failed ({done.stderr.strip()[-300:]}): {HOW_TO_INSTALL}"
        )
    if require_pytorch and "[X] PyTorch" not in done.stdout:
        raise RuntimeError(
            "Horovod is installed but its PyTorch binding does not load (built for another "
            f"torch?): {HOW_TO_INSTALL}"
        )
    return done.stdout.rstrip()


__all__ = [
    "BUILD_LOG",
    "HOROVOD_VERSION",
    "Job",
    "LaunchError",
    "check_build",
    "free_port",
    "horovod_status",
    "horovodrun",
    "horovodrun_command",
    "require_horovod",
    "torchrun",
]
