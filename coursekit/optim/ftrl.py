"""FTRL-Proximal: follow the regularised leader with per-coordinate step sizes."""

from __future__ import annotations

import torch

from coursekit.optim._base import (
    Closure,
    CourseOptimizer,
    Params,
    check_nonnegative,
    check_positive,
)


class FTRL(CourseOptimizer):
    r"""FTRL-Proximal, per coordinate (McMahan et al., 2013, "Ad click prediction: a view from
    the trenches", Algorithm 1).

    Each coordinate keeps ``z`` (the summed gradients, corrected for the moving centre of the
    proximal terms) and ``n`` (the summed squared gradients). With gradient ``g`` taken at the
    current weight ``w``::

        sigma = (sqrt(n + g * g) - sqrt(n)) / alpha
        z     <- z + g - sigma * w
        n     <- n + g * g
        w     <- 0                                                      if |z| <= l1
        w     <- -(z - sign(z) * l1) / ((beta + sqrt(n)) / alpha + l2)  otherwise

    The L1 term gives exact zeros, which is why FTRL is used for sparse linear models. The
    per-coordinate step size is ``alpha / (beta + sqrt(n))``, as in AdaGrad.

    The new weights are a closed-form function of ``(z, n)`` alone, so the values a parameter
    holds before the first step only enter through the first gradient; in the paper they are
    zero.

    Args:
        params: tensors or parameter-group dicts.
        alpha: learning-rate scale, > 0.
        beta: smoothing of the step size for coordinates with few gradients, >= 0.
        l1: L1 strength, >= 0; coordinates with ``|z| <= l1`` are set to exactly 0.
        l2: L2 strength, >= 0.
    """

    def __init__(
        self,
        params: Params,
        alpha: float = 0.1,
        beta: float = 1.0,
        l1: float = 0.0,
        l2: float = 0.0,
    ) -> None:
        super().__init__(params, dict(alpha=alpha, beta=beta, l1=l1, l2=l2))

    def check_hyperparameters(self, group: dict) -> None:
        check_positive("alpha", group["alpha"])
        check_nonnegative("beta", group["beta"])
        check_nonnegative("l1", group["l1"])
        check_nonnegative("l2", group["l2"])

    @torch.no_grad()
    def step(self, closure: Closure | None = None) -> torch.Tensor | None:
        loss = self.evaluate(closure)
        for group in self.param_groups:
            alpha, beta, l1, l2 = group["alpha"], group["beta"], group["l1"], group["l2"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                state = self.state[p]
                if not state:
                    state["z"] = torch.zeros_like(p)
                    state["n"] = torch.zeros_like(p)
                z, n = state["z"], state["n"]

                sqrt_n_old = n.sqrt()
                n.addcmul_(grad, grad)
                sqrt_n = n.sqrt()
                # z <- z + g - sigma * w, with sigma = (sqrt(n) - sqrt(n_old)) / alpha
                sigma_alpha = torch.sub(sqrt_n, sqrt_n_old, out=sqrt_n_old)  # reuse the buffer
                z.add_(grad).addcmul_(sigma_alpha, p, value=-1 / alpha)

                # Closed-form minimiser of the regularised, linearised past losses, written
                # into p. Soft thresholding: clamp(z, -l1, l1) - z is -(z - sign(z) l1) when
                # |z| > l1, and exactly 0 when |z| <= l1.
                denom = sqrt_n.add_(beta + alpha * l2).div_(alpha)  # (beta + sqrt(n))/alpha + l2
                torch.clamp(z, -l1, l1, out=p)
                p.sub_(z).div_(denom)
        return loss
