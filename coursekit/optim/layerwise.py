"""Layer-wise adaptive step sizes for large batches: LARS and LAMB.

Both rescale each parameter tensor's ("layer's") update by a trust ratio built from the
norm of the weights, so every layer moves by a similar fraction of its own size.
"""

from __future__ import annotations

import math

import torch

from coursekit.optim._base import (
    Closure,
    CourseOptimizer,
    Params,
    check_beta,
    check_nonnegative,
    check_positive,
    require,
)


class LARS(CourseOptimizer):
    r"""LARS, layer-wise adaptive rate scaling (You, Gitman & Ginsburg, 2017, "Large batch
    training of convolutional networks", Algorithm 1).

    For each parameter tensor ``w`` with gradient ``g`` (``eta`` trust coefficient, ``wd``
    weight decay, ``mu`` momentum, ``v`` the buffer, starting at zero)::

        trust = eta * ||w|| / (||g|| + wd * ||w||)     (1 if ||w|| = 0 or ||g|| = 0)
        v     <- mu * v + lr * trust * (g + wd * w)
        w     <- w - v

    As in the paper the global ``lr`` sits inside the momentum buffer. ``exclude_1d=True``
    sets the trust ratio to 1 for tensors with at most one dimension (biases, norm scales),
    a common practice; give those tensors their own group to change their weight decay.
    The last trust ratio of each tensor is kept in ``state["trust_ratio"]`` for plotting.
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1.0,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        trust_coefficient: float = 1e-3,
        exclude_1d: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            weight_decay=weight_decay,
            trust_coefficient=trust_coefficient,
            exclude_1d=exclude_1d,
        )
        super().__init__(params, defaults)

    def check_hyperparameters(self, group: dict) -> None:
        check_nonnegative("lr", group["lr"])
        check_nonnegative("momentum", group["momentum"])
        check_nonnegative("weight_decay", group["weight_decay"])
        check_positive("trust_coefficient", group["trust_coefficient"])

    @torch.no_grad()
    def step(self, closure: Closure | None = None) -> torch.Tensor | None:
        loss = self.evaluate(closure)
        for group in self.param_groups:
            lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
            eta = group["trust_coefficient"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                state = self.state[p]
                if not state:
                    state["momentum_buffer"] = torch.zeros_like(p)

                if group["exclude_1d"] and p.ndim <= 1:
                    trust = torch.ones((), dtype=p.dtype, device=p.device)
                else:
                    w_norm = torch.linalg.vector_norm(p)
                    g_norm = torch.linalg.vector_norm(grad)
                    # A 0-dim tensor throughout: no value is copied to the host (no GPU sync).
                    nonzero = (w_norm > 0) & (g_norm > 0)
                    trust = torch.where(nonzero, eta * w_norm / (g_norm + wd * w_norm), 1.0)
                state["trust_ratio"] = trust

                # v <- mu * v + lr * trust * (g + wd * w), without a temporary for g + wd * w
                buf = state["momentum_buffer"]
                buf.mul_(mu).addcmul_(grad, trust, value=lr)
                if wd != 0:
                    buf.addcmul_(p, trust, value=lr * wd)
                p.sub_(buf)
        return loss


class LAMB(CourseOptimizer):
    r"""LAMB, layer-wise adaptive moments (You et al., 2020, "Large batch optimization for deep
    learning: training BERT in 76 minutes", ICLR; Algorithm 2).

    A base algorithm turns the gradient ``g`` of a tensor ``w`` into a direction ``r``; the
    weight decay is added and the result is rescaled per tensor. At step ``t = 1, 2, ...``::

        base="adam":      m <- beta1 m + (1 - beta1) g ;  v <- beta2 v + (1 - beta2) g^2
                          r  = (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)
        base="momentum":  m <- beta1 m + (1 - beta1) g ;  r = m / (1 - beta1^t)
        base="adagrad":   s <- s + g^2 ;                  r = g / (sqrt(s) + eps)

        u     = r + wd * w
        trust = phi(||w||) / ||u||      (1 if ||w|| = 0 or ||u|| = 0)
        trust = min(trust, max_trust_ratio)              (only if max_trust_ratio is set)
        w     <- w - lr * trust * u

    ``phi`` is the identity, or ``clamp(., lower, upper)`` with
    ``weight_norm_clamp=(lower, upper)`` as in the paper. ``base="adam"`` is the paper's LAMB;
    ``base="momentum"`` is close to LARS. Each tensor's last ``weight_norm``, ``update_norm``
    and ``trust_ratio`` stay in its state (0-dim tensors) for plotting.
    """

    bases = ("adam", "momentum", "adagrad")

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-6,
        weight_decay: float = 0.0,
        base: str = "adam",
        weight_norm_clamp: tuple[float, float] | None = None,
        max_trust_ratio: float | None = None,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            base=base,
            weight_norm_clamp=weight_norm_clamp,
            max_trust_ratio=max_trust_ratio,
        )
        super().__init__(params, defaults)

    def check_hyperparameters(self, group: dict) -> None:
        check_nonnegative("lr", group["lr"])
        check_beta("betas[0]", group["betas"][0])
        check_beta("betas[1]", group["betas"][1])
        check_nonnegative("eps", group["eps"])
        check_nonnegative("weight_decay", group["weight_decay"])
        base = group["base"]
        require(base in self.bases, "base", base, f"one of {self.bases}")
        if group["weight_norm_clamp"] is not None:
            lower, upper = clamp = group["weight_norm_clamp"]
            require(0 <= lower <= upper, "weight_norm_clamp", clamp, "a pair 0 <= lower <= upper")
        if group["max_trust_ratio"] is not None:
            check_positive("max_trust_ratio", group["max_trust_ratio"])

    @torch.no_grad()
    def step(self, closure: Closure | None = None) -> torch.Tensor | None:
        loss = self.evaluate(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            wd, base = group["weight_decay"], group["base"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    if base in ("adam", "momentum"):
                        state["exp_avg"] = torch.zeros_like(p)
                    if base == "adam":
                        state["exp_avg_sq"] = torch.zeros_like(p)
                    if base == "adagrad":
                        state["sum"] = torch.zeros_like(p)
                state["step"] += 1
                t = state["step"]

                # 1. The base algorithm's direction r (a fresh tensor we may overwrite).
                if base == "adam":
                    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                    exp_avg.lerp_(grad, 1 - beta1)
                    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                    # As in Adam: m_hat / (sqrt(v_hat) + eps) with scalar corrections c1, c2
                    #   = (sqrt(c2) / c1) * m / (sqrt(v) + eps * sqrt(c2))
                    root2 = math.sqrt(1 - beta2**t)
                    denom = exp_avg_sq.sqrt().add_(eps * root2)
                    update = torch.div(exp_avg, denom, out=denom).mul_(root2 / (1 - beta1**t))
                elif base == "momentum":
                    exp_avg = state["exp_avg"]
                    exp_avg.lerp_(grad, 1 - beta1)
                    update = exp_avg.div(1 - beta1**t)
                else:  # adagrad
                    acc = state["sum"]
                    acc.addcmul_(grad, grad)
                    update = grad.div(acc.sqrt().add_(eps))

                # 2. Weight decay, then the layer-wise trust ratio.
                if wd != 0:
                    update.add_(p, alpha=wd)
                w_norm = torch.linalg.vector_norm(p)
                u_norm = torch.linalg.vector_norm(update)
                phi = w_norm
                if group["weight_norm_clamp"] is not None:
                    phi = w_norm.clamp(*group["weight_norm_clamp"])
                trust = torch.where((w_norm > 0) & (u_norm > 0), phi / u_norm, 1.0)
                if group["max_trust_ratio"] is not None:
                    trust = trust.clamp(max=group["max_trust_ratio"])
                state["weight_norm"] = w_norm  # kept for plotting
                state["update_norm"] = u_norm
                state["trust_ratio"] = trust

                p.addcmul_(update, trust, value=-lr)
        return loss
