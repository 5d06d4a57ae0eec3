"""Lookahead: k fast steps with any optimiser, then one step back towards slow weights."""

from __future__ import annotations

from typing import Any

import torch
from torch.optim import Optimizer

from coursekit.optim._base import Closure, CourseOptimizer, require

_OWN_KEYS = ("lookahead_k", "lookahead_alpha", "lookahead_step")


class Lookahead(CourseOptimizer):
    r"""Lookahead (Zhang, Lucas, Hinton & Ba, 2019, "Lookahead optimizer: k steps forward,
    1 step back").

    Wraps an inner ("fast") optimiser. The slow weights ``phi`` start at the parameters'
    values at the first step; then::

        theta <- inner optimiser step (theta)          every step
        every k-th step:
            phi   <- phi + alpha * (theta - phi)
            theta <- phi

    The wrapper shares its parameter groups with the inner optimiser (the same dict
    objects), so changing ``lr`` through either, or through a learning-rate scheduler, changes
    it for both. Each group also holds ``lookahead_k``, ``lookahead_alpha`` and a step counter
    ``lookahead_step``. The inner state is kept in the inner optimiser; ``state_dict`` returns
    ``{"inner": ..., "lookahead": ...}`` and ``load_state_dict`` restores both.

    Args:
        optimizer: the inner optimiser, already built on the parameters.
        k: number of fast steps between synchronisations, an int >= 1.
        alpha: slow step size in (0, 1].
    """

    def __init__(self, optimizer: Optimizer, k: int = 5, alpha: float = 0.5) -> None:
        self.optimizer = optimizer
        defaults = dict(lookahead_k=k, lookahead_alpha=alpha, lookahead_step=0)
        super().__init__(optimizer.param_groups, defaults)

    def check_hyperparameters(self, group: dict) -> None:
        k, alpha = group["lookahead_k"], group["lookahead_alpha"]
        require(isinstance(k, int) and k >= 1, "k", k, "an int >= 1")
        require(0.0 < alpha <= 1.0, "alpha", alpha, "in (0, 1]")

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        # Groups taken from the inner optimiser at construction are already registered there;
        # a group added later goes to both, as one shared dict.
        if not any(param_group is g for g in self.optimizer.param_groups):
            self.optimizer.add_param_group(param_group)
        super().add_param_group(param_group)

    @torch.no_grad()
    def step(self, closure: Closure | None = None) -> torch.Tensor | None:
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                if "slow_param" not in state:
                    state["slow_param"] = p.detach().clone()

        loss = self.optimizer.step(closure)

        for group in self.param_groups:
            group["lookahead_step"] += 1
            if group["lookahead_step"] % group["lookahead_k"] != 0:
                continue
            for p in group["params"]:
                slow = self.state[p]["slow_param"]
                slow.lerp_(p, group["lookahead_alpha"])  # phi + alpha * (theta - phi)
                p.copy_(slow)
        return loss

    def state_dict(self) -> dict[str, Any]:
        return {"inner": self.optimizer.state_dict(), "lookahead": super().state_dict()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state_dict["inner"])
        super().load_state_dict(state_dict["lookahead"])
        # Loading gives both optimisers fresh group dicts; share them again.
        for ours, inner in zip(self.param_groups, self.optimizer.param_groups, strict=True):
            inner.update({key: ours[key] for key in _OWN_KEYS})
        self.param_groups = self.optimizer.param_groups

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none)
