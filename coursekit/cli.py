"""Command line: ``python -m coursekit run|list|sweep|seeds|bench|site``."""

from __future__ import annotations

import argparse
import ast
import os
import sys
from pathlib import Path

from coursekit.claims import PROFILES


def _literal(text: str) -> object:
    """``500`` -> 500, ``1e-3`` -> 0.001, ``True`` -> True; anything else stays a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _parameters(pairs: list[list[str]] | None) -> dict:
    return {name: _literal(value) for name, value in pairs or []}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m coursekit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="execute notebooks with papermill and summarise their checks")
    run.add_argument("notebooks", nargs="*", help="names, numbers (01) or paths; default: all")
    run.add_argument(
        "--profile",
        default="auto",
        choices=[*PROFILES, "auto"],
        help="run profile (auto: $COURSEKIT_PROFILE, else full with CUDA, else lab)",
    )
    run.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="a notebook parameter, e.g. -p steps 500 (repeatable)",
    )
    run.add_argument("-x", "--fail-fast", action="store_true", help="stop at the first failure")
    run.add_argument("--timeout", type=float, default=None, help="seconds allowed per cell")
    run.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for the executed copies (default: build/notebooks/<profile>/)",
    )

    sweep = sub.add_parser(
        "sweep", help="execute one notebook over a grid of parameters and tabulate the results"
    )
    sweep.add_argument("notebook", help="a course notebook (name, number) or a notebook's path")
    sweep.add_argument(
        "-p",
        "--parameter",
        nargs="+",
        action="append",
        required=True,
        metavar="NAME VALUE",
        help="a swept parameter and its values, e.g. -p lr 0.01 0.1 (repeatable: a grid)",
    )
    sweep.add_argument(
        "--set",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="a parameter held fixed over the sweep",
    )
    sweep.add_argument("--profile", default="auto", choices=[*PROFILES, "auto"])
    sweep.add_argument("--timeout", type=float, default=None, help="seconds allowed per cell")
    sweep.add_argument(
        "--jobs", type=int, default=None, help="points run at once (default: CPU cores, at most 4)"
    )

    seeds = sub.add_parser(
        "seeds",
        help="run notebooks over several seeds and report, per claim, its spread and whether "
        "every seed passed",
    )
    seeds.add_argument("notebooks", nargs="*", help="names, numbers (01) or paths; default: all")
    seeds.add_argument("--n", type=int, default=5, help="how many seeds (default 5)")
    seeds.add_argument("--first", type=int, default=0, help="the first seed (default 0)")
    seeds.add_argument("--profile", default="lab", choices=[*PROFILES, "auto"])
    seeds.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="a notebook parameter held fixed over the seeds",
    )
    seeds.add_argument("--timeout", type=float, default=None, help="seconds allowed per cell")
    seeds.add_argument(
        "--jobs", type=int, default=1, help="seeds run at once (default 1: timings stay their own)"
    )

    bench = sub.add_parser("bench", help="benchmarks: `bench optim` times coursekit.optim vs torch")
    bench.add_argument("suite", choices=["optim"])
    bench.add_argument("--params", type=int, default=10_000_000, help="model size (parameters)")
    bench.add_argument("--steps", type=int, default=20, help="timed steps per optimiser")
    bench.add_argument("--device", default="auto", help="cpu, cuda, or auto")

    sub.add_parser("list", help="list the course's notebooks in order")

    site = sub.add_parser(
        "site", help="build the static site from the executed notebooks into build/site/"
    )
    site.add_argument(
        "--profile",
        choices=PROFILES,
        default=None,
        help="whose executed copies to show (default: the most complete set, then the newest)",
    )
    site.add_argument(
        "--repo-url",
        default=os.environ.get("COURSEKIT_REPO_URL"),
        help="the course's repository, for Binder/Colab launch buttons "
        "(default: $COURSEKIT_REPO_URL, else the git remote origin)",
    )
    site.add_argument("--branch", default="main", help="the repository branch launch buttons use")

    student = sub.add_parser(
        "student", help="the learner's notebooks, each solution a stub, into build/student/"
    )
    student.add_argument("--out", type=Path, default=None, help="folder (default build/student/)")
    sub.add_parser("progress", help="the exercises solved and not yet solved, per notebook")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from coursekit import runner

    if args.command == "list":
        for nb in runner.course_notebooks():
            print(nb.stem)
        return 0
    if args.command == "sweep":
        return _sweep(args)
    if args.command == "seeds":
        return _seeds(args)
    if args.command == "bench":
        return _bench(args)
    if args.command == "site":
        return _site(args)
    if args.command == "student":
        return _student(args)
    if args.command == "progress":
        from coursekit import exercise

        print(exercise.progress_report())
        return 0
    try:
        return runner.run_course(
            args.notebooks,
            profile=args.profile,
            parameters=_parameters(args.parameter),
            fail_fast=args.fail_fast,
            timeout=args.timeout,
            out_dir=args.out,
        )
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def _grid(specs: list[list[str]]) -> dict:
    grid = {}
    for spec in specs:
        if len(spec) < 2:
            raise ValueError(f"-p {spec[0]} needs at least one value, e.g. -p {spec[0]} 0.1 0.01")
        grid[spec[0]] = [_literal(v) for v in spec[1:]]
    return grid


def _bench(args) -> int:
    import pandas as pd

    from coursekit.optim.bench import bench
    from coursekit.runtime import pick_device

    device = pick_device(args.device)
    print(f"coursekit.optim against torch.optim (foreach), {args.params:,} parameters, {device}")
    rows = bench(n_params=args.params, steps=args.steps, device=str(device))
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    return 0


def _student(args) -> int:
    from coursekit import runner
    from coursekit.exercise import student

    out = args.out or runner.BUILD / "student"
    try:
        made = student.write_student_set(runner.NOTEBOOKS, out)
    except student.MarkerError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for name, exercises in made.items():
        if exercises:
            print(f"{name}: {len(exercises)} exercises ({', '.join(exercises)})")
    total = sum(len(e) for e in made.values())
    print(f"{len(made)} notebooks, {total} exercises, in {out}")
    return 0


def _site(args) -> int:
    from coursekit import site

    try:
        index = site.build(args.profile, repo_url=args.repo_url, branch=args.branch)
    except (ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(index)
    return 0


def _seeds(args) -> int:
    import pandas as pd

    from coursekit import runner, seeds

    try:
        notebooks = runner.find_notebooks(args.notebooks)
        reports = []
        for nb in notebooks:
            print(f"{nb.stem}: seeds {args.first}..{args.first + args.n - 1} ({args.profile})")
            reports.append(
                seeds.run(
                    nb,
                    args.n,
                    profile=args.profile,
                    first=args.first,
                    parameters=_parameters(args.parameter),
                    timeout=args.timeout,
                    jobs=args.jobs,
                )
            )
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    with pd.option_context("display.width", 200, "display.max_colwidth", 70):
        for report in reports:
            print(f"\n{report.notebook} ({report.profile}):")
            print(report.frame().to_string(index=False, float_format=lambda x: f"{x:.4g}"))
            for seed, why in report.failed_runs.items():
                print(f"seed {seed} stopped before the end: {why}")
            print(f"report: {report.out_dir / 'seeds.md'}")
    failing = [r.notebook for r in reports if not r.ok]
    print(
        f"\n{len(reports) - len(failing)}/{len(reports)} notebooks: every claim held on every seed"
    )
    if failing:
        print("not on every seed: " + ", ".join(failing))
    return 1 if failing else 0


def _sweep(args) -> int:
    from coursekit import sweep

    try:
        table = sweep.run(
            args.notebook,
            _grid(args.parameter),
            profile=args.profile,
            fixed=_parameters(args.set),
            timeout=args.timeout,
            jobs=args.jobs,
        )
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print()
    sweep.print_table(table)
    print(f"\nexecuted copies and sweep.csv: {table.attrs['out_dir']}")
    return 0 if table["ok"].all() else 1


if __name__ == "__main__":
    sys.exit(main())
