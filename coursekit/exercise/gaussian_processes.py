"""Notebook 07's exercises: two kernels' matrices, and the GP predictive mean and variance,
and log p(y), by Cholesky.

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
        # the oracle's context: the same kernel in scikit-learn's algebra
        shown = "x in [0, 6], x_new in [-1, 7]"
        cases.append(Case(label, (kern, x, y, noise, x_new), shown, skk))
    return cases


def _reference(kern, x, y, noise, x_new, context):
    from sklearn.gaussian_process import GaussianProcessRegressor

    model = GaussianProcessRegressor(context, alpha=noise, optimizer=None)
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


# --- 07.rbf_kernel and 07.matern32_kernel ---------------------------------------------------


def _kernel_cases():
    gen = torch.Generator().manual_seed(70)
    x1 = 5 * torch.rand(7, generator=gen, dtype=F64)
    x2 = 5 * torch.rand(4, generator=gen, dtype=F64)
    cases = []
    for label, args in (
        ("7 inputs against 4, variance 1, lengthscale 1", (x1, x2, 1.0, 1.0)),
        ("the same inputs, variance 2.5, lengthscale 0.4", (x1, x2, 2.5, 0.4)),
        ("7 inputs against themselves, lengthscale 3", (x1, x1, 0.7, 3.0)),
    ):
        cases.append(Case(label, args, "x in [0, 5]"))
    return cases


def _sklearn_matrix(kind):
    def matrix(x1, x2, variance, lengthscale):
        from sklearn.gaussian_process import kernels as sk

        shape = sk.RBF(lengthscale) if kind == "rbf" else sk.Matern(lengthscale, nu=1.5)
        k = sk.ConstantKernel(variance) * shape
        return torch.as_tensor(k(x1[:, None].numpy(), x2[:, None].numpy()), dtype=F64)

    return matrix


def _distance(x1, x2, lengthscale):
    return (x1[:, None] - x2[None, :]).abs() / lengthscale


register(
    Exercise(
        name="07.rbf_kernel",
        what="rbf_kernel(x1, x2, variance, lengthscale): the matrix of "
        "variance * exp(-r^2 / 2), r = |x1_i - x2_j| / lengthscale",
        oracle="scikit-learn: ConstantKernel(variance) * RBF(lengthscale)",
        reference=_sklearn_matrix("rbf"),
        fallback=lambda x1, x2, v, ell: v * torch.exp(-0.5 * _distance(x1, x2, ell) ** 2),
        cases=_kernel_cases,
        hint="x1[:, None] - x2[None, :] gives every pair's difference at once; divide by the "
        "lengthscale before squaring, and keep the 1/2",
        rtol=1e-12,
        atol=1e-14,
        wrong=(
            lambda x1, x2, v, ell: v * torch.exp(-(_distance(x1, x2, ell) ** 2)),  # the 1/2 dropped
            lambda x1, x2, v, ell: (
                v * torch.exp(-0.5 * (x1[:, None] - x2[None, :]) ** 2 / ell)
            ),  # lengthscale not squared
            lambda x1, x2, v, ell: (
                v**2 * torch.exp(-0.5 * _distance(x1, x2, ell) ** 2)
            ),  # v squared
        ),
    )
)


SQRT3 = math.sqrt(3.0)


def _matern32(x1, x2, v, ell, root=SQRT3, inside=True):
    r = _distance(x1, x2, ell)
    return v * (1 + root * r) * torch.exp(-(root if inside else 1.0) * r)


register(
    Exercise(
        name="07.matern32_kernel",
        what="matern32_kernel(x1, x2, variance, lengthscale): the matrix of "
        "variance * (1 + sqrt(3) r) exp(-sqrt(3) r), r = |x1_i - x2_j| / lengthscale",
        oracle="scikit-learn: ConstantKernel(variance) * Matern(lengthscale, nu=1.5)",
        reference=_sklearn_matrix("matern32"),
        fallback=_matern32,
        cases=_kernel_cases,
        hint="sqrt(3) appears twice: in the polynomial factor and in the exponent",
        rtol=1e-12,
        atol=1e-14,
        wrong=(
            lambda x1, x2, v, ell: _matern32(x1, x2, v, ell, inside=False),  # exp(-r)
            lambda x1, x2, v, ell: _matern32(x1, x2, v, ell, root=1.0),  # no sqrt(3) anywhere
        ),
    )
)
