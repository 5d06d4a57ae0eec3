"""One data-parallel training process: the script every rank runs (SPMD).

Launched N times, once per process, by Horovod or by torch.distributed:

    horovodrun -np 2 --gloo python -m coursekit.distributed.train_worker train --out OUT
    torchrun --standalone --nproc-per-node 2 -m coursekit.distributed.train_worker train \\
        --engine ddp --out OUT

Every process runs this same file top to bottom; they differ only in their rank. Each
step of the data-parallel recipe is written out once per engine, side by side, so the
two can be compared line by line (``engine="horovod"``, ``"ddp"``; ``"none"`` is the
single process the others are checked against); the collective calls themselves (join,
who am I, average, broadcast) are in :mod:`coursekit.distributed.comm`:

1. start: ``hvd.init()`` / ``dist.init_process_group``; rank, local rank, size; pin a GPU.
2. shard the data: ``DistributedSampler(num_replicas=size, rank=rank)``, ``set_epoch``.
3. make every rank start from rank 0's parameters and optimizer state (broadcast).
4. average gradients across ranks (allreduce), optionally compressed to fp16 on the wire,
   optionally only every ``accumulate`` backward passes.
5. scale the learning rate by the number of ranks, after a warm-up.
6. average metrics across ranks; only rank 0 prints and writes checkpoints.

Each rank writes what it measured to ``OUT/rank<r>.json``; the launcher reads those back.
Tasks: ``train`` (the recipe above) and ``allreduce`` (a benchmark of the collective).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import socket
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import BatchSampler, DistributedSampler, TensorDataset

from coursekit.distributed.comm import ENGINES, Comm, allreduce_bench

OPTIMIZERS = ("sgd", "lars", "lamb")


# --- The model and the data (the same in every process) -----------------------------------


def make_model(hidden: int = 256, in_features: int = 64, classes: int = 10) -> nn.Sequential:
    """The notebook's model: an MLP, in_features -> hidden -> hidden -> 10 (64 inputs for
    the 8x8 digits, 784 for MNIST's 28x28 images)."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(in_features, hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, classes),
    )


def as_tensors(ds) -> tuple[torch.Tensor, ...]:
    """A coursekit.data dataset as (x_train, y_train, x_test, y_test), each image one row."""
    return ds.x_train.flatten(1), ds.y_train, ds.x_test.flatten(1), ds.y_test


def load_data(n_train: int | None = None, dtype: torch.dtype = torch.float32, path=None):
    """scikit-learn's 8x8 digits (coursekit.data.load_digits, seed 0), as
    (x_train, y_train, x_test, y_test), or the four tensors saved in ``path`` (the notebook
    saves its data once, the digits or MNIST, so that N processes do not each load it).
    ``n_train`` keeps the first n training images."""
    if path is not None:
        x_train, y_train, x_test, y_test = torch.load(path)
    else:
        from coursekit.data import load_digits

        x_train, y_train, x_test, y_test = as_tensors(load_digits())
    if n_train is not None:
        x_train, y_train = x_train[:n_train], y_train[:n_train]
    return x_train.to(dtype), y_train, x_test.to(dtype), y_test


def make_optimizer(name: str, params, lr: float, momentum: float = 0.9, weight_decay: float = 0.0):
    from coursekit import optim

    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "lars":
        return optim.LARS(
            params, lr=lr, momentum=momentum, weight_decay=weight_decay, exclude_1d=True
        )
    if name == "lamb":
        return optim.LAMB(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"optimizer={name!r} is not allowed: it must be one of {OPTIMIZERS}")


def warmup_lr(step: int, base_lr: float, size: int, warmup_steps: int) -> float:
    """Goyal et al. (2017): from ``base_lr`` up to ``size * base_lr`` over ``warmup_steps``,
    then constant. With one process (size 1) it is ``base_lr`` throughout."""
    if warmup_steps <= 0:
        return base_lr * size
    ramp = min(1.0, step / warmup_steps)
    return base_lr * (1 + (size - 1) * ramp)


def flat_parameters(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def fingerprint(model: nn.Module) -> str:
    """A short hash of the parameters' bytes: equal on two ranks iff the weights are equal."""
    data = flat_parameters(model).cpu().numpy().tobytes()
    return hashlib.sha256(data).hexdigest()[:12]


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    logits = model(x)
    return F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).double().mean().item()


