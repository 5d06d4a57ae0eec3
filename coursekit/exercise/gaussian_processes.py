"""Notebook 07's exercise: the GP predictive mean and variance, and log p(y), by Cholesky.

The oracle is scikit-learn's ``GaussianProcessRegressor`` with the same kernel held fixed
(``optimizer=None``) and the noise variance as ``alpha``: its ``predict(..., return_std=True)``
gives the mean and standard deviation of f at the new inputs, and
``log_marginal_likelihood_value_`` the log evidence.
"""

from __future__ import annotations

import math

import torch

from coursekit import gp
from coursekit.exercise import Case, Exercise, register

F64 = torch.float64
_SKLEARN: dict[int, object] = {}  # id(kernel) -> the same kernel in scikit-learn's algebra


def _cases():
    from sklearn.gaussian_process import kernels as sk

    gen = torch.Generator().manual_seed(7)
    cases = []
    for label, kern, skk, n, noise in (
        (
            "RBF, 12 points, noise 0.01",
            gp.RBF(variance=1.0, lengthscale=0.7),
            sk.ConstantKernel(1.0, "fixed") * sk.RBF(0.7, "fixed"),
            12,
            0.01,
        ),
        (
            "Matern 3/2, 30 points, noise 0.1",
            gp.Matern(variance=2.0, lengthscale=1.5, nu=1.5),
            sk.ConstantKernel(2.0, "fixed") * sk.Matern(1.5, "fixed", nu=1.5),
            30,
            0.1,
        ),
        (
            "RBF, short lengthscale, 8 points",
            gp.RBF(variance=0.5, lengthscale=0.2),
            sk.ConstantKernel(0.5, "fixed") * sk.RBF(0.2, "fixed"),
            8,
            1e-3,
        ),
    ):
        x = 6 * torch.rand(n, generator=gen, dtype=F64)
        y = torch.sin(2 * x) + 0.1 * torch.randn(n, generator=gen, dtype=F64)
        x_new = torch.linspace(-1, 7, 25, dtype=F64)
        _SKLEARN[id(kern)] = skk
        cases.append(Case(label, (kern, x, y, noise, x_new), "x in [0, 6], x_new in [-1, 7]"))
    return cases


def _reference(kern, x, y, noise, x_new):
    from sklearn.gaussian_process import GaussianProcessRegressor

    model = GaussianProcessRegressor(_SKLEARN[id(kern)], alpha=noise, optimizer=None)
    model.fit(x[:, None].numpy(), y.numpy())
    mean, sd = model.predict(x_new[:, None].numpy(), return_std=True)
    as_tensor = lambda a: torch.as_tensor(a, dtype=F64)  # noqa: E731
    return (
        as_tensor(mean),
        as_tensor(sd) ** 2,
        as_tensor(model.log_marginal_likelihood_value_),
    )


def _by_hand(kern, x, y, noise, x_new, jitter_only=False, noiseless_lml=False, inverse_var=False):
    """The algebra written out, with a slip where a flag says (for the wrong answers)."""
    n = len(x)
    eye = torch.eye(n, dtype=x.dtype, device=x.device)
    k = kern(x) + (1e-9 if jitter_only else noise) * eye
    chol = torch.linalg.cholesky(k)
    alpha = torch.cholesky_solve(y[:, None], chol)[:, 0]
    k_star = kern(x_new, x)
    v = torch.linalg.solve_triangular(chol, k_star.T, upper=False)
    var = kern.diag(x_new) + (v**2).sum(0) if inverse_var else kern.diag(x_new) - (v**2).sum(0)
    logdet = 0.0 if noiseless_lml else torch.log(torch.diagonal(chol)).sum()
    lml = -0.5 * y @ alpha - logdet - 0.5 * n * math.log(2 * math.pi)
    return k_star @ alpha, var, lml


register(
    Exercise(
        name="07.gp_posterior",
        what="gp_posterior(kern, x, y, noise, x_new): the predictive mean and variance of f at "
        "x_new and log p(y), with one Cholesky factor of K + noise I",
        oracle="scikit-learn's GaussianProcessRegressor (kernel fixed, alpha = noise)",
        reference=_reference,
        fallback=_by_hand,  # for the notebook's own kernels (the oracle knows only the cases')
        cases=_cases,
        hint="L = cholesky(K + noise I); alpha = cholesky_solve(y, L); mean = k* alpha; "
        "v = L^-1 k*^T; var = k(x*, x*) - sum of v squared; "
        "log p(y) = -y.alpha/2 - sum log diag(L) - n log(2 pi)/2",
        rtol=1e-6,
        atol=1e-8,
        wrong=(
            lambda *a: _by_hand(*a, jitter_only=True),  # the noise variance dropped
            lambda *a: _by_hand(*a, inverse_var=True),  # the variance term added, not taken off
            lambda *a: _by_hand(*a, noiseless_lml=True),  # the log determinant left out
        ),
    )
)
