"""Command line: ``python -m coursekit run|list``."""

from __future__ import annotations

import argparse
import ast
import sys

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

    sub.add_parser("list", help="list the course's notebooks in order")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from coursekit import runner

    if args.command == "list":
        for nb in runner.course_notebooks():
            print(nb.stem)
        return 0
    try:
        return runner.run_course(
            args.notebooks,
            profile=args.profile,
            parameters=_parameters(args.parameter),
            fail_fast=args.fail_fast,
            timeout=args.timeout,
        )
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
