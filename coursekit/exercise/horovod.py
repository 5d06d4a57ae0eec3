"""Notebook 10's exercises: a rank's shard of the data, averaging the ranks' gradients, and the
bytes a ring allreduce sends (against a ring simulated chunk by chunk).

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
        # the oracle's context: the gradient of the mean loss over the whole batch
        full = mean_loss_grad(x, y)
        cases.append(Case(label, (grads, list(sizes)), f"batch sizes {list(sizes)}", full))
    return cases


def _average_reference(grads, sizes, context):
    return context  # the whole batch's gradient, computed on one process


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


# --- 10.ring_bytes ------------------------------------------------------------------------


def _ring_allreduce_sent(numel, world_size, bytes_per_element):
    """Run a ring allreduce on ``world_size`` simulated ranks, each holding ``numel`` numbers,
    and count what each rank sends: the most any rank sent, in bytes. Reduce-scatter: at step
    s, rank r passes its running sum of chunk (r - s) mod N to rank r + 1, which adds its own;
    after N - 1 steps rank r holds the full sum of chunk (r + 1) mod N. All-gather: N - 1 more
    steps pass the finished chunks round the ring."""
    n = world_size
    if n == 1:
        return 0
    gen = torch.Generator().manual_seed(numel + n)
    data = [torch.randn(numel, generator=gen, dtype=F64) for _ in range(n)]
    total = torch.stack(data).sum(0)
    chunks = [[c.clone() for c in d.tensor_split(n)] for d in data]  # chunks[rank][c]
    sent = [0] * n
    for s in range(n - 1):  # reduce-scatter
        outgoing = [(r, (r - s) % n, chunks[r][(r - s) % n].clone()) for r in range(n)]
        for r, c, piece in outgoing:
            chunks[(r + 1) % n][c] += piece
            sent[r] += piece.numel()
    for s in range(n - 1):  # all-gather
        outgoing = [(r, (r + 1 - s) % n, chunks[r][(r + 1 - s) % n].clone()) for r in range(n)]
        for r, c, piece in outgoing:
            chunks[(r + 1) % n][c] = piece
            sent[r] += piece.numel()
    for r in range(n):  # the simulation is right: every rank holds the sum
        assert torch.allclose(torch.cat(chunks[r]), total)
    return max(sent) * bytes_per_element


def _ring_cases():
    return [
        Case("a million float32 gradients, 2 ranks", (1_000_000, 2, 4), "4 MB of gradients"),
        Case("the same on 4 ranks", (1_000_000, 4, 4), ""),
        Case("2**20 float16 gradients, 8 ranks", (2**20, 8, 2), "fp16 compression halves it"),
        Case("one rank", (1_000, 1, 4), "nothing to send"),
    ]


register(
    Exercise(
        name="10.ring_bytes",
        what="ring_bytes(numel, world_size, bytes_per_element): the bytes each rank sends in a "
        "ring allreduce of numel numbers (reduce-scatter, then all-gather)",
        oracle="a ring allreduce simulated chunk by chunk, its messages counted",
        reference=_ring_allreduce_sent,
        fallback=lambda numel, n, b: 2 * (n - 1) / n * numel * b,
        cases=_ring_cases,
        hint="the tensor is cut into N chunks; each phase takes N - 1 steps and in each step a "
        "rank sends one chunk, numel / N numbers: 2 (N - 1) chunks in all",
        rtol=1e-12,
        atol=0,
        wrong=(
            lambda numel, n, b: 2 * (n - 1) * numel * b,  # the whole tensor at every step
            lambda numel, n, b: (n - 1) / n * numel * b,  # the reduce-scatter alone
            lambda numel, n, b: 2 * (n - 1) / n * numel,  # elements, not bytes
        ),
    )
)
