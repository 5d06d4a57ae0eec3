"""The collective calls of data-parallel training, written once per engine, side by side.

    comm = Comm("horovod")            # in a process started by horovodrun: hvd.init()
    comm = Comm("ddp")                # under torchrun: dist.init_process_group("gloo")
    comm = Comm("none")               # one process, no communication (the reference)
    comm.rank, comm.size, comm.local_rank, comm.average(x, "loss"), comm.log(...)

The training recipe that uses them is :mod:`coursekit.distributed.train_worker`; the
gradient allreduce itself is Horovod's ``DistributedOptimizer`` or DDP's wrapper, set up
there. ``allreduce_bench`` times the collective alone.
"""

from __future__ import annotations

import os
import time

import torch

ENGINES = ("horovod", "ddp", "none")

# --- 1. Start: who am I? -----------------------------------------------------------------------


class Comm:
    """The handful of collective calls the recipe needs, for each engine."""

    def __init__(
        self,
        engine: str,
        device_request: str = "auto",
        threads: int | None = None,
        verbose: bool = True,
    ):
        if engine not in ENGINES:
            raise ValueError(f"engine={engine!r} is not allowed: it must be one of {ENGINES}")
        self.engine, self.verbose = engine, verbose
        cuda = torch.cuda.is_available() and device_request != "cpu"
        if engine == "horovod":
            import horovod.torch as hvd

            hvd.init()  # joins the job horovodrun started; reads HOROVOD_RANK etc.
            self.hvd = hvd
            cuda = cuda and self._horovod_can_use_gpus(hvd, device_request)
            self.rank, self.size = hvd.rank(), hvd.size()
            self.local_rank, self.local_size = hvd.local_rank(), hvd.local_size()
            self.cross_rank, self.cross_size = hvd.cross_rank(), hvd.cross_size()
        elif engine == "ddp":
            import torch.distributed as dist

            # torchrun sets RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT
            dist.init_process_group("nccl" if cuda else "gloo")
            self.dist = dist
            self.rank, self.size = dist.get_rank(), dist.get_world_size()
            self.local_rank = int(os.environ.get("LOCAL_RANK", 0))
            self.local_size = int(os.environ.get("LOCAL_WORLD_SIZE", self.size))
            self.cross_rank = int(os.environ.get("GROUP_RANK", 0))
            self.cross_size = self.size // self.local_size
        else:
            self.rank, self.size, self.local_rank, self.local_size = 0, 1, 0, 1
            self.cross_rank, self.cross_size = 0, 1
        # Pin each process to one GPU: its local rank is its index on this machine.
        if cuda:
            torch.cuda.set_device(self.local_rank)
            self.device = torch.device("cuda", self.local_rank)
        else:
            self.device = torch.device("cpu")
            # N processes on one machine share its cores: give each its share, not all
            # (more threads than cores makes each process wait for the others' threads).
            cores = os.cpu_count() or 1
            torch.set_num_threads(threads or max(1, cores // self.local_size))

    @staticmethod
    def _horovod_can_use_gpus(hvd, device_request: str) -> bool:
        """Horovod allreduces CUDA tensors only when it was built with NCCL. Without it,
        "auto" runs the ranks on the CPU (saying so once); "cuda" is an error that says what
        to do."""
        if hvd.nccl_built():
            return True
        advice = (
            "this Horovod was built without NCCL (Gloo only), so its ranks cannot allreduce "
            "on the GPUs. Rebuild it with the CUDA toolkit's nvcc on PATH (or CUDA_HOME set): "
            "tools/build_horovod.sh --force"
        )
        if device_request == "cuda":
            raise RuntimeError(f"device='cuda' was asked for, but {advice}; or pass device='cpu'")
        if hvd.rank() == 0:
            print(f"coursekit: {advice}. Running the ranks on the CPU.", flush=True)
        return False

    def log(self, *args) -> None:
        """Print on rank 0 only: N processes printing the same line is noise."""
        if self.rank == 0 and self.verbose:
            print(*args, flush=True)

    def average(self, value: float, name: str) -> float:
        """The mean of a number over all ranks (a metric each computed on its shard)."""
        if self.engine == "horovod":
            return self.hvd.allreduce(torch.tensor(value), name=name, op=self.hvd.Average).item()
        if self.engine == "ddp":
            t = torch.tensor(float(value), device=self.device)
            self.dist.all_reduce(t, op=self.dist.ReduceOp.SUM)
            return t.item() / self.size
        return value

    def max(self, value: float, name: str) -> float:
        if self.engine == "horovod":
            return self.hvd.allreduce(torch.tensor(value), name=name, op=self.hvd.Max).item()
        if self.engine == "ddp":
            t = torch.tensor(float(value), device=self.device)
            self.dist.all_reduce(t, op=self.dist.ReduceOp.MAX)
            return t.item()
        return value

    def broadcast_object(self, obj, name: str):
        if self.engine == "horovod":
            return self.hvd.broadcast_object(obj, root_rank=0, name=name)
        if self.engine == "ddp":
            box = [obj]
            self.dist.broadcast_object_list(box, src=0)
            return box[0]
        return obj

    def barrier(self) -> None:
        if self.engine == "horovod":
            self.hvd.barrier()
        elif self.engine == "ddp":
            self.dist.barrier()

    def close(self) -> None:
        if self.engine == "horovod":
            self.hvd.shutdown()
        elif self.engine == "ddp":
            self.dist.destroy_process_group()


# --- The allreduce benchmark ------------------------------------------------------------------------


def allreduce_bench(comm: Comm, sizes_bytes: list[int], seconds: float = 0.3) -> list[dict]:
    """Time a sum-allreduce of a float32 tensor of each size; rank 0's timings."""
    rows = []
    for nbytes in sizes_bytes:
        t = torch.ones(max(1, nbytes // 4), device=comm.device)
        name = f"bench.{nbytes}"

        def once(t=t, name=name):
            if comm.engine == "horovod":
                comm.hvd.allreduce_(t, name=name, op=comm.hvd.Sum)
                t.fill_(1.0)
            else:
                comm.dist.all_reduce(t)
                t.fill_(1.0)
            if comm.device.type == "cuda":
                torch.cuda.synchronize()

        for _ in range(2):
            once()  # warm-up: connections, buffers
        # The same number of repetitions on every rank, chosen by rank 0.
        t0 = time.perf_counter()
        once()
        guess = max(3, min(1000, int(seconds / max(time.perf_counter() - t0, 1e-6))))
        reps = int(comm.broadcast_object(guess, name=f"reps.{nbytes}"))
        comm.barrier()
        t0 = time.perf_counter()
        for _ in range(reps):
            once()
        elapsed = comm.max(time.perf_counter() - t0, name=f"elapsed.{nbytes}")
        per_call = elapsed / reps
        # Bus bandwidth (as nccl-tests report it): a ring allreduce moves 2(n-1)/n of the
        # data in and out of each process.
        busbw = nbytes / per_call * 2 * (comm.size - 1) / comm.size
        rows.append(
            dict(
                bytes=nbytes,
                reps=reps,
                seconds_per_call=per_call,
                algbw_GBps=nbytes / per_call / 1e9,
                busbw_GBps=busbw / 1e9,
            )
        )
        comm.log(
            f"allreduce {nbytes:>10} B: {per_call * 1e6:10.1f} us  {nbytes / per_call / 1e9:7.3f} GB/s"
        )
    return rows


__all__ = ["ENGINES", "Comm", "allreduce_bench"]
