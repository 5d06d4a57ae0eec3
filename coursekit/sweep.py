"""Parameter sweeps: one notebook executed over a grid of parameters, results gathered.

    python -m coursekit sweep 03 -p batch_size 64 256 1024 -p lr 0.01 0.1 --profile smoke

or, from Python (a notebook included),

    table = ck.sweep.run("notebooks/tasks/train_digits.ipynb",
                         {"batch_size": [64, 256], "lr": [0.01, 0.1]}, profile="smoke")
    ck.sweep.heatmap(table, x="batch_size", y="lr", value="test accuracy")

Each grid point is one papermill run of the notebook with those parameters; its
executed copy and its recorded results (``run.check`` / ``run.record``) land in
``build/sweeps/<notebook>/<profile>/``, and the table has one row per point: the
parameters, whether it ran, its wall time, and every checked or recorded number.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from coursekit import claims, runner
from coursekit.runtime import resolve_profile
from coursekit.validate import integer


def grid_points(grid: dict[str, list] | list[dict[str, list]]) -> list[dict]:
    """Every combination of the grid's values, in order (the last name varies fastest).

    A list of grids is their union, one grid after another: a grid whose windows differ from
    column to column (each batch size its own rates) is a list of one-column grids."""
    if isinstance(grid, list | tuple):
        if not grid:
            raise ValueError(f"grid={grid!r} is not allowed: give at least one grid")
        return [point for part in grid for point in grid_points(part)]
    if not isinstance(grid, dict) or not grid:
        raise ValueError(
            f"grid={grid!r} is not allowed: name at least one parameter with its list of values"
        )
    for name, values in grid.items():
        if not isinstance(values, list | tuple) or not values:
            raise ValueError(
                f"grid[{name!r}]={values!r} is not allowed: it must be a non-empty list"
            )
    names = list(grid)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*grid.values())]


def point_id(point: dict) -> str:
    return "__".join(f"{k}={v}" for k, v in point.items()).replace("/", "_")


def sweep_dir(notebook: Path, profile: str) -> Path:
    return runner.BUILD / "sweeps" / notebook.stem / profile


def run(
    notebook: str | Path,
    grid: dict[str, list] | list[dict[str, list]],
    *,
    profile: str = "auto",
    fixed: dict | None = None,
    out_dir: Path | None = None,
    timeout: float | None = None,
    jobs: int | None = None,
):
    """Execute ``notebook`` once per grid point; return a pandas DataFrame, one row each.

    ``grid`` maps each parameter to its values (every combination runs), or is a list of such
    grids (their union runs, as one pool: see ``grid_points``).

    A failing point does not stop the sweep: its row has ``ok`` False and the error.
    ``jobs`` points run at once, each in a process of its own (default: as many as there are
    CPU cores, at most 4); the rows come back in the grid's order whatever finishes first,
    and each point's numbers are those of its seed alone.
    """
    import pandas as pd

    from coursekit.bars import progress

    notebook = runner.find_notebooks([str(notebook)])[0]
    profile = resolve_profile(profile)
    points = grid_points(grid)
    jobs = min(4, os.cpu_count() or 1) if jobs is None else integer("jobs", jobs, minimum=1)
    out_dir = Path(out_dir) if out_dir else sweep_dir(notebook, profile)
    tasks = [
        (notebook, profile, point, fixed or {}, out_dir / point_id(point), timeout)
        for point in points
    ]
    bar = progress(total=len(points), desc=f"sweep {notebook.stem}")
    rows: list[dict | None] = [None] * len(points)
    if min(jobs, len(points)) == 1:
        for i, task in enumerate(tasks):
            bar.set_postfix_str(point_id(points[i]))
            rows[i] = _run_point(*task)
            bar.update()
    else:
        # Processes, not threads: each point's kernel inherits its own $COURSEKIT_RESULTS.
        # "spawn" starts clean interpreters (forking a Jupyter kernel's threads is unsafe).
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(jobs, len(points)), mp_context=context) as pool:
            futures = {pool.submit(_run_point, *task): i for i, task in enumerate(tasks)}
            for future in as_completed(futures):
                i = futures[future]
                rows[i] = future.result()
                bar.set_postfix_str(point_id(points[i]))
                bar.update()
    bar.close()
    table = pd.DataFrame(rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / "sweep.csv", index=False)
    table.attrs["out_dir"] = str(out_dir)
    return table


def _run_point(
    notebook: Path, profile: str, point: dict, fixed: dict, point_dir: Path, timeout: float | None
) -> dict:
    """One grid point: its own results folder for the kernel to inherit, then its row."""
    with runner.environment(**{claims.ENV_RESULTS: str(point_dir)}):
        outcome = runner.execute(
            notebook, profile, {**fixed, **point}, out_dir=point_dir, timeout=timeout
        )
    return _row(point, outcome, point_dir / f"{notebook.stem}.json")


def _row(point: dict, outcome: runner.Outcome, results_file: Path) -> dict:
    row = {**point, "ok": outcome.ok, "wall_time_s": round(outcome.wall_time_s, 2)}
    if results_file.exists():
        recorded = json.loads(results_file.read_text())
        row.update({c["name"]: c["value"] for c in recorded["checks"]})
        row.update({k: v for k, v in recorded["metrics"].items() if isinstance(v, int | float)})
    row["error"] = outcome.error
    return row


def heatmap(table, x: str, y: str, value: str, ax=None, fmt: str = "{:.3g}", cmap: str = "viridis"):
    """A heat map of ``value`` over two swept parameters, each cell labelled with its number."""
    import matplotlib.pyplot as plt
    import numpy as np

    for column in (x, y, value):
        if column not in table.columns:
            raise ValueError(f"column {column!r} is not in the sweep table: {list(table.columns)}")
    pivot = table.pivot_table(index=y, columns=x, values=value, aggfunc="mean", dropna=False)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.2 * len(pivot.columns) + 2.5, 0.8 * len(pivot.index) + 1.8))
    image = ax.imshow(pivot.to_numpy(dtype=float), cmap=cmap, aspect="auto", origin="lower")
    ax.set_xticks(range(len(pivot.columns)), [str(c) for c in pivot.columns])
    ax.set_yticks(range(len(pivot.index)), [str(i) for i in pivot.index])
    ax.set(xlabel=x, ylabel=y, title=value)
    values = pivot.to_numpy(dtype=float)
    ran = table.pivot_table(index=y, columns=x, values="ok", aggfunc="any", dropna=False)
    # text in the colour map's light or dark half gets the contrasting colour
    norm = image.norm
    for (i, j), v in np.ndenumerate(values):
        if np.isnan(v):  # a point that failed, or ran without recording this value
            label, colour = ("not recorded" if ran.iloc[i, j] else "failed"), "black"
        else:
            label = fmt.format(v)
            colour = "white" if sum(image.cmap(norm(v))[:3]) < 1.5 else "black"
        ax.text(j, i, label, ha="center", va="center", color=colour)
    ax.figure.colorbar(image, ax=ax)
    return ax


def print_table(table) -> None:
    shown = table.drop(columns=["error"]).to_string(index=False)
    print(shown)
    for _, row in table[~table["ok"]].iterrows():
        print(f"FAILED {row.drop(['ok', 'error', 'wall_time_s']).to_dict()}: {row['error']}")


__all__ = ["grid_points", "heatmap", "point_id", "run", "sweep_dir"]
