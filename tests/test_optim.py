"""Oracle tests for coursekit.optim.

Where torch.optim has the same algorithm, ours and torch's run side by side in float64 from
the same start and must agree after every step. The others are checked against their papers'
update equations written out again here in plain tensor maths, or against hand computations.
"""

from __future__ import annotations

import copy
import io
import math
import re

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from coursekit import optim

F64 = torch.float64


# --------------------------------------------------------------------------------------------
# A small regression problem: a 2-layer MLP, random data, float64.


def make_problem(seed: int = 0) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 5, generator=gen, dtype=F64)
    y = torch.randn(64, 2, generator=gen, dtype=F64)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 2)).to(F64)
    return model, x, y


def two_groups(model: nn.Module, first: dict, second: dict) -> list[dict]:
    """Layer 1 and layer 2 as two parameter groups with their own hyperparameters."""
    return [
        {"params": list(model[0].parameters()), **first},
        {"params": list(model[2].parameters()), **second},
    ]


def train_step(model: nn.Module, opt: torch.optim.Optimizer, x, y) -> torch.Tensor:
    opt.zero_grad()
    loss = F.mse_loss(model(x), y)
    loss.backward()
    opt.step()
    return loss.detach()


def assert_same_params(ours: nn.Module, ref: nn.Module, atol: float = 1e-10, rtol: float = 0.0):
    for (name, a), b in zip(ours.named_parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=rtol, atol=atol, msg=lambda m, n=name: f"{n}: {m}")


# --------------------------------------------------------------------------------------------
# Against torch.optim: two groups with different hyperparameters, compared after every step.

ORACLE_CASES = {
    "sgd": (optim.SGD, torch.optim.SGD, dict(lr=0.05), dict(lr=0.1)),
    "sgd_momentum": (
        optim.SGD,
        torch.optim.SGD,
        dict(lr=0.05, momentum=0.9),
        dict(lr=0.02, momentum=0.5),
    ),
    "sgd_nesterov": (
        optim.SGD,
        torch.optim.SGD,
        dict(lr=0.05, momentum=0.9, nesterov=True),
        dict(lr=0.02, momentum=0.7, nesterov=True, weight_decay=1e-2),
    ),
    "sgd_weight_decay": (
        optim.SGD,
        torch.optim.SGD,
        dict(lr=0.05, weight_decay=1e-2),
        dict(lr=0.1, weight_decay=0.1, momentum=0.9),
    ),
    "sgd_dampening": (
        optim.SGD,
        torch.optim.SGD,
        dict(lr=0.05, momentum=0.9, dampening=0.5),
        dict(lr=0.1, momentum=0.8, dampening=0.1, weight_decay=1e-3),
    ),
    "adagrad": (
        optim.AdaGrad,
        torch.optim.Adagrad,
        dict(lr=0.1),
        dict(lr=0.05, lr_decay=1e-2, weight_decay=1e-2, eps=1e-8),
        # torch.optim.Adagrad fills its accumulators in __init__ from the constructor's value
        # and ignores a per-group one, so this is given to the constructor.
        dict(initial_accumulator_value=0.1),
    ),
    "rmsprop": (
        optim.RMSProp,
        torch.optim.RMSprop,
        dict(lr=1e-2),
        dict(lr=5e-3, alpha=0.9, weight_decay=1e-2),
    ),
    "rmsprop_centered_momentum": (
        optim.RMSProp,
        torch.optim.RMSprop,
        dict(lr=1e-2, centered=True, momentum=0.9),
        dict(lr=5e-3, alpha=0.95, centered=True, momentum=0.5, eps=1e-6, weight_decay=1e-3),
    ),
    "adam": (
        optim.Adam,
        torch.optim.Adam,
        dict(lr=1e-2),
        dict(lr=3e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=1e-2),
    ),
    "adam_amsgrad": (
        optim.Adam,
        torch.optim.Adam,
        dict(lr=1e-2, amsgrad=True),
        dict(lr=3e-3, betas=(0.5, 0.9), amsgrad=True, weight_decay=1e-3),
    ),
    "adamw": (
        optim.AdamW,
        torch.optim.AdamW,
        dict(lr=1e-2, weight_decay=0.1),
        dict(lr=3e-3, betas=(0.8, 0.99), weight_decay=1e-2),
    ),
    "adamw_amsgrad": (
        optim.AdamW,
        torch.optim.AdamW,
        dict(lr=1e-2, amsgrad=True),
        dict(lr=3e-3, weight_decay=0.3, amsgrad=True),
    ),
}


