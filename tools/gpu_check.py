"""The whole course on one GPU, as one command: ``make gpu-check``.

Runs every notebook in the ``full`` profile on this machine's GPU, then the test suite's
GPU-relevant parts (``GPU_TESTS``: the Horovod tests put their ranks on the GPUs when
there are any), and prints one table: notebook, wall time, checks, peak
GPU memory. Peak memory is sampled from ``nvidia-smi`` every 0.2 s while the notebook runs,
so it counts every process it starts (notebook 10's ranks too), not only its kernel.

Budget (README): the whole course within 10 minutes and 16 GB of GPU memory on one
H100/H200. The table says for each notebook whether it stayed within its share.

    python tools/gpu_check.py [--notebooks 05 06] [--skip-tests] [--data PATH]

It uses real MNIST from --data, else $COURSEKIT_DATA, else ../shared/data/mnist-full if
that folder is there. Without a CUDA GPU it stops at once and says so (exit 2).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUDGET_S, BUDGET_GB = 600, 16
# The tests whose code takes a different path on a GPU: Horovod's ranks (one per GPU, NCCL),
# the device and profile choice.
GPU_TESTS = ["tests/test_horovod.py", "tests/test_runtime.py"]


class GpuMemorySampler:
    """The largest memory.used (MiB, summed over the GPUs) nvidia-smi reports while running."""

    def __init__(self, every_s: float = 0.2):
        self.every_s, self.peak_mib, self._stop = every_s, 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        query = ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"]
        while not self._stop.is_set():
            try:
                out = subprocess.run(query, capture_output=True, text=True, timeout=5).stdout
                used = sum(int(line) for line in out.split() if line.strip().isdigit())
                self.peak_mib = max(self.peak_mib, used)
            except (OSError, subprocess.SubprocessError, ValueError):
                pass
            self._stop.wait(self.every_s)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebooks", nargs="*", default=[], help="default: all, in order")
    parser.add_argument("--skip-tests", action="store_true", help="only the notebooks")
    parser.add_argument("--data", default=None, help="a folder with the MNIST IDX files")
    args = parser.parse_args(argv)

    import torch

    if not torch.cuda.is_available():
        print(
            f"gpu_check: torch {torch.__version__} sees no CUDA GPU here "
            f"(CUDA build: {torch.version.cuda or 'no'}); nothing was run. On a GPU machine, "
            "install a CUDA build of torch 2.13.0 into .venv first.",
            file=sys.stderr,
        )
        return 2
    if shutil.which("nvidia-smi") is None:
        print("gpu_check: nvidia-smi not found: peak GPU memory will read 0", file=sys.stderr)

    shared = REPO.parent / "shared" / "data" / "mnist-full"
    data = args.data or os.environ.get("COURSEKIT_DATA") or (str(shared) if shared.is_dir() else "")
    if data:
        os.environ["COURSEKIT_DATA"] = data
    print(f"gpu_check: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, "
          f"data: {data or 'no MNIST folder (the notebooks fall back to the 8x8 digits)'}")  # fmt: skip

    from coursekit import runner

    rows, start = [], time.perf_counter()
    for nb in runner.find_notebooks(args.notebooks):
        print(f"gpu_check: {nb.stem} (full) ...", flush=True)
        with GpuMemorySampler() as memory:
            outcome = runner.execute(nb, "full")
        rows.append((outcome, memory.peak_mib / 1024))
        print(f"    {'ok' if outcome.ok else 'FAILED'} in {outcome.wall_time_s:.1f} s, "
              f"peak {memory.peak_mib / 1024:.1f} GB", flush=True)  # fmt: skip
    course_s = time.perf_counter() - start

    tests_rc = 0
    if not args.skip_tests:
        env = {**os.environ, "COURSEKIT_PROFILE": "full"}
        cmd = [sys.executable, "-m", "pytest", "-q", *GPU_TESTS]
        tests_rc = subprocess.call(cmd, cwd=REPO, env=env)

    print()
    header = f"{'notebook':<32} {'status':<7} {'wall time':>9} {'checks':>12} {'peak GPU':>9}"
    print(header + "\n" + "-" * len(header))
    for o, gb in rows:
        status = "ok" if o.ok else "FAILED"
        checks = f"{o.checks_passed}/{o.checks_total}"
        print(f"{o.notebook:<32} {status:<7} {o.wall_time_s:8.1f}s {checks:>12} {gb:8.1f}G")
    peak = max((gb for _, gb in rows), default=0.0)
    print("-" * len(header))
    print(f"{'course':<32} {'':<7} {course_s:8.1f}s {'':>12} {peak:8.1f}G")
    within = course_s <= BUDGET_S and peak <= BUDGET_GB
    print(f"budget: {BUDGET_S} s and {BUDGET_GB} GB: {'within' if within else 'OVER'}")
    for o, _ in rows:
        if not o.ok:
            print(f"\nFAILED {o.notebook}: {o.error}")
    failed = any(not o.ok for o, _ in rows) or tests_rc != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
