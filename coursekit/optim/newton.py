"""Newton's method for small problems, where the full Hessian fits in memory."""

from __future__ import annotations

from collections.abc import Callable

import torch

from coursekit.optim._base import Closure, CourseOptimizer, Params, check_nonnegative


def _solve(hessian: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    solution, info = torch.linalg.solve_ex(hessian, grad)
    if info.item() != 0:
        raise RuntimeError(
            "Newton step: the (damped) Hessian is singular; use damping > 0 to regularise it"
        )
    return solution


def newton_step(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    damping: float = 0.0,
    lr: float = 1.0,
) -> torch.Tensor:
    r"""One damped Newton step on ``fn`` from ``x``, with ``torch.func``::

        x_new = x - lr * (H + damping * I)^{-1} grad,   H = hessian of fn at x

    ``fn`` maps a tensor of ``x``'s shape to a scalar. Returns the new point (``x`` is not
    changed). On a quadratic with positive definite ``H`` one undamped step lands on the
    minimiser.
    """
    check_nonnegative("damping", damping)
    check_nonnegative("lr", lr)
    n = x.numel()
    grad = torch.func.grad(fn)(x).reshape(n)
    # Reverse over reverse; torch.func.hessian (forward over reverse) gives the same matrix.
    hessian = torch.func.jacrev(torch.func.jacrev(fn))(x).reshape(n, n)
    eye = torch.eye(n, dtype=x.dtype, device=x.device)
    return x - lr * _solve(hessian + damping * eye, grad).reshape(x.shape)


class Newton(CourseOptimizer):
    r"""Damped Newton's method as a ``torch.optim`` optimiser (see Nocedal & Wright, 2006,
    "Numerical optimization", ch. 3; the damping is Levenberg's, 1944).

    With ``theta`` all parameters flattened into one vector, ``H`` the Hessian of the loss and
    ``D`` the diagonal of each coordinate's group ``damping``::

        delta = (H + D)^{-1} grad
        theta <- theta - lr * delta          (lr per group, 1 = the full Newton step)

    Large damping turns the step into gradient descent with step ``lr / damping``. Damping
    above ``-lambda_min(H)`` also makes a singular or indefinite ``H`` positive definite, so
    the step goes downhill.

    ``step`` needs a closure that only *computes and returns* the loss (no ``backward()``):
    the optimiser differentiates it twice itself. The Hessian takes one backward pass per
    coordinate and ``n^2`` memory, so this is for problems with up to a few thousand numbers.
    """

    def __init__(self, params: Params, lr: float = 1.0, damping: float = 0.0) -> None:
        super().__init__(params, dict(lr=lr, damping=damping))

    def check_hyperparameters(self, group: dict) -> None:
        check_nonnegative("lr", group["lr"])
        check_nonnegative("damping", group["damping"])

    @torch.no_grad()
    def step(self, closure: Closure | None = None) -> torch.Tensor:
        if closure is None:
            raise ValueError("Newton.step needs a closure that returns the loss")
        pairs = [(p, g) for g in self.param_groups for p in g["params"] if p.requires_grad]
        params = [p for p, _ in pairs]

        with torch.enable_grad():
            loss = closure()
            grads = torch.autograd.grad(loss, params, create_graph=True, allow_unused=True)
            grad = torch.cat([_flat(g, p) for g, p in zip(grads, params, strict=True)])
            rows = []
            for i in range(grad.numel()):  # row i of H: the gradient of grad[i]
                if grad.requires_grad:
                    row = torch.autograd.grad(grad[i], params, retain_graph=True, allow_unused=True)
                else:  # the loss is linear in the parameters
                    row = [None] * len(params)
                rows.append(torch.cat([_flat(r, p) for r, p in zip(row, params, strict=True)]))
        hessian = torch.stack(rows)

        def per_coordinate(key: str) -> torch.Tensor:
            return torch.cat([torch.full((p.numel(),), float(g[key])) for p, g in pairs]).to(grad)

        damped = hessian + torch.diag(per_coordinate("damping"))
        delta = _solve(damped, grad.detach()) * per_coordinate("lr")
        offset = 0
        for p in params:
            p.sub_(delta[offset : offset + p.numel()].view_as(p))
            offset += p.numel()
        return loss


def _flat(grad: torch.Tensor | None, param: torch.Tensor) -> torch.Tensor:
    """A gradient as a flat vector; an unused parameter's missing gradient is zeros."""
    if grad is None:
        return torch.zeros(param.numel(), dtype=param.dtype, device=param.device)
    return grad.reshape(-1)
