"""Notebook 05's exercises: the reparameterised Gaussian sample, the analytic KL term, and
the Binomial likelihood of the 8x8 digits' pixel counts from the decoder's logits (against
``torch.distributions.Binomial``).

The guide's code is z = loc + scale * eps with eps ~ N(0, I): a sample that is a
differentiable function of the encoder's outputs. Its oracle is the quantile transform,
independent of that formula: ``Normal(loc, scale).icdf(Normal(0, 1).cdf(eps))`` is the same
point of the same distribution. The KL divergence of q(z | x) = N(loc, scale^2) from the
prior N(0, I), summed over the code's dimensions, has the closed form
1/2 sum(scale^2 + loc^2 - 1 - log scale^2); the oracle is ``torch.distributions.kl_divergence``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence

from coursekit.exercise import Case, Exercise, register

F64 = torch.float64


def _codes():
    gen = torch.Generator().manual_seed(5)
    loc = torch.randn(8, 3, generator=gen, dtype=F64)
    scale = torch.rand(8, 3, generator=gen, dtype=F64) + 0.05
    eps = torch.randn(8, 3, generator=gen, dtype=F64).clamp(-3, 3)
    return loc, scale, eps


# --- 05.reparameterise ------------------------------------------------------------------


def _reparam_cases():
    loc, scale, eps = _codes()
    return [
        Case("8 codes of 3 dimensions", (loc, scale, eps), "loc ~ N(0, 1), scale in (0.05, 1.05)"),
        Case(
            "a standard normal: loc 0, scale 1",
            (torch.zeros(4, dtype=F64), torch.ones(4, dtype=F64), eps[0, :].repeat(2)[:4]),
            "z must equal eps",
        ),
        Case("wide codes: scale 3", (loc, 3 * torch.ones_like(scale), eps), "scale = 3"),
    ]


def _reparam_reference(loc, scale, eps):
    standard = Normal(torch.zeros_like(eps), torch.ones_like(eps))
    return Normal(loc, scale).icdf(standard.cdf(eps))


register(
    Exercise(
        name="05.reparameterise",
        what="reparameterise(loc, scale, eps): the code z ~ N(loc, scale^2) made from the "
        "standard normal noise eps, differentiable in loc and scale",
        oracle="the quantile transform Normal(loc, scale).icdf(Normal(0, 1).cdf(eps))",
        reference=_reparam_reference,
        fallback=lambda loc, scale, eps: loc + scale * eps,
        cases=_reparam_cases,
        hint="shift and stretch the noise: z = loc + scale * eps (scale is a standard "
        "deviation, not a variance)",
        rtol=1e-8,
        atol=1e-9,
        wrong=(
            lambda loc, scale, eps: loc + scale**2 * eps,  # the variance used as the scale
            lambda loc, scale, eps: loc + eps,  # the scale left out
            lambda loc, scale, eps: scale * (loc + eps),  # the scale applied to the mean too
        ),
    )
)


# --- 05.gaussian_kl ---------------------------------------------------------------------


def _kl_cases():
    loc, scale, _ = _codes()
    return [
        Case("8 codes of 3 dimensions", (loc, scale), "one KL per code: shape (8,)"),
        Case(
            "the prior itself",
            (torch.zeros(2, 5, dtype=F64), torch.ones(2, 5, dtype=F64)),
            "KL = 0",
        ),
        Case("narrow codes, scale 0.01", (loc, torch.full_like(scale, 0.01)), "log scale matters"),
    ]


def _kl_reference(loc, scale):
    prior = Normal(torch.zeros_like(loc), torch.ones_like(scale))
    return kl_divergence(Normal(loc, scale), prior).sum(-1)


register(
    Exercise(
        name="05.gaussian_kl",
        what="gaussian_kl(loc, scale): KL(N(loc, scale^2) || N(0, I)) of each code, summed over "
        "its last dimension",
        oracle="torch.distributions.kl_divergence against Normal(0, 1), summed",
        reference=_kl_reference,
        fallback=lambda loc, scale: 0.5 * (scale**2 + loc**2 - 1 - torch.log(scale**2)).sum(-1),
        cases=_kl_cases,
        hint="per dimension 1/2 (scale^2 + loc^2 - 1 - log scale^2), then .sum(-1): one number "
        "per code",
        rtol=1e-9,
        atol=1e-10,
        wrong=(
            lambda loc, scale: (
                0.5 * (scale + loc**2 - 1 - torch.log(scale)).sum(-1)
            ),  # scale as variance
            lambda loc, scale: (scale**2 + loc**2 - 1 - torch.log(scale**2)).sum(
                -1
            ),  # the 1/2 dropped
            lambda loc, scale: (
                0.5 * (scale**2 + loc**2 - 1 - torch.log(scale**2)).sum()
            ),  # one sum of all
        ),
    )
)


# --- 05.binomial_log_lik -------------------------------------------------------------------


def _binomial_cases():
    gen = torch.Generator().manual_seed(55)
    logits = 2 * torch.randn(3, 64, generator=gen, dtype=F64)
    counts = torch.randint(0, 17, (3, 64), generator=gen).to(F64)
    extreme = torch.tensor([[40.0, -40.0, 800.0, -800.0]], dtype=F64)  # p = 1 - 4e-18, ..., 0
    return [
        Case("three 8x8 digits' counts, 16 trials", (counts, logits, 16), "counts 0..16"),
        Case("binary pixels, 1 trial", ((counts > 8).to(F64), logits, 1), "a Bernoulli"),
        Case(
            "confident logits",
            (torch.tensor([[16.0, 0.0, 16.0, 0.0]], dtype=F64), extreme, 16),
            "logits +-40 and +-800, each pixel the count its logit makes likely",
        ),
    ]


def _binomial_reference(counts, logits, trials):
    return torch.distributions.Binomial(total_count=trials, logits=logits).log_prob(counts).sum(-1)


def _binomial_by_hand(counts, logits, trials, coefficient=True, through_p=False, flip=False):
    n = torch.as_tensor(float(trials), dtype=counts.dtype)
    log_c = torch.lgamma(n + 1) - torch.lgamma(counts + 1) - torch.lgamma(n - counts + 1)
    if through_p:  # log of a probability that has already rounded to 0 or 1
        p = torch.sigmoid(logits)
        terms = counts * torch.log(p) + (n - counts) * torch.log(1 - p)
    else:  # log sigmoid(a) and log sigmoid(-a), exact for any logit
        sign = -1.0 if flip else 1.0
        terms = counts * F.logsigmoid(sign * logits) + (n - counts) * F.logsigmoid(-sign * logits)
    return (terms + (log_c if coefficient else 0.0)).sum(-1)


register(
    Exercise(
        name="05.binomial_log_lik",
        what="binomial_log_lik(counts, logits, trials): log p(x | z) of each image, the sum over "
        "its pixels of log Binomial(count; trials, sigmoid(logit))",
        oracle="torch.distributions.Binomial(total_count, logits=...).log_prob",
        reference=_binomial_reference,
        fallback=_binomial_by_hand,
        cases=_binomial_cases,
        hint="log C(n, k) = lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1); from the logit a, "
        "log p = logsigmoid(a) and log(1 - p) = logsigmoid(-a), which never round to log 0",
        rtol=1e-10,
        atol=1e-9,
        wrong=(
            lambda c, a, n: _binomial_by_hand(c, a, n, coefficient=False),  # no log C(n, k)
            lambda c, a, n: _binomial_by_hand(c, a, n, through_p=True),  # log(sigmoid): -inf, NaN
            lambda c, a, n: _binomial_by_hand(c, a, n, flip=True),  # successes get log(1 - p)
        ),
    )
)
