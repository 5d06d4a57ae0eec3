"""Per-coordinate adaptive step sizes: AdaGrad, RMSProp, Adam and AdamW."""

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
)


class AdaGrad(CourseOptimizer):
    r"""AdaGrad (Duchi, Hazan & Singer, 2011, "Adaptive subgradient methods for online learning
    and stochastic optimization").

    Each coordinate divides its step by the root of its summed squared gradients, so
    coordinates with rare, small gradients keep a large step. At step ``t = 1, 2, ...``::

        g     <- g + wd * p
        lr_t  =  lr / (1 + (t - 1) * lr_decay)
        s     <- s + g * g                  (s starts at initial_accumulator_value)
        s     <- min(s, max_accumulator)    (only if max_accumulator is set)
        p     <- p - lr_t * g / (sqrt(s) + eps)

    ``max_accumulator`` is a course addition, not in the paper or in ``torch.optim.Adagrad``:
    capping ``s`` keeps the effective step from shrinking below about
    ``lr_t / sqrt(max_accumulator)``, so AdaGrad no longer stalls on long runs.
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        max_accumulator: float | None = None,
    ) -> None:
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
            max_accumulator=max_accumulator,
        )
        super().__init__(params, defaults)

    def check_hyperparameters(self, group: dict) -> None:
        check_nonnegative("lr", group["lr"])
        check_nonnegative("lr_decay", group["lr_decay"])
        check_nonnegative("weight_decay", group["weight_decay"])
        check_nonnegative("initial_accumulator_value", group["initial_accumulator_value"])
        check_nonnegative("eps", group["eps"])
        if group["max_accumulator"] is not None:
            check_positive("max_accumulator", group["max_accumulator"])

    @torch.no_grad()
    def step(self, closure: Closure | None = None) -> torch.Tensor | None:
        loss = self.evaluate(closure)
        for group in self.param_groups:
            lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
            cap = group["max_accumulator"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["sum"] = torch.full_like(p, group["initial_accumulator_value"])
                state["step"] += 1
                if wd != 0:
                    grad = grad.add(p, alpha=wd)
                lr_t = lr / (1 + (state["step"] - 1) * group["lr_decay"])
                acc = state["sum"]
                acc.addcmul_(grad, grad, value=1)
                if cap is not None:
                    acc.clamp_(max=cap)
                denom = acc.sqrt().add_(eps)
                p.addcdiv_(grad, denom, value=-lr_t)
        return loss


class RMSProp(CourseOptimizer):
    r"""RMSProp (Hinton, Srivastava & Swersky, 2012, Coursera lecture 6e; centred form from
    Graves, 2013, "Generating sequences with recurrent neural networks").

    AdaGrad with a forgetting sum: the squared gradients are averaged with decay ``alpha``::

        g   <- g + wd * p
        v   <- alpha * v + (1 - alpha) * g * g
        c   <- alpha * c + (1 - alpha) * g          (centered only)
        den =  sqrt(v - c * c) + eps  if centered  else  sqrt(v) + eps
        b   <- mu * b + g / den ;  p <- p - lr * b  (momentum mu > 0)
        p   <- p - lr * g / den                     (mu = 0)

    ``centered=True`` divides by an estimate of the gradient's standard deviation instead of
    its root mean square. ``v``, ``c`` and ``b`` start at zero.
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
        )
        super().__init__(params, defaults)

    def check_hyperparameters(self, group: dict) -> None:
        check_nonnegative("lr", group["lr"])
        check_beta("alpha", group["alpha"])
        check_nonnegative("eps", group["eps"])
        check_nonnegative("weight_decay", group["weight_decay"])
        check_nonnegative("momentum", group["momentum"])

    @torch.no_grad()
    def step(self, closure: Closure | None = None) -> torch.Tensor | None:
        loss = self.evaluate(closure)
        for group in self.param_groups:
            lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
            wd, mu, centered = group["weight_decay"], group["momentum"], group["centered"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["square_avg"] = torch.zeros_like(p)
                    if mu > 0:
                        state["momentum_buffer"] = torch.zeros_like(p)
                    if centered:
                        state["grad_avg"] = torch.zeros_like(p)
                state["step"] += 1
                if wd != 0:
                    grad = grad.add(p, alpha=wd)
                square_avg = state["square_avg"]
                square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)
                if centered:
                    grad_avg = state["grad_avg"]
                    grad_avg.lerp_(grad, 1 - alpha)
                    denom = square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()
                else:
                    denom = square_avg.sqrt()
                denom.add_(eps)
                if mu > 0:
                    buf = state["momentum_buffer"]
                    buf.mul_(mu).addcdiv_(grad, denom)
                    p.add_(buf, alpha=-lr)
                else:
                    p.addcdiv_(grad, denom, value=-lr)
        return loss


