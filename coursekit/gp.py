"""Gaussian processes from scratch: kernels, exact and sparse regression, prior samples.

    from coursekit import gp
    model = gp.ExactGP(gp.RBF(lengthscale=0.5, variance=1.0), noise=0.01)
    model.fit(x, y)                   # hyperparameters: maximise the log marginal likelihood
    post = model.condition(x, y)      # one Cholesky factorisation of K + noise * I
    mean, var = post.predict(x_new)   # predictive mean and variance of f(x_new)

    sparse = gp.SparseGP(kernel, inducing=torch.linspace(0, 10, 64), noise=0.01)  # Titsias

Everything is torch, float64 unless the kernel is moved to another dtype, on whatever
device the kernel's parameters are on. No matrix is ever inverted: every ``K^{-1} b`` is a
Cholesky factorisation followed by triangular solves. Inputs are ``(n, d)``, or ``(n,)`` for
one feature, and may carry leading batch dimensions, ``(..., n, d)``: a batch of independent
data sets is conditioned, scored and predicted in one call. The prior mean is zero, so
centre ``y`` first.

Parameterisation, the same as Pyro's ``pyro.contrib.gp``:
    RBF        k(x, x') = variance * exp(-r^2 / 2),            r = |x - x'| / lengthscale
    Matern     nu = 1/2: variance * exp(-r);  3/2: variance * (1 + sqrt3 r) exp(-sqrt3 r);
               5/2: variance * (1 + sqrt5 r + 5 r^2 / 3) exp(-sqrt5 r)
    Periodic   variance * exp(-2 sum_j sin^2(pi (x_j - x'_j) / period) / lengthscale^2)
    noise      the variance of the Gaussian noise on y: y = f(x) + eps, eps ~ N(0, noise)
scikit-learn writes the same model as ``ConstantKernel(variance) * RBF(length_scale=
lengthscale) + WhiteKernel(noise_level=noise)`` (``Matern(nu=...)``, ``ExpSineSquared(
length_scale, periodicity)``); its ``RBF`` alone has variance 1.

``python -m coursekit.gp`` runs :func:`bench`: exact GP against scikit-learn, sparse GP
against Pyro's ``SparseGPRegression``.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence

import torch
from torch import nn

from coursekit import validate

F64 = torch.float64
LOG_2PI = math.log(2 * math.pi)
APPROXIMATIONS = ("vfe", "dtc", "fitc")


# --------------------------------------------------------------------------------------------
# Linear algebra


def cholesky(matrix: torch.Tensor, jitter: float = 0.0, max_tries: int = 6) -> torch.Tensor:
    """Lower Cholesky factor of ``matrix + jitter * I`` (batched).

    When rounding makes a positive semi-definite matrix fail, a growing multiple of its mean
    diagonal is added (1e-10, 1e-9, ... of it), with a warning that says how much.
    """
    eye = torch.eye(matrix.shape[-1], dtype=matrix.dtype, device=matrix.device)
    if jitter:
        matrix = matrix + jitter * eye
    factor, info = torch.linalg.cholesky_ex(matrix)
    if not info.any():
        return factor
    scale = matrix.diagonal(dim1=-2, dim2=-1).mean().abs().item() or 1.0
    for k in range(max_tries):
        extra = scale * 10.0 ** (k - 10)
        factor, info = torch.linalg.cholesky_ex(matrix + extra * eye)
        if not info.any():
            warnings.warn(
                f"the matrix was not numerically positive definite; added {extra:.1e} to its "
                "diagonal to factorise it",
                RuntimeWarning,
                stacklevel=2,
            )
            return factor
    raise ValueError(
        "the covariance matrix is not positive definite even with "
        f"{scale * 10.0 ** (max_tries - 11):.1e} added to its diagonal: raise the noise or the "
        "jitter, or look for repeated inputs with zero noise"
    )


def _solve_lower(factor: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    return torch.linalg.solve_triangular(factor, rhs, upper=False)


# --------------------------------------------------------------------------------------------
# Kernels


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


def _scaled_sqdist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Squared distances between the rows of ``a`` (..., n, d) and ``b`` (..., m, d)."""
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"inputs have {a.shape[-1]} and {b.shape[-1]} features: they must agree")
    if a.shape[-1] == 1:  # one feature: the difference itself, with no rounding to speak of
        return (a - b.mT).square()
    shift = a.mean(dim=-2, keepdim=True)  # centring keeps |a|^2 + |b|^2 - 2ab accurate
    a, b = a - shift, b - shift
    sq = a.square().sum(-1, keepdim=True) + b.square().sum(-1, keepdim=True).mT - 2 * a @ b.mT
    return sq.clamp_min(0.0)


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
        ell = self.lengthscale
        return torch.exp(-0.5 * _scaled_sqdist(a / ell, b / ell))


