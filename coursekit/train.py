"""A plain training loop for classifiers, with the numbers the optimisation notebooks plot.

    model = train.mlp(64, hidden=(128, 128))
    opt = train.make_optimizer("lamb", model.parameters(), lr=0.01)
    batches = train.TensorBatches(x_train, y_train, batch_size=256, seed=0)
    sched = schedules.warmup_decay(opt, warmup_steps=20, total_steps=30 * len(batches))
    history = train.fit(model, opt, batches, (x_test, y_test), epochs=30, schedule=sched,
                        target=0.95)
    history.final_accuracy, history.steps_to_target, history.train_time_s

The loop is written out in full in :func:`fit` so that a learner can read it: draw a batch,
compute the loss, ``backward``, ``optimizer.step()``, ``schedule.step()``, and now and then
evaluate on held-out data. Training stops early when the loss is no longer finite.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from coursekit import optim


class TensorBatches:
    """Shuffled mini-batches of tensors ``x`` and ``y``: a fast, seeded stand-in for a
    ``DataLoader`` over tensors already in memory (it slices, instead of indexing one
    example at a time and stacking).

    Each pass draws a new permutation from a generator seeded once with ``seed``, so two
    objects made with the same seed give the same batches in the same order.
    """

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(
                f"batch_size={batch_size!r} is not allowed: it must be an integer >= 1"
            )
        if len(x) != len(y):
            raise ValueError(f"x and y differ in length: {len(x)} and {len(y)}")
        if drop_last and batch_size > len(x):
            raise ValueError(
                f"batch_size={batch_size} is not allowed with drop_last=True: it must be at "
                f"most the number of examples, {len(x)}"
            )
        self.x, self.y, self.batch_size = x, y, batch_size
        self.shuffle, self.drop_last = shuffle, drop_last
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        n = len(self.x)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        n = len(self.x)
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator).to(self.x.device)
        else:
            order = torch.arange(n, device=self.x.device)
        for i in range(len(self)):
            index = order[i * self.batch_size : (i + 1) * self.batch_size]
            yield self.x[index], self.y[index]


def validation_split(
    x: torch.Tensor, y: torch.Tensor, fraction: float = 0.2, *, seed: int = 0
) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """Carve a validation set out of a training set: ``((x_fit, y_fit), (x_val, y_val))``.

    A seeded permutation puts ``round(fraction * len(x))`` examples (at least one) in the
    validation set and the rest in the fitting set. Learning rates and other choices are
    made on the validation set, so that the test set measures the chosen model only.
    The same ``seed`` gives the same division.
    """
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 < fraction < 1:
        raise ValueError(f"fraction={fraction!r} is not allowed: it must be a number in (0, 1)")
    if len(x) != len(y):
        raise ValueError(f"x and y differ in length: {len(x)} and {len(y)}")
    if len(x) < 2:
        raise ValueError(f"x has {len(x)} example(s): a division needs at least 2")
    n_val = min(len(x) - 1, max(1, round(fraction * len(x))))
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    val, fit_ = order[:n_val].to(x.device), order[n_val:].to(x.device)
    return (x[fit_], y[fit_]), (x[val], y[val])


def mlp(in_features: int, hidden: Iterable[int] = (128, 128), classes: int = 10) -> nn.Sequential:
    """Flatten, then Linear + ReLU for each hidden width, then a Linear to ``classes`` logits."""
    layers: list[nn.Module] = [nn.Flatten()]
    width = in_features
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, classes))
    return nn.Sequential(*layers)


# name -> (constructor, what it is). Every entry takes (params, lr, weight_decay).
OPTIMIZERS: dict[str, tuple[Callable, str]] = {
    "sgd": (
        lambda ps, lr, wd: optim.SGD(ps, lr=lr, momentum=0.9, weight_decay=wd),
        "SGD with momentum 0.9",
    ),
    "adam": (
        lambda ps, lr, wd: optim.AdamW(ps, lr=lr, weight_decay=wd),
        "Adam (decoupled weight decay, i.e. AdamW)",
    ),
    "lars": (
        lambda ps, lr, wd: optim.LARS(ps, lr=lr, momentum=0.9, weight_decay=wd),
        "LARS: momentum with trust ratio 0.001 ||w|| / (||g|| + wd ||w||)",
    ),
    "lamb": (
        lambda ps, lr, wd: optim.LAMB(ps, lr=lr, weight_decay=wd, base="adam"),
        "LAMB: Adam's direction with trust ratio ||w|| / ||u||",
    ),
    "lamb_momentum": (
        lambda ps, lr, wd: optim.LAMB(ps, lr=lr, weight_decay=wd, base="momentum"),
        "LAMB's trust ratio on a momentum direction",
    ),
    "lamb_adagrad": (
        lambda ps, lr, wd: optim.LAMB(ps, lr=lr, weight_decay=wd, base="adagrad"),
        "LAMB's trust ratio on an AdaGrad direction",
    ),
}


def make_optimizer(
    name: str, params, lr: float, weight_decay: float = 0.0
) -> torch.optim.Optimizer:
    """One of :data:`OPTIMIZERS` by name, from ``coursekit.optim``."""
    if name not in OPTIMIZERS:
        raise ValueError(
            f"optimizer={name!r} is not allowed: it must be one of {', '.join(OPTIMIZERS)}"
        )
    return OPTIMIZERS[name][0](params, lr, weight_decay)


@torch.no_grad()
def evaluate(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 4096
) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of ``model`` on ``x``, ``y``, in evaluation mode."""
    was_training = model.training
    model.eval()
    total_loss, correct = 0.0, 0
    for i in range(0, len(x), batch_size):
        logits = model(x[i : i + batch_size])
        target = y[i : i + batch_size]
        total_loss += F.cross_entropy(logits, target, reduction="sum").item()
        correct += (logits.argmax(dim=1) == target).sum().item()
    model.train(was_training)
    return total_loss / len(x), correct / len(x)


