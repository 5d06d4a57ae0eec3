"""Covariance functions: RBF, Matern (nu = 1/2, 3/2, 5/2) and periodic, with positive
hyperparameters stored as logarithms."""

from __future__ import annotations

import math

import torch
from torch import nn

from coursekit import validate

F64 = torch.float64


def _positive_parameter(name: str, value: object, dtype: torch.dtype) -> nn.Parameter:
    """A learnable positive number, stored as its logarithm so optimisers keep it positive."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name} must be a single number, got a tensor of shape {value.shape}")
        value = value.item()
    value = validate.positive(name, value)
    return nn.Parameter(torch.tensor(math.log(value), dtype=dtype))


def _features(x: object, like: torch.Tensor) -> torch.Tensor:
    """Inputs as ``(..., n, d)`` in the dtype and device of ``like``; ``(n,)`` means d = 1."""
    x = torch.as_tensor(x, dtype=like.dtype, device=like.device)
    if x.dim() == 0:
        raise ValueError("inputs must have at least one dimension, (n,) or (..., n, d)")
    return x.unsqueeze(-1) if x.dim() == 1 else x


def _sqdist(a: torch.Tensor, b: torch.Tensor, lengthscale: torch.Tensor) -> torch.Tensor:
    """Squared distances ``|a_i - b_j|^2 / lengthscale^2`` between the rows of ``a`` (..., n, d)
    and ``b`` (..., m, d).

    Built from the differences themselves, one feature at a time (O(n m) memory), not from
    ``|a|^2 + |b|^2 - 2 a.b``: that expansion is off by about 1e-16 |a|^2 where it should give 0,
    and a square root turns that into about 1e-8 |a| (a Matern 1/2 kernel's k(x, x) then misses
    its variance by as much). Here two equal rows are exactly 0 apart, and close rows lose no
    digits to cancellation.
    """
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"inputs have {a.shape[-1]} and {b.shape[-1]} features: they must agree")
    sq = (a[..., :, None, 0] - b[..., None, :, 0]).square()
    for j in range(1, a.shape[-1]):
        sq = sq + (a[..., :, None, j] - b[..., None, :, j]).square()
    return sq / lengthscale.square()


def _distance(sq: torch.Tensor) -> torch.Tensor:
    """``sqrt(sq)``, exactly 0 where ``sq`` is, with a gradient of 0 there instead of infinity
    (the square root's slope at 0); the gradient elsewhere is untouched."""
    positive = sq > 0
    return torch.where(positive, sq.where(positive, 1.0).sqrt(), 0.0)


class Kernel(nn.Module):
    """A covariance function ``k(x, x')`` with a learnable ``variance`` and ``lengthscale``.

    ``kernel(x1, x2)`` is the ``(..., n, m)`` matrix of covariances, ``kernel(x)`` the
    ``(..., n, n)`` one of ``x`` with itself, ``kernel.diag(x)`` its diagonal.
    """

    def __init__(self, variance: float = 1.0, lengthscale: float = 1.0, *, dtype=F64) -> None:
        super().__init__()
        self.raw_variance = _positive_parameter("variance", variance, dtype)
        self.raw_lengthscale = _positive_parameter("lengthscale", lengthscale, dtype)

    @property
    def variance(self) -> torch.Tensor:
        return self.raw_variance.exp()

    @property
    def lengthscale(self) -> torch.Tensor:
        return self.raw_lengthscale.exp()

    def set(self, **values: float) -> Kernel:
        """Set hyperparameters in place, e.g. ``kernel.set(lengthscale=0.3)``; returns self."""
        for name, value in values.items():
            raw = getattr(self, f"raw_{name}", None)
            if not isinstance(raw, nn.Parameter):
                raise ValueError(f"{type(self).__name__} has no hyperparameter {name!r}")
            with torch.no_grad():
                raw.copy_(_positive_parameter(name, value, raw.dtype))
        return self

    def hyperparameters(self) -> dict[str, float]:
        """The positive hyperparameters as plain numbers."""
        return {
            name.removeprefix("raw_"): p.exp().item()
            for name, p in self.named_parameters(recurse=False)
            if name.startswith("raw_")
        }

    def forward(self, x1: object, x2: object | None = None) -> torch.Tensor:
        a = _features(x1, self.raw_variance)
        b = a if x2 is None else _features(x2, self.raw_variance)
        return self.variance * self.shape(a, b)

    def diag(self, x: object) -> torch.Tensor:
        """``k(x_i, x_i)`` for every row: the variance (stationary kernels)."""
        a = _features(x, self.raw_variance)
        return self.variance.expand(a.shape[:-1])

    def shape(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """The correlation, ``k / variance``, between rows of ``a`` and ``b``."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v:.4g}" for k, v in self.hyperparameters().items())


class RBF(Kernel):
    """Squared exponential: ``variance * exp(-|x - x'|^2 / (2 lengthscale^2))``."""

    def shape(self, a, b):
        return torch.exp(-0.5 * _sqdist(a, b, self.lengthscale))


class Matern(Kernel):
    """Matern with smoothness ``nu`` in {0.5, 1.5, 2.5}: samples are ``ceil(nu) - 1`` times
    differentiable (nu = 0.5 is the exponential kernel; nu -> infinity gives the RBF)."""

    def __init__(
        self, variance: float = 1.0, lengthscale: float = 1.0, nu: float = 2.5, *, dtype=F64
    ) -> None:
        super().__init__(variance, lengthscale, dtype=dtype)
        self.nu = float(validate.one_of("nu", nu, (0.5, 1.5, 2.5)))

    def shape(self, a, b):
        r = _distance(_sqdist(a, b, self.lengthscale))  # 0 where two inputs coincide
        if self.nu == 0.5:
            return torch.exp(-r)
        if self.nu == 1.5:
            s = math.sqrt(3) * r
            return (1 + s) * torch.exp(-s)
        s = math.sqrt(5) * r
        return (1 + s + s.square() / 3) * torch.exp(-s)

    def extra_repr(self) -> str:
        return f"nu={self.nu}, " + super().extra_repr()


class Periodic(Kernel):
    """Periodic (MacKay): ``variance * exp(-2 sin^2(pi |x - x'| / period) / lengthscale^2)``,
    summed over features as Pyro does (scikit-learn's ``ExpSineSquared`` in one dimension)."""

    def __init__(
        self,
        variance: float = 1.0,
        lengthscale: float = 1.0,
        period: float = 1.0,
        *,
        dtype=F64,
    ) -> None:
        super().__init__(variance, lengthscale, dtype=dtype)
        self.raw_period = _positive_parameter("period", period, dtype)

    @property
    def period(self) -> torch.Tensor:
        return self.raw_period.exp()

    def shape(self, a, b):
        if a.shape[-1] != b.shape[-1]:
            raise ValueError(
                f"inputs have {a.shape[-1]} and {b.shape[-1]} features: they must agree"
            )
        diff = a.unsqueeze(-2) - b.unsqueeze(-3)  # (..., n, m, d)
        s = torch.sin(math.pi * diff / self.period) / self.lengthscale
        return torch.exp(-2 * s.square().sum(-1))
