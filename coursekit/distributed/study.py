"""Large batches in one process: the batch-size study and the gradient noise scale.

Data-parallel SGD on N ranks with B examples each takes the same steps as one process
with batch N*B (the notebook checks this to float64 rounding). So how a *global* batch
size trains can be studied in one process, without launching anything:

    run = fit(data, batch_size=512, lr=0.8, epochs=20, optimizer="lamb", warmup_epochs=2)
    run.final_accuracy, run.steps_to_target, run.samples_per_s
    noise_scale(model, x, y)      # B_simple = tr(Sigma) / |G|^2 (McCandlish et al., 2018)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from coursekit.distributed.train_worker import make_model, make_optimizer


@dataclass
class Fit:
    batch_size: int
    optimizer: str
    lr: float
    epochs: int
    steps: int
    final_accuracy: float
    best_accuracy: float
    final_train_loss: float
    steps_to_target: int | None  # first step whose test accuracy reached the target
    train_time_s: float
    diverged: bool
    curve: list[tuple[int, float]] = field(default_factory=list)  # (step, test accuracy)

    @property
    def samples_per_s(self) -> float:
        return self.steps * self.batch_size / self.train_time_s if self.train_time_s else 0.0


@torch.no_grad()
def _accuracy(model, x, y) -> float:
    return (model(x).argmax(1) == y).double().mean().item()


def fit(
    data,
    *,
    batch_size: int,
    lr: float,
    epochs: int,
    optimizer: str = "sgd",
    warmup_epochs: float = 0.0,
    target: float = 0.9,
    seed: int = 0,
    hidden: int = 256,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    eval_every: int | None = None,
    max_steps: int | None = None,
    eval_examples: int | None = None,
    evals_per_epoch: int = 8,
) -> Fit:
    """Train the notebook's MLP with one global batch size in one process.

    ``data`` is (x_train, y_train, x_test, y_test). The learning rate warms up linearly
    from 0 to ``lr`` over ``warmup_epochs``, then stays. Test accuracy is measured every
    ``eval_every`` steps (default: ``evals_per_epoch`` times an epoch), which gives the
    steps needed to reach ``target``; on the first ``eval_examples`` test examples if given
    (a cheaper curve on a large test set), while the final accuracy is always the whole
    test set's.
    """
    x_train, y_train, x_test, y_test = data
    x_curve, y_curve = x_test[:eval_examples], y_test[:eval_examples]  # [:None]: all of them
    n = len(x_train)
    batch_size = min(batch_size, n)
    steps_per_epoch = n // batch_size
    total = epochs * steps_per_epoch if max_steps is None else max_steps
    warmup = round(warmup_epochs * steps_per_epoch)
    eval_every = eval_every or max(1, steps_per_epoch // evals_per_epoch)
    torch.manual_seed(seed)
    model = make_model(hidden, in_features=x_train[0].numel()).to(x_train.dtype)
    opt = make_optimizer(optimizer, model.parameters(), lr=lr, momentum=momentum)
    for group in opt.param_groups:
        group["weight_decay"] = weight_decay
    generator = torch.Generator().manual_seed(seed)
    curve, reached, diverged, loss = [], None, False, torch.tensor(0.0)
    elapsed = 0.0
    step = 0
    while step < total:
        order = torch.randperm(n, generator=generator)
        for k in range(steps_per_epoch):
            if step >= total:
                break
            t0 = time.perf_counter()
            index = order[k * batch_size : (k + 1) * batch_size]
            # linear warm-up from lr/warmup to lr (warmup_lr with "size" = 1 / start factor)
            scale = min(1.0, (step + 1) / warmup) if warmup > 0 else 1.0
            for group in opt.param_groups:
                group["lr"] = lr * scale
            opt.zero_grad()
            loss = F.cross_entropy(model(x_train[index]), y_train[index])
            loss.backward()
            opt.step()
            elapsed += time.perf_counter() - t0
            step += 1
            if not math.isfinite(loss.item()):
                diverged = True
                break
            if step % eval_every == 0 or step == total:
                acc = _accuracy(model, x_curve, y_curve)
                curve.append((step, acc))
                if reached is None and acc >= target:
                    reached = step
        if diverged:
            break
    final = _accuracy(model, x_test, y_test) if not diverged else 0.1
    best = max([a for _, a in curve], default=final)
    return Fit(
        batch_size=batch_size,
        optimizer=optimizer,
        lr=lr,
        epochs=epochs,
        steps=step,
        final_accuracy=final,
        best_accuracy=best,
        final_train_loss=loss.item(),
        steps_to_target=reached,
        train_time_s=elapsed,
        diverged=diverged,
        curve=curve,
    )


# --- The gradient noise scale -------------------------------------------------------------


def per_example_gradients(model, x, y) -> torch.Tensor:
    """One flattened gradient of the loss per example, shape (N, number of parameters)."""
    from torch.func import functional_call, grad, vmap

    params = {k: v.detach() for k, v in model.named_parameters()}

    def loss_one(p, xi, yi):
        logits = functional_call(model, p, (xi.unsqueeze(0),))
        return F.cross_entropy(logits, yi.unsqueeze(0))

    grads = vmap(grad(loss_one), in_dims=(None, 0, 0))(params, x, y)
    return torch.cat([g.reshape(len(x), -1) for g in grads.values()], dim=1)


@dataclass
class NoiseScale:
    grad_norm_sq: float  # |G|^2, G the mean gradient over all examples
    trace_cov: float  # tr(Sigma), the per-example gradient covariance's trace
    b_simple: float  # tr(Sigma) / |G|^2

    def __str__(self) -> str:
        return (
            f"|G|^2 = {self.grad_norm_sq:.4g}, tr(Sigma) = {self.trace_cov:.4g}, "
            f"B_simple = {self.b_simple:.4g}"
        )


def per_example_sq_norms(model, x, y) -> tuple[torch.Tensor, torch.Tensor]:
    """Every example's squared gradient norm (shape N, float64) and the gradient of the
    summed loss (flattened), from one forward and one backward pass.

    For a linear layer ``z = a W^T + b`` the gradient of example i's loss is the outer
    product of ``delta_i = d loss_i / d z_i`` with its input ``a_i``, so its squared norm
    is ``|delta_i|^2 |a_i|^2`` (plus ``|delta_i|^2`` for the bias): no per-example
    gradient is ever formed (Goodfellow, 2015, "Efficient per-example gradient
    computations"). The model's parameters must all belong to ``nn.Linear`` layers whose
    inputs are (N, features); ``per_example_gradients`` is the general, slower way.
    """
    layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
    owned = {id(p) for m in layers for p in m.parameters(recurse=False)}
    others = [name for name, p in model.named_parameters() if id(p) not in owned]
    if others:
        raise ValueError(
            f"per_example_sq_norms needs a model of nn.Linear layers only; these parameters "
            f"are not in one: {others}"
        )
    inputs, deltas = {}, {}

    def keep(module, args, output):
        inputs[module] = args[0].detach()
        output.register_hook(lambda g, m=module: deltas.__setitem__(m, g.detach()))

    handles = [m.register_forward_hook(keep) for m in layers]
    try:
        params = list(model.parameters())
        loss = F.cross_entropy(model(x), y, reduction="sum")  # sum: delta_i is loss_i's own
        grads = torch.autograd.grad(loss, params)  # leaves the model's .grad alone
    finally:
        for h in handles:
            h.remove()
    sq = torch.zeros(len(x), dtype=torch.float64, device=x.device)
    for m in layers:
        a, d = inputs[m].double(), deltas[m].double()
        if a.ndim != 2:
            raise ValueError(f"per_example_sq_norms needs (N, features) inputs; got {a.shape}")
        d2 = (d * d).sum(1)
        sq += (a * a).sum(1) * d2 + (d2 if m.bias is not None else 0.0)
    return sq, torch.cat([g.reshape(-1) for g in grads]).double()


def noise_scale(model, x, y, method: str = "norms", chunk: int = 512) -> NoiseScale:
    """B_simple = tr(Sigma) / |G|^2 from every example's gradient (McCandlish et al. 2018).

    G is the mean gradient over (x, y), Sigma the covariance of one example's gradient.
    A batch of B examples estimates G with noise of size tr(Sigma) / B, so B_simple is
    the batch size at which the noise in a step is as large as the signal. Only the
    squared norms of the per-example gradients are needed: ``method="norms"`` gets them
    from one backward pass (``per_example_sq_norms``, linear layers only);
    ``method="vmap"`` forms every example's gradient with ``torch.func`` (any model,
    ``chunk`` examples at a time, far slower). The two agree to rounding.
    """
    from coursekit.validate import one_of

    one_of("method", method, ("norms", "vmap"))
    n = len(x)
    if method == "norms":
        sq, total = per_example_sq_norms(model, x, y)
        total_sq = sq.sum().item()
    else:
        total, total_sq = None, 0.0
        for i in range(0, n, chunk):
            g = per_example_gradients(model, x[i : i + chunk], y[i : i + chunk]).double()
            total = g.sum(0) if total is None else total + g.sum(0)
            total_sq += (g * g).sum().item()
    mean = total / n
    g2 = mean.dot(mean).item()
    trace = (total_sq / n - g2) * n / (n - 1)  # unbiased: E|g_i - G|^2
    return NoiseScale(g2, trace, trace / g2)


def noise_scale_two_batches(g_small_sq: float, g_big_sq: float, b_small: int, b_big: int):
    """McCandlish et al. (2018), appendix A: unbiased estimates of |G|^2 and tr(Sigma) from
    the squared norms of gradients averaged over ``b_small`` and ``b_big`` examples. In
    data-parallel training both come for free: a rank's local gradient (B) and the
    allreduced one (N*B). Returns (|G|^2, tr(Sigma), B_simple)."""
    g2 = (b_big * g_big_sq - b_small * g_small_sq) / (b_big - b_small)
    trace = (g_small_sq - g_big_sq) / (1 / b_small - 1 / b_big)
    return g2, trace, trace / g2


def critical_batch_fit(batch_sizes, steps) -> tuple[float, float, float]:
    """Fit McCandlish et al.'s trade-off, S/S_min - 1 = (E/E_min - 1)^-1 with E = B*S,
    i.e. S = S_min * (1 + B_crit / B), to measured steps-to-target. Returns (S_min, E_min,
    B_crit = E_min / S_min). A least-squares line of S against 1/B: S = S_min + E_min/B.
    """
    import numpy as np

    b = np.asarray(batch_sizes, dtype=float)
    s = np.asarray(steps, dtype=float)
    design = np.stack([np.ones_like(b), 1 / b], axis=1)
    (s_min, e_min), *_ = np.linalg.lstsq(design, s, rcond=None)
    return float(s_min), float(e_min), float(e_min / s_min)


__all__ = [
    "Fit",
    "NoiseScale",
    "critical_batch_fit",
    "fit",
    "noise_scale",
    "noise_scale_two_batches",
    "per_example_gradients",
    "per_example_sq_norms",
]