class Matern(Kernel):
    """Matern with smoothness ``nu`` in {0.5, 1.5, 2.5}: samples are ``ceil(nu) - 1`` times
    differentiable (nu = 0.5 is the exponential kernel; nu -> infinity gives the RBF)."""

    def __init__(
        self, variance: float = 1.0, lengthscale: float = 1.0, nu: float = 2.5, *, dtype=F64
    ) -> None:
        super().__init__(variance, lengthscale, dtype=dtype)
        self.nu = float(validate.one_of("nu", nu, (0.5, 1.5, 2.5)))

    def shape(self, a, b):
        ell = self.lengthscale
        # the clamp keeps the gradient of sqrt finite where two inputs coincide
        r = _scaled_sqdist(a / ell, b / ell).clamp_min(1e-30).sqrt()
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
    """Maximise ``objective()`` over the module's parameters with L-BFGS (strong Wolfe line
    search); returns the objective at every evaluation."""
    steps = validate.integer("steps", steps, minimum=1)
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
        factor = cholesky(cov)
        alpha = torch.cholesky_solve(y.unsqueeze(-1), factor).squeeze(-1)
        return x, y, factor, alpha

    def log_marginal_likelihood(self, x: object, y: object) -> torch.Tensor:
        """``log p(y | x) = -y^T alpha / 2 - sum_i log L_ii - n log(2 pi) / 2`` (batched)."""
        x, y, factor, alpha = self._factor(x, y)
        n = y.shape[-1]
        log_det_half = factor.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        return -0.5 * (y * alpha).sum(-1) - log_det_half - 0.5 * n * LOG_2PI

    def condition(self, x: object, y: object) -> Posterior:
        x, _, factor, alpha = self._factor(x, y)
        return Posterior(self.kernel, x, factor, alpha, self.noise)

    def fit(self, x: object, y: object, steps: int = 100) -> list[float]:
        """Maximise the log marginal likelihood over noise and kernel hyperparameters
        (summed over a batch); returns the values L-BFGS saw."""
        return _maximise(self, lambda: self.log_marginal_likelihood(x, y).sum(), steps)


# --------------------------------------------------------------------------------------------
# Sparse regression with inducing points


