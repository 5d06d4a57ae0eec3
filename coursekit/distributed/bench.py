"""Benchmarks: allreduce throughput and training-step time, Horovod against torch.distributed.

    .venv/bin/python -m coursekit.distributed.bench            # 2 processes, 1 KB .. 64 MB
    .venv/bin/python -m coursekit.distributed.bench --np 2 --max-mb 8 --epochs 3

Prints three tables: the allreduce time and bandwidth per tensor size for each library,
the time per training step of the notebook's model for 1 process and for N processes
under each library, and the scaling efficiency (N-process throughput / N x 1-process
throughput, with the same batch per process). On a shared machine the numbers move
from run to run; run it twice before trusting a difference.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from coursekit.distributed import launch


def sizes(min_bytes: int = 1024, max_bytes: int = 64 * 2**20) -> list[int]:
    """1 KB, 4 KB, ... up to max_bytes (powers of 4), as the notebook plots them."""
    out, b = [], min_bytes
    while b <= max_bytes:
        out.append(b)
        b *= 4
    return out


def median_step_ms(result: dict, skip: int = 5) -> float:
    """The median step time of a rank, without the first ``skip`` (warm-up) steps."""
    times = result["step_times"][skip:] or result["step_times"]
    return 1e3 * statistics.median(times)


def single_process_step_ms(
    data_path,
    batch_size: int,
    epochs: int,
    threads: int = 1,
    device: str = "cpu",
    max_steps_per_epoch: int | None = None,
) -> float:
    """The same training in this process (no launcher, no communication), on ``device``
    ("cpu", or "auto" for the GPU where there is one): where the ranks it is compared
    with ran. ``max_steps_per_epoch`` cuts long epochs short (a median needs no more)."""
    from coursekit.distributed.train_worker import Comm, train

    comm = Comm("none", device, threads=threads, verbose=False)
    result, _ = train(
        comm,
        epochs=epochs,
        batch_size=batch_size,
        data=str(data_path),
        time_steps=True,
        max_steps_per_epoch=max_steps_per_epoch,
    )
    return median_step_ms(result)


def run(np: int = 2, max_bytes: int = 64 * 2**20, epochs: int = 3, batch_size: int = 32):
    """Run the allreduce and step-time benchmarks; returns (allreduce_rows, step_rows)."""
    import torch

    from coursekit.distributed.train_worker import load_data

    work = Path(tempfile.mkdtemp(prefix="coursekit-bench-"))
    data_path = work / "digits.pt"
    torch.save(load_data(), data_path)
    # One GPU per rank where there are enough GPUs (NCCL); else CPU ranks, one core each.
    gpu = torch.cuda.device_count() >= np
    common = ["train", "allreduce", "--epochs", str(epochs), "--batch-size", str(batch_size)]
    common += ["--time-steps", "--data", str(data_path)]
    common += [] if gpu else ["--threads", "1", "--device", "cpu"]
    common += ["--sizes"]
    common += [str(s) for s in sizes(max_bytes=max_bytes)]
    jobs = {
        "horovod": launch.horovodrun(np, common, out_dir=work / "hvd"),
        "torch.distributed": launch.torchrun(np, common, out_dir=work / "ddp"),
    }
    for job in jobs.values():
        job.raise_for_failure()
    rows = []
    for library, job in jobs.items():
        for r in job.results[0]["allreduce"]:
            rows.append(dict(library=library, **r))
    one = single_process_step_ms(data_path, batch_size, epochs, device="auto" if gpu else "cpu")
    steps = [dict(setup="1 process (no launcher)", processes=1, step_ms=one, efficiency=1.0)]
    for library, job in jobs.items():
        ms = median_step_ms(job.results[0])
        steps.append(
            dict(setup=f"{np} processes, {library}", processes=np, step_ms=ms, efficiency=one / ms)
        )
    return rows, steps


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m coursekit.distributed.bench", description=__doc__)
    p.add_argument("--np", type=int, default=2)
    p.add_argument("--max-mb", type=float, default=64)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    args = p.parse_args(argv)
    import pandas as pd

    rows, steps = run(args.np, int(args.max_mb * 2**20), args.epochs, args.batch_size)
    table = pd.DataFrame(rows)
    table["us_per_call"] = table["seconds_per_call"] * 1e6
    wide = table.pivot(index="bytes", columns="library", values=["us_per_call", "algbw_GBps"])
    print(f"allreduce of float32 tensors, {args.np} processes (sum), rank 0's timing")
    print(wide.to_string(float_format=lambda x: f"{x:.3f}"))
    print(f"\ntraining step, MLP on 8x8 digits, batch {args.batch_size} per process, median")
    print(pd.DataFrame(steps).to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    print(
        "\nefficiency = 1-process step time / N-process step time (same batch per process): "
        "N processes do N times the work per step, so 1.0 is perfect scaling."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
