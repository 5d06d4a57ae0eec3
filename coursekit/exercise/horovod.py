"""Notebook 10's exercises: a rank's shard of the data, and averaging the ranks' gradients.

A rank's shard is what ``torch.utils.data.DistributedSampler(shuffle=False)`` gives it: the
positions are padded (repeating the first ones) to a multiple of the number of ranks, then
rank r takes r, r + N, r + 2N, ... The oracle is the sampler itself.

The ranks' gradients, each the mean over its own batch, average to the gradient of the mean
loss over all their examples when each is weighted by its batch's size (equal batches: the
plain mean, what Horovod's allreduce computes). The oracle is autograd on the whole batch.
"""

from __future__ import annotations

import torch
from torch.utils.data import DistributedSampler

from coursekit.exercise import Case, Exercise, register

F64 = torch.float64


# --- 10.shard_indices ---------------------------------------------------------------------


def _shard_cases():
    return [
        Case("10 examples, 2 ranks, rank 0", (10, 0, 2), "divides evenly"),
        Case("10 examples, 4 ranks, rank 3", (10, 3, 4), "10 is not a multiple of 4: padding"),
        Case("7 examples, 3 ranks, rank 1", (7, 1, 3), "padding again"),
        Case("3 examples, 5 ranks, rank 4", (3, 4, 5), "more ranks than examples"),
    ]


def _shard_reference(n, rank, world_size):
    sampler = DistributedSampler(range(n), num_replicas=world_size, rank=rank, shuffle=False)
    return torch.tensor(list(sampler))


def _shard_fallback(n, rank, world_size):
    total = -(-n // world_size) * world_size
    padded = [i % n for i in range(total)]
    return torch.tensor(padded[rank:total:world_size])


register(
    Exercise(
        name="10.shard_indices",
        what="shard_indices(n, rank, world_size): the positions of rank's shard of n examples, "
        "as torch.utils.data.DistributedSampler(shuffle=False) gives them",
        oracle="torch.utils.data.DistributedSampler(shuffle=False)",
        reference=_shard_reference,
        fallback=_shard_fallback,
        cases=_shard_cases,
        hint="pad the positions 0..n-1 by repeating them from the start up to a multiple of "
        "world_size, then take every world_size-th one from position rank",
        rtol=0,
        atol=0,
        wrong=(
            lambda n, rank, world: torch.arange(
                rank, n, world
            ),  # no padding: shards differ in size
            lambda n, rank, world: torch.arange(n)[
                rank * -(-n // world) : (rank + 1) * -(-n // world)
            ],  # contiguous blocks, not strided
        ),
    )
)


# --- 10.average_gradients -----------------------------------------------------------------

_FULL: dict[int, torch.Tensor] = {}  # id(the gradients' list) -> the whole batch's gradient


def _average_cases():
    gen = torch.Generator().manual_seed(10)
    cases = []
    for label, sizes in (
        ("2 ranks, 32 examples each", (32, 32)),
        ("4 ranks, equal batches of 8", (8, 8, 8, 8)),
        ("3 ranks, the last batch short", (16, 16, 5)),
    ):
        x = torch.randn(sum(sizes), 6, generator=gen, dtype=F64)
        y = x @ torch.randn(6, generator=gen, dtype=F64) + 0.1 * torch.randn(
            sum(sizes), generator=gen, dtype=F64
        )
        w = torch.zeros(6, dtype=F64, requires_grad=True)

        def mean_loss_grad(xs, ys, w=w):
            (g,) = torch.autograd.grad(((xs @ w - ys) ** 2).mean(), w)
            return g

        grads = [
            mean_loss_grad(xb, yb) for xb, yb in zip(x.split(sizes), y.split(sizes), strict=True)
        ]
        _FULL[id(grads)] = mean_loss_grad(x, y)
        cases.append(Case(label, (grads, list(sizes)), f"batch sizes {list(sizes)}"))
    return cases


def _average_reference(grads, sizes):
    return _FULL[id(grads)]


def _average_fallback(grads, sizes):
    weights = torch.tensor(sizes, dtype=grads[0].dtype, device=grads[0].device)
    return (torch.stack(grads) * weights[:, None]).sum(0) / weights.sum()


register(
    Exercise(
        name="10.average_gradients",
        what="average_gradients(grads, sizes): the gradient of the mean loss over all the "
        "ranks' examples, from each rank's mean gradient and its batch size",
        oracle="autograd on the whole batch",
        reference=_average_reference,
        fallback=_average_fallback,
        cases=_average_cases,
        hint="each rank's gradient is a mean over its own batch: weight it by that batch's size, "
        "sum, and divide by the total number of examples",
        rtol=1e-12,
        atol=1e-12,
        wrong=(
            lambda grads, sizes: torch.stack(grads).mean(
                0
            ),  # the plain mean: wrong for unequal batches
            lambda grads, sizes: torch.stack(grads).sum(0),  # summed, not averaged
        ),
    )
)