@pytest.mark.parametrize("case", list(ORACLE_CASES))
def test_matches_torch_optim_every_step(case):
    ours_cls, torch_cls, first, second, *common = ORACLE_CASES[case]
    kwargs = common[0] if common else {}
    model, x, y = make_problem()
    ref_model = copy.deepcopy(model)
    ours = ours_cls(two_groups(model, first, second), **kwargs)
    ref = torch_cls(two_groups(ref_model, first, second), **kwargs)

    losses = []
    for _ in range(60):
        losses.append(train_step(model, ours, x, y))
        train_step(ref_model, ref, x, y)
        assert_same_params(model, ref_model)
    assert losses[-1] < losses[0]  # the comparison is not between two stuck runs


def test_adam_without_bias_correction_uses_the_raw_moments():
    g = torch.tensor([1.0, -2.0, 0.5], dtype=F64)
    first_steps = {}
    for corrected in (True, False):
        p = torch.zeros(3, dtype=F64, requires_grad=True)
        opt = optim.Adam([p], lr=0.1, betas=(0.9, 0.999), eps=0.0, bias_correction=corrected)
        p.grad = g.clone()
        opt.step()
        first_steps[corrected] = p.detach()
    # Corrected: m_hat = g and v_hat = g^2, so the first step is lr * sign(g).
    torch.testing.assert_close(first_steps[True], -0.1 * g.sign(), rtol=1e-12, atol=0)
    # Raw: m = 0.1 g and v = 0.001 g^2, a step (1 - 0.9) / sqrt(1 - 0.999) ~ 3.16 times larger.
    m, v = 0.1 * g, 0.001 * g * g
    torch.testing.assert_close(first_steps[False], -0.1 * m / v.sqrt(), rtol=1e-12, atol=0)
    ratio = first_steps[False] / first_steps[True]
    torch.testing.assert_close(ratio, torch.full((3,), 0.1 / math.sqrt(0.001), dtype=F64))


def test_adagrad_takes_initial_accumulator_value_per_group():
    a, b = nn.Parameter(torch.zeros(2)), nn.Parameter(torch.zeros(2))
    opt = optim.AdaGrad([{"params": [a]}, {"params": [b], "initial_accumulator_value": 3.0}])
    a.grad, b.grad = torch.ones(2), torch.ones(2)
    opt.step()
    assert opt.state[a]["sum"].tolist() == [1.0, 1.0]
    assert opt.state[b]["sum"].tolist() == [4.0, 4.0]


def test_adagrad_max_accumulator_caps_the_sum():
    p = torch.zeros(2, dtype=F64, requires_grad=True)
    opt = optim.AdaGrad([p], lr=1.0, eps=0.0, max_accumulator=4.0)
    for _ in range(3):
        p.grad = torch.tensor([3.0, 0.5], dtype=F64)
        before = p.detach().clone()
        opt.step()
    # The first coordinate's sum is 9, 18, 27 uncapped; capped at 4 each step moves it by 3/2.
    assert opt.state[p]["sum"].tolist() == [4.0, 0.75]
    torch.testing.assert_close(
        before - p.detach(), torch.tensor([1.5, 0.5 / math.sqrt(0.75)], dtype=F64)
    )


# --------------------------------------------------------------------------------------------
# LARS and LAMB against their papers' equations, written again in plain tensor maths.


def layerwise_problem():
    """A weight matrix, a zero bias (exercises the zero-norm guard) and a loss on both."""
    gen = torch.Generator().manual_seed(1)
    w = torch.randn(4, 3, generator=gen, dtype=F64)
    b = torch.zeros(4, dtype=F64)
    x = torch.randn(3, 16, generator=gen, dtype=F64)
    y = torch.randn(4, 16, generator=gen, dtype=F64)

    def grads(w, b):
        w, b = w.detach().requires_grad_(), b.detach().requires_grad_()
        loss = ((torch.tanh(w @ x + b[:, None]) - y) ** 2).mean()
        return torch.autograd.grad(loss, [w, b])

    return [w, b], grads


