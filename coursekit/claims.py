"""Claims a notebook states and checks, and the results file they are recorded in.

A claim is a measured number and what the notebook says about it: that it is close
to an expected value, or above or below a bar. The tolerance may depend on the run
profile (a smoke run takes few steps, so its claims are looser). Every claim, passed
or failed, is written to ``build/results/<notebook>.json`` with the notebook's wall
time, so that a results page and the tests can read what a run measured.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

PROFILES = ("smoke", "lab", "full")


class ClaimError(AssertionError):
    """A notebook's claim did not hold. The message says what was measured and why."""


@dataclass(frozen=True)
class Claim:
    name: str
    value: float
    passed: bool
    kind: str  # "close", "at_least" or "at_most"
    expected: float | None = None
    tolerance: float | None = None
    bar: float | None = None
    unit: str = ""

    def describe(self) -> str:
        value = _fmt(self.value, self.unit)
        if self.kind == "close":
            off = abs(self.value - self.expected)
            return (
                f"{self.name} = {value}, expected {_fmt(self.expected, self.unit)} "
                f"± {_fmt(self.tolerance, self.unit)} (off by {_fmt(off, self.unit)})"
            )
        relation = ">=" if self.kind == "at_least" else "<="
        return f"{self.name} = {value}, claimed {relation} {_fmt(self.bar, self.unit)}"


def _fmt(x: float, unit: str = "") -> str:
    text = f"{x:.4g}" if isinstance(x, float) else str(x)
    return f"{text} {unit}".rstrip()


def by_profile(name: str, setting: object, profile: str) -> float:
    """A number, or a per-profile dict of numbers such as ``dict(smoke=0.05, lab=0.01)``.

    A profile missing from the dict takes the nearest one given, the looser neighbour
    first: ``dict(smoke=0.05, lab=0.01)`` gives ``full`` lab's 0.01.
    """
    if not isinstance(setting, dict):
        return float(setting)
    unknown = set(setting) - set(PROFILES)
    if unknown:
        raise ValueError(
            f"{name} names unknown profiles {sorted(unknown)}: allowed are {', '.join(PROFILES)}"
        )
    here = PROFILES.index(profile)
    nearest = sorted(
        (p for p in PROFILES if p in setting),
        key=lambda p: (abs(PROFILES.index(p) - here), PROFILES.index(p)),
    )
    if not nearest:
        raise ValueError(f"{name}={setting!r} gives no value for any profile")
    return float(setting[nearest[0]])


def evaluate(
    name: str,
    value: float,
    profile: str,
    *,
    expected: float | None = None,
    tol: object = None,
    at_least: object = None,
    at_most: object = None,
    unit: str = "",
) -> Claim:
    """Build the claim for one measured value. Exactly one form must be given:
    ``expected`` with ``tol``, or ``at_least``, or ``at_most``."""
    forms = [expected is not None, at_least is not None, at_most is not None]
    if sum(forms) != 1:
        raise ValueError(
            f"claim {name!r}: give exactly one of expected=(with tol=), at_least= or at_most="
        )
    value = float(value)
    if expected is not None:
        if tol is None:
            raise ValueError(f"claim {name!r}: expected= needs a tolerance tol=")
        tolerance = by_profile("tol", tol, profile)
        passed = math.isfinite(value) and abs(value - float(expected)) <= tolerance
        return Claim(name, value, passed, "close", float(expected), tolerance, unit=unit)
    if at_least is not None:
        bar = by_profile("at_least", at_least, profile)
        return Claim(
            name, value, math.isfinite(value) and value >= bar, "at_least", bar=bar, unit=unit
        )
    bar = by_profile("at_most", at_most, profile)
    return Claim(name, value, math.isfinite(value) and value <= bar, "at_most", bar=bar, unit=unit)


def results_dir() -> Path:
    """Where results go: ``$COURSEKIT_RESULTS`` if set, else ``<repo>/build/results``."""
    if os.environ.get("COURSEKIT_RESULTS"):
        return Path(os.environ["COURSEKIT_RESULTS"])
    repo = Path(__file__).resolve().parents[1]
    root = repo if (repo / "pyproject.toml").exists() else Path.cwd()
    return root / "build" / "results"


@dataclass
class Recorder:
    """Keeps a notebook's claims and key numbers and rewrites its results file after each."""

    notebook: str
    header: dict
    started: float = field(default_factory=time.perf_counter)
    claims: list[Claim] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return results_dir() / f"{self.notebook}.json"

    def add_claim(self, claim: Claim) -> None:
        # A claim checked twice (a re-run cell) replaces its earlier value.
        self.claims = [c for c in self.claims if c.name != claim.name] + [claim]
        self.write()

    def add_metric(self, name: str, value: object) -> None:
        self.metrics[name] = value
        self.write()

    def add_timing(self, name: str, seconds: float) -> None:
        self.timings[name] = round(float(seconds), 4)
        self.write()

    def write(self) -> Path:
        data = {
            **self.header,
            "wall_time_s": round(time.perf_counter() - self.started, 3),
            "checks_passed": sum(c.passed for c in self.claims),
            "checks_total": len(self.claims),
            "checks": [asdict(c) for c in self.claims],
            "metrics": self.metrics,
            "timings_s": self.timings,
        }
        path = self.path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, indent=2, default=_json_default) + "\n")
        tmp.replace(path)
        return path


def _json_default(x: object) -> object:
    # numpy and torch scalars, and small arrays, as plain JSON.
    if hasattr(x, "tolist"):
        return x.tolist()
    if hasattr(x, "item"):
        return x.item()
    raise TypeError(f"cannot record {type(x).__name__} in results JSON")


def load_results(notebook: str) -> dict | None:
    path = results_dir() / f"{notebook}.json"
    return json.loads(path.read_text()) if path.exists() else None
