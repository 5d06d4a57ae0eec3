"""coursekit.ppl: the closed-form posterior against brute force, Monte Carlo errors, traces."""

import math

import matplotlib
import numpy as np
import pytest
import torch

from coursekit import ppl

matplotlib.use("Agg")


def grid_posterior(x, mu_grid, sd_grid):
    """The flat-prior posterior of Normal(mu, sd) on a grid, normalised numerically."""
    mu, sd = np.meshgrid(mu_grid, sd_grid, indexing="ij")
    loglik = -len(x) * np.log(sd) - ((x[None, None, :] - mu[..., None]) ** 2).sum(-1) / (2 * sd**2)
    w = np.exp(loglik - loglik.max())
    return mu, sd, w / w.sum()


@pytest.mark.parametrize("n", [6, 12, 40])
def test_normal_posterior_matches_brute_force_integration(n):
    x = np.random.default_rng(n).normal(3.0, 1.5, n)
    post = ppl.normal_posterior(x)
    s = x.std()
    mu_grid = np.linspace(x.mean() - 12 * s, x.mean() + 12 * s, 1201)
    sd_grid = np.linspace(1e-3, 12 * s, 2400)
    mu, sd, w = grid_posterior(x, mu_grid, sd_grid)
    mu_mean, sd_mean = (w * mu).sum(), (w * sd).sum()
    mu_sd = math.sqrt((w * (mu - mu_mean) ** 2).sum())
    sd_sd = math.sqrt((w * (sd - sd_mean) ** 2).sum())
    # the tails of sd (a power law, sd**-(n-1)) are cut by the grid for small n
    rtol = 0.01 if n > 6 else 0.05
    assert post.mu.mean() == pytest.approx(mu_mean, rel=1e-6, abs=1e-6)
    assert post.mu.std() == pytest.approx(mu_sd, rel=rtol)
    assert post.sd_mean == pytest.approx(sd_mean, rel=rtol)
    assert post.sd_sd == pytest.approx(sd_sd, rel=5 * rtol)
    # predictive variance = E[sd^2] (1 + 1/n): the new point's noise plus the mean's uncertainty
    pred_var = (w * sd**2).sum() * (1 + 1 / n)
    assert post.predictive.var() == pytest.approx(pred_var, rel=5 * rtol)


def test_sd_density_integrates_to_one_and_peaks_near_the_sample_sd():
    x = np.random.default_rng(0).normal(0.0, 2.0, 50)
    post = ppl.normal_posterior(x)
    grid = np.linspace(0.5, 6.0, 20_001)
    density = post.sd_pdf(grid)
    assert np.trapezoid(density, grid) == pytest.approx(1.0, abs=1e-6)
    assert np.trapezoid(grid * density, grid) == pytest.approx(post.sd_mean, rel=1e-6)
    assert abs(grid[density.argmax()] - x.std()) < 0.1


def test_mass_outside_wide_bounds_is_negligible_and_narrow_bounds_are_not():
    post = ppl.normal_posterior(np.random.default_rng(1).normal(10, 2, 100))
    assert post.mass_outside((0.0, 20.0), sd_high=10.0) < 1e-12
    assert post.mass_outside((10.0, 20.0), sd_high=10.0) > 0.3
    assert post.mass_outside((0.0, 20.0), sd_high=1.5) > 0.3


@pytest.mark.parametrize(
    "x", [np.ones(10), np.arange(4.0), np.array([1.0, 2.0, np.nan, 3.0, 4.0, 5.0])]
)
def test_normal_posterior_rejects_data_it_cannot_use(x):
    with pytest.raises(ValueError, match="is not allowed"):
        ppl.normal_posterior(x)


def ar1(rho, n, chains, seed):
    rng = np.random.default_rng(seed)
    out = np.empty((chains, n))
    out[:, 0] = rng.normal(size=chains)
    noise = rng.normal(scale=math.sqrt(1 - rho**2), size=(chains, n))
    for t in range(1, n):
        out[:, t] = rho * out[:, t - 1] + noise[:, t]
    return out


def test_mcse_of_independent_draws_is_sd_over_root_n():
    draws = np.random.default_rng(0).normal(size=(4, 2_000))
    assert ppl.mcse_mean(draws) == pytest.approx(1 / math.sqrt(draws.size), rel=0.1)


def test_mcse_of_autocorrelated_draws_counts_fewer_samples():
    rho = 0.9
    draws = ar1(rho, 5_000, 4, seed=1)
    # the ESS of an AR(1) chain is N (1 - rho) / (1 + rho)
    expected = 1 / math.sqrt(draws.size * (1 - rho) / (1 + rho))
    assert ppl.mcse_mean(draws) == pytest.approx(expected, rel=0.2)