# --- The training recipe -------------------------------------------------------------------------


def train(
    comm: Comm,
    *,
    epochs: int = 4,
    batch_size: int = 32,
    lr: float = 0.05,
    warmup_epochs: float = 1.0,
    scale_lr: bool = True,
    optimizer: str = "sgd",
    momentum: float = 0.9,
    fp16: bool = False,
    accumulate: int = 1,
    hidden: int = 256,
    n_train: int | None = None,
    dtype: str = "float32",
    seed: int = 0,
    checkpoint: str | None = None,
    save_every: int = 1,
    resume_from: str | None = None,
    fail_rank: int | None = None,
    fail_step: int = 0,
    hang_rank: int | None = None,
    time_steps: bool = False,
    data: str | None = None,
    max_steps_per_epoch: int | None = None,
) -> tuple[dict, nn.Module]:
    """Train the MLP on the data (the digits unless ``data`` names a saved file) with
    ``batch_size`` examples per rank and per backward pass, so each optimizer step sees
    ``size * batch_size * accumulate`` examples.
    ``max_steps_per_epoch`` cuts every epoch short (a notebook's null run takes one step
    per epoch: the whole recipe runs, with the learning taken out)."""
    rank, size, device = comm.rank, comm.size, comm.device
    torch_dtype = getattr(torch, dtype)
    x_train, y_train, x_test, y_test = load_data(n_train, torch_dtype, data)
    x_train, y_train = x_train.to(device), y_train.to(device)
    x_test, y_test = x_test.to(device), y_test.to(device)

    # Each rank initialises its own model with its own seed: without step 3 they would
    # start from different weights and train different models.
    torch.manual_seed(seed + rank)
    model = make_model(hidden, in_features=x_train.shape[1]).to(device=device, dtype=torch_dtype)
    before_broadcast = fingerprint(model)

    # --- 5. The learning rate: scaled by size (linear scaling rule), after a warm-up.
    steps_per_epoch = len(x_train) // (size * batch_size * accumulate)
    if steps_per_epoch < 1:
        raise ValueError(
            f"batch_size={batch_size} x accumulate={accumulate} x {size} ranks is more than "
            f"the {len(x_train)} training examples"
        )
    if max_steps_per_epoch is not None:
        if max_steps_per_epoch < 1:
            raise ValueError(
                f"max_steps_per_epoch={max_steps_per_epoch} is not allowed: it must be at least 1"
            )
        steps_per_epoch = min(steps_per_epoch, max_steps_per_epoch)
    warmup_steps = round(warmup_epochs * steps_per_epoch)
    ranks_for_lr = size if scale_lr else 1
    opt = make_optimizer(optimizer, model.parameters(), lr=lr, momentum=momentum)

    # --- 4. Gradients averaged over ranks: Horovod wraps the optimizer.
    if comm.engine == "horovod":
        hvd = comm.hvd
        opt = hvd.DistributedOptimizer(
            opt,
            named_parameters=model.named_parameters(),
            compression=hvd.Compression.fp16 if fp16 else hvd.Compression.none,
            backward_passes_per_step=accumulate,
            op=hvd.Average,
        )

    # Resume: only rank 0 reads the checkpoint; the broadcasts below give it to every rank.
    start_epoch, step = 0, 0
    if resume_from:
        if rank == 0:
            state = torch.load(resume_from, map_location=device, weights_only=False)
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            start_epoch, step = state["epoch"], state["step"]
        start_epoch, step = comm.broadcast_object((start_epoch, step), name="resume_point")
        comm.log(f"resumed from {Path(resume_from).name} at epoch {start_epoch}, step {step}")

    # --- 3. Every rank starts from rank 0's parameters and optimizer state.
    if comm.engine == "horovod":
        hvd.broadcast_parameters(model.state_dict(), root_rank=0)
        hvd.broadcast_optimizer_state(opt, root_rank=0)
    elif comm.engine == "ddp":
        from torch.nn.parallel import DistributedDataParallel as DDP

        # DDP broadcasts rank 0's parameters (and buffers) when it wraps the model, and
        # from then on allreduces gradients during backward (step 4).
        model = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)
        if fp16:
            from torch.distributed.algorithms.ddp_comm_hooks import default_hooks

            model.register_comm_hook(None, default_hooks.fp16_compress_hook)
        if resume_from:  # the optimizer state is rank 0's to share
            opt.load_state_dict(comm.broadcast_object(opt.state_dict(), name="opt_state"))
    net = model.module if comm.engine == "ddp" else model
    after_broadcast = fingerprint(net)

    # --- 2. Shard the data: rank r sees examples order[r::size] of one shared permutation.
    dataset = TensorDataset(x_train, y_train)
    sampler = DistributedSampler(dataset, num_replicas=size, rank=rank, shuffle=True, seed=seed)
    batches = BatchSampler(sampler, batch_size, drop_last=True)

    history, step_times = [], []
    seen_first_batch = None
    for epoch in range(start_epoch, epochs):
        sampler.set_epoch(epoch)  # a new permutation each epoch, the same on every rank
        model.train()
        micro_batches = list(batches)[: steps_per_epoch * accumulate]
        if seen_first_batch is None:
            seen_first_batch = [int(i) for i in micro_batches[0][:8]]
        epoch_loss = 0.0
        for k in range(steps_per_epoch):
            t0 = time.perf_counter()
            for g in opt.param_groups:
                g["lr"] = warmup_lr(step, lr, ranks_for_lr, warmup_steps)
            opt.zero_grad()
            for m in range(accumulate):
                index = micro_batches[k * accumulate + m]
                xb, yb = x_train[index], y_train[index]
                # DDP allreduces during backward; skip that on all but the last micro-batch.
                last = m == accumulate - 1
                sync = model.no_sync() if comm.engine == "ddp" and not last else _nothing()
                with sync:
                    loss = F.cross_entropy(model(xb), yb) / accumulate
                    loss.backward()  # Horovod: hooks start async allreduces on the last pass
                epoch_loss += loss.item()
            if fail_rank == rank and step == fail_step:
                raise RuntimeError(f"injected failure on rank {rank} at step {step}")
            if hang_rank == rank and step == fail_step:
                print(f"rank {rank} hangs at step {step} (a test)", flush=True)
                time.sleep(3600)  # the other ranks wait for it in their next allreduce
            opt.step()  # Horovod: waits for the allreduces, then steps with averaged grads
            step += 1
            if time_steps:
                if device.type == "cuda":
                    torch.cuda.synchronize()
                step_times.append(time.perf_counter() - t0)

        # --- 6. Metrics: each rank's number on its shard, averaged over ranks.
        train_loss = comm.average(epoch_loss / steps_per_epoch, name=f"loss.{epoch}")
        test_loss, test_acc = evaluate(net, x_test, y_test)
        history.append(
            dict(
                epoch=epoch + 1,
                step=step,
                lr=opt.param_groups[0]["lr"],
                train_loss=train_loss,
                test_loss=test_loss,
                test_accuracy=test_acc,
            )
        )
        comm.log(
            f"epoch {epoch + 1:>2}/{epochs}  step {step:>4}  lr {opt.param_groups[0]['lr']:.4f}  "
            f"train loss {train_loss:.4f}  test accuracy {test_acc:.4f}"
        )
        # Checkpoint on rank 0 only: every rank holds the same weights; N writers would
        # race on one file. Kept per epoch, so a later run can resume from any of them.
        if checkpoint and rank == 0 and (epoch + 1) % save_every == 0:
            state = dict(
                model=net.state_dict(), optimizer=opt.state_dict(), epoch=epoch + 1, step=step
            )
            torch.save(state, f"{checkpoint}.tmp")
            os.replace(f"{checkpoint}.tmp", checkpoint)  # never a half-written checkpoint
            shutil.copyfile(checkpoint, f"{checkpoint}.epoch{epoch + 1}")

    # Do the ranks hold the same weights? The largest difference from rank 0's copy.
    flat = flat_parameters(net)
    reference = comm.broadcast_object(flat.cpu(), name="final_params").to(flat)
    spread = comm.max((flat - reference).abs().max().item(), name="spread")
    result = dict(
        engine=comm.engine,
        rank=rank,
        size=size,
        local_rank=comm.local_rank,
        local_size=comm.local_size,
        cross_rank=comm.cross_rank,
        cross_size=comm.cross_size,
        host=socket.gethostname(),
        pid=os.getpid(),
        device=str(device),
        threads=torch.get_num_threads(),
        steps_per_epoch=steps_per_epoch,
        global_batch=size * batch_size * accumulate,
        fingerprint_before_broadcast=before_broadcast,
        fingerprint_after_broadcast=after_broadcast,
        fingerprint_final=fingerprint(net),
        max_rank_difference=spread,
        first_indices=seen_first_batch,
        history=history,
        step_times=step_times,
    )
    return result, net


