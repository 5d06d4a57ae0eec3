"""The same notebook over several seeds: does every claim hold, and by what margin?

    python -m coursekit seeds 04 --n 5 --profile lab
    python -m coursekit seeds --n 5 --profile lab          # every notebook

A measured claim that holds for seed 0 only is luck, not a result. This runs a notebook
once per seed (a sweep over ``seed``, with ``COURSEKIT_CHECKS=collect`` so that a failed
claim does not hide the ones after it) and reports, per claim: how many seeds passed,
the spread of the value, and the worst margin to the bar. Bars are then set from that
spread (for example the worst seed with a margin), not from one lucky run.

Each seed's executed copy and results land in ``build/seeds/<notebook>/<profile>/seed=K/``,
and the report in ``seeds.csv`` and ``seeds.md`` beside them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from coursekit import claims, runner, sweep
from coursekit.runtime import resolve_profile


def seeds_dir(notebook: Path, profile: str) -> Path:
    return runner.BUILD / "seeds" / notebook.stem / profile


def margin(check: dict) -> float:
    """How far a recorded check's value is from failing: positive when it passed, in
    the value's units (for ``close``: the tolerance left over)."""
    value = check["value"]
    if not math.isfinite(value):
        return -math.inf
    if check["form"] == "close":
        return check["tolerance"] - abs(value - check["expected"])
    if check["form"] == "at_least":
        return value - check["bar"]
    return check["bar"] - value


@dataclass
class ClaimSpread:
    """One claim over the seeds that recorded it."""

    name: str
    kind: str
    bar: str  # the bar of the worst seed, as text
    seeds: list[int]
    values: list[float]
    passed: list[bool]
    margins: list[float]

    @property
    def all_passed(self) -> bool:
        return all(self.passed)

    def row(self, n_seeds: int) -> dict:
        finite = [v for v in self.values if math.isfinite(v)]
        mean = sum(finite) / len(finite) if finite else math.nan
        sd = (
            math.sqrt(sum((v - mean) ** 2 for v in finite) / (len(finite) - 1))
            if len(finite) > 1
            else math.nan
        )
        worst = min(range(len(self.margins)), key=self.margins.__getitem__)
        return {
            "claim": self.name,
            "kind": self.kind,
            "passed": f"{sum(self.passed)}/{n_seeds}",
            "mean": mean,
            "sd": sd,
            "min": min(finite) if finite else math.nan,
            "max": max(finite) if finite else math.nan,
            "bar (worst seed)": self.bar,
            "worst margin": self.margins[worst],
            "worst seed": self.seeds[worst],
        }


def spreads(results: dict[int, dict]) -> list[ClaimSpread]:
    """Per claim, in the notebook's order, its values over the seeds' results files."""
    by_name: dict[str, ClaimSpread] = {}
    for seed, data in sorted(results.items()):
        for check in data["checks"]:
            spread = by_name.setdefault(
                check["name"], ClaimSpread(check["name"], check["kind"], "", [], [], [], [])
            )
            spread.seeds.append(seed)
            spread.values.append(check["value"])
            spread.passed.append(check["passed"])
            spread.margins.append(margin(check))
    for spread in by_name.values():
        worst = min(range(len(spread.margins)), key=spread.margins.__getitem__)
        data = results[spread.seeds[worst]]
        check = next(c for c in data["checks"] if c["name"] == spread.name)
        spread.bar = claims.Claim(**check).describe_bar()
    return list(by_name.values())


@dataclass
class Report:
    notebook: str
    profile: str
    seeds: list[int]
    failed_runs: dict[int, str]  # seed -> why the notebook stopped (not a failed claim)
    claims: list[ClaimSpread]
    out_dir: Path

    @property
    def ok(self) -> bool:
        complete = all(len(c.seeds) == len(self.seeds) for c in self.claims)
        return complete and all(c.all_passed for c in self.claims) and not self.failed_runs

    def frame(self):
        import pandas as pd

        return pd.DataFrame([c.row(len(self.seeds)) for c in self.claims])

    def markdown(self) -> str:
        lines = [
            f"### {self.notebook}, {self.profile}, seeds {self.seeds[0]}..{self.seeds[-1]}",
            "",
            "| claim | kind | passed | mean | sd | min | max | bar (worst seed) | worst margin |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for c in self.claims:
            r = c.row(len(self.seeds))
            numbers = " | ".join(_g(r[k]) for k in ("mean", "sd", "min", "max"))
            lines.append(
                f"| {r['claim']} | {r['kind']} | {r['passed']} | {numbers} "
                f"| {r['bar (worst seed)']} | {_g(r['worst margin'])} (seed {r['worst seed']}) |"
            )
        for seed, why in self.failed_runs.items():
            lines.append(f"\nseed {seed} stopped before the end: {why}")
        return "\n".join(lines) + "\n"


def _g(x: float) -> str:
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def run(
    notebook: str | Path,
    n: int = 5,
    *,
    profile: str = "lab",
    first: int = 0,
    parameters: dict | None = None,
    timeout: float | None = None,
    jobs: int = 1,
) -> Report:
    """Execute ``notebook`` for seeds ``first .. first + n - 1``; gather every claim.

    One seed after another by default (``jobs=1``): the timings of a run that shares the
    machine with another are not its own, and notebook 10's jobs each want both cores.
    """
    from coursekit.validate import integer

    n = integer("n", n, minimum=2)
    first = integer("first", first, minimum=0)
    nb = runner.find_notebooks([str(notebook)])[0]
    profile = resolve_profile(profile)
    seeds = list(range(first, first + n))
    out_dir = seeds_dir(nb, profile)
    with runner.environment(**{claims.ENV_CHECKS: "collect"}):  # the kernels inherit it
        table = sweep.run(
            nb,
            {"seed": seeds},
            profile=profile,
            fixed=parameters,
            out_dir=out_dir,
            timeout=timeout,
            jobs=jobs,
        )
    results, failed_runs = {}, {}
    for seed, error in zip(seeds, table["error"], strict=True):
        path = out_dir / sweep.point_id({"seed": seed}) / f"{nb.stem}.json"
        if path.is_file():
            results[seed] = json.loads(path.read_text())
        # a run in collect mode ends with the summary's ClaimError when a claim failed;
        # anything else stopped the notebook before its end
        if error and "ClaimError" not in error:
            failed_runs[seed] = error
    report = Report(nb.stem, profile, seeds, failed_runs, spreads(results), out_dir)
    report.frame().to_csv(out_dir / "seeds.csv", index=False)
    (out_dir / "seeds.md").write_text(report.markdown())
    return report


__all__ = ["Report", "margin", "run", "seeds_dir", "spreads"]
