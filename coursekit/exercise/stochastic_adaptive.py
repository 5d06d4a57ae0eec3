"""Notebook 02's exercises: AdaGrad, RMSProp and Adam (with AMSGrad), from scratch.

Each takes a list of gradient functions, one per step (so that noisy gradients can be
replayed exactly), and a start, and returns every iterate stacked into ``(steps + 1, dim)``.
The oracles are ``torch.optim.Adagrad``, ``torch.optim.RMSprop`` and ``torch.optim.Adam``
(``amsgrad`` included) stepped on the same gradients; where an option has no torch
counterpart (AdaGrad's capped accumulator, Adam without bias correction) the oracle is
``coursekit.optim``'s version, which the tests check against torch everywhere they overlap.
"""

from __future__ import annotations

import torch

from coursekit import optim, problems
from coursekit.exercise import Case, Exercise, optimizer_path, register

F64 = torch.float64


def _gradients():
    """Noisy gradients of a 4-D quadratic (40 steps, seeded) and a constant gradient (25 steps)."""
    quad = problems.Quadratic.random(4, mu=1.0, L=20.0, seed=11)
    noise = torch.randn(40, 4, generator=torch.Generator().manual_seed(5), dtype=F64)
    noisy = [lambda w, z=z: quad.grad(w) + z for z in noise]
    constant = [lambda w: torch.tensor([2.0, -0.5, 0.0, 1e-3], dtype=F64)] * 25
    return noisy, constant


def _accumulating(w0, grads, update):
    """Iterates of ``w, state <- update(w, g, state, t)`` from state None, t = 1, 2, ..."""
    w, state, path = w0.clone(), None, [w0.clone()]
    for t, grad in enumerate(grads, start=1):
        w, state = update(w, grad(w), state, t)
        path.append(w)
    return torch.stack(path)


# --- 02.adagrad -------------------------------------------------------------------------


def _adagrad_cases():
    noisy, constant = _gradients()
    w0 = torch.zeros(4, dtype=F64)
    return [
        Case("noisy quadratic gradients, lr 0.3", (noisy, w0, 0.3), "40 steps, w0 = 0"),
        Case("a constant gradient, lr 0.1", (constant, w0, 0.1), "g = (2, -0.5, 0, 0.001)"),
        Case(
            "noisy gradients, the accumulator capped at 50",
            (noisy, w0, 0.3, 1e-10, 50.0),
            "cap = 50",
        ),
    ]


def _adagrad_reference(grads, w0, lr, eps=1e-10, cap=None):
    if cap is None:
        return optimizer_path(lambda ps: torch.optim.Adagrad(ps, lr=lr, eps=eps), grads, w0)
    return optimizer_path(
        lambda ps: optim.AdaGrad(ps, lr=lr, eps=eps, max_accumulator=cap), grads, w0
    )


def _adagrad_wrong(square_only=False, eps_inside=False, ignore_cap=False):
    def adagrad(grads, w0, lr, eps=1e-10, cap=None):
        def update(w, g, s, t):
            s = g * g if square_only or s is None else s + g * g
            if cap is not None and not ignore_cap:
                s = s.clamp(max=cap)
            scale = (s + eps).sqrt() if eps_inside else s.sqrt() + eps
            return w - lr * g / scale, s

        return _accumulating(w0, grads, update)

    return adagrad


register(
    Exercise(
        name="02.adagrad",
        what="adagrad(grads, w0, lr, eps=1e-10, cap=None): s <- s + g*g (capped at `cap` if "
        "given), w <- w - lr g / (sqrt(s) + eps), one step per gradient function",
        oracle="torch.optim.Adagrad (with a cap: coursekit.optim.AdaGrad(max_accumulator=...))",
        reference=_adagrad_reference,
        cases=_adagrad_cases,
        hint="the accumulator sums the squared gradients of every step so far (per coordinate), "
        "eps is added after the square root, and the cap clamps the accumulator itself",
        wrong=(
            _adagrad_wrong(square_only=True),  # this step's square, not the running sum
            _adagrad_wrong(ignore_cap=True),  # the cap left out
        ),
    )
)


# --- 02.rmsprop -------------------------------------------------------------------------


def _rmsprop_cases():
    noisy, constant = _gradients()
    w0 = torch.zeros(4, dtype=F64)
    return [
        Case("noisy quadratic gradients, lr 0.01", (noisy, w0, 0.01), "alpha 0.99"),
        Case("the same, alpha 0.9", (noisy, w0, 0.01, 0.9), "a shorter memory"),
        Case("a constant gradient, lr 0.05", (constant, w0, 0.05), "g = (2, -0.5, 0, 0.001)"),
    ]