@contextlib.contextmanager
def _nothing():
    yield


# --- Command line -------------------------------------------------------------------------------------


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m coursekit.distributed.train_worker", description=__doc__
    )
    p.add_argument("tasks", nargs="+", choices=["train", "allreduce"], help="run in this order")
    p.add_argument("--engine", choices=ENGINES, default="horovod")
    p.add_argument("--out", required=True, help="folder for rank<r>.json (and the checkpoint)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu"])
    p.add_argument("--threads", type=int, default=None, help="torch threads (CPU)")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch-size", type=int, default=32, help="examples per rank per backward")
    p.add_argument("--lr", type=float, default=0.05, help="learning rate for one process")
    p.add_argument("--warmup-epochs", type=float, default=1.0)
    p.add_argument("--no-scale-lr", action="store_true", help="do not multiply lr by size")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd")
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--fp16", action="store_true", help="compress gradients to fp16 on the wire")
    p.add_argument("--accumulate", type=int, default=1, help="backward passes per step")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--n-train", type=int, default=None)
    p.add_argument("--data", default=None, help="a .pt file of (x_train, y_train, x_test, y_test)")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint", default=None, help="file rank 0 writes after each epoch")
    p.add_argument("--save-every", type=int, default=1)
    p.add_argument("--resume-from", default=None, help="a checkpoint to start from")
    p.add_argument("--fail-rank", type=int, default=None, help="raise on this rank (a test)")
    p.add_argument("--fail-step", type=int, default=0)
    p.add_argument("--hang-rank", type=int, default=None, help="sleep on this rank (a test)")
    p.add_argument("--time-steps", action="store_true", help="record each step's wall time")
    p.add_argument("--steps-per-epoch", type=int, default=None, help="at most this many steps")
    p.add_argument("--sizes", type=int, nargs="*", default=[2**k for k in range(10, 27, 2)])
    p.add_argument("--bench-seconds", type=float, default=0.3)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    comm = Comm(args.engine, args.device, args.threads)
    print(
        f"rank {comm.rank} of {comm.size}: local rank {comm.local_rank} of {comm.local_size} "
        f"on host {comm.cross_rank} of {comm.cross_size} ({socket.gethostname()}, pid "
        f"{os.getpid()}), device {comm.device}, {torch.get_num_threads()} threads",
        flush=True,
    )
    t0 = time.perf_counter()
    result = dict(rank=comm.rank, size=comm.size, engine=comm.engine)
    if "train" in args.tasks:
        trained, net = train(
            comm,
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            warmup_epochs=args.warmup_epochs,
            scale_lr=not args.no_scale_lr,
            optimizer=args.optimizer,
            momentum=args.momentum,
            fp16=args.fp16,
            accumulate=args.accumulate,
            hidden=args.hidden,
            n_train=args.n_train,
            dtype=args.dtype,
            seed=args.seed,
            checkpoint=args.checkpoint,
            save_every=args.save_every,
            resume_from=args.resume_from,
            fail_rank=args.fail_rank,
            fail_step=args.fail_step,
            hang_rank=args.hang_rank,
            time_steps=args.time_steps,
            data=args.data,
            max_steps_per_epoch=args.steps_per_epoch,
        )
        result.update(trained)
        if comm.rank == 0:
            torch.save(net.state_dict(), out / "final_model.pt")
    if "allreduce" in args.tasks:
        result["allreduce"] = allreduce_bench(comm, args.sizes, args.bench_seconds)
    result["wall_s"] = time.perf_counter() - t0
    (out / f"rank{comm.rank}.json").write_text(json.dumps(result, indent=1))
    comm.barrier()
    comm.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
