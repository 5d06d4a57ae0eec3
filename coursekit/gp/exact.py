"""Exact GP regression: prior and posterior samples, the posterior, the log marginal
likelihood and its maximisation."""

from __future__ import annotations

import math

import torch
from torch import nn

from coursekit import validate
from coursekit.gp.kernels import Kernel, _features, _positive_parameter
from coursekit.gp.linalg import _solve_lower, cholesky

LOG_2PI = math.log(2 * math.pi)


# --------------------------------------------------------------------------------------------
# Sampling


def sample_prior(
    kernel: Kernel,
    x: object,
    n_samples: int = 1,
    *,
    generator: torch.Generator | None = None,
    jitter: float = 1e-8,
) -> torch.Tensor:
    """Functions drawn from ``GP(0, kernel)`` at the rows of ``x``: ``(..., n_samples, n)``.

    The function evaluated at n inputs is one draw of an n-dimensional Gaussian,
    ``f = L z`` with ``K = L L^T`` and ``z ~ N(0, I)``. ``jitter`` times the kernel's
    variance is added to the diagonal: smooth kernels on a fine grid give matrices that are
    positive definite in exact arithmetic but not after rounding.
    """
    n_samples = validate.integer("n_samples", n_samples, minimum=1)
    jitter = validate.non_negative("jitter", jitter)
    with torch.no_grad():
        cov = kernel(x)
        factor = cholesky(cov, jitter * kernel.variance.item())
        # drawn on the CPU (a CPU generator), so a seed gives the same functions on any device
        z = torch.randn((*cov.shape[:-1], n_samples), generator=generator, dtype=cov.dtype)
        return (factor @ z.to(cov.device)).mT


# --------------------------------------------------------------------------------------------
# Exact regression


def _targets(y: object, x: torch.Tensor) -> torch.Tensor:
    y = torch.as_tensor(y, dtype=x.dtype, device=x.device)
    if y.shape != x.shape[:-1]:
        raise ValueError(
            f"y has shape {tuple(y.shape)} but x has {x.shape[-2]} rows (shape "
            f"{tuple(x.shape)}): y must have shape {tuple(x.shape[:-1])}"
        )
    return y