def _rmsprop_reference(grads, w0, lr, alpha=0.99, eps=1e-8):
    return optimizer_path(
        lambda ps: torch.optim.RMSprop(ps, lr=lr, alpha=alpha, eps=eps), grads, w0
    )


def _rmsprop_wrong(undamped=False, no_sqrt=False):
    def rmsprop(grads, w0, lr, alpha=0.99, eps=1e-8):
        def update(w, g, v, t):
            v = torch.zeros_like(w) if v is None else v
            v = alpha * v + (1.0 if undamped else 1 - alpha) * g * g
            return w - lr * g / ((v if no_sqrt else v.sqrt()) + eps), v

        return _accumulating(w0, grads, update)

    return rmsprop


register(
    Exercise(
        name="02.rmsprop",
        what="rmsprop(grads, w0, lr, alpha=0.99, eps=1e-8): v <- alpha v + (1 - alpha) g*g, "
        "w <- w - lr g / (sqrt(v) + eps), from v = 0",
        oracle="torch.optim.RMSprop",
        reference=_rmsprop_reference,
        cases=_rmsprop_cases,
        hint="an exponential average of the squared gradients: the new square weighs 1 - alpha; "
        "divide by its square root plus eps",
        wrong=(_rmsprop_wrong(undamped=True), _rmsprop_wrong(no_sqrt=True)),
    )
)


# --- 02.adam ----------------------------------------------------------------------------


def _adam_cases():
    noisy, constant = _gradients()
    w0 = torch.zeros(4, dtype=F64)
    return [
        Case("noisy quadratic gradients, lr 0.05", (noisy, w0, 0.05), "betas (0.9, 0.999)"),
        Case(
            "a constant gradient, lr 0.01",
            (constant, w0, 0.01),
            "the first steps show the bias correction",
        ),
        Case(
            "noisy gradients, no bias correction",
            (noisy, w0, 0.05, (0.9, 0.999), 1e-8, False),
            "bias_correction=False",
        ),
        Case(
            "noisy gradients, AMSGrad",
            (noisy, w0, 0.05, (0.9, 0.99), 1e-8, True, True),
            "amsgrad=True, betas (0.9, 0.99)",
        ),
    ]


def _adam_reference(
    grads, w0, lr, betas=(0.9, 0.999), eps=1e-8, bias_correction=True, amsgrad=False
):
    if not bias_correction:
        return optimizer_path(
            lambda ps: optim.Adam(
                ps, lr=lr, betas=betas, eps=eps, amsgrad=amsgrad, bias_correction=False
            ),
            grads,
            w0,
        )
    return optimizer_path(
        lambda ps: torch.optim.Adam(ps, lr=lr, betas=betas, eps=eps, amsgrad=amsgrad), grads, w0
    )


def _adam_wrong(ignore_correction=False, max_of_corrected=False, average_m=True):
    def adam(grads, w0, lr, betas=(0.9, 0.999), eps=1e-8, bias_correction=True, amsgrad=False):
        b1, b2 = betas

        def update(w, g, state, t):
            m, v, v_max = state or (torch.zeros_like(w),) * 3
            m = b1 * m + ((1 - b1) if average_m else 1.0) * g
            v = b2 * v + (1 - b2) * g * g
            correct = bias_correction and not ignore_correction
            m_hat = m / (1 - b1**t) if correct else m
            v_hat = v / (1 - b2**t) if correct else v
            if amsgrad:
                if max_of_corrected:  # the max of the corrected v, not of v
                    v_max = torch.maximum(v_max, v_hat)
                    v_hat = v_max
                else:
                    v_max = torch.maximum(v_max, v)
                    v_hat = v_max / (1 - b2**t) if correct else v_max
            return w - lr * m_hat / (v_hat.sqrt() + eps), (m, v, v_max)

        return _accumulating(w0, grads, update)

    return adam


register(
    Exercise(
        name="02.adam",
        what="adam(grads, w0, lr, betas, eps, bias_correction=True, amsgrad=False): the two "
        "averages m and v, their bias correction at step t, and AMSGrad's running max of v",
        oracle="torch.optim.Adam (amsgrad included; without bias correction: coursekit.optim.Adam)",
        reference=_adam_reference,
        cases=_adam_cases,
        hint="at step t (from 1) divide m by 1 - beta1**t and v by 1 - beta2**t; AMSGrad keeps "
        "the largest v so far (before the correction) and uses it in place of v",
        wrong=(
            _adam_wrong(ignore_correction=True),  # the bias correction left out
            _adam_wrong(max_of_corrected=True),  # AMSGrad's max taken after the correction
            _adam_wrong(average_m=False),  # m sums the gradients
        ),
    )
)
