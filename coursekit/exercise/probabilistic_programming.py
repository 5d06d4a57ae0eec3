"""Notebook 08's exercises: a model's log joint by hand, the log Jacobian of a bounded
parameter's transform, and a prediction of the posterior sd of mu before NUTS draws it.

The model is 08's: mu ~ Uniform(mu_low, mu_high), sd ~ Uniform(0, sd_high), x_i ~ N(mu, sd).
The log joint's oracle is scipy.stats (``uniform.logpdf`` and ``norm.logpdf``). A sampler
moves a bounded parameter v in (low, high) on the real line, y = log(v - low) - log(high - v);
the log Jacobian log |dv/dy| is what the density gains there, and its oracle is
``torch.distributions``: the sigmoid then the affine map onto (low, high), whose
``log_abs_det_jacobian`` PyMC and Pyro both add.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.distributions import transforms as T

from coursekit.exercise import Case, Exercise, Prediction, register


def _data():
    rng = np.random.default_rng(8)
    return rng.normal(10.0, 2.0, size=50)


# --- 08.log_joint ----------------------------------------------------------------------


def _log_joint_cases():
    x = _data()
    return [
        Case(
            "50 draws, at mu 10, sd 2", (10.0, 2.0, x, 0.0, 20.0, 10.0), "bounds (0, 20), (0, 10)"
        ),
        Case("a poor point: mu 7, sd 0.5", (7.0, 0.5, x, 0.0, 20.0, 10.0), "far from the data"),
        Case(
            "narrower priors",
            (9.5, 2.2, x[:10], 5.0, 15.0, 4.0),
            "10 draws, bounds (5, 15), (0, 4)",
        ),
    ]


def _log_joint_reference(mu, sd, x, mu_low, mu_high, sd_high):
    from scipy import stats

    prior = stats.uniform.logpdf(mu, mu_low, mu_high - mu_low) + stats.uniform.logpdf(
        sd, 0, sd_high
    )
    return float(prior + stats.norm.logpdf(x, mu, sd).sum())


def _log_joint_wrong(no_prior=False, variance=False, no_constant=False):
    def log_joint(mu, sd, x, mu_low, mu_high, sd_high):
        scale = sd**2 if variance else sd
        lik = -0.5 * ((x - mu) / scale) ** 2 - np.log(scale)
        if not no_constant:
            lik = lik - 0.5 * np.log(2 * np.pi)
        prior = 0.0 if no_prior else -np.log(mu_high - mu_low) - np.log(sd_high)
        return float(prior + lik.sum())

    return log_joint


register(
    Exercise(
        name="08.log_joint",
        what="log_joint_by_hand(mu, sd, x, mu_low, mu_high, sd_high): log p(mu) + log p(sd) + "
        "sum_i log N(x_i | mu, sd) for 08's model, inside the bounds",
        oracle="scipy.stats (uniform.logpdf and norm.logpdf)",
        reference=_log_joint_reference,
        cases=_log_joint_cases,
        hint="a uniform prior on (a, b) has log density -log(b - a); a normal's is "
        "-((x - mu)/sd)^2 / 2 - log sd - log(2 pi) / 2, summed over the data",
        rtol=1e-12,
        atol=1e-9,
        wrong=(
            _log_joint_wrong(no_prior=True),  # the priors left out: a log likelihood
            _log_joint_wrong(variance=True),  # the variance where the sd belongs
            _log_joint_wrong(no_constant=True),  # the normalising constant dropped
        ),
    )
)


# --- 08.log_jacobian -------------------------------------------------------------------


def _jacobian_cases():
    return [
        Case("mu = 10 in (0, 20)", (10.0, 0.0, 20.0), "the middle of the interval"),
        Case("sd = 0.3 in (0, 10)", (0.3, 0.0, 10.0), "near the lower bound"),
        Case("v = 4.9 in (-5, 5)", (4.9, -5.0, 5.0), "near the upper bound"),
    ]


def _jacobian_reference(v, low, high):
    to_interval = T.ComposeTransform([T.SigmoidTransform(), T.AffineTransform(low, high - low)])
    v = torch.tensor(v, dtype=torch.float64)
    return float(to_interval.log_abs_det_jacobian(to_interval.inv(v), v))


register(
    Exercise(
        name="08.log_jacobian",
        what="log_jacobian(v, low, high): log |dv/dy| of v = low + (high - low) sigmoid(y), "
        "the unconstrained y = log(v - low) - log(high - v), as a function of v",
        oracle="torch.distributions: SigmoidTransform then AffineTransform(low, high - low)",
        reference=_jacobian_reference,
        fallback=lambda v, low, high: float(np.log((v - low) * (high - v) / (high - low))),
        cases=_jacobian_cases,
        hint="dv/dy = (high - low) s (1 - s) with s = sigmoid(y) = (v - low) / (high - low); "
        "write it with v and take the log",
        rtol=1e-10,
        atol=1e-10,
        wrong=(
            lambda v, low, high: float(np.log((v - low) * (high - v))),  # / (high - low) left out
            lambda v, low, high: float(-np.log((v - low) * (high - v) / (high - low))),  # dy/dv
        ),
    )
)


# --- 08.mu_sd: a prediction -----------------------------------------------------------------


def _mu_sd_examples(true_sd=2.0, n_obs=100):
    # at 08's defaults the data's sd is close to 2, and the exact posterior sd of mu is
    # sqrt(S / (n (n - 4))), within 2% of s / sqrt(n) for n = 100
    x = np.random.default_rng(0).normal(10.0, true_sd, size=n_obs)
    s = x.std(ddof=1)
    return s / np.sqrt(n_obs), (
        s,  # the data's spread, not the mean's uncertainty
        s / n_obs,  # 1/n, not 1/sqrt(n)
        s**2 / n_obs,  # a variance, not a standard deviation
    )


register(
    Prediction(
        name="08.mu_sd",
        what="Predict the posterior standard deviation of mu, from the data's summary printed "
        "above, before NUTS draws it; write it as a number.",
        measured_by="the standard deviation of NUTS's draws of mu",
        hint="with flat priors the posterior of mu is centred on the data's mean, and it is as "
        "uncertain as that mean: the data's sd over the square root of the number of points",
        # at n = 100: s / sqrt(n) is 1.6% below the exact sd, and the smoke run's 300 draws
        # estimate an sd to about 5% (measured: 1.5% apart in smoke, 2.7% in lab); the wrong
        # answers are 10 times off or more
        rtol=0.15,
        examples=_mu_sd_examples,
    )
)
