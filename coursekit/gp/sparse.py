"""Sparse GP regression through inducing points: VFE (Titsias), DTC and FITC."""

from __future__ import annotations

import torch
from torch import nn

from coursekit import validate
from coursekit.gp.exact import LOG_2PI, _maximise, _targets
from coursekit.gp.kernels import Kernel, _features, _positive_parameter
from coursekit.gp.linalg import _solve_lower, cholesky

APPROXIMATIONS = ("vfe", "dtc", "fitc")


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
