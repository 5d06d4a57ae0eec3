"""Claims a notebook states and checks, and the results file they are recorded in.

A claim is a number and what the notebook says about it: that it is close to an
expected value, or above or below a bar. Every claim is one of three kinds:

    identity  an exact fact: from-scratch code equals the library, an algebraic
              identity, a closed form. Its tolerance is floating-point rounding (or
              Monte Carlo error, stated), and it holds whatever the learning did.
    measured  a result of the run (of training, fitting or sampling), with a bar taken
              from what the text claims. With the learning taken out (the notebook's
              null run) it must fail: that is what makes it a claim about learning.
    timing    a wall time or a ratio of wall times: it varies from run to run, so it is
              left out of the determinism test, and the null run does not decide it.

The tolerance may depend on the run profile (a smoke run takes few steps, so its
measured claims are looser). Every claim, passed or failed, is written to
``build/results/<notebook>.json`` with the notebook's wall time, so that a results page
and the tests can read what a run measured.

By default a failed claim stops the notebook (``ClaimError``). With
``COURSEKIT_CHECKS=collect`` every claim is recorded and the run goes on; the summary at
the end raises one ``ClaimError`` that lists every failure. That is how the null run and
the seeds report see all of a notebook's claims in one run.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

PROFILES = ("smoke", "lab", "full")
KINDS = ("identity", "measured", "timing")
ENV_CHECKS = "COURSEKIT_CHECKS"
ENV_RESULTS = "COURSEKIT_RESULTS"
CHECK_MODES = ("stop", "collect")


class ClaimError(AssertionError):
    """A notebook's claim did not hold. The message says what was measured and why."""


@dataclass(frozen=True)
class Claim:
    name: str
    value: float
    passed: bool
    form: str  # "close", "at_least" or "at_most"
    kind: str = "measured"  # one of KINDS
    expected: float | None = None
    tolerance: float | None = None
    bar: float | None = None
    unit: str = ""

    def describe_bar(self) -> str:
        """The bar alone: ``0.5333 ± 0.01``, ``>= 0.9`` or ``<= 1e-12 nats``."""
        if self.form == "close":
            return f"{_fmt(self.expected)} ± {_fmt(self.tolerance, self.unit)}"
        relation = ">=" if self.form == "at_least" else "<="
        return f"{relation} {_fmt(self.bar, self.unit)}"

    def describe(self) -> str:
        value = _fmt(self.value, self.unit)
        if self.form == "close":
            off = abs(self.value - self.expected)
            return (
                f"{self.name} = {value}, expected {_fmt(self.expected, self.unit)} "
                f"± {_fmt(self.tolerance, self.unit)} (off by {_fmt(off, self.unit)})"
            )
        relation = ">=" if self.form == "at_least" else "<="
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
    kind: str = "measured",
) -> Claim:
    """Build the claim for one value. Exactly one form must be given:
    ``expected`` with ``tol``, or ``at_least``, or ``at_most``; ``kind`` is one of KINDS."""
    forms = [expected is not None, at_least is not None, at_most is not None]
    if sum(forms) != 1:
        raise ValueError(
            f"claim {name!r}: give exactly one of expected=(with tol=), at_least= or at_most="
        )
    if kind not in KINDS:
        raise ValueError(
            f"claim {name!r}: kind={kind!r} is not allowed: it must be one of {', '.join(KINDS)}"
        )
    value = float(value)
    if expected is not None:
        if tol is None:
            raise ValueError(f"claim {name!r}: expected= needs a tolerance tol=")
        tolerance = by_profile("tol", tol, profile)
        passed = math.isfinite(value) and abs(value - float(expected)) <= tolerance
        return Claim(name, value, passed, "close", kind, float(expected), tolerance, unit=unit)
    if at_least is not None:
        bar = by_profile("at_least", at_least, profile)
        passed = math.isfinite(value) and value >= bar
        return Claim(name, value, passed, "at_least", kind, bar=bar, unit=unit)
    bar = by_profile("at_most", at_most, profile)
    passed = math.isfinite(value) and value <= bar
    return Claim(name, value, passed, "at_most", kind, bar=bar, unit=unit)


def check_mode() -> str:
    """``stop`` (a failed claim raises at once) or ``collect``, from ``$COURSEKIT_CHECKS``."""
    mode = os.environ.get(ENV_CHECKS, "").strip() or "stop"
    if mode not in CHECK_MODES:
        raise ValueError(
            f"{ENV_CHECKS}={mode!r} is not allowed: it must be one of {', '.join(CHECK_MODES)}"
        )
    return mode


REPO = Path(__file__).resolve().parents[1]


def shown_path(path: Path) -> str:
    """A path as a reader should see it: relative to the repository when inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else path.name


class ChecksTable:
    """The checks of a run as a table: check, kind, value, bar, passed.

    Shown in full (no column cut short) as HTML in a notebook, and as aligned text
    elsewhere; ``frame()`` gives it as a pandas DataFrame.
    """

    columns = ("check", "kind", "value", "bar", "passed")

    def __init__(self, claims: list[Claim]):
        self.claims = list(claims)

    def rows(self) -> list[tuple[str, ...]]:
        return [
            (c.name, c.kind, _fmt(c.value, c.unit), c.describe_bar(), "yes" if c.passed else "NO")
            for c in self.claims
        ]

    def frame(self):
        import pandas as pd

        return pd.DataFrame(self.rows(), columns=self.columns)

    def __repr__(self) -> str:
        rows = [self.columns, *self.rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(self.columns))]
        lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(line.rstrip() for line in lines)

    def _repr_html_(self) -> str:
        from html import escape

        head = "".join(f"<th>{escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{escape(v)}</td>" for v in row) + "</tr>" for row in self.rows()
        )
        return f'<table class="coursekit-checks"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def results_dir() -> Path:
    """Where results go: ``$COURSEKIT_RESULTS`` if set, else ``<repo>/build/results``."""
    if os.environ.get(ENV_RESULTS):
        return Path(os.environ[ENV_RESULTS])
    root = REPO if (REPO / "pyproject.toml").exists() else Path.cwd()
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