def run_ours(opt_factory, steps):
    (w, b), grads = layerwise_problem()
    params = [w.clone().requires_grad_(), b.clone().requires_grad_()]
    opt = opt_factory(params)
    history = []
    for _ in range(steps):
        for p, g in zip(params, grads(*params), strict=True):
            p.grad = g
        opt.step()
        history.append([p.detach().clone() for p in params])
    return history, opt, params


@pytest.mark.parametrize("exclude_1d", [False, True])
def test_lars_follows_the_paper(exclude_1d):
    lr, mu, wd, eta = 0.5, 0.9, 1e-2, 0.02
    history, opt, params = run_ours(
        lambda ps: optim.LARS(
            [{"params": [ps[0]]}, {"params": [ps[1]], "momentum": 0.5}],
            lr=lr,
            momentum=mu,
            weight_decay=wd,
            trust_coefficient=eta,
            exclude_1d=exclude_1d,
        ),
        steps=8,
    )
    ws, grads = layerwise_problem()
    momenta = [mu, 0.5]
    vs = [torch.zeros_like(w) for w in ws]
    for t in range(8):
        gs = grads(*ws)
        for i, (w, g) in enumerate(zip(ws, gs, strict=True)):
            w_norm, g_norm = w.norm(), g.norm()
            if (exclude_1d and w.dim() == 1) or w_norm == 0 or g_norm == 0:
                local_lr = 1.0
            else:
                local_lr = eta * w_norm / (g_norm + wd * w_norm)
            vs[i] = momenta[i] * vs[i] + lr * local_lr * (g + wd * w)
            ws[i] = w - vs[i]
        for ours, ref in zip(history[t], ws, strict=True):
            torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-14)
    assert not torch.equal(history[-1][1], torch.zeros(4, dtype=F64))  # the bias did move


def test_lars_trust_ratio_divides_by_the_sum_of_norms():
    """Algorithm 1 of the paper: eta ||w|| / (||g|| + wd ||w||), not eta ||w|| / ||g + wd w||."""
    w = torch.nn.Parameter(torch.tensor([[3.0, 0.0], [0.0, 4.0]], dtype=F64))
    w.grad = torch.tensor([[0.0, -1.0], [2.0, 0.0]], dtype=F64)  # not parallel to w
    w_norm, g_norm = 5.0, math.sqrt(5.0)
    paper = 0.01 * w_norm / (g_norm + 0.5 * w_norm)
    combined = 0.01 * w_norm / torch.linalg.vector_norm(w.grad + 0.5 * w.detach()).item()
    assert abs(paper - combined) > 1e-4  # the two differ here, so the test tells them apart
    opt = optim.LARS([w], lr=0.1, weight_decay=0.5, trust_coefficient=0.01)
    opt.step()
    assert opt.state[w]["trust_ratio"].item() == pytest.approx(paper, rel=1e-12)


def lamb_reference(
    base, lr, betas, eps, weight_decay, steps, weight_norm_clamp=None, max_trust=None
):
    """Algorithm 2 of You et al. (2020), with the base direction swapped for 'momentum' and
    'adagrad'. Returns the weights and the trust ratios after every step."""
    beta1, beta2 = betas
    ws, grads = layerwise_problem()
    ms = [torch.zeros_like(w) for w in ws]
    vs = [torch.zeros_like(w) for w in ws]
    weights, ratios = [], []
    for t in range(1, steps + 1):
        gs = grads(*ws)
        step_ratios = []
        for i, (w, g) in enumerate(zip(ws, gs, strict=True)):
            if base == "adam":
                ms[i] = beta1 * ms[i] + (1 - beta1) * g
                vs[i] = beta2 * vs[i] + (1 - beta2) * g**2
                m_hat = ms[i] / (1 - beta1**t)
                v_hat = vs[i] / (1 - beta2**t)
                r = m_hat / (torch.sqrt(v_hat) + eps)
            elif base == "momentum":
                ms[i] = beta1 * ms[i] + (1 - beta1) * g
                r = ms[i] / (1 - beta1**t)
            else:
                vs[i] = vs[i] + g**2
                r = g / (torch.sqrt(vs[i]) + eps)
            u = r + weight_decay * w
            w_norm, u_norm = w.norm(), u.norm()
            phi = w_norm if weight_norm_clamp is None else w_norm.clamp(*weight_norm_clamp)
            ratio = phi / u_norm if (w_norm > 0 and u_norm > 0) else torch.tensor(1.0, dtype=F64)
            if max_trust is not None:
                ratio = torch.clamp(ratio, max=max_trust)
            ws[i] = w - lr * ratio * u
            step_ratios.append(ratio)
        weights.append([w.clone() for w in ws])
        ratios.append(step_ratios)
    return weights, ratios


