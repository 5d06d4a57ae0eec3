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

The package has one module per part: ``linalg`` (Cholesky with jitter), ``kernels``, ``exact``
(prior samples, exact regression, fitted hyperparameters), ``sparse`` (inducing points) and
``benchmark``.
"""

from coursekit.gp.benchmark import bench
from coursekit.gp.exact import ExactGP, Posterior, sample_prior
from coursekit.gp.kernels import F64, RBF, Kernel, Matern, Periodic
from coursekit.gp.linalg import cholesky
from coursekit.gp.sparse import APPROXIMATIONS, SparseGP, SparsePosterior

__all__ = [
    "APPROXIMATIONS",
    "F64",
    "RBF",
    "ExactGP",
    "Kernel",
    "Matern",
    "Periodic",
    "Posterior",
    "SparseGP",
    "SparsePosterior",
    "bench",
    "cholesky",
    "sample_prior",
]
