"""Numbers that say how close generated images are to real ones.

The Frechet distance between two Gaussians N(mu1, S1) and N(mu2, S2) is

    d^2 = |mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)),

the squared 2-Wasserstein distance between them (Dowson and Landau, 1982). Fitted to
features of real and generated images it is the "Frechet Inception distance" (Heusel et
al., 2017) when the features come from an Inception network; the course computes it in
the feature space of a small digit classifier trained in the notebook, so it needs no
downloaded weights. Its numbers are therefore comparable within the course, not with
published FIDs.

    mu, cov = gaussian_stats(features)                 # features: (N, D)
    frechet_distance(mu1, cov1, mu2, cov2)
    frechet_distance_between(features_a, features_b)   # both steps in one call
"""

from __future__ import annotations

import numpy as np


def _as_array(x) -> np.ndarray:
    """A float64 numpy array from numpy data or a (possibly CUDA, grad-carrying) tensor."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def gaussian_stats(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and covariance (D, D) of features (N, D), with the unbiased 1/(N-1)."""
    f = _as_array(features)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"features must be a 2-D array (N, D) with N >= 2, got shape {f.shape}")
    return f.mean(axis=0), np.cov(f, rowvar=False).reshape(f.shape[1], f.shape[1])


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric positive semi-definite matrix."""
    values, vectors = np.linalg.eigh(s)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def trace_sqrt_product(sigma1, sigma2) -> float:
    """Tr((S1 S2)^(1/2)) for symmetric positive semi-definite S1, S2.

    S1 S2 is not symmetric, but it is similar to A = S1^(1/2) S2 S1^(1/2), which is
    symmetric and positive semi-definite, so both have the same non-negative eigenvalues
    and the trace is the sum of their square roots. Working with A avoids the complex
    numbers and the round-off that a general matrix square root (scipy.linalg.sqrtm)
    brings when the covariances are nearly singular.
    """
    s1, s2 = _as_array(sigma1), _as_array(sigma2)
    root1 = _psd_sqrt((s1 + s1.T) / 2)
    a = root1 @ ((s2 + s2.T) / 2) @ root1
    values = np.linalg.eigvalsh((a + a.T) / 2)
    return float(np.sqrt(np.clip(values, 0.0, None)).sum())


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Squared Frechet (2-Wasserstein) distance between N(mu1, sigma1) and N(mu2, sigma2)."""
    mu1, mu2 = _as_array(mu1).ravel(), _as_array(mu2).ravel()
    sigma1, sigma2 = np.atleast_2d(_as_array(sigma1)), np.atleast_2d(_as_array(sigma2))
    d = len(mu1)
    shapes = (mu1.shape, mu2.shape, sigma1.shape, sigma2.shape)
    if mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(
            f"means must both have shape (D,) and covariances (D, D); got shapes {shapes}"
        )
    for name, s in (("sigma1", sigma1), ("sigma2", sigma2)):
        if not np.all(np.isfinite(s)) or np.abs(s - s.T).max() > 1e-6 * max(1.0, np.abs(s).max()):
            raise ValueError(f"{name} must be a finite symmetric matrix")
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2)
    value -= 2 * trace_sqrt_product(sigma1, sigma2)
    return float(max(value, 0.0))  # round-off can leave -1e-12 where the answer is 0


def frechet_distance_between(features_a, features_b) -> float:
    """Frechet distance between Gaussians fitted to two sets of features (N, D) and (M, D)."""
    return frechet_distance(*gaussian_stats(features_a), *gaussian_stats(features_b))


__all__ = ["frechet_distance", "frechet_distance_between", "gaussian_stats", "trace_sqrt_product"]
