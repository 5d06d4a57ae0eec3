"""coursekit.metrics: the Frechet distance, against scipy's matrix square root and closed forms."""

import numpy as np
import pytest
import scipy.linalg
import torch

from coursekit import metrics


def scipy_frechet(mu1, s1, mu2, s2):
    """The usual FID code's formula: scipy.linalg.sqrtm of the product, real part."""
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean.real))


def random_covariance(rng, d, n=None):
    a = rng.normal(size=(n or 2 * d, d))
    return a.T @ a / len(a)


@pytest.mark.parametrize("d", [1, 2, 5, 32])
def test_matches_scipy_sqrtm(d):
    rng = np.random.default_rng(d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    s1, s2 = random_covariance(rng, d), random_covariance(rng, d)
    ours = metrics.frechet_distance(mu1, s1, mu2, s2)
    assert ours == pytest.approx(scipy_frechet(mu1, s1, mu2, s2), rel=1e-8, abs=1e-9)


def test_identical_gaussians_are_zero_apart():
    rng = np.random.default_rng(0)
    mu, s = rng.normal(size=8), random_covariance(rng, 8)
    assert metrics.frechet_distance(mu, s, mu, s) == pytest.approx(0.0, abs=1e-9)


def test_one_dimension_is_squared_differences_of_means_and_sds():
    # N(m1, s1^2) vs N(m2, s2^2): (m1 - m2)^2 + (s1 - s2)^2
    d = metrics.frechet_distance([1.0], [[4.0]], [-2.0], [[9.0]])
    assert d == pytest.approx(3.0**2 + (2.0 - 3.0) ** 2)


def test_diagonal_covariances_have_a_closed_form():
    a, b = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    d = metrics.frechet_distance(np.zeros(3), np.diag(a), np.zeros(3), np.diag(b))
    assert d == pytest.approx(((np.sqrt(a) - np.sqrt(b)) ** 2).sum())


def test_a_shift_adds_its_squared_length():
    rng = np.random.default_rng(1)
    s = random_covariance(rng, 6)
    shift = rng.normal(size=6)
    assert metrics.frechet_distance(shift, s, np.zeros(6), s) == pytest.approx(shift @ shift)


def test_scaled_covariance():
    # S and c^2 S commute: the distance is (c - 1)^2 tr(S)
    rng = np.random.default_rng(2)
    s = random_covariance(rng, 5)
    d = metrics.frechet_distance(np.zeros(5), s, np.zeros(5), 9.0 * s)
    assert d == pytest.approx(4.0 * np.trace(s))


def test_symmetric_and_a_metric_on_examples():
    rng = np.random.default_rng(3)
    g = [(rng.normal(size=4), random_covariance(rng, 4)) for _ in range(3)]
    d = {
        (i, j): np.sqrt(metrics.frechet_distance(*g[i], *g[j])) for i in range(3) for j in range(3)
    }
    assert d[0, 1] == pytest.approx(d[1, 0])
    assert d[0, 2] <= d[0, 1] + d[1, 2] + 1e-12  # the Wasserstein distance obeys the triangle


def test_singular_covariances_are_handled():
    # rank-deficient covariances (fewer samples than dimensions) must not give nan or < 0
    rng = np.random.default_rng(4)
    s1, s2 = random_covariance(rng, 10, n=3), random_covariance(rng, 10, n=4)
    d = metrics.frechet_distance(np.zeros(10), s1, np.zeros(10), s2)
    assert np.isfinite(d) and d >= 0
    assert d == pytest.approx(scipy_frechet(np.zeros(10), s1, np.zeros(10), s2), abs=1e-6)


def test_gaussian_stats_and_features_between():
    rng = np.random.default_rng(5)
    f = rng.normal(size=(500, 3))
    mu, cov = metrics.gaussian_stats(f)
    np.testing.assert_allclose(mu, f.mean(0))
    np.testing.assert_allclose(cov, np.cov(f.T))
    assert metrics.frechet_distance_between(f, f) == pytest.approx(0.0, abs=1e-9)
    # torch tensors work too, and two samples of one distribution are close but not 0 apart
    a, b = torch.randn(4000, 3, generator=torch.Generator().manual_seed(0)).split(2000)
    assert 0 < metrics.frechet_distance_between(a, b) < 0.05
    assert metrics.frechet_distance_between(a, b + 1.0) == pytest.approx(3.0, abs=0.2)


def test_one_feature_still_gives_a_matrix():
    mu, cov = metrics.gaussian_stats(np.arange(10.0)[:, None])
    assert cov.shape == (1, 1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((np.zeros(2), np.eye(2), np.zeros(3), np.eye(3)), "means must both have shape"),
        ((np.zeros(2), np.eye(3), np.zeros(2), np.eye(2)), "means must both have shape"),
        ((np.zeros(2), np.array([[1.0, 0.5], [0.0, 1.0]]), np.zeros(2), np.eye(2)), "symmetric"),
        ((np.zeros(2), np.full((2, 2), np.nan), np.zeros(2), np.eye(2)), "finite"),
    ],
)
def test_bad_inputs_are_refused(args, message):
    with pytest.raises(ValueError, match=message):
        metrics.frechet_distance(*args)


def test_stats_need_two_dimensional_features():
    with pytest.raises(ValueError, match="2-D"):
        metrics.gaussian_stats(np.zeros(5))
    with pytest.raises(ValueError, match="N >= 2"):
        metrics.gaussian_stats(np.zeros((1, 3)))
