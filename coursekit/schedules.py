"""Learning-rate schedules for large-batch training: scaling rules, warm-up, decay.

    lr = schedules.scaled_lr(0.1, batch_size=1024, base_batch_size=256)     # 0.4
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    sched = schedules.warmup_decay(opt, warmup_steps=50, total_steps=1000)
    for batch in ...: loss.backward(); opt.step(); sched.step()

:func:`warmup_decay` returns a ``torch.optim.lr_scheduler.LambdaLR``: it multiplies each
parameter group's learning rate by :func:`warmup_factor` of the number of steps taken, so
call ``sched.step()`` once after every ``opt.step()``.
"""

from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR

from coursekit import validate

DECAYS = ("cosine", "linear", "constant")
RULES = ("linear", "sqrt", "none")


def scaled_lr(base_lr: float, batch_size: int, base_batch_size: int, rule: str = "linear") -> float:
    """The learning rate for ``batch_size`` from one that works at ``base_batch_size``.

    ``rule="linear"``: multiply by k = batch_size / base_batch_size (Goyal et al. 2017; for
    SGD it keeps the stochastic differential equation of training per epoch the same);
    ``"sqrt"``: by sqrt(k). For SGD that keeps the variance of a step the same (Krizhevsky
    2014); for Adam and RMSprop it is the rule that keeps their SDE the same (Malladi et
    al. 2022, who also scale 1 - beta by k and eps by 1/sqrt(k)), because their step is
    divided by the root of the gradient's second moment; the LAMB paper uses it for LAMB.
    ``"none"``: keep ``base_lr``. Each is a starting point for tuning, not a law.
    """
    validate.one_of("rule", rule, RULES)
    validate.positive("base_lr", base_lr)
    validate.integer("batch_size", batch_size, minimum=1)
    validate.integer("base_batch_size", base_batch_size, minimum=1)
    k = batch_size / base_batch_size
    return base_lr * {"linear": k, "sqrt": math.sqrt(k), "none": 1.0}[rule]


def warmup_factor(
    step: int,
    warmup_steps: int,
    total_steps: int,
    decay: str = "cosine",
    final_fraction: float = 0.0,
) -> float:
    """The multiplier of the peak learning rate for the optimiser step with index ``step``.

    Steps 0 .. warmup_steps-1 climb linearly, (step + 1) / warmup_steps, so the first
    step already moves and step warmup_steps-1 takes the full rate (Goyal et al.'s gradual
    warm-up). After that the factor stays at 1 (``"constant"``) or falls to
    ``final_fraction`` at ``total_steps`` along a half cosine or a straight line, and stays
    there for any later step.
    """
    validate.one_of("decay", decay, DECAYS)
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if decay == "constant" or total_steps <= warmup_steps:
        return 1.0
    done = min(1.0, (step - warmup_steps) / (total_steps - warmup_steps))
    shape = 0.5 * (1 + math.cos(math.pi * done)) if decay == "cosine" else 1 - done
    return final_fraction + (1 - final_fraction) * shape


def warmup_decay(
    optimizer: Optimizer,
    warmup_steps: int,
    total_steps: int,
    decay: str = "cosine",
    final_fraction: float = 0.0,
) -> LambdaLR:
    """A ``LambdaLR`` that follows :func:`warmup_factor`; step it after every optimiser step."""
    validate.integer("warmup_steps", warmup_steps, minimum=0)
    validate.integer("total_steps", total_steps, minimum=1)
    validate.one_of("decay", decay, DECAYS)
    validate.in_interval("final_fraction", final_fraction, 0, 1)
    return LambdaLR(
        optimizer,
        lambda step: warmup_factor(step, warmup_steps, total_steps, decay, final_fraction),
    )


__all__ = ["DECAYS", "RULES", "scaled_lr", "warmup_decay", "warmup_factor"]
