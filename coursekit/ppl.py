"""Helpers for the probabilistic-programming notebook: an exact answer, Monte Carlo error, traces.

    post = ppl.normal_posterior(x)        # Normal data, flat priors on mean and sd: closed form
    post.mu.mean(), post.sd_mean, post.predictive.interval(0.94)
    ppl.mcse_mean(draws)                  # Monte Carlo standard error of a mean, from the ESS
    ppl.agreement(draws_a, draws_b)       # the difference of two means in standard errors
    ppl.site_table(trace)                 # a Pyro trace's sample sites, one row each
    ppl.plot_model_graph(model, (x,))     # the same sites drawn as a graph, with plates

The closed form: for ``x_1..x_n ~ Normal(mu, sd)`` with a flat prior on ``mu`` and on ``sd``
(``p(mu, sd)`` constant, the limit of wide Uniform priors), write ``xbar`` for the sample mean
and ``ss = sum((x - xbar)**2)``. Integrating ``mu`` out leaves the precision
``tau = 1 / sd**2 ~ Gamma(shape=(n - 2) / 2, rate=ss / 2)``; then

    mu | x      ~ Student-t(df = n - 2, loc = xbar, scale = sqrt(ss / (n (n - 2))))
    x_new | x   ~ Student-t(df = n - 2, loc = xbar, scale = sqrt(ss / (n - 2) * (1 + 1/n)))

and ``E[sd] = sqrt(ss / 2) Gamma((n - 3) / 2) / Gamma((n - 2) / 2)``, ``E[sd**2] = ss / (n - 4)``.
(With the ``1 / sd`` prior, Jeffreys', every ``n - 2`` above becomes ``n - 1``.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special, stats


def _as_numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


@dataclass(frozen=True)
class NormalPosterior:
    """The posterior of ``Normal(mu, sd)`` data under flat priors, in closed form.

    ``mu`` and ``predictive`` are frozen ``scipy.stats`` distributions; ``precision`` is the
    Gamma posterior of ``1 / sd**2``.
    """

    n: int
    xbar: float
    ss: float

    @property
    def shape(self) -> float:
        return (self.n - 2) / 2

    @property
    def rate(self) -> float:
        return self.ss / 2

    @property
    def mu(self):
        return stats.t(
            df=self.n - 2, loc=self.xbar, scale=math.sqrt(self.ss / (self.n * (self.n - 2)))
        )

    @property
    def precision(self):
        return stats.gamma(a=self.shape, scale=1 / self.rate)

    @property
    def predictive(self):
        scale = math.sqrt(self.ss / (self.n - 2) * (1 + 1 / self.n))
        return stats.t(df=self.n - 2, loc=self.xbar, scale=scale)

    @property
    def sd_mean(self) -> float:
        a = self.shape
        return math.sqrt(self.rate) * math.exp(special.gammaln(a - 0.5) - special.gammaln(a))

    @property
    def sd_sd(self) -> float:
        second_moment = self.rate / (self.shape - 1)
        return math.sqrt(max(second_moment - self.sd_mean**2, 0.0))

    def sd_pdf(self, sd):
        """The posterior density of ``sd`` (change of variables from the precision)."""
        sd = np.asarray(sd, dtype=np.float64)
        return self.precision.pdf(1 / sd**2) * 2 / sd**3

    def mass_outside(self, mu_bounds: tuple[float, float], sd_high: float) -> float:
        """Posterior mass beyond Uniform prior bounds: what the flat-prior formula ignores.

        A union bound: the mass with ``mu`` outside ``mu_bounds`` plus that with ``sd > sd_high``.
        """
        low, high = mu_bounds
        mu_out = self.mu.cdf(low) + self.mu.sf(high)
        sd_out = self.precision.cdf(1 / sd_high**2)
        return float(mu_out + sd_out)


def normal_posterior(x) -> NormalPosterior:
    """The flat-prior posterior of the mean and sd of Normal data ``x`` (at least 5 points)."""
    x = _as_numpy(x).ravel()
    if x.size < 5 or not np.all(np.isfinite(x)):
        raise ValueError(
            f"x (n={x.size}) is not allowed: it must hold at least 5 finite numbers, so that "
            "the posterior's mean and sd are finite"
        )
    xbar = float(x.mean())
    ss = float(np.sum((x - xbar) ** 2))
    if ss <= 0:
        raise ValueError("x is not allowed: its values are all equal, so the sd has no posterior")
    return NormalPosterior(n=int(x.size), xbar=xbar, ss=ss)


MIN_DRAWS = 4  # per chain: with fewer, ArviZ gives no ESS (nan), and neither do we


def _chains(draws) -> np.ndarray:
    """Draws as (chains, draws_per_chain); a 1-D array is one chain."""
    draws = _as_numpy(draws)
    if draws.ndim == 1:
        draws = draws[None, :]
    if draws.ndim != 2 or draws.size == 0:
        raise ValueError(
            f"draws of shape {draws.shape} are not allowed: give (chains, draws) or (draws,), "
            "with at least one draw"
        )
    return draws


def ess_mean(draws) -> float:
    """The effective sample size for estimating a mean (ArviZ's ``method="mean"``).

    ``nan`` with fewer than 4 draws per chain, where it cannot be estimated (as in ArviZ).
    """
    import arviz as az

    chains = _chains(draws)
    if chains.shape[1] < MIN_DRAWS:
        return math.nan
    return float(az.ess(chains, method="mean"))


def mcse_mean(draws) -> float:
    """Monte Carlo standard error of the mean of MCMC draws: ``sd / sqrt(ESS)``.

    The same number as ``mcse_mean`` in ``arviz.summary``. For independent draws it is the
    familiar ``sd / sqrt(N)``; autocorrelated draws count as fewer. ``nan`` with fewer than 4
    draws per chain: a run that short says nothing about its own error.
    """
    chains = _chains(draws)
    ess = ess_mean(chains)
    if not math.isfinite(ess):
        return math.nan
    return float(chains.std(ddof=1) / math.sqrt(ess))


@dataclass(frozen=True)
class Agreement:
    """Two estimates of one mean: their difference and its standard error."""

    difference: float
    se: float

    @property
    def z(self) -> float:
        if math.isnan(self.se):  # an error that could not be estimated: no verdict either
            return math.nan
        if self.se > 0:
            return self.difference / self.se
        return 0.0 if self.difference == 0 else math.copysign(math.inf, self.difference)


def agreement(draws_a, draws_b) -> Agreement:
    """How far apart the means of two sets of MCMC draws are, in Monte Carlo standard errors.

    ``draws_b`` may be a plain number (an exact value, no Monte Carlo error). Two correct
    samplers of one posterior give ``|z|`` below 2 about 95% of the time.
    """
    a_mean, a_se = float(_chains(draws_a).mean()), mcse_mean(draws_a)
    if np.ndim(draws_b) == 0:
        b_mean, b_se = float(draws_b), 0.0
    else:
        b_mean, b_se = float(_chains(draws_b).mean()), mcse_mean(draws_b)
    return Agreement(difference=a_mean - b_mean, se=math.hypot(a_se, b_se))


def sample_sites(trace) -> list[str]:
    """The names of a Pyro trace's sample sites, in the order the program ran them.

    A ``pyro.plate`` records a site of its own (its subsample of indices); it is left out.
    """
    from pyro.poutine.util import site_is_subsample

    return [
        name
        for name, site in trace.nodes.items()
        if site["type"] == "sample" and not site_is_subsample(site)
    ]


def site_table(trace):
    """A Pyro trace's sample sites as a table: distribution, value, log-probability.

    ``log p`` is the site's log-density summed over its elements, so the column sums to
    ``trace.log_prob_sum()``.
    """
    import pandas as pd

    trace.compute_log_prob()
    rows = []
    for name in sample_sites(trace):
        site = trace.nodes[name]
        value = site["value"].detach()
        fn = site["fn"]
        while hasattr(fn, "base_dist"):  # Independent, masked or expanded wrappers
            fn = fn.base_dist
        plates = [f.name for f in site["cond_indep_stack"] if f.vectorized]
        rows.append(
            {
                "site": name,
                "distribution": type(fn).__name__,
                "observed": bool(site["is_observed"]),
                "plates": ", ".join(plates),
                "shape": tuple(value.shape),
                "value": value.item() if value.numel() == 1 else f"{value.numel()} values",
                "log p": site["log_prob_sum"].item(),
            }
        )
    return pd.DataFrame(rows).set_index("site")


def _depths(parents: dict[str, set[str]]) -> dict[str, int]:
    depth: dict[str, int] = {}

    def visit(name: str) -> int:
        if name not in depth:
            depth[name] = 1 + max((visit(p) for p in parents[name]), default=-1)
        return depth[name]

    for name in parents:
        visit(name)
    return depth


def plot_model_graph(model, model_args=(), model_kwargs=None, ax=None, log_probs=None):
    """Draw a Pyro model's sample sites as a graph: who depends on whom, and the plates.

    Latent sites are white, observed ones grey; an arrow goes from each site to the sites
    whose distribution it parametrises (found by Pyro's ``get_dependencies``); a dashed box
    marks a plate of independent draws. ``log_probs`` (site -> number) adds a line per node.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle, FancyBboxPatch
    from pyro import poutine
    from pyro.infer.inspect import get_dependencies

    model_kwargs = model_kwargs or {}
    deps = get_dependencies(model, model_args, model_kwargs)["prior_dependencies"]
    parents = {site: {p for p in ps if p != site} for site, ps in deps.items()}
    trace = poutine.trace(model).get_trace(*model_args, **model_kwargs)
    depth = _depths(parents)
    rows: dict[int, list[str]] = {}
    for site in sample_sites(trace):
        rows.setdefault(depth[site], []).append(site)
    pos = {}
    for d, names in rows.items():
        for i, name in enumerate(names):
            pos[name] = (1.8 * (i - (len(names) - 1) / 2), -1.2 * d)

    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    xlim = (min(xs) - 0.7, max(xs) + 1.5)
    ylim = (min(ys) - 0.6, max(ys) + 0.5)
    if ax is None:
        scale = 1.3  # inches per unit of the layout
        _, ax = plt.subplots(figsize=(scale * (xlim[1] - xlim[0]), scale * (ylim[1] - ylim[0])))
    radius = 0.28
    for site, ps in parents.items():
        for p in ps:
            ax.annotate(
                "",
                xy=pos[site],
                xytext=pos[p],
                arrowprops=dict(arrowstyle="-|>", color="0.3", shrinkA=30, shrinkB=30, lw=1.2),
            )
    for name, (px, py) in pos.items():
        site = trace.nodes[name]
        ax.add_patch(
            Circle(
                (px, py),
                radius,
                facecolor="0.8" if site["is_observed"] else "white",
                edgecolor="k",
                zorder=2,
            )
        )
        fn = site["fn"]
        while hasattr(fn, "base_dist"):
            fn = fn.base_dist
        ax.text(px, py, name, ha="center", va="center", fontsize=12, zorder=3)
        label = type(fn).__name__
        if log_probs is not None and name in log_probs:
            label += f"\nlog p = {log_probs[name]:.2f}"
        ax.text(px + radius + 0.06, py, label, ha="left", va="center", fontsize=9)
        for frame in site["cond_indep_stack"]:
            if frame.vectorized:
                ax.add_patch(
                    FancyBboxPatch(
                        (px - 0.5, py - 0.42),
                        1.5,
                        0.84,
                        boxstyle="round,pad=0.02",
                        fill=False,
                        ls="--",
                        edgecolor="0.4",
                    )
                )
                ax.text(
                    px + 0.97,
                    py - 0.38,
                    f"{frame.name} × {frame.size}",
                    ha="right",
                    va="bottom",
                    fontsize=9,
                    color="0.3",
                )
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


__all__ = [
    "Agreement",
    "NormalPosterior",
    "agreement",
    "ess_mean",
    "mcse_mean",
    "normal_posterior",
    "plot_model_graph",
    "sample_sites",
    "site_table",
]
