"""Notebook 01's exercises: gradient descent, Newton's method and the heavy ball, from scratch.

Each takes a gradient (and for Newton a Hessian) as a function and returns every iterate,
the start first, stacked into a ``(steps + 1, dim)`` tensor, as the notebook's loops do. The
oracles are independent of the learner's loop: ``torch.optim.SGD`` fed the hand-written
gradient (plain and with momentum), and ``coursekit.optim.newton_step``, which finds the
Hessian itself with ``torch.func`` from the function's value.
"""

from __future__ import annotations

import torch

from coursekit import problems
from coursekit.exercise import Case, Exercise, optimizer_path, register
from coursekit.optim import newton_step

F64 = torch.float64


def _torch_sgd_path(grad, w0, steps, **sgd) -> torch.Tensor:
    """Iterates of ``torch.optim.SGD(**sgd)`` on a parameter whose gradient is ``grad(w)``."""
    return optimizer_path(lambda ps: torch.optim.SGD(ps, **sgd), [grad] * steps, w0)


def _problems():
    """Two smooth problems the notebook uses: an ill-conditioned quadratic and a logistic loss."""
    quad = problems.Quadratic.random(5, mu=1.0, L=50.0, seed=7)
    x, y, _ = problems.sparse_logistic_data(n=60, dim=3, informative=3, seed=3, dtype=F64)

    def logistic(w):
        return problems.logistic_loss(w, x, y, l2=1e-2)

    return quad, logistic, x, y


# --- 01.gradient_descent ------------------------------------------------------------------


def _gd_cases():
    quad, logistic, x, y = _problems()

    def logistic_grad(w):
        return problems.logistic_grad(w, x, y, l2=1e-2)

    return [
        Case(
            "a 5-D quadratic, lr 1/L, 10 steps",
            (quad.grad, torch.zeros(5, dtype=F64), 1 / 50, 10),
            "grad = A (w - w*), w0 = 0",
        ),
        Case(
            "the same quadratic, lr 0.9 * 2/L, 3 steps",
            (quad.grad, torch.ones(5, dtype=F64), 0.036, 3),
            "w0 = 1",
        ),
        Case(
            "a 3-D logistic loss, lr 0.5, 20 steps",
            (logistic_grad, torch.tensor([0.5, -1.0, 2.0], dtype=F64), 0.5, 20),
            "w0 = (0.5, -1, 2)",
        ),
        Case("zero steps", (quad.grad, torch.ones(5, dtype=F64), 0.01, 0), "steps = 0: just w0"),
    ]


def _gd_reference(grad, w0, lr, steps):
    return _torch_sgd_path(grad, w0, steps, lr=lr)


register(
    Exercise(
        name="01.gradient_descent",
        what="gradient_descent(grad, w0, lr, steps): the iterates w_0, ..., w_steps of "
        "w <- w - lr * grad(w), stacked",
        oracle="torch.optim.SGD fed the same gradient",
        reference=_gd_reference,
        cases=_gd_cases,
        hint="start the list with w0 itself, take exactly `steps` steps, each against the "
        "gradient (minus), and torch.stack the list",
        wrong=(
            lambda grad, w0, lr, steps: torch.stack(
                _loop(w0, steps, lambda w: w + lr * grad(w))
            ),  # the sign flipped: ascent
            lambda grad, w0, lr, steps: torch.stack(
                _loop(w0, max(steps - 1, 0), lambda w: w - lr * grad(w))
            ),  # one step short
            lambda grad, w0, lr, steps: torch.stack(
                _loop(w0, steps, lambda w: w - lr * grad(w))[1:] or [w0]
            ),  # w0 left out
        ),
    )
)


def _loop(w0, steps, step):
    path = [w0]
    for _ in range(steps):
        path.append(step(path[-1]))
    return path


# --- 01.newton ------------------------------------------------------------------------------


class _Problem:
    """A function with its gradient and Hessian (by torch.func) for the Newton cases."""

    def __init__(self, value):
        self.value = value
        self.grad = torch.func.grad(value)
        self.hessian = torch.func.hessian(value)


def _newton_cases():
    quad, logistic, _, _ = _problems()
    cases = []
    for label, value, w0, steps, shown in (
        ("the 5-D quadratic, 1 step", quad.value, torch.zeros(5, dtype=F64), 1, "w0 = 0"),
        (
            "the 3-D logistic loss, 6 steps",
            logistic,
            torch.tensor([0.5, -1.0, 2.0], dtype=F64),
            6,
            "w0 = (0.5, -1, 2)",
        ),
        (
            "Rosenbrock from (-1.2, 1), 5 steps",
            problems.rosenbrock,
            torch.tensor([-1.2, 1.0], dtype=F64),
            5,
            "a non-convex valley",
        ),
    ):
        problem = _Problem(value)
        # the oracle differentiates the function itself: it gets it as its context
        cases.append(Case(label, (problem.grad, problem.hessian, w0, steps), shown, value))
    return cases


