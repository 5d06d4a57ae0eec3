"""Contour maps with optimisation trajectories drawn on them.

    fig, ax = plt.subplots()
    plot.contour_trajectories(
        ax, problems.rosenbrock, {"GD": path_gd, "Newton": path_newton},
        xlim=(-2, 2), ylim=(-1, 3), minimum=(1, 1), log_levels=True,
    )

``fn`` maps a tensor of points ``(..., 2)`` to values ``(...)``; each path is a ``(T, 2)``
tensor or array of the iterates, the start first. Paths that leave the window are clipped by
the axes, and a path that diverges to inf or nan is drawn up to its last finite point.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch

from coursekit import validate

Fn = Callable[[torch.Tensor], torch.Tensor]


def grid_values(
    fn: Fn,
    xlim: tuple[float, float],
    ylim: tuple[float, float],
    n: int = 200,
    device: torch.device | str | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``fn`` on an ``n`` by ``n`` float64 grid over the window: ``(X, Y, Z)`` as numpy arrays.

    The grid is made on ``device`` (the CPU by default): pass the device ``fn``'s own
    tensors live on, such as a problem's data on the GPU."""
    n = validate.integer("n", n, minimum=2)
    for name, (lo, hi) in (("xlim", xlim), ("ylim", ylim)):
        if not lo < hi:
            raise ValueError(f"{name} must be (low, high) with low < high, got {(lo, hi)!r}")
    xs = torch.linspace(xlim[0], xlim[1], n, dtype=torch.float64, device=device)
    ys = torch.linspace(ylim[0], ylim[1], n, dtype=torch.float64, device=device)
    gx, gy = torch.meshgrid(xs, ys, indexing="xy")
    z = fn(torch.stack([gx, gy], dim=-1))
    return gx.cpu().numpy(), gy.cpu().numpy(), z.detach().cpu().double().numpy()


def as_path(path) -> np.ndarray:
    """A ``(T, 2)`` numpy array of the finite iterates of ``path`` (a tensor or array)."""
    if isinstance(path, torch.Tensor):
        path = path.detach().cpu().double().numpy()
    arr = np.asarray(path, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 2 or len(arr) == 0:
        raise ValueError(f"a path must have shape (T, 2) with T >= 1, got {arr.shape}")
    finite = np.isfinite(arr).all(axis=1)
    last = len(arr) if finite.all() else int(np.argmin(finite))
    return arr[:last]


def contour_trajectories(
    ax,
    fn: Fn,
    paths: Mapping[str, object],
    *,
    xlim: tuple[float, float],
    ylim: tuple[float, float],
    levels: int | list[float] = 20,
    log_levels: bool = False,
    minimum: tuple[float, float] | None = None,
    n: int = 200,
    markers: bool = True,
    styles: Mapping[str, dict] | None = None,
    equal_aspect: bool = False,
    title: str | None = None,
    device: torch.device | str | None = None,
):
    """Draw ``fn``'s contours over the window and each path on top; returns ``ax``.

    ``log_levels=True`` spaces the levels evenly in log scale between the smallest positive
    and the largest value on the grid, which suits functions with a flat valley and steep
    walls (Rosenbrock). ``minimum`` marks the minimiser with a star. The legend names the
    paths in the order given; the first path's start is marked "start" (the paths usually
    share it), and each path's last point is a square. Path ``i`` is drawn in colour ``C<i>``;
    ``styles`` maps a path's label to keyword arguments of ``ax.plot`` that override that (a
    colour, a line width, ``zorder=5`` to draw it on top of the others). ``equal_aspect=True``
    gives both axes the same scale, so that the contours' shapes and angles are true.
    ``device`` is where ``fn`` is evaluated (see :func:`grid_values`).
    """
    styles = dict(styles or {})
    unknown = sorted(set(styles) - set(paths))
    if unknown:
        raise ValueError(f"styles names paths that are not given: {unknown}")
    gx, gy, z = grid_values(fn, xlim, ylim, n, device)
    if log_levels and isinstance(levels, int):
        positive = z[z > 0]
        if positive.size == 0:
            raise ValueError("log_levels=True needs a function with positive values on the grid")
        levels = list(np.geomspace(positive.min(), positive.max(), levels))
    ax.contour(gx, gy, z, levels=levels, cmap="Greys_r", linewidths=0.7, alpha=0.8)
    for i, (label, path) in enumerate(paths.items()):
        pts = as_path(path)
        if len(pts) == 0:
            continue
        style = dict(color=f"C{i}", lw=1.3)
        if markers:
            style.update(marker="o", markersize=2.5)
        style.update(styles.get(label, {}))
        ax.plot(pts[:, 0], pts[:, 1], label=label, **style)
        end = {k: style[k] for k in ("color", "zorder") if k in style}
        ax.plot(pts[-1, 0], pts[-1, 1], "s", markersize=5, **end)
    if paths:
        first = as_path(next(iter(paths.values())))
        if len(first):
            ax.plot(*first[0], "o", color="k", markersize=6, zorder=6, label="start")
    if minimum is not None:
        ax.plot(*minimum, "*", color="gold", markeredgecolor="k", markersize=13, zorder=6)
    ax.set(xlim=xlim, ylim=ylim, xlabel="$w_1$", ylabel="$w_2$")
    if equal_aspect:
        ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    if paths:
        ax.legend(loc="best", fontsize=9)
    return ax


__all__ = ["as_path", "contour_trajectories", "grid_values"]