class SparsePosterior:
    """A sparse GP conditioned on data: O(m^2) per prediction, whatever n was."""

    def __init__(self, kernel, inducing, factor_uu, factor_b, c, noise) -> None:
        self.kernel, self.inducing = kernel, inducing
        self.factor_uu, self.factor_b, self.c, self.noise = factor_uu, factor_b, c, noise

    def predict(
        self, x_new: object, *, include_noise: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and variance of ``f(x_new)`` (of ``y_new`` with ``include_noise=True``)."""
        xs = _features(x_new, self.inducing)
        ws = _solve_lower(self.factor_uu, self.kernel(self.inducing, xs))  # (..., m, s)
        tmp = _solve_lower(self.factor_b, ws)
        mean = (tmp * self.c).sum(-2)
        var = self.kernel.diag(xs) - ws.square().sum(-2) + tmp.square().sum(-2)
        var = var.clamp_min(0.0)
        return mean, var + self.noise if include_noise else var


class SparseGP(nn.Module):
    """GP regression through m inducing points ``Z``: O(n m^2) time, O(n m) memory.

    The kernel matrix is replaced by its Nystrom approximation ``Q = K_fu K_uu^{-1} K_uf``.
    ``approx`` picks what is done with it (Quinonero-Candela & Rasmussen 2005; Titsias 2009):

    * ``"vfe"`` (default): Titsias' variational bound,
      ``log N(y | 0, Q + noise I) - tr(K - Q) / (2 noise)``, a lower bound on the exact log
      marginal likelihood, equal to it when Z = X;
    * ``"dtc"``: ``log N(y | 0, Q + noise I)``, the same predictions without the trace term;
    * ``"fitc"``: ``log N(y | 0, Q + diag(K - Q) + noise I)``.

    ``jitter`` is added to the diagonal of ``K_uu`` (as Pyro does, 1e-6 by default).
    """

    def __init__(
        self,
        kernel: Kernel,
        inducing: object,
        noise: float = 0.1,
        *,
        approx: str = "vfe",
        jitter: float = 1e-6,
        learn_inducing: bool = False,
    ) -> None:
        super().__init__()
        if not isinstance(kernel, Kernel):
            raise ValueError(f"kernel={kernel!r} is not allowed: it must be a coursekit.gp.Kernel")
        self.kernel = kernel
        self.raw_noise = _positive_parameter("noise", noise, kernel.raw_variance.dtype)
        z = _features(inducing, kernel.raw_variance)
        if z.dim() != 2 or z.shape[0] < 1:
            raise ValueError(
                f"inducing has shape {tuple(z.shape)}: it must be (m,) or (m, d) with m >= 1"
            )
        self.inducing = nn.Parameter(z.clone(), requires_grad=learn_inducing)
        self.approx = validate.one_of("approx", approx, APPROXIMATIONS)
        self.jitter = validate.non_negative("jitter", jitter)

    @property
    def noise(self) -> torch.Tensor:
        return self.raw_noise.exp()

    def _terms(self, x: object, y: object):
        x = _features(x, self.raw_noise)
        y = _targets(y, x)
        z = self.inducing
        factor_uu = cholesky(self.kernel(z), self.jitter)
        w = _solve_lower(factor_uu, self.kernel(z, x))  # (..., m, n); Q = W^T W
        kdiag = self.kernel.diag(x)
        qdiag = w.square().sum(-2)
        d = self.noise.expand(y.shape)
        if self.approx == "fitc":
            d = d + (kdiag - qdiag).clamp_min(0.0)
        sd = d.sqrt()
        wd = w / sd.unsqueeze(-2)
        b = wd @ wd.mT
        b = b + torch.eye(b.shape[-1], dtype=b.dtype, device=b.device)
        factor_b = cholesky(b)
        c = _solve_lower(factor_b, wd @ (y / sd).unsqueeze(-1))  # (..., m, 1)
        return x, y, factor_uu, factor_b, c, d, kdiag, qdiag

    def log_marginal_likelihood(self, x: object, y: object) -> torch.Tensor:
        """The objective of ``approx``: for ``"vfe"`` a lower bound on the exact one."""
        x, y, _, factor_b, c, d, kdiag, qdiag = self._terms(x, y)
        n = y.shape[-1]
        # log|Q + D| = 2 sum log diag(L_B) + sum log D  (matrix determinant lemma)
        log_det = 2 * factor_b.diagonal(dim1=-2, dim2=-1).log().sum(-1) + d.log().sum(-1)
        # y^T (Q + D)^{-1} y = y^T D^{-1} y - c^T c  (Woodbury)
        quad = (y.square() / d).sum(-1) - c.square().sum((-2, -1))
        value = -0.5 * (n * LOG_2PI + log_det + quad)
        if self.approx == "vfe":
            value = value - 0.5 * (kdiag - qdiag).sum(-1) / self.noise
        return value

    def condition(self, x: object, y: object) -> SparsePosterior:
        _, _, factor_uu, factor_b, c, _, _, _ = self._terms(x, y)
        return SparsePosterior(self.kernel, self.inducing, factor_uu, factor_b, c, self.noise)

    def fit(self, x: object, y: object, steps: int = 100) -> list[float]:
        """Maximise the objective over noise, kernel hyperparameters and, when
        ``learn_inducing``, the inducing inputs."""
        return _maximise(self, lambda: self.log_marginal_likelihood(x, y).sum(), steps)


# --------------------------------------------------------------------------------------------
# Benchmark


def _timed(fn, device: torch.device) -> tuple[float, object]:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start, out


def _bench_data(n: int, n_test: int, seed: int):
    gen = torch.Generator().manual_seed(seed)
    x = 10 * torch.rand(n, 1, generator=gen, dtype=F64)
    y = torch.sin(x[:, 0]) + 0.3 * torch.sin(3 * x[:, 0]) + 0.1 * torch.randn(n, generator=gen)
    xs = torch.linspace(0, 10, n_test, dtype=F64).unsqueeze(-1)
    return x, y.to(F64), xs


def bench(
    sizes: Sequence[int] = (500, 1000, 2000, 3000, 4000, 5000),
    *,
    n_test: int = 500,
    sparse_n: int = 100_000,
    inducing: int = 100,
    repeats: int = 2,
    seed: int = 0,
    device: object = "cpu",
    threads: int | None = None,
    show_progress: bool = True,
) -> list[dict]:
    """Fit-and-predict wall times, best of ``repeats``, on 1-D data, float64.

    * exact, at each n in ``sizes``: :class:`ExactGP` (factorise, then mean and variance at
      ``n_test`` points) against scikit-learn's ``GaussianProcessRegressor`` with the same
      fixed kernel, ``ConstantKernel * RBF + WhiteKernel`` (``optimizer=None``, ``alpha=0``;
      ``fit`` then ``predict(return_std=True)``);
    * sparse, at n = ``sparse_n`` with ``inducing`` points on a grid: :class:`SparseGP` (VFE)
      against Pyro's ``SparseGPRegression`` (VFE) called the same way.

    Each row: ``method``, ``n``, ``coursekit_s``, the reference's name, time and the ratio
    ``coursekit_s / reference_s`` (below 1: ours is faster), and the largest difference
    between the two predictive means. ``threads`` limits torch and the BLAS that NumPy and
    SciPy call to that many threads during the benchmark (on a shared machine one thread
    each is often faster and always steadier); ``None`` leaves both as they are.
    """
    from threadpoolctl import threadpool_limits

    if threads is None:
        return _bench(sizes, n_test, sparse_n, inducing, repeats, seed, device, show_progress)
    threads = validate.integer("threads", threads, minimum=1)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            return _bench(sizes, n_test, sparse_n, inducing, repeats, seed, device, show_progress)
    finally:
        torch.set_num_threads(before)


def _bench(sizes, n_test, sparse_n, inducing, repeats, seed, device, show_progress):
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF as SkRBF
    from sklearn.gaussian_process.kernels import ConstantKernel, WhiteKernel

    from coursekit.bars import progress

    sizes = [validate.integer("size", n, minimum=2) for n in sizes]
    n_test = validate.integer("n_test", n_test, minimum=1)
    sparse_n = validate.integer("sparse_n", sparse_n, minimum=0)
    inducing = validate.integer("inducing", inducing, minimum=1)
    repeats = validate.integer("repeats", repeats, minimum=1)
    device = torch.device(device)
    variance, lengthscale, noise = 1.0, 1.0, 0.01
    rows = []
    cases = [("exact", n) for n in sizes] + ([("sparse", sparse_n)] if sparse_n else [])
    bar = progress(cases, desc="GP bench", disable=not show_progress)
    for method, n in bar:
        bar.set_postfix(method=method, n=n)
        x, y, xs = _bench_data(n, n_test, seed)
        xd, yd, xsd = x.to(device), y.to(device), xs.to(device)
        if method == "exact":
            model = ExactGP(RBF(variance, lengthscale), noise).to(device)

            def ours(model=model, xd=xd, yd=yd, xsd=xsd):
                with torch.no_grad():
                    return model.condition(xd, yd).predict(xsd)

            sk_kernel = ConstantKernel(variance, "fixed") * SkRBF(lengthscale, "fixed")
            sk_kernel = sk_kernel + WhiteKernel(noise, "fixed")
            x_np, y_np, xs_np = x.numpy(), y.numpy(), xs.numpy()

            def reference(k=sk_kernel, x_np=x_np, y_np=y_np, xs_np=xs_np):
                gpr = GaussianProcessRegressor(k, alpha=0.0, optimizer=None)
                gpr.fit(x_np, y_np)
                return gpr.predict(xs_np, return_std=True)

            ref_name, ref_device = "sklearn", torch.device("cpu")
        else:
            import pyro
            import pyro.contrib.gp as pgp

            z = torch.linspace(0, 10, inducing, dtype=F64).unsqueeze(-1)
            model = SparseGP(RBF(variance, lengthscale), z, noise).to(device)

            def ours(model=model, xd=xd, yd=yd, xsd=xsd):
                with torch.no_grad():
                    return model.condition(xd, yd).predict(xsd)

            # Pyro keeps module parameters in a global store by name, and a new model whose
            # names are taken there reads the stored values, not its own: keep ours local.
            with pyro.settings.context(module_local_params=True):
                kern = pgp.kernels.RBF(
                    1,
                    variance=torch.tensor(variance, dtype=F64, device=device),
                    lengthscale=torch.tensor(lengthscale, dtype=F64, device=device),
                )
                sgpr = pgp.models.SparseGPRegression(
                    xd, yd, kern, z.to(device), noise=torch.tensor(noise, dtype=F64, device=device)
                )

            def reference(sgpr=sgpr, xsd=xsd):
                with torch.no_grad(), pyro.settings.context(module_local_params=True):
                    return sgpr(xsd)

            ref_name, ref_device = "pyro", device
        ours_s, ref_s = math.inf, math.inf
        for _ in range(repeats):
            t, out = _timed(ours, device)
            ours_s = min(ours_s, t)
            t, ref_out = _timed(reference, ref_device)
            ref_s = min(ref_s, t)
        ref_mean = torch.as_tensor(ref_out[0], dtype=F64).cpu()
        rows.append(
            {
                "method": method if method == "exact" else f"sparse VFE, m={inducing}",
                "n": n,
                "coursekit_s": ours_s,
                "reference": ref_name,
                "reference_s": ref_s,
                "ratio": ours_s / ref_s,
                "max_mean_diff": (out[0].cpu() - ref_mean).abs().max().item(),
            }
        )
    bar.close()
    return rows


if __name__ == "__main__":
    for row in bench():
        print(
            f"{row['method']:>20} n={row['n']:>7}  coursekit {row['coursekit_s']:.3f} s  "
            f"{row['reference']} {row['reference_s']:.3f} s  ratio {row['ratio']:.2f}  "
            f"max|mean diff| {row['max_mean_diff']:.1e}"
        )