def _newton_reference(grad, hessian, w0, steps, context):
    path = [w0]
    for _ in range(steps):
        path.append(newton_step(context, path[-1]))  # context: the function minimised
    return torch.stack(path)


def _newton_lab(grad, hessian, w0, steps):
    """What the notebook goes on with: Newton written out (for any grad and Hessian)."""
    return torch.stack(_loop(w0, steps, lambda w: w - torch.linalg.solve(hessian(w), grad(w))))


register(
    Exercise(
        name="01.newton",
        what="newton(grad, hessian, w0, steps): the iterates of w <- w - H(w)^-1 grad(w), stacked",
        oracle="coursekit.optim.newton_step (the Hessian by torch.func)",
        reference=_newton_reference,
        fallback=_newton_lab,
        cases=_newton_cases,
        hint="solve H(w) d = grad(w) for the step d with torch.linalg.solve (never invert H), "
        "then w - d; the list starts with w0",
        rtol=1e-8,
        atol=1e-10,
        wrong=(
            lambda grad, hessian, w0, steps: torch.stack(
                _loop(w0, steps, lambda w: w - hessian(w) @ grad(w))
            ),  # multiplies by H instead of solving with it
            lambda grad, hessian, w0, steps: torch.stack(
                _loop(w0, steps, lambda w: w + torch.linalg.solve(hessian(w), grad(w)))
            ),  # the sign flipped
            lambda grad, hessian, w0, steps: torch.stack(
                _loop(w0, steps, lambda w: w - grad(w) / torch.diagonal(hessian(w)))
            ),  # the diagonal of H only
        ),
    )
)


# --- 01.heavy_ball ----------------------------------------------------------------------------


def _hb_cases():
    quad, logistic, x, y = _problems()
    return [
        Case(
            "the 5-D quadratic, lr 0.02, beta 0.9, 30 steps",
            (quad.grad, torch.zeros(5, dtype=F64), 0.02, 0.9, 30),
            "w0 = 0",
        ),
        Case(
            "the same, beta 0 (plain GD), 5 steps",
            (quad.grad, torch.ones(5, dtype=F64), 0.02, 0.0, 5),
            "w0 = 1",
        ),
        Case(
            "the 3-D logistic loss, lr 0.3, beta 0.5, 15 steps",
            (
                lambda w: problems.logistic_grad(w, x, y, l2=1e-2),
                torch.tensor([0.5, -1.0, 2.0], dtype=F64),
                0.3,
                0.5,
                15,
            ),
            "w0 = (0.5, -1, 2)",
        ),
    ]


def _hb_reference(grad, w0, lr, beta, steps):
    return _torch_sgd_path(grad, w0, steps, lr=lr, momentum=beta)


def _momentum_loop(w0, steps, update):
    """Iterates of a momentum method whose ``update(w, v)`` returns the new (w, v)."""
    path, v = [w0], torch.zeros_like(w0)
    for _ in range(steps):
        w, v = update(path[-1], v)
        path.append(w)
    return torch.stack(path)


def _hb_dampened(grad, w0, lr, beta, steps):
    def update(w, v):
        v = beta * v + (1 - beta) * grad(w)  # an exponential average, not a sum
        return w - lr * v, v

    return _momentum_loop(w0, steps, update)


def _hb_lookahead(grad, w0, lr, beta, steps):
    def update(w, v):
        v = beta * v + grad(w - lr * beta * v)  # Nesterov's look-ahead gradient
        return w - lr * v, v

    return _momentum_loop(w0, steps, update)


register(
    Exercise(
        name="01.heavy_ball",
        what="heavy_ball(grad, w0, lr, beta, steps): Polyak's momentum in PyTorch's form, "
        "v <- beta v + grad(w), w <- w - lr v, from v = 0",
        oracle="torch.optim.SGD(momentum=beta) fed the same gradient",
        reference=_hb_reference,
        cases=_hb_cases,
        hint="the velocity sums the gradients (no 1 - beta factor), the gradient is taken at "
        "the current w, and the learning rate multiplies the velocity",
        wrong=(_hb_dampened, _hb_lookahead),
    )
)
