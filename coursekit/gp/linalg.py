"""Linear algebra for the GPs: a Cholesky factorisation that adds jitter when it must."""

from __future__ import annotations

import warnings

import torch


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
