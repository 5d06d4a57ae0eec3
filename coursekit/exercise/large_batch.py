"""Notebook 03's exercises: the layer-wise trust ratio of LARS and LAMB, with its zero guard,
the warm-up-then-cosine learning-rate factor, and LAMB's whole update on one tensor (against
``coursekit.optim.LAMB``).

trust = ||w|| / ||u|| for a parameter tensor w and its update direction u, and 1 when either
norm is zero (a layer initialised at zero, or one whose update vanished), so that the step
is neither infinite nor NaN. The oracle is ``coursekit.optim.LAMB`` itself: one step of its
momentum base with beta1 = 0 makes its direction u exactly the gradient it is given, and the
ratio it applied stays in its state.
"""

from __future__ import annotations

import math

import torch

from coursekit import schedules
from coursekit.exercise import Case, Exercise, optimizer_path, register
from coursekit.optim import LAMB

F64 = torch.float64


def _cases():
    gen = torch.Generator().manual_seed(3)
    w, u = (
        torch.randn(16, 8, generator=gen, dtype=F64),
        torch.randn(16, 8, generator=gen, dtype=F64),
    )
    return [
        Case(
            "a 16 x 8 weight matrix and its update",
            (w, 1e-2 * u),
            "||w|| about 11, ||u|| about 0.1",
        ),
        Case("a bias vector", (w[0], u[0]), "a 1-D tensor"),
        Case("a layer initialised at zero", (torch.zeros(4, 3, dtype=F64), u[:4, :3]), "||w|| = 0"),
        Case("an update that vanished", (w[:2], torch.zeros(2, 8, dtype=F64)), "||u|| = 0"),
    ]


def _reference(w, update):
    p = torch.nn.Parameter(w.clone())
    p.grad = update.clone()
    opt = LAMB([p], lr=1e-3, betas=(0.0, 0.999), base="momentum")
    opt.step()
    return opt.state[p]["trust_ratio"].detach()


def _fallback(w, update):
    w_norm, u_norm = torch.linalg.vector_norm(w), torch.linalg.vector_norm(update)
    return torch.where((w_norm > 0) & (u_norm > 0), w_norm / u_norm, torch.ones_like(w_norm))


register(
    Exercise(
        name="03.trust_ratio",
        what="trust_ratio(w, update): ||w|| / ||update|| over the whole tensor (a 0-dim tensor), "
        "and 1 when either norm is 0",
        oracle="coursekit.optim.LAMB's own ratio (its momentum base, beta1 = 0)",
        reference=_reference,
        fallback=_fallback,
        cases=_cases,
        hint="torch.linalg.vector_norm takes the norm of every entry of a tensor; guard the "
        "division with torch.where((w_norm > 0) & (u_norm > 0), w_norm / u_norm, 1.0)",
        rtol=1e-12,
        atol=1e-12,
        wrong=(
            lambda w, u: torch.linalg.vector_norm(w) / torch.linalg.vector_norm(u),  # no guard
            lambda w, u: torch.where(
                (w.norm() > 0) & (u.norm() > 0), u.norm() / w.norm(), torch.ones(())
            ).to(w.dtype),  # the ratio upside down
            lambda w, u: torch.where(
                (w.norm() > 0) & (u.norm() > 0), (w * w).sum() / (u * u).sum(), torch.ones(())
            ).to(w.dtype),  # squared norms
        ),
    )
)


# --- 03.warmup_factor -----------------------------------------------------------------------


def _warmup_cases():
    return [
        Case("the first step of 5 warm-up steps", (0, 5, 100), "step 0 already moves: 1/5"),
        Case("the last warm-up step", (4, 5, 100), "the full rate"),
        Case("the first step of the decay", (5, 5, 100), "still 1"),
        Case("half-way through the decay", (52, 5, 100), "(52 - 5) / 95 of the way"),
        Case("the end", (100, 5, 100), "0"),
        Case("past the end", (130, 5, 100), "stays 0"),
        Case("no warm-up", (0, 0, 50), "warmup_steps = 0: the decay from step 0"),
    ]


def _warmup_wrong(off_by_one=False, decay_from_zero=False):
    def warmup_factor(step, warmup_steps, total_steps):
        if step < warmup_steps:
            return (step if off_by_one else step + 1) / warmup_steps
        start = 0 if decay_from_zero else warmup_steps
        done = min(1.0, (step - start) / (total_steps - start))
        return 0.5 * (1 + math.cos(math.pi * done))

    return warmup_factor


