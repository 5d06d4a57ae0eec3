"""Plumbing shared by the course optimisers: argument checks and a small base class.

Every optimiser here checks its hyperparameters the way ``torch.optim`` does: a bad value
raises ``ValueError`` naming the argument, the value and what is allowed, for example
``ValueError("lr must be >= 0, got -1")``. The checks run on the constructor's defaults and
again on every parameter group, so a bad per-group value is caught too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch.optim import Optimizer

Params = Iterable[torch.Tensor] | Iterable[dict[str, Any]]
Closure = Callable[[], torch.Tensor]


def require(ok: bool, name: str, value: object, allowed: str) -> None:
    """Raise ``ValueError("<name> must be <allowed>, got <value>")`` unless ``ok``."""
    if not ok:
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


def check_nonnegative(name: str, value: float) -> None:
    # NaN compares False with everything, so it is rejected too.
    require(value >= 0.0, name, value, ">= 0")


def check_positive(name: str, value: float) -> None:
    require(value > 0.0, name, value, "> 0")


def check_beta(name: str, value: float) -> None:
    """A decay rate of a running average: 0 <= value < 1."""
    require(0.0 <= value < 1.0, name, value, "in [0, 1)")


class CourseOptimizer(Optimizer):
    """A ``torch.optim.Optimizer`` that validates the hyperparameters of every group.

    Subclasses override :meth:`check_hyperparameters`; it receives the defaults first and
    later each parameter group (already merged with the defaults).
    """

    def __init__(self, params: Params, defaults: dict[str, Any]) -> None:
        self.check_hyperparameters(defaults)
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        self.check_hyperparameters({**self.defaults, **param_group})
        super().add_param_group(param_group)

    def check_hyperparameters(self, group: dict[str, Any]) -> None:
        """Raise ``ValueError`` for a bad hyperparameter in ``group``."""

    @staticmethod
    def evaluate(closure: Closure | None) -> torch.Tensor | None:
        """Run the optional closure with autograd switched on (``step`` runs under no_grad)."""
        if closure is None:
            return None
        with torch.enable_grad():
            return closure()