class Posterior:
    """The exact GP conditioned on ``(x, y)``: ``alpha = (K + noise I)^{-1} y`` and the
    Cholesky factor ``L`` of ``K + noise I``, computed once and reused by every prediction."""

    def __init__(self, kernel, x, factor, alpha, noise) -> None:
        self.kernel, self.x, self.factor, self.alpha, self.noise = kernel, x, factor, alpha, noise

    def predict(
        self, x_new: object, *, include_noise: bool = False, full_cov: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and variance (or covariance, ``full_cov=True``) of ``f(x_new)`` given the
        data; of ``y_new = f(x_new) + eps`` with ``include_noise=True``.

        mean(x) = sum_i alpha_i k(x, x_i);  var(x) = k(x, x) - |L^{-1} k(X, x)|^2.
        """
        xs = _features(x_new, self.x)
        cross = self.kernel(xs, self.x)  # (..., s, n)
        mean = (cross @ self.alpha.unsqueeze(-1)).squeeze(-1)
        v = _solve_lower(self.factor, cross.mT)  # (..., n, s)
        if full_cov:
            cov = self.kernel(xs) - v.mT @ v
            if include_noise:
                cov = cov + self.noise * torch.eye(
                    cov.shape[-1], dtype=cov.dtype, device=cov.device
                )
            return mean, cov
        var = (self.kernel.diag(xs) - v.square().sum(-2)).clamp_min(0.0)
        return mean, var + self.noise if include_noise else var

    def sample(
        self,
        x_new: object,
        n_samples: int = 1,
        *,
        generator: torch.Generator | None = None,
        jitter: float = 1e-8,
    ) -> torch.Tensor:
        """Functions drawn from the posterior at ``x_new``: ``(..., n_samples, s)``."""
        n_samples = validate.integer("n_samples", n_samples, minimum=1)
        with torch.no_grad():
            mean, cov = self.predict(x_new, full_cov=True)
            factor = cholesky(cov, jitter * self.kernel.variance.item())
            z = torch.randn((*cov.shape[:-1], n_samples), generator=generator, dtype=cov.dtype)
            return mean.unsqueeze(-2) + (factor @ z.to(cov.device)).mT


def _maximise(module: nn.Module, objective, steps: int) -> list[float]:
    """Maximise ``objective()`` over the module's parameters with at most ``steps`` L-BFGS
    iterations (strong Wolfe line search); returns the objective at every evaluation.
    ``steps=0`` leaves the parameters as they are (a null run: nothing fitted)."""
    steps = validate.integer("steps", steps, minimum=0)
    if steps == 0:
        return []
    params = [p for p in module.parameters() if p.requires_grad]
    opt = torch.optim.LBFGS(
        params,
        lr=1.0,
        max_iter=steps,
        line_search_fn="strong_wolfe",
        tolerance_grad=1e-9,
        tolerance_change=1e-12,
    )
    trace: list[float] = []

    def closure():
        opt.zero_grad()
        loss = -objective()
        loss.backward()
        trace.append(-loss.item())
        return loss

    opt.step(closure)
    return trace


class ExactGP(nn.Module):
    """GP regression with Gaussian noise, computed exactly: O(n^3) time, O(n^2) memory."""

    def __init__(self, kernel: Kernel, noise: float = 0.1) -> None:
        super().__init__()
        if not isinstance(kernel, Kernel):
            raise ValueError(f"kernel={kernel!r} is not allowed: it must be a coursekit.gp.Kernel")
        self.kernel = kernel
        self.raw_noise = _positive_parameter("noise", noise, kernel.raw_variance.dtype)

    @property
    def noise(self) -> torch.Tensor:
        return self.raw_noise.exp()

    def set(self, **values: float) -> ExactGP:
        """Set ``noise`` and the kernel's hyperparameters in place; returns self."""
        if "noise" in values:
            with torch.no_grad():
                self.raw_noise.copy_(
                    _positive_parameter("noise", values.pop("noise"), self.raw_noise.dtype)
                )
        self.kernel.set(**values)
        return self

    def _factor(self, x: object, y: object):
        x = _features(x, self.raw_noise)
        y = _targets(y, x)
        cov = self.kernel(x)
        cov = cov + self.noise * torch.eye(cov.shape[-1], dtype=cov.dtype, device=cov.device)
        return x, y, cholesky(cov)

    def log_marginal_likelihood(self, x: object, y: object) -> torch.Tensor:
        """``log p(y | x) = -|v|^2 / 2 - sum_i log L_ii - n log(2 pi) / 2`` with ``v = L^{-1} y``,
        so that ``|v|^2 = y^T (K + noise I)^{-1} y`` (batched): one triangular solve, where
        ``cholesky_solve`` takes two, and a cheaper gradient for ``fit``."""
        x, y, factor = self._factor(x, y)
        n = y.shape[-1]
        v = _solve_lower(factor, y.unsqueeze(-1)).squeeze(-1)
        log_det_half = factor.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        return -0.5 * v.square().sum(-1) - log_det_half - 0.5 * n * LOG_2PI

    def condition(self, x: object, y: object) -> Posterior:
        x, y, factor = self._factor(x, y)
        alpha = torch.cholesky_solve(y.unsqueeze(-1), factor).squeeze(-1)
        return Posterior(self.kernel, x, factor, alpha, self.noise)

    def fit(self, x: object, y: object, steps: int = 100) -> list[float]:
        """Maximise the log marginal likelihood over noise and kernel hyperparameters
        (summed over a batch); returns the values L-BFGS saw."""
        return _maximise(self, lambda: self.log_marginal_likelihood(x, y).sum(), steps)
