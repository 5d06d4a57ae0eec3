"""Notebook 06's exercises: the discriminator's loss and the generator's two losses, on logits;
and the Jensen-Shannon divergence the game minimises (against scipy's).

The oracle is ``torch.nn.functional.binary_cross_entropy_with_logits``: the discriminator
classifies real images as 1 and generated ones as 0; the saturating generator loss is
log(1 - D(G(z))) (minus the cross-entropy of "fake"), the non-saturating one
-log D(G(z)) (the cross-entropy of "real"). The cases include logits of +-60, where
``torch.log(torch.sigmoid(x))`` gives -inf: the losses must be computed from the logits.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from coursekit.exercise import Case, Exercise, register

F64 = torch.float64


def _logits():
    gen = torch.Generator().manual_seed(6)
    real, fake = 2 * torch.randn(64, generator=gen), 2 * torch.randn(64, generator=gen) - 1
    extreme = torch.tensor([-60.0, -20.0, 0.0, 20.0, 60.0])
    return real, fake, extreme


def _bce(logits, target):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


# --- 06.d_loss ----------------------------------------------------------------------------


def _d_cases():
    real, fake, extreme = _logits()
    return [
        Case("64 real and 64 generated logits", (real, fake), "a discriminator half trained"),
        Case("confident, extreme logits", (extreme, -extreme), "logits -60 to 60"),
        Case("D fooled: real and fake swapped", (fake, real), "a bad discriminator"),
    ]


def _d_reference(logit_real, logit_fake):
    return _bce(logit_real, 1.0) + _bce(logit_fake, 0.0)


register(
    Exercise(
        name="06.d_loss",
        what="d_loss_fn(logit_real, logit_fake): the discriminator's binary cross-entropy, "
        "real as 1 and generated as 0, each averaged over its minibatch",
        oracle="F.binary_cross_entropy_with_logits (real -> 1, fake -> 0)",
        reference=_d_reference,
        cases=_d_cases,
        hint="-(mean log D(x) + mean log(1 - D(G(z)))) with D = sigmoid(logit); write "
        "log D as F.logsigmoid(logit) and log(1 - D) as F.logsigmoid(-logit)",
        rtol=1e-5,
        atol=1e-6,
        wrong=(
            lambda r, f: (
                -(F.logsigmoid(f).mean() + F.logsigmoid(-r).mean())
            ),  # real and fake swapped
            lambda r, f: (
                -(torch.log(torch.sigmoid(r)).mean() + torch.log(1 - torch.sigmoid(f)).mean())
            ),
            lambda r, f: F.logsigmoid(r).mean() + F.logsigmoid(-f).mean(),  # the sign: V, not -V
        ),
    )
)


# --- 06.g_loss ----------------------------------------------------------------------------


def _g_cases():
    _, fake, extreme = _logits()
    return [
        Case("64 generated logits, saturating", (fake, "saturating"), "log(1 - D(G(z)))"),
        Case("the same, non-saturating", (fake, "non-saturating"), "-log D(G(z))"),
        Case("extreme logits, saturating", (extreme, "saturating"), "logits -60 to 60"),
        Case("extreme logits, non-saturating", (extreme, "non-saturating"), "logits -60 to 60"),
    ]


def _g_reference(logit_fake, kind):
    if kind == "saturating":
        return -_bce(logit_fake, 0.0)  # mean log(1 - D)
    return _bce(logit_fake, 1.0)  # mean -log D


register(
    Exercise(
        name="06.g_loss",
        what='g_loss_fn(logit_fake, kind): kind "saturating" minimises mean log(1 - D(G(z))), '
        '"non-saturating" minimises mean -log D(G(z))',
        oracle="F.binary_cross_entropy_with_logits (minus the fake target, or the real one)",
        reference=_g_reference,
        cases=_g_cases,
        hint="saturating: F.logsigmoid(-logit).mean(); non-saturating: -F.logsigmoid(logit).mean()",
        rtol=1e-5,
        atol=1e-6,
        wrong=(
            lambda f, kind: -F.logsigmoid(f).mean(),  # the kind ignored: always non-saturating
            lambda f, kind: (
                -F.logsigmoid(-f).mean() if kind == "saturating" else -F.logsigmoid(f).mean()
            ),  # the saturating loss with its sign flipped (it maximises log(1 - D))
            lambda f, kind: (
                torch.log(1 - torch.sigmoid(f)).mean()
                if kind == "saturating"
                else -torch.log(torch.sigmoid(f)).mean()
            ),  # from probabilities: inf at extreme logits
        ),
    )
)


# --- 06.jsd ---------------------------------------------------------------------------------


def _jsd_cases():
    gen = torch.Generator().manual_seed(66)
    p = torch.softmax(torch.randn(4, 10, generator=gen, dtype=F64), -1)
    q = torch.softmax(torch.randn(4, 10, generator=gen, dtype=F64), -1)
    disjoint = (
        torch.tensor([[0.5, 0.5, 0.0, 0.0]], dtype=F64),
        torch.tensor([[0.0, 0.0, 0.25, 0.75]], dtype=F64),
    )
    return [
        Case("four pairs of distributions over 10 outcomes", (p, q), "one JSD per row"),
        Case("a distribution and itself", (p[:1], p[:1]), "0"),
        Case("disjoint supports", disjoint, "log 2, its largest value; zeros inside"),
    ]


def _jsd_reference(p, q):
    from scipy.spatial.distance import jensenshannon

    return torch.as_tensor(jensenshannon(p.numpy(), q.numpy(), axis=-1) ** 2, dtype=F64)


def _kl(p, q):
    return torch.special.xlogy(p, p).sum(-1) - torch.special.xlogy(p, q).sum(-1)


def _jsd_by_hand(p, q, half=0.5, log_base=None):
    m = 0.5 * (p + q)
    value = half * (_kl(p, m) + _kl(q, m))
    return value / math.log(log_base) if log_base else value


def _jsd_naive(p, q):  # p log(p / m): 0 log 0 is NaN, not 0
    m = 0.5 * (p + q)
    return 0.5 * ((p * torch.log(p / m)).sum(-1) + (q * torch.log(q / m)).sum(-1))


register(
    Exercise(
        name="06.jsd",
        what="jsd(p, q): the Jensen-Shannon divergence in nats of each row's pair of discrete "
        "distributions, (KL(p || m) + KL(q || m)) / 2 with m = (p + q) / 2",
        oracle="scipy.spatial.distance.jensenshannon (squared: scipy returns its square root)",
        reference=_jsd_reference,
        fallback=_jsd_by_hand,
        cases=_jsd_cases,
        hint="each KL is against the mixture m, never p against q; 0 log 0 counts as 0 "
        "(torch.special.xlogy(p, p) - torch.special.xlogy(p, m) does that); natural logs",
        rtol=1e-10,
        atol=1e-12,
        wrong=(
            lambda p, q: _kl(p, q),  # KL(p || q): neither symmetric nor finite on disjoint supports
            lambda p, q: _jsd_by_hand(p, q, half=1.0),  # the 1/2 left out
            lambda p, q: _jsd_by_hand(p, q, log_base=2),  # in bits
            _jsd_naive,  # NaN where a probability is 0
        ),
    )
)
