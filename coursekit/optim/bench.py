"""Time one ``step`` of each coursekit optimiser against ``torch.optim`` (foreach).

    from coursekit.optim.bench import bench
    for row in bench():  # ~10M parameters; about 10 s on a 2-core CPU
        print(row)

Gradients are random and fixed, so only the optimiser step is timed. For the optimisers
``torch.optim`` lacks (FTRL, LARS, LAMB, Lookahead) the row's ``torch_ms`` is the nearest
torch optimiser, named in ``baseline``, so their ``ratio`` is the cost of the extra work.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from coursekit import optim

Factory = Callable[[list[torch.Tensor]], torch.optim.Optimizer]


def _cases() -> list[tuple[str, Factory, str, Factory]]:
    t = torch.optim
    return [
        (
            "SGD",
            lambda ps: optim.SGD(ps, lr=1e-3),
            "SGD",
            lambda ps: t.SGD(ps, lr=1e-3, foreach=True),
        ),
        (
            "SGD nesterov+wd",
            lambda ps: optim.SGD(ps, lr=1e-3, momentum=0.9, nesterov=True, weight_decay=1e-4),
            "SGD nesterov+wd",
            lambda ps: t.SGD(
                ps, lr=1e-3, momentum=0.9, nesterov=True, weight_decay=1e-4, foreach=True
            ),
        ),
        (
            "AdaGrad",
            lambda ps: optim.AdaGrad(ps),
            "Adagrad",
            lambda ps: t.Adagrad(ps, foreach=True),
        ),
        (
            "RMSProp centered+momentum",
            lambda ps: optim.RMSProp(ps, centered=True, momentum=0.9),
            "RMSprop centered+momentum",
            lambda ps: t.RMSprop(ps, centered=True, momentum=0.9, foreach=True),
        ),
        ("Adam", lambda ps: optim.Adam(ps), "Adam", lambda ps: t.Adam(ps, foreach=True)),
        (
            "Adam amsgrad",
            lambda ps: optim.Adam(ps, amsgrad=True),
            "Adam amsgrad",
            lambda ps: t.Adam(ps, amsgrad=True, foreach=True),
        ),
        ("AdamW", lambda ps: optim.AdamW(ps), "AdamW", lambda ps: t.AdamW(ps, foreach=True)),
        (
            "FTRL",
            lambda ps: optim.FTRL(ps, l1=1e-4),
            "Adagrad",
            lambda ps: t.Adagrad(ps, foreach=True),
        ),
        (
            "LARS",
            lambda ps: optim.LARS(ps, weight_decay=1e-4),
            "SGD momentum+wd",
            lambda ps: t.SGD(ps, lr=1e-3, momentum=0.9, weight_decay=1e-4, foreach=True),
        ),
        (
            "LAMB",
            lambda ps: optim.LAMB(ps, weight_decay=1e-2),
            "AdamW",
            lambda ps: t.AdamW(ps, weight_decay=1e-2, foreach=True),
        ),
        (
            "Lookahead(Adam)",
            lambda ps: optim.Lookahead(optim.Adam(ps), k=5),
            "Adam",
            lambda ps: t.Adam(ps, foreach=True),
        ),
    ]


def mlp_params(
    n_params: int, depth: int = 4, device: str | torch.device = "cpu"
) -> list[torch.Tensor]:
    """The parameters of a ``depth``-layer square MLP with about ``n_params`` numbers."""
    width = max(1, round((-1 + math.sqrt(1 + 4 * n_params / depth)) / 2))  # depth*(w^2+w) ~ n
    layers = [nn.Linear(width, width) for _ in range(depth)]
    return [p.detach().to(device) for layer in layers for p in layer.parameters()]


def _setup(factory: Factory, init: list[torch.Tensor], grads: list[torch.Tensor]):
    params = [p.clone().requires_grad_() for p in init]
    for p, g in zip(params, grads, strict=True):
        p.grad = g
    return factory(params)


def _time_pair(ours: Factory, theirs: Factory, init, grads, steps: int) -> tuple[float, float]:
    """Median ms per step of both optimisers, their steps interleaved so that both see the
    same background load (shared machines are noisy)."""
    opts = [_setup(ours, init, grads), _setup(theirs, init, grads)]
    sync = torch.cuda.synchronize if init[0].is_cuda else (lambda: None)
    for _ in range(3):  # warm-up; also creates the state
        for opt in opts:
            opt.step()
    sync()
    times: list[list[float]] = [[], []]
    for _ in range(steps):
        for opt, record in zip(opts, times, strict=True):
            start = time.perf_counter()
            opt.step()
            sync()
            record.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times[0]), 1e3 * statistics.median(times[1])


def bench(n_params: int = 10_000_000, steps: int = 20, device: str = "cpu") -> list[dict]:
    """Median milliseconds per ``step`` for each optimiser, ours and torch's (foreach=True).

    Returns rows ``{optimizer, ours_ms, torch_ms, ratio, baseline}`` with
    ``ratio = ours_ms / torch_ms``.
    """
    torch.manual_seed(0)
    init = mlp_params(n_params, device=device)
    grads = [torch.randn_like(p) for p in init]
    rows = []
    for name, ours, baseline, theirs in _cases():
        ours_ms, torch_ms = _time_pair(ours, theirs, init, grads, steps)
        rows.append(
            dict(
                optimizer=name,
                ours_ms=round(ours_ms, 3),
                torch_ms=round(torch_ms, 3),
                ratio=round(ours_ms / torch_ms, 2),
                baseline=f"torch.optim.{baseline}",
            )
        )
    return rows


if __name__ == "__main__":
    for row in bench():
        print(row)