def test_mcse_is_arviz_summary_mcse_mean():
    import arviz as az

    draws = ar1(0.5, 1_000, 3, seed=2)
    summary = az.summary(draws, round_to="none")
    assert ppl.mcse_mean(draws) == pytest.approx(summary["mcse_mean"].iloc[0], rel=1e-9)


def test_agreement_of_two_samplers_of_one_distribution_is_within_a_few_se():
    a, b = ar1(0.7, 2_000, 4, seed=3), ar1(0.7, 2_000, 4, seed=4) + 0.0
    agree = ppl.agreement(a, b)
    assert agree.se == pytest.approx(math.hypot(ppl.mcse_mean(a), ppl.mcse_mean(b)))
    assert abs(agree.z) < 4
    shifted = ppl.agreement(a + 0.5, b)
    assert shifted.z > 10


def test_agreement_with_an_exact_value_and_one_dimensional_draws():
    draws = np.random.default_rng(5).normal(2.0, 1.0, 4_000)
    agree = ppl.agreement(draws, 2.0)
    assert agree.se == pytest.approx(ppl.mcse_mean(draws))
    assert abs(agree.z) < 4
    assert ppl.Agreement(0.0, 0.0).z == 0.0
    assert ppl.Agreement(-1.0, 0.0).z == -math.inf


def test_too_few_draws_give_nan_as_in_arviz_and_bad_shapes_an_error():
    import arviz as az

    short = np.random.default_rng(6).normal(size=(2, 3))
    assert math.isnan(float(az.ess(short, method="mean")))
    assert math.isnan(ppl.ess_mean(short)) and math.isnan(ppl.mcse_mean(short))
    one_draw = short[:, :1]  # a null run: one draw per chain
    assert math.isnan(ppl.agreement(one_draw, 0.0).z)
    assert math.isnan(ppl.agreement(one_draw, short).se)
    for bad in (np.zeros((2, 3, 4)), np.zeros((2, 0))):
        with pytest.raises(ValueError, match="not allowed"):
            ppl.mcse_mean(bad)


def normal_model(x):
    import pyro
    import pyro.distributions as dist

    f64 = torch.float64
    mu = pyro.sample(
        "mu", dist.Uniform(torch.tensor(0.0, dtype=f64), torch.tensor(20.0, dtype=f64))
    )
    sd = pyro.sample(
        "sd", dist.Uniform(torch.tensor(0.0, dtype=f64), torch.tensor(10.0, dtype=f64))
    )
    with pyro.plate("obs", len(x)):
        pyro.sample("x", dist.Normal(mu, sd), obs=x)


def test_site_table_lists_the_sample_sites_and_sums_to_the_log_joint():
    from pyro import poutine

    x = torch.linspace(8.0, 12.0, 7, dtype=torch.float64)
    table = ppl.site_table(poutine.trace(normal_model).get_trace(x))
    assert list(table.index) == ["mu", "sd", "x"]  # the plate's own site is left out
    assert list(table["observed"]) == [False, False, True]
    assert table.loc["x", "plates"] == "obs" and table.loc["x", "shape"] == (7,)
    assert list(table["distribution"]) == ["Uniform", "Uniform", "Normal"]

    point = {
        "mu": torch.tensor(9.0, dtype=torch.float64),
        "sd": torch.tensor(2.5, dtype=torch.float64),
    }
    trace = poutine.trace(poutine.condition(normal_model, data=point)).get_trace(x)
    table = ppl.site_table(trace)
    assert table.loc["mu", "value"] == 9.0
    assert table.loc["mu", "log p"] == pytest.approx(-math.log(20.0))
    assert table["log p"].sum() == pytest.approx(trace.log_prob_sum().item(), abs=1e-10)


def test_plot_model_graph_draws_a_node_per_site_and_the_plate():
    import matplotlib.pyplot as plt
    from matplotlib.text import Annotation

    x = torch.linspace(8.0, 12.0, 7, dtype=torch.float64)
    ax = ppl.plot_model_graph(normal_model, (x,), log_probs={"x": -12.5})
    texts = [t.get_text() for t in ax.texts]
    assert {"mu", "sd", "x"} <= set(texts)
    assert "obs × 7" in texts
    assert any("log p = -12.50" in t for t in texts)
    arrows = [t for t in ax.texts if isinstance(t, Annotation)]
    assert len(arrows) == 2  # mu -> x and sd -> x
    plt.close(ax.figure)