@pytest.mark.parametrize(
    "base, clamp, max_trust",
    [
        ("adam", None, None),
        ("adam", (0.5, 1.5), None),
        ("adam", None, 0.8),
        ("momentum", None, None),
        ("adagrad", None, None),
    ],
)
def test_lamb_follows_the_paper(base, clamp, max_trust):
    kwargs = dict(lr=0.05, betas=(0.9, 0.99), eps=1e-6, weight_decay=0.01)
    steps = 8
    history, opt, params = run_ours(
        lambda ps: optim.LAMB(
            ps, base=base, weight_norm_clamp=clamp, max_trust_ratio=max_trust, **kwargs
        ),
        steps=steps,
    )
    ref_weights, ref_ratios = lamb_reference(
        base, steps=steps, weight_norm_clamp=clamp, max_trust=max_trust, **kwargs
    )
    for ours, ref in zip(history, ref_weights, strict=True):
        for a, b in zip(ours, ref, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-14)
    # The state keeps the last step's norms: of the weights before it, and of the update.
    for i, p in enumerate(params):
        state = opt.state[p]
        torch.testing.assert_close(state["trust_ratio"], ref_ratios[-1][i], rtol=1e-12, atol=0)
        torch.testing.assert_close(state["weight_norm"], history[-2][i].norm(), rtol=1e-12, atol=0)
        assert state["update_norm"] > 0


def test_lamb_trust_ratio_is_one_for_a_zero_layer():
    _, opt, params = run_ours(lambda ps: optim.LAMB(ps, lr=0.01), steps=1)
    bias = params[1]
    assert opt.state[bias]["weight_norm"] == 0
    assert opt.state[bias]["trust_ratio"] == 1


# --------------------------------------------------------------------------------------------
# FTRL-Proximal.


def test_ftrl_first_steps_by_hand():
    alpha, beta, l1, l2 = 0.5, 1.0, 0.3, 0.1
    w = torch.zeros(3, dtype=F64, requires_grad=True)
    opt = optim.FTRL([w], alpha=alpha, beta=beta, l1=l1, l2=l2)

    # Step 1 from w = 0: z = g, n = g^2; |z| <= l1 gives 0, otherwise
    # w = -(z - sign(z) l1) / ((beta + |g|) / alpha + l2).
    w.grad = torch.tensor([1.0, -0.2, 0.5], dtype=F64)
    opt.step()
    expected = [-0.7 / 4.1, 0.0, -0.2 / 3.1]
    torch.testing.assert_close(w.detach(), torch.tensor(expected, dtype=F64), rtol=1e-15, atol=0)
    assert w[1].item() == 0.0

    # Step 2, per coordinate with Python floats, straight from Algorithm 1.
    g2 = [-0.4, 0.05, 0.1]
    w.grad = torch.tensor(g2, dtype=F64)
    opt.step()
    for i, (g_1, g_2) in enumerate(zip([1.0, -0.2, 0.5], g2, strict=True)):
        n1, z1 = g_1**2, g_1
        sigma = (math.sqrt(n1 + g_2**2) - math.sqrt(n1)) / alpha
        z2 = z1 + g_2 - sigma * expected[i]
        n2 = n1 + g_2**2
        if abs(z2) <= l1:
            w2 = 0.0
        else:
            w2 = -(z2 - math.copysign(l1, z2)) / ((beta + math.sqrt(n2)) / alpha + l2)
        assert w[i].item() == pytest.approx(w2, rel=1e-14, abs=0)
        assert opt.state[w]["z"][i].item() == pytest.approx(z2, rel=1e-14)
    assert w[1].item() == 0.0 and w[0].item() != 0.0  # |z| = 0.15 <= l1: exactly zero


