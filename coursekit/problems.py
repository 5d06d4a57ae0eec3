"""Test problems for the optimisation notebooks, with known minimisers.

Every function takes a tensor ``w`` whose *last* dimension holds the coordinates, so a batch
of points (many runs at once, or a grid for a contour plot) is evaluated in one call::

    q = problems.Quadratic.random(dim=20, mu=1.0, L=100.0, seed=0)
    q.value(w), q.grad(w), q.hessian, q.w_star, q.f_star, q.mu, q.L

    problems.rosenbrock(w), problems.rosenbrock_grad(w), problems.rosenbrock_hessian(w)

    x, y, w_true = problems.sparse_logistic_data(n=2000, dim=200, informative=10, seed=0)
    problems.logistic_loss(w, x, y, l2=1e-3), problems.logistic_grad(w, x, y, l2=1e-3)

Gradients and Hessians are written out in closed form (no autograd), which keeps long loops
fast; ``tests/test_problems.py`` checks each against autograd.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

# --------------------------------------------------------------------------------------------
# Quadratics


@dataclass(frozen=True, eq=False)
class Quadratic:
    r"""``F(w) = 1/2 (w - w*)^T A (w - w*) + f*`` with ``A`` symmetric positive definite.

    ``mu`` and ``L`` are the smallest and largest eigenvalues of ``A`` (the strong-convexity
    and smoothness constants), ``kappa = L / mu`` its condition number.
    """

    hessian: torch.Tensor  # A, shape (d, d)
    w_star: torch.Tensor  # shape (d,)
    f_star: float = 0.0

    def __post_init__(self):
        a = self.hessian
        if a.ndim != 2 or a.shape[0] != a.shape[1]:
            raise ValueError(f"hessian must be a square matrix, got shape {tuple(a.shape)}")
        if self.w_star.shape != (a.shape[0],):
            raise ValueError(
                f"w_star must have shape ({a.shape[0]},) to match the hessian, "
                f"got {tuple(self.w_star.shape)}"
            )
        if not torch.allclose(a, a.mT):
            raise ValueError("hessian must be symmetric")
        if self.eigenvalues[0] <= 0:
            raise ValueError(
                f"hessian must be positive definite; its smallest eigenvalue is "
                f"{self.eigenvalues[0].item():.3g}"
            )

    # -- constructors ------------------------------------------------------------------------

    @classmethod
    def diagonal(
        cls,
        eigenvalues,
        w_star=None,
        *,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
    ) -> Quadratic:
        """Axis-aligned: ``A = diag(eigenvalues)``; the minimiser is 0 unless given."""
        eig = torch.as_tensor(eigenvalues, dtype=dtype, device=device)
        if eig.ndim != 1 or len(eig) == 0:
            raise ValueError("eigenvalues must be a non-empty 1-D sequence")
        centre = torch.zeros_like(eig) if w_star is None else _as(w_star, eig)
        return cls(torch.diag(eig), centre)

    @classmethod
    def rotated(
        cls,
        eigenvalues,
        angle: float,
        w_star=None,
        *,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
    ) -> Quadratic:
        """Two dimensions: ``diag(eigenvalues)`` turned by ``angle`` radians."""
        eig = torch.as_tensor(eigenvalues, dtype=dtype, device=device)
        if eig.shape != (2,):
            raise ValueError(f"rotated needs exactly two eigenvalues, got {tuple(eig.shape)}")
        c, s = math.cos(angle), math.sin(angle)
        rot = torch.tensor([[c, -s], [s, c]], dtype=dtype, device=device)
        a = rot @ torch.diag(eig) @ rot.mT
        a = (a + a.mT) / 2  # exactly symmetric despite rounding
        centre = torch.zeros_like(eig) if w_star is None else _as(w_star, eig)
        return cls(a, centre)

    @classmethod
    def random(
        cls,
        dim: int,
        mu: float,
        L: float,
        seed: int = 0,
        *,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
    ) -> Quadratic:
        """Eigenvalues spaced evenly in log scale from ``mu`` to ``L`` (both included), a
        random rotation, and a random minimiser with unit-variance entries, all from ``seed``."""
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 2:
            raise ValueError(f"dim must be an integer >= 2, got {dim!r}")
        if not (0 < mu <= L) or not math.isfinite(L):
            raise ValueError(f"need 0 < mu <= L < inf, got mu={mu!r}, L={L!r}")
        gen = torch.Generator().manual_seed(seed)
        # QR of a Gaussian matrix, signs fixed, is a uniformly random rotation.
        q, r = torch.linalg.qr(torch.randn(dim, dim, generator=gen, dtype=torch.float64))
        q = q * torch.sign(torch.diagonal(r))
        eig = torch.logspace(math.log10(mu), math.log10(L), dim, dtype=torch.float64)
        eig[0], eig[-1] = mu, L  # exact ends, not 10**log10(x)
        a = q @ torch.diag(eig) @ q.mT
        a = (a + a.mT) / 2
        centre = torch.randn(dim, generator=gen, dtype=torch.float64)
        return cls(a.to(dtype=dtype, device=device), centre.to(dtype=dtype, device=device))

    # -- the function ------------------------------------------------------------------------

    @property
    def dim(self) -> int:
        return self.hessian.shape[0]

    @property
    def eigenvalues(self) -> torch.Tensor:
        """Eigenvalues of ``A`` in ascending order."""
        return torch.linalg.eigvalsh(self.hessian)

    @property
    def mu(self) -> float:
        return self.eigenvalues[0].item()

    @property
    def L(self) -> float:  # noqa: N802 -- the smoothness constant is called L everywhere
        return self.eigenvalues[-1].item()

    @property
    def kappa(self) -> float:
        return self.L / self.mu

    def value(self, w: torch.Tensor) -> torch.Tensor:
        d = w - self.w_star
        return 0.5 * ((d @ self.hessian) * d).sum(-1) + self.f_star

    def grad(self, w: torch.Tensor) -> torch.Tensor:
        return (w - self.w_star) @ self.hessian  # A is symmetric: A d == d A

    def to(self, device=None, dtype=None) -> Quadratic:
        return Quadratic(
            self.hessian.to(device=device, dtype=dtype),
            self.w_star.to(device=device, dtype=dtype),
            self.f_star,
        )


def _as(values, like: torch.Tensor) -> torch.Tensor:
    out = torch.as_tensor(values, dtype=like.dtype, device=like.device)
    if out.shape != like.shape:
        raise ValueError(f"w_star must have shape {tuple(like.shape)}, got {tuple(out.shape)}")
    return out


# --------------------------------------------------------------------------------------------
# Rosenbrock's banana valley


ROSENBROCK_MIN = (1.0, 1.0)  # the minimiser for a = 1; in general (a, a**2), value 0


def rosenbrock(w: torch.Tensor, a: float = 1.0, b: float = 100.0) -> torch.Tensor:
    r"""``(a - x)^2 + b (y - x^2)^2`` over the last dimension ``(x, y)``; minimum 0 at
    ``(a, a^2)`` at the end of a long, curved, flat-bottomed valley (Rosenbrock, 1960)."""
    x, y = _xy(w)
    return (a - x) ** 2 + b * (y - x**2) ** 2


def rosenbrock_grad(w: torch.Tensor, a: float = 1.0, b: float = 100.0) -> torch.Tensor:
    x, y = _xy(w)
    inner = y - x**2
    return torch.stack([-2 * (a - x) - 4 * b * x * inner, 2 * b * inner], dim=-1)


def rosenbrock_hessian(w: torch.Tensor, a: float = 1.0, b: float = 100.0) -> torch.Tensor:
    """Shape ``(..., 2, 2)``."""
    x, y = _xy(w)
    dxx = 2 - 4 * b * (y - x**2) + 8 * b * x**2
    dxy = -4 * b * x
    dyy = torch.full_like(x, 2 * b)
    return torch.stack([torch.stack([dxx, dxy], -1), torch.stack([dxy, dyy], -1)], -2)


def _xy(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if w.shape[-1] != 2:
        raise ValueError(f"Rosenbrock is a function of 2 coordinates, got shape {tuple(w.shape)}")
    return w[..., 0], w[..., 1]


# --------------------------------------------------------------------------------------------
# Logistic regression


def sparse_logistic_data(
    n: int,
    dim: int,
    informative: int,
    seed: int = 0,
    *,
    density: float = 1.0,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Labels from a logistic model in which only ``informative`` of ``dim`` weights are
    non-zero. Returns ``(x, y, w_true)``: ``x`` is ``(n, dim)`` standard normal (each entry
    kept with probability ``density``, else 0, as in click data), ``y`` in {0, 1}."""
    for name, value, low in (("n", n, 1), ("dim", dim, 1), ("informative", informative, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if informative > dim:
        raise ValueError(f"informative={informative} must be at most dim={dim}")
    if not 0 < density <= 1:
        raise ValueError(f"density must be in (0, 1], got {density!r}")
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=gen, dtype=torch.float64)
    if density < 1:
        x = x * (torch.rand(n, dim, generator=gen, dtype=torch.float64) < density)
    w_true = torch.zeros(dim, dtype=torch.float64)
    signs = torch.where(torch.rand(informative, generator=gen) < 0.5, -1.0, 1.0)
    # Scaled so the logits have unit-order spread whatever the density.
    w_true[:informative] = signs * 2.0 / math.sqrt(density)
    p = torch.sigmoid(x @ w_true)
    y = (torch.rand(n, generator=gen, dtype=torch.float64) < p).to(torch.float64)
    return tuple(t.to(dtype=dtype, device=device) for t in (x, y, w_true))


def logistic_loss(
    w: torch.Tensor, x: torch.Tensor, y: torch.Tensor, l2: float = 0.0
) -> torch.Tensor:
    r"""Mean log loss of ``sigmoid(x @ w)`` against ``y`` in {0, 1}, plus ``l2/2 ||w||^2``.

    ``w`` may be ``(dim,)`` or a batch ``(..., dim)``; the result has ``w``'s batch shape."""
    logits = w @ x.mT  # (..., n)
    # log(1 + e^z) - y z, written with softplus so large |z| does not overflow
    data = (torch.nn.functional.softplus(logits) - y * logits).mean(-1)
    return data + 0.5 * l2 * (w * w).sum(-1)


def logistic_grad(
    w: torch.Tensor, x: torch.Tensor, y: torch.Tensor, l2: float = 0.0
) -> torch.Tensor:
    residual = torch.sigmoid(w @ x.mT) - y  # (..., n)
    return residual @ x / x.shape[0] + l2 * w


def logistic_hessian(
    w: torch.Tensor, x: torch.Tensor, y: torch.Tensor, l2: float = 0.0
) -> torch.Tensor:
    """``x^T diag(p (1 - p)) x / n + l2 I`` for a single ``w`` of shape ``(dim,)``."""
    if w.ndim != 1:
        raise ValueError(f"logistic_hessian takes one w of shape (dim,), got {tuple(w.shape)}")
    p = torch.sigmoid(x @ w)
    eye = torch.eye(len(w), dtype=w.dtype, device=w.device)
    return (x * (p * (1 - p))[:, None]).mT @ x / x.shape[0] + l2 * eye


__all__ = [
    "ROSENBROCK_MIN",
    "Quadratic",
    "logistic_grad",
    "logistic_hessian",
    "logistic_loss",
    "rosenbrock",
    "rosenbrock_grad",
    "rosenbrock_hessian",
    "sparse_logistic_data",
]