@dataclass
class History:
    """What :func:`fit` measured. Per step: ``lr`` and ``train_loss``; per evaluation:
    ``eval_step`` (steps taken so far), ``test_loss``, ``test_accuracy``."""

    steps_per_epoch: int
    lr: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    eval_step: list[int] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    target: float | None = None
    steps_to_target: int | None = None  # first evaluation at or above target
    time_to_target_s: float | None = None  # training time (evaluations excluded) until then
    train_time_s: float = 0.0  # time spent in training steps, evaluations excluded
    diverged: bool = False  # the training loss stopped being finite

    @property
    def steps(self) -> int:
        return len(self.train_loss)

    @property
    def final_accuracy(self) -> float:
        return self.test_accuracy[-1] if self.test_accuracy else float("nan")

    @property
    def final_loss(self) -> float:
        return self.test_loss[-1] if self.test_loss else float("nan")


def fit(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train: Iterable,
    test: tuple[torch.Tensor, torch.Tensor] | None = None,
    *,
    epochs: int,
    schedule: torch.optim.lr_scheduler.LRScheduler | None = None,
    target: float | None = None,
    eval_every: int | None = None,
    stop_at_target: bool = False,
    max_steps: int | None = None,
    on_step: Callable[[int, nn.Module, torch.optim.Optimizer], None] | None = None,
    show_progress: bool = False,
    desc: str = "train",
) -> History:
    """Train ``model`` with ``optimizer`` for ``epochs`` passes over ``train``.

    train: batches ``(x, y)`` with a length (:class:`TensorBatches` or a ``DataLoader``),
        already on the model's device.
    test: held-out ``(x, y)``, evaluated every ``eval_every`` steps (default: once an
        epoch) and after the last step.
    schedule: a learning-rate scheduler, stepped after every optimiser step.
    target: a test accuracy; the first evaluation that reaches it sets ``steps_to_target``
        and ``time_to_target_s``. With ``stop_at_target`` training ends there.
    max_steps: stop after this many optimiser steps even if epochs remain (the schedule is
        not changed: it is the same run, cut short). ``max_steps=1`` takes the learning out.
    on_step: called as ``on_step(step, model, optimizer)`` after every optimiser step
        (``step`` counts from 1), e.g. to read the optimiser's state.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs={epochs!r} is not allowed: it must be an integer >= 1")
    if max_steps is not None and (
        isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1
    ):
        raise ValueError(
            f"max_steps={max_steps!r} is not allowed: it must be None or an integer >= 1"
        )
    steps_per_epoch = len(train)
    eval_every = eval_every or steps_per_epoch
    history = History(steps_per_epoch=steps_per_epoch, target=target)

    def evaluate_now(step: int) -> bool:
        """Evaluate; True when training should stop because the target is reached."""
        loss, accuracy = evaluate(model, *test)
        history.eval_step.append(step)
        history.test_loss.append(loss)
        history.test_accuracy.append(accuracy)
        if target is not None and history.steps_to_target is None and accuracy >= target:
            history.steps_to_target = step
            history.time_to_target_s = history.train_time_s
            return stop_at_target
        return False

    model.train()
    step, stop = 0, False
    epoch_range = range(epochs)
    bar = None
    if show_progress:
        from coursekit.bars import progress

        epoch_range = bar = progress(epoch_range, desc=desc)
    for _ in epoch_range:
        for x, y in train:
            start = time.perf_counter()
            history.lr.append(optimizer.param_groups[0]["lr"])
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            if schedule is not None:
                schedule.step()
            loss_value = loss.item()  # also waits for a GPU to finish the step
            history.train_time_s += time.perf_counter() - start
            history.train_loss.append(loss_value)
            step += 1
            if on_step is not None:
                on_step(step, model, optimizer)
            if not math.isfinite(loss_value):
                history.diverged = stop = True
                break
            if test is not None and step % eval_every == 0:
                stop = evaluate_now(step)
                if stop:
                    break
            if max_steps is not None and step >= max_steps:
                stop = True
                break
        if bar is not None and history.test_accuracy:
            bar.set_postfix(
                loss=f"{history.train_loss[-1]:.3g}", acc=f"{history.final_accuracy:.3f}"
            )
        if stop:
            break
    if bar is not None:
        bar.close()
    if test is not None and (not history.eval_step or history.eval_step[-1] != step):
        evaluate_now(step)
    return history


__all__ = [
    "OPTIMIZERS",
    "History",
    "TensorBatches",
    "evaluate",
    "fit",
    "make_optimizer",
    "mlp",
    "validation_split",
]