def test_ftrl_gives_exact_zeros_where_z_is_within_l1():
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(200, 30, generator=gen, dtype=F64)
    true_w = torch.zeros(30, dtype=F64)
    true_w[:5] = torch.tensor([2.0, -1.5, 1.0, 0.8, -2.0], dtype=F64)
    y = (x @ true_w > 0).to(F64)
    w = torch.zeros(30, dtype=F64, requires_grad=True)
    opt = optim.FTRL([w], alpha=0.5, beta=1.0, l1=2.0, l2=0.1)
    for i in range(0, 200, 10):  # online mini-batches of logistic regression
        opt.zero_grad()
        F.binary_cross_entropy_with_logits(
            x[i : i + 10] @ w, y[i : i + 10], reduction="sum"
        ).backward()
        opt.step()
        z = opt.state[w]["z"]
        inside = z.abs() <= 2.0
        assert torch.all(w[inside] == 0)  # exactly zero, not just small
        assert torch.all(w[~inside] != 0)
    assert inside.any() and (~inside).any()
    assert (w[:5] != 0).sum() >= 3  # the informative features survive


# --------------------------------------------------------------------------------------------
# Lookahead.


def test_lookahead_matches_a_hand_written_loop():
    k, alpha, steps = 3, 0.6, 14
    model, x, y = make_problem()
    ref_model = copy.deepcopy(model)
    settings = (dict(lr=0.05, momentum=0.9), dict(lr=0.02))
    opt = optim.Lookahead(optim.SGD(two_groups(model, *settings)), k=k, alpha=alpha)

    inner = torch.optim.SGD(two_groups(ref_model, *settings))
    slow = [p.detach().clone() for p in ref_model.parameters()]
    for t in range(1, steps + 1):
        train_step(model, opt, x, y)
        train_step(ref_model, inner, x, y)
        if t % k == 0:
            with torch.no_grad():
                for s, p in zip(slow, ref_model.parameters(), strict=True):
                    s += alpha * (p - s)
                    p.copy_(s)
        assert_same_params(model, ref_model, atol=1e-13)


def test_lookahead_shares_groups_with_the_inner_optimiser():
    model, x, y = make_problem()
    inner = optim.Adam(model.parameters(), lr=1e-2)
    opt = optim.Lookahead(inner, k=2)
    train_step(model, opt, x, y)
    fresh = optim.Lookahead(optim.Adam(model.parameters(), lr=1e-2), k=2)
    fresh.load_state_dict(opt.state_dict())
    fresh.param_groups[0]["lr"] = 0.5
    assert fresh.optimizer.param_groups[0]["lr"] == 0.5
    assert fresh.param_groups[0]["lookahead_step"] == 1
    extra = nn.Parameter(torch.zeros(2, dtype=F64))
    opt.add_param_group({"params": [extra], "lr": 0.1})
    assert inner.param_groups[-1] is opt.param_groups[-1]
    assert inner.param_groups[-1]["lookahead_k"] == 2


def test_lr_scheduler_drives_the_inner_optimiser_through_lookahead():
    p = nn.Parameter(torch.ones(3, dtype=F64))
    opt = optim.Lookahead(optim.Adam([p], lr=0.1), k=2)
    scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(3):
        p.grad = torch.ones(3, dtype=F64)
        opt.step()
        scheduler.step()
    assert opt.optimizer.param_groups[0]["lr"] == pytest.approx(0.1 / 8)


# --------------------------------------------------------------------------------------------
# Newton's method.


def quadratic(seed: int = 0, n: int = 6):
    gen = torch.Generator().manual_seed(seed)
    m = torch.randn(n, n, generator=gen, dtype=F64)
    a = m @ m.T + n * torch.eye(n, dtype=F64)
    b = torch.randn(n, generator=gen, dtype=F64)
    return a, b