register(
    Exercise(
        name="03.warmup_factor",
        what="warmup_factor(step, warmup_steps, total_steps): the learning rate's multiplier at "
        "step `step` (from 0): (step + 1) / warmup_steps while warming up, then a half cosine "
        "from 1 to 0 at total_steps, 0 after",
        oracle="coursekit.schedules.warmup_factor (what 03's runs use)",
        reference=lambda step, w, total: schedules.warmup_factor(step, w, total, "cosine"),
        cases=_warmup_cases,
        hint="count steps from 0, so step 0 gets 1 / warmup_steps; the cosine's argument is the "
        "fraction of the decay done, (step - warmup_steps) / (total_steps - warmup_steps), "
        "capped at 1",
        rtol=1e-12,
        atol=1e-12,
        wrong=(
            _warmup_wrong(off_by_one=True),  # step 0 gets factor 0: the first step does nothing
            _warmup_wrong(
                decay_from_zero=True
            ),  # the decay counted from step 0, not the warm-up's end
        ),
    )
)


# --- 03.lamb --------------------------------------------------------------------------------


def _lamb_cases():
    gen = torch.Generator().manual_seed(33)
    scale = torch.rand(8, 4, generator=gen, dtype=F64) * 4 + 0.1  # a curvature per weight
    target = torch.randn(8, 4, generator=gen, dtype=F64)
    noise = [0.3 * torch.randn(8, 4, generator=gen, dtype=F64) for _ in range(12)]
    grads = [lambda w, n=n: scale * (w - target) + n for n in noise]  # a noisy quadratic
    w0 = torch.randn(8, 4, generator=gen, dtype=F64) / 2
    return [
        Case("a noisy quadratic, 12 steps, lr 0.05", (grads, w0, 0.05), "weight_decay 0"),
        Case("the same with weight decay 0.01", (grads, w0, 0.05, 0.01), "u = r + 0.01 w"),
        Case(
            "a weight matrix initialised at zero",
            (grads[:4], torch.zeros(8, 4, dtype=F64), 0.05, 0.01),
            "||w|| = 0 on the first step: trust 1",
        ),
    ]


def _lamb_reference(grads, w0, lr, weight_decay=0.0, betas=(0.9, 0.999), eps=1e-6):
    return optimizer_path(
        lambda ps: LAMB(ps, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay), grads, w0
    )


def _lamb_by_hand(
    grads,
    w0,
    lr,
    weight_decay=0.0,
    betas=(0.9, 0.999),
    eps=1e-6,
    ratio_of_gradient=False,
    decay_outside=False,
    corrected=True,
):
    b1, b2 = betas
    w, m, v, path = w0.clone(), torch.zeros_like(w0), torch.zeros_like(w0), [w0.clone()]
    for t, grad in enumerate(grads, start=1):
        g = grad(w)
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        m_hat, v_hat = (m / (1 - b1**t), v / (1 - b2**t)) if corrected else (m, v)
        r = m_hat / (v_hat.sqrt() + eps)
        u = r if decay_outside else r + weight_decay * w
        trust = _fallback(w, g if ratio_of_gradient else u)
        step = trust * u + (weight_decay * w if decay_outside else 0.0)
        w = w - lr * step
        path.append(w)
    return torch.stack(path)


register(
    Exercise(
        name="03.lamb",
        what="lamb(grads, w0, lr, weight_decay=0.0, betas=(0.9, 0.999), eps=1e-6): LAMB on one "
        "tensor: Adam's bias-corrected direction r, u = r + weight_decay w, "
        "w <- w - lr trust_ratio(w, u) u, one step per gradient function, the iterates stacked",
        oracle="coursekit.optim.LAMB (the paper's Algorithm 2, as 03's runs use it)",
        reference=_lamb_reference,
        fallback=_lamb_by_hand,
        cases=_lamb_cases,
        hint="the trust ratio is taken of the whole direction u, weight decay included, and "
        "it scales all of u: each step then moves w by lr times its own norm; m and v start at "
        "0 and are bias-corrected by 1 - beta**t, t counted from 1",
        rtol=1e-10,
        atol=1e-12,
        wrong=(
            lambda *a: _lamb_by_hand(*a, ratio_of_gradient=True),  # ||w|| / ||g||, not / ||u||
            lambda *a: _lamb_by_hand(*a, decay_outside=True),  # decay added after the ratio
            lambda *a: _lamb_by_hand(*a, corrected=False),  # Adam's bias correction left out
        ),
    )
)
