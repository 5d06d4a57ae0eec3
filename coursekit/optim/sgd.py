"""Stochastic gradient descent with Polyak momentum and Nesterov's look-ahead."""

from __future__ import annotations

import torch

from coursekit.optim._base import Closure, CourseOptimizer, Params, check_nonnegative, require


class SGD(CourseOptimizer):
    r"""Stochastic gradient descent (Robbins & Monro, 1951) with optional momentum.

    For every parameter ``p`` with gradient ``g`` (``wd`` weight decay, ``mu`` momentum,
    ``tau`` dampening, ``b`` the momentum buffer)::

        g <- g + wd * p
        b <- g                              on the first step
        b <- mu * b + (1 - tau) * g         afterwards
        d <- g + mu * b  if nesterov  else  b       (d = g when mu = 0)
        p <- p - lr * d

    ``mu > 0`` is Polyak's heavy ball (Polyak, 1964, "Some methods of speeding up the
    convergence of iteration methods"). ``nesterov=True`` is Nesterov's accelerated gradient in
    the form of Sutskever et al. (2013, "On the importance of initialization and momentum in
    deep learning"), written as ``torch.optim.SGD`` writes it: the step looks ahead along the
    buffer instead of evaluating the gradient at a shifted point.

    Args:
        params: tensors or parameter-group dicts.
        lr: step size, >= 0.
        momentum: ``mu``, >= 0.
        dampening: ``tau`` in [0, 1]; scales down the new gradient in the buffer.
        weight_decay: L2 penalty coefficient ``wd``, >= 0 (added to the gradient).
        nesterov: use the Nesterov step; needs ``momentum > 0`` and ``dampening == 0``.
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
        )
        super().__init__(params, defaults)

    def check_hyperparameters(self, group: dict) -> None:
        check_nonnegative("lr", group["lr"])
        check_nonnegative("momentum", group["momentum"])
        d = group["dampening"]
        require(0.0 <= d <= 1.0, "dampening", d, "in [0, 1]")
        check_nonnegative("weight_decay", group["weight_decay"])
        if group["nesterov"]:
            m = group["momentum"]
            require(m > 0, "momentum", m, "> 0 when nesterov=True")
            require(d == 0, "dampening", d, "0 when nesterov=True")

    @torch.no_grad()
    def step(self, closure: Closure | None = None) -> torch.Tensor | None:
        loss = self.evaluate(closure)
        for group in self.param_groups:
            lr, mu, tau = group["lr"], group["momentum"], group["dampening"]
            wd, nesterov = group["weight_decay"], group["nesterov"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                if wd != 0:
                    grad = grad.add(p, alpha=wd)  # a new tensor: p.grad stays untouched
                if mu != 0:
                    state = self.state[p]
                    if "momentum_buffer" not in state:
                        buf = state["momentum_buffer"] = grad.clone()
                    else:
                        buf = state["momentum_buffer"]
                        buf.mul_(mu).add_(grad, alpha=1 - tau)
                    grad = grad.add(buf, alpha=mu) if nesterov else buf
                p.add_(grad, alpha=-lr)
        return loss