def test_newton_step_function_solves_a_quadratic_in_one_step():
    a, b = quadratic()
    x0 = torch.randn(6, dtype=F64)
    x1 = optim.newton_step(lambda x: 0.5 * x @ a @ x - b @ x, x0)
    torch.testing.assert_close(x1, torch.linalg.solve(a, b), rtol=0, atol=1e-12)
    damped = optim.newton_step(lambda x: 0.5 * x @ a @ x - b @ x, x0, damping=2.0)
    expected = x0 - torch.linalg.solve(a + 2.0 * torch.eye(6, dtype=F64), a @ x0 - b)
    torch.testing.assert_close(damped, expected, rtol=0, atol=1e-12)


def test_newton_optimizer_solves_a_quadratic_in_one_step():
    a, b = quadratic(seed=1)
    u = torch.randn(2, 2, dtype=F64, requires_grad=True)  # two tensors, two groups
    v = torch.randn(2, dtype=F64, requires_grad=True)
    opt = optim.Newton([{"params": [u]}, {"params": [v]}])

    def closure():
        x = torch.cat([u.reshape(-1), v])
        return 0.5 * x @ a @ x - b @ x

    opt.step(closure)
    x = torch.cat([u.detach().reshape(-1), v.detach()])
    torch.testing.assert_close(x, torch.linalg.solve(a, b), rtol=0, atol=1e-12)


