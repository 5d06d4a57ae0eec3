"""Multi-process data-parallel training: Horovod and torch.distributed, side by side.

    from coursekit import distributed
    distributed.horovod_status()            # (True, "Horovod 0.28.1 ...") or (False, why and how to fix)
    print(distributed.check_build())        # what horovodrun --check-build lists
    job = distributed.horovodrun(2, ["train", "--epochs", "4"])
    job = distributed.torchrun(2, ["train", "--epochs", "4"])

The training script every process runs is :mod:`coursekit.distributed.train_worker`, its
collective calls (per engine) in :mod:`coursekit.distributed.comm`; the launchers are in
:mod:`coursekit.distributed.launch`; the single-process studies (batch size,
gradient noise scale) in :mod:`coursekit.distributed.study`. Horovod itself is built by
``make horovod`` (``tools/build_horovod.sh``); nothing here imports it until asked.
"""

from __future__ import annotations

import json
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


# One Python process that imports Horovod's PyTorch binding and reports what the build has.
# The frameworks are read from the extension libraries present in the package, without
# importing TensorFlow or MXNet (horovodrun --check-build imports each framework it knows,
# in several processes: half a minute of CPU on a small machine).
_PROBE = """
import json, pathlib
import horovod, horovod.torch as hvd
root = pathlib.Path(horovod.__file__).parent
def built_for(framework):
    return any((root / framework).glob("mpi_lib*.so"))
print(json.dumps(dict(
    version=horovod.__version__, tensorflow=built_for("tensorflow"), torch=True,
    mxnet=built_for("mxnet"), mpi=bool(hvd.mpi_built()), gloo=bool(hvd.gloo_built()),
    nccl=bool(hvd.nccl_built()), ddl=bool(hvd.ddl_built()), ccl=bool(hvd.ccl_built()),
)))
"""

_REPORT = """Horovod v{version}:

Available Frameworks:
    [{tensorflow}] TensorFlow
    [{torch}] PyTorch
    [{mxnet}] MXNet

Available Controllers:
    [{mpi}] MPI
    [{gloo}] Gloo

Available Tensor Operations:
    [{nccl}] NCCL
    [{ddl}] DDL
    [{ccl}] CCL
    [{mpi}] MPI
    [{gloo}] Gloo"""


def _probe() -> tuple[dict | None, str]:
    """What the installed build has (a dict), or None and the probe's last error line.
    In a subprocess, so that a broken build cannot crash the caller (a notebook kernel)
    and the caller does not pay Horovod's import."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        return None, (done.stderr.strip().splitlines() or ["(no message)"])[-1]
    return json.loads(done.stdout.strip().splitlines()[-1]), ""


def horovod_status() -> tuple[bool, str]:
    """Whether Horovod's PyTorch binding imports here, and a sentence saying so."""
    build, error = _probe()
    if build is None:
        return False, f"Horovod is not usable here ({error}): {HOW_TO_INSTALL}"
    if build["version"] != HOROVOD_VERSION:
        return False, (
            f"Horovod {build['version']} is installed, this course needs {HOROVOD_VERSION}"
        )
    ops = ", ".join(name for name in ("Gloo", "NCCL") if build[name.lower()])
    return True, f"Horovod {build['version']} with PyTorch ({ops})"


def require_horovod() -> str:
    """The status sentence, or a RuntimeError that says how to install Horovod."""
    ok, message = horovod_status()
    if not ok:
        raise RuntimeError(message)
    return message


def check_build(require_pytorch: bool = True, horovodrun: bool = False) -> str:
    """What this build of Horovod supports: frameworks, controllers, tensor operations,
    as ``horovodrun --check-build`` lists them.

    By default the table comes from one probe of the build (a second or two); with
    ``horovodrun=True`` from ``horovodrun --check-build`` itself, which imports every
    framework it knows (TensorFlow too, where installed) and takes far longer. Raises
    RuntimeError, saying how to build Horovod, when it is missing or (``require_pytorch``)
    when its PyTorch binding does not load."""
    from coursekit.distributed.launch import _bin

    if horovodrun:
        try:
            command = [_bin("horovodrun"), "--check-build"]
        except FileNotFoundError as err:
            raise RuntimeError(f"Horovod is not installed ({err}): {HOW_TO_INSTALL}") from None
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(
                f"horovodrun --check-build failed ({done.stderr.strip()[-300:]}): {HOW_TO_INSTALL}"
            )
        report = done.stdout.strip()
    else:
        build, error = _probe()
        if build is None:
            if not require_pytorch:
                return f"Horovod's PyTorch binding does not load ({error})"
            raise RuntimeError(
                f"Horovod's PyTorch binding does not load ({error}; built for another torch?, "
                f"or not installed): {HOW_TO_INSTALL}"
            )
        marks = {k: ("X" if v else " ") for k, v in build.items() if k != "version"}
        report = _REPORT.format(version=build["version"], **marks)
    if require_pytorch and "[X] PyTorch" not in report:
        raise RuntimeError(
            "Horovod is installed but its PyTorch binding does not load (built for another "
            f"torch?): {HOW_TO_INSTALL}"
        )
    return report


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