class Adam(CourseOptimizer):
    r"""Adam (Kingma & Ba, 2015, "Adam: A method for stochastic optimization"), with the
    AMSGrad variant (Reddi, Kale & Kumar, 2018, "On the convergence of Adam and beyond").

    Running averages of the gradient and of its square, both corrected for starting at
    zero. At step ``t = 1, 2, ...``::

        g     <- g + wd * p                      (L2 penalty; AdamW decouples it instead)
        m     <- beta1 * m + (1 - beta1) * g
        v     <- beta2 * v + (1 - beta2) * g * g
        vmax  <- max(vmax, v) ;  v_used = vmax    (amsgrad)
        m_hat =  m / (1 - beta1**t)               (bias_correction=True)
        v_hat =  v_used / (1 - beta2**t)
        p     <- p - lr * m_hat / (sqrt(v_hat) + eps)

    ``bias_correction=False`` is a teaching switch: it uses ``m`` and ``v_used`` directly. Both
    start at zero and underestimate early on, ``v`` much more than ``m`` when ``beta2 > beta1``,
    so the early steps are too *large*, by ``(1 - beta1**t) / sqrt(1 - beta2**t)``: about 3.2
    at ``t = 1`` and 6.5 at ``t = 10`` with the default betas (the paper's Section 3). With it
    on, the updates match ``torch.optim.Adam`` up to rounding.
    """

    decoupled_weight_decay = False  # AdamW switches this on

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        bias_correction: bool = True,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            bias_correction=bias_correction,
        )
        super().__init__(params, defaults)

    def check_hyperparameters(self, group: dict) -> None:
        check_nonnegative("lr", group["lr"])
        check_beta("betas[0]", group["betas"][0])
        check_beta("betas[1]", group["betas"][1])
        check_nonnegative("eps", group["eps"])
        check_nonnegative("weight_decay", group["weight_decay"])

    @torch.no_grad()
    def step(self, closure: Closure | None = None) -> torch.Tensor | None:
        loss = self.evaluate(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
            wd, amsgrad = group["weight_decay"], group["amsgrad"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                    if amsgrad:
                        state["max_exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                t = state["step"]

                if wd != 0:
                    if self.decoupled_weight_decay:
                        p.mul_(1 - lr * wd)  # AdamW: shrink the weights, not the gradient
                    else:
                        grad = grad.add(p, alpha=wd)

                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                exp_avg.lerp_(grad, 1 - beta1)  # m + (1 - beta1) * (g - m)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                if amsgrad:
                    torch.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
                    exp_avg_sq = state["max_exp_avg_sq"]

                if group["bias_correction"]:
                    correction1 = 1 - beta1**t
                    correction2 = 1 - beta2**t
                else:
                    correction1 = correction2 = 1.0
                # lr * m_hat / (sqrt(v_hat) + eps), rearranged as in Section 2 of the paper so
                # that the corrections c1, c2 stay scalars and never touch the big tensors:
                #   = (lr * sqrt(c2) / c1) * m / (sqrt(v) + eps * sqrt(c2))
                root2 = math.sqrt(correction2)
                denom = exp_avg_sq.sqrt().add_(eps * root2)
                p.addcdiv_(exp_avg, denom, value=-lr * root2 / correction1)
        return loss


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter, 2019, "Decoupled weight decay regularization").

    Adam without weight decay in the gradient; the weights are shrunk directly instead, before
    the Adam step::

        p <- p * (1 - lr * wd)
        p <- Adam step on the raw gradient g

    With an L2 penalty in the gradient (``Adam(weight_decay=...)``) the decay is divided by
    ``sqrt(v_hat)`` like the rest of the gradient, so weights with large gradients are barely
    regularised; decoupling gives every weight the same relative shrinkage.
    """

    decoupled_weight_decay = True

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        bias_correction: bool = True,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, bias_correction)