def test_newton_damping_interpolates_towards_gradient_descent():
    a, b = quadratic(seed=2, n=3)
    x = torch.randn(3, dtype=F64, requires_grad=True)
    x0 = x.detach().clone()
    opt = optim.Newton([x], lr=0.5, damping=3.0)
    opt.step(lambda: 0.5 * x @ a @ x - b @ x)
    step = torch.linalg.solve(a + 3.0 * torch.eye(3, dtype=F64), a @ x0 - b)
    torch.testing.assert_close(x.detach(), x0 - 0.5 * step, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------------------------
# Argument validation: ValueError naming the argument, the value and what is allowed.


def _p():
    return [nn.Parameter(torch.zeros(2))]


VALIDATION_CASES = [
    (lambda: optim.SGD(_p(), lr=-1), "lr must be >= 0, got -1"),
    (lambda: optim.SGD(_p(), lr=float("nan")), "lr must be >= 0, got nan"),
    (lambda: optim.SGD(_p(), momentum=-0.5), "momentum must be >= 0, got -0.5"),
    (lambda: optim.SGD(_p(), momentum=0.9, dampening=1.5), "dampening must be in [0, 1], got 1.5"),
    (lambda: optim.SGD(_p(), weight_decay=-1e-4), "weight_decay must be >= 0, got -0.0001"),
    (lambda: optim.SGD(_p(), nesterov=True), "momentum must be > 0 when nesterov=True, got 0.0"),
    (
        lambda: optim.SGD(_p(), momentum=0.9, dampening=0.1, nesterov=True),
        "dampening must be 0 when nesterov=True, got 0.1",
    ),
    (lambda: optim.SGD([{"params": _p(), "lr": -2.0}], lr=0.1), "lr must be >= 0, got -2.0"),
    (lambda: optim.AdaGrad(_p(), lr_decay=-1), "lr_decay must be >= 0, got -1"),
    (lambda: optim.AdaGrad(_p(), eps=-1e-10), "eps must be >= 0, got -1e-10"),
    (
        lambda: optim.AdaGrad(_p(), initial_accumulator_value=-1),
        "initial_accumulator_value must be >= 0, got -1",
    ),
    (lambda: optim.AdaGrad(_p(), max_accumulator=0.0), "max_accumulator must be > 0, got 0.0"),
    (lambda: optim.RMSProp(_p(), alpha=1.0), "alpha must be in [0, 1), got 1.0"),
    (lambda: optim.RMSProp(_p(), eps=-1.0), "eps must be >= 0, got -1.0"),
    (lambda: optim.RMSProp(_p(), momentum=-0.1), "momentum must be >= 0, got -0.1"),
    (lambda: optim.Adam(_p(), lr=-1e-3), "lr must be >= 0, got -0.001"),
    (lambda: optim.Adam(_p(), betas=(1.0, 0.999)), "betas[0] must be in [0, 1), got 1.0"),
    (lambda: optim.Adam(_p(), betas=(0.9, -0.1)), "betas[1] must be in [0, 1), got -0.1"),
    (lambda: optim.Adam(_p(), eps=-1e-8), "eps must be >= 0, got -1e-08"),
    (lambda: optim.Adam(_p(), weight_decay=-1), "weight_decay must be >= 0, got -1"),
    (lambda: optim.AdamW(_p(), weight_decay=-0.01), "weight_decay must be >= 0, got -0.01"),
    (lambda: optim.FTRL(_p(), alpha=0.0), "alpha must be > 0, got 0.0"),
    (lambda: optim.FTRL(_p(), beta=-1.0), "beta must be >= 0, got -1.0"),
    (lambda: optim.FTRL(_p(), l1=-0.1), "l1 must be >= 0, got -0.1"),
    (lambda: optim.FTRL(_p(), l2=-0.1), "l2 must be >= 0, got -0.1"),
    (lambda: optim.Lookahead(optim.SGD(_p()), k=0), "k must be an int >= 1, got 0"),
    (lambda: optim.Lookahead(optim.SGD(_p()), k=2.5), "k must be an int >= 1, got 2.5"),
    (lambda: optim.Lookahead(optim.SGD(_p()), alpha=1.5), "alpha must be in (0, 1], got 1.5"),
    (lambda: optim.LARS(_p(), lr=-1), "lr must be >= 0, got -1"),
    (lambda: optim.LARS(_p(), trust_coefficient=0), "trust_coefficient must be > 0, got 0"),
    (lambda: optim.LARS(_p(), weight_decay=-1), "weight_decay must be >= 0, got -1"),
    (lambda: optim.LAMB(_p(), base="sgd"), "base must be one of ('adam', 'momentum', 'adagrad')"),
    (lambda: optim.LAMB(_p(), betas=(0.9, 1.0)), "betas[1] must be in [0, 1), got 1.0"),
    (
        lambda: optim.LAMB(_p(), weight_norm_clamp=(2.0, 1.0)),
        "weight_norm_clamp must be a pair 0 <= lower <= upper, got (2.0, 1.0)",
    ),
    (lambda: optim.LAMB(_p(), max_trust_ratio=0.0), "max_trust_ratio must be > 0, got 0.0"),
    (lambda: optim.Newton(_p(), damping=-1.0), "damping must be >= 0, got -1.0"),
    (lambda: optim.newton_step(torch.sum, torch.zeros(2), damping=-1.0), "damping must be >= 0"),
]


@pytest.mark.parametrize("make, message", VALIDATION_CASES, ids=[m for _, m in VALIDATION_CASES])
def test_bad_arguments_raise_value_error(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


# --------------------------------------------------------------------------------------------
# state_dict round trip: 5 steps, save, load into a fresh optimiser, go on; same as no break.

FACTORIES = {
    "sgd_nesterov": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
    "adagrad": lambda ps: optim.AdaGrad(ps, lr=0.1, max_accumulator=50.0),
    "rmsprop": lambda ps: optim.RMSProp(ps, lr=1e-2, centered=True, momentum=0.5),
    "adam": lambda ps: optim.Adam(ps, lr=1e-2, amsgrad=True),
    "adamw": lambda ps: optim.AdamW(ps, lr=1e-2),
    "ftrl": lambda ps: optim.FTRL(ps, alpha=0.1, l1=1e-3),
    "lars": lambda ps: optim.LARS(ps, lr=0.5, weight_decay=1e-3, trust_coefficient=0.01),
    "lamb": lambda ps: optim.LAMB(ps, lr=1e-2, weight_decay=1e-2),
    "lamb_adagrad": lambda ps: optim.LAMB(ps, lr=1e-2, base="adagrad"),
    "lookahead_adam": lambda ps: optim.Lookahead(optim.Adam(ps, lr=1e-2), k=3),
}


@pytest.mark.parametrize("name", list(FACTORIES))
def test_state_dict_round_trip(name):
    factory = FACTORIES[name]
    model, x, y = make_problem()
    opt = factory(two_groups(model, {}, {}))
    for _ in range(5):
        train_step(model, opt, x, y)

    buffer = io.BytesIO()
    torch.save(opt.state_dict(), buffer)
    resumed_model = copy.deepcopy(model)
    resumed = factory(two_groups(resumed_model, {}, {}))
    buffer.seek(0)
    resumed.load_state_dict(torch.load(buffer))

    for _ in range(7):
        train_step(model, opt, x, y)
        train_step(resumed_model, resumed, x, y)
        assert_same_params(resumed_model, model, atol=0.0)


@pytest.mark.parametrize("name", list(FACTORIES))
def test_step_with_closure_returns_the_loss(name):
    model, x, y = make_problem()
    ref_model = copy.deepcopy(model)
    opt = FACTORIES[name](model.parameters())
    ref = FACTORIES[name](ref_model.parameters())

    def closure():
        opt.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        return loss

    for _ in range(3):
        loss = opt.step(closure)
        ref_loss = train_step(ref_model, ref, x, y)
        assert loss.item() == ref_loss.item()
    assert_same_params(model, ref_model, atol=0.0)


# --------------------------------------------------------------------------------------------
# Theory: gradient descent on quadratics.


def diagonal_quadratic(mu: float, big_l: float, n: int = 20):
    eigenvalues = torch.linspace(mu, big_l, n, dtype=F64)
    return eigenvalues, lambda w: 0.5 * (eigenvalues * w * w).sum()


def test_gd_on_a_strongly_convex_quadratic_meets_the_linear_rate():
    """With eta = 1/L: F(w_t) - F* <= (1 - mu/L)^t (F(w_0) - F*)."""
    mu, big_l, n = 0.1, 10.0, 20
    gen = torch.Generator().manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=F64))  # a random rotation
    a = q @ torch.diag(torch.linspace(mu, big_l, n, dtype=F64)) @ q.T
    w_star = torch.randn(n, generator=gen, dtype=F64)

    def f(w):
        return 0.5 * (w - w_star) @ a @ (w - w_star)  # F* = 0 at w_star

    w = torch.randn(n, generator=gen, dtype=F64, requires_grad=True)
    opt = optim.SGD([w], lr=1 / big_l)
    gap0 = f(w).item()
    for t in range(1, 201):
        opt.zero_grad()
        f(w).backward()
        opt.step()
        assert f(w).item() <= (1 - mu / big_l) ** t * gap0 * (1 + 1e-12)
    assert f(w).item() < 1e-3 * gap0


@pytest.mark.parametrize("factor, diverges", [(1.95, False), (2.05, True)])
def test_gd_diverges_beyond_two_over_l(factor, diverges):
    mu, big_l = 0.5, 10.0
    eigenvalues, f = diagonal_quadratic(mu, big_l)
    w = torch.ones(20, dtype=F64, requires_grad=True)
    opt = optim.SGD([w], lr=factor / big_l)
    f0 = f(w).item()
    for _ in range(300):
        opt.zero_grad()
        f(w).backward()
        opt.step()
    # The top eigendirection is multiplied by |1 - factor| every step.
    top = abs(1 - factor) ** 300
    torch.testing.assert_close(w[-1].abs().item(), top, rtol=1e-9, atol=0)
    if diverges:
        assert f(w).item() > 1e6 * f0
    else:
        assert f(w).item() < 1e-3 * f0


# --------------------------------------------------------------------------------------------
# Benchmark smoke test (the real run is coursekit.optim.bench.bench() at 10M parameters).


def test_bench_runs_at_a_tiny_size():
    from coursekit.optim.bench import bench

    rows = bench(n_params=20_000, steps=2)
    assert {r["optimizer"] for r in rows} >= {"SGD", "Adam", "LAMB"}
    for row in rows:
        assert set(row) >= {"optimizer", "ours_ms", "torch_ms", "ratio"}
        assert row["ours_ms"] > 0
