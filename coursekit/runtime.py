"""Profiles, seeds, devices and the run object every notebook starts with.

    run = ck.setup(profile, seed=seed, notebook="04_svi_coin_toss",
                   smoke=dict(steps=300), lab=dict(steps=2000), full=dict(steps=5000),
                   null=dict(steps=1), null_run=null_run)
    run.steps, run.device, run.check(...), run.identity(...), run.record(...)

Profiles
    smoke  CI on any CPU: every cell runs and every claim holds loosely, in seconds.
    lab    a laptop CPU: meaningful results in a few minutes.
    full   a GPU: published-quality numbers, strict checks.
    auto   ``$COURSEKIT_PROFILE`` if set, else ``full`` when CUDA is present, else ``lab``.

The null run
    ``null`` holds the settings that take the learning out (one optimisation step, an
    untrained model): with ``null_run=True`` they replace the profile's. Every measured
    claim must then fail, which is what shows that it measures the learning
    (``tests/test_claims_can_fail.py`` runs each notebook that way).
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import platform
import random
import socket
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from types import MappingProxyType

import numpy as np
import torch

from coursekit import claims as _claims
from coursekit import figures
from coursekit.claims import PROFILES, Claim, ClaimError

ENV_PROFILE = "COURSEKIT_PROFILE"
_REPORTED = ("torch", "pyro-ppl", "pymc", "tensorflow")


def resolve_profile(profile: str) -> str:
    """``smoke``, ``lab`` or ``full``; ``auto`` picks one from the environment."""
    allowed = (*PROFILES, "auto")
    if profile not in allowed:
        raise ValueError(
            f"profile={profile!r} is not allowed: it must be one of {', '.join(allowed)}"
        )
    if profile != "auto":
        return profile
    from_env = os.environ.get(ENV_PROFILE, "").strip()
    if from_env:
        if from_env not in PROFILES:
            raise ValueError(
                f"{ENV_PROFILE}={from_env!r} is not allowed: it must be one of {', '.join(PROFILES)}"
            )
        return from_env
    return "full" if torch.cuda.is_available() else "lab"


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"device={device!r} is not allowed: {err}") from None
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} is not allowed: CUDA is not available here")
    return chosen


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (Pyro draws from torch's generator, so it is covered)."""
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 -- the legacy global generator is what libraries use
    torch.manual_seed(seed)  # also seeds every CUDA device


def quiet_libraries() -> None:
    """Silence the library notices that say nothing about the learner's code."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter
    for message in (
        "ArviZ is undergoing a major refactor",  # ArviZ's import-time notice
        "PyTensor could not link to a BLAS",  # pip-installed PyTensor; slower, not wrong
    ):
        warnings.filterwarnings("ignore", message=message)
    logging.getLogger("pyro").setLevel(logging.WARNING)


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def environment(device: torch.device) -> dict:
    versions = {"python": platform.python_version()}
    versions.update({d: v for d in _REPORTED if (v := _version(d))})
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = f"cpu ({torch.get_num_threads()} threads)"
    return {"versions": versions, "device_name": name, "host": socket.gethostname()}


def _merge_settings(
    profile: str,
    per_profile: dict,
    overrides: Mapping | None,
    null: Mapping | None = None,
    null_run: bool = False,
) -> dict:
    """The profile's settings, then the null run's (when ``null_run``), then the overrides."""
    given = {p: s for p, s in per_profile.items() if s is not None}
    if given:
        missing = [p for p in PROFILES if p not in given]
        if missing:
            raise ValueError(
                f"settings are given for {sorted(given)} but not for {missing}: give all three "
                "profiles (smoke, lab, full) so every run knows its values"
            )
        keys = {p: set(s) for p, s in given.items()}
        if len({frozenset(k) for k in keys.values()}) > 1:
            raise ValueError(f"the profiles' settings name different keys: {keys}")
    settings = dict(given.get(profile, {}))
    if null_run:
        if not null:
            raise ValueError(
                "null_run=True is not allowed here: this notebook gives no null= settings "
                "(the settings that take its learning out)"
            )
        unknown = sorted(set(null) - set(settings))
        if unknown:
            raise ValueError(
                f"null= names settings {unknown} that the profiles do not have: {sorted(settings)}"
            )
        settings.update(null)
    for key, value in (overrides or {}).items():
        if value is not None:  # None in a notebook parameter means "the profile's default"
            settings[key] = value
    return settings


@dataclass(frozen=True)
class Run:
    """A notebook run's configuration, and where its claims go.

    Per-profile settings read as attributes: ``run.steps``.
    """

    notebook: str
    profile: str
    seed: int
    device: torch.device
    null_run: bool = False
    checks: str = "stop"  # what a failed claim does: "stop" raises, "collect" goes on
    settings: Mapping = field(default_factory=dict)
    env: Mapping = field(default_factory=dict)
    recorder: _claims.Recorder | None = field(default=None, repr=False, compare=False)

    def __getattr__(self, name: str):
        settings = object.__getattribute__(self, "settings")
        if name in settings:
            return settings[name]
        raise AttributeError(
            f"run has no setting {name!r}; settings for profile "
            f"{object.__getattribute__(self, 'profile')!r} are {sorted(settings)}"
        )

    def check(
        self,
        name: str,
        value: float,
        *,
        expected: float | None = None,
        tol: object = None,
        at_least: object = None,
        at_most: object = None,
        unit: str = "",
        hint: str = "",
        kind: str = "measured",
    ) -> Claim:
        """Check a claim, record it, and raise ``ClaimError`` if it does not hold.

        ``tol``, ``at_least`` and ``at_most`` take a number or a per-profile dict,
        e.g. ``tol=dict(smoke=0.05, lab=0.01)``. ``kind`` is ``measured`` (a result of
        the learning, which the null run must fail), ``identity`` (an exact fact, see
        ``identity``) or ``timing`` (a wall time). With ``COURSEKIT_CHECKS=collect`` a
        failed claim is recorded and the run goes on; ``summary`` then raises.
        """
        claim = _claims.evaluate(
            name,
            value,
            self.profile,
            expected=expected,
            tol=tol,
            at_least=at_least,
            at_most=at_most,
            unit=unit,
            kind=kind,
        )
        self.recorder.add_claim(claim)
        label = "" if kind == "measured" else f"[{kind}] "
        if claim.passed:
            print(f"✓ {label}{claim.describe()}")
            return claim
        message = f"Claim failed in the {self.profile!r} profile: {claim.describe()}."
        if hint:
            message += f" {hint}"
        if self.checks == "collect":
            print(f"✗ {label}{message}")
            return claim
        raise ClaimError(message)

    def identity(self, name: str, value: float, **bar) -> Claim:
        """Check an exact fact (from scratch = library, an algebraic identity, a closed
        form) at rounding tolerance: ``run.identity("Adam = torch.optim.Adam", diff,
        at_most=1e-12)``. It is recorded as kind ``identity``, apart from the measured
        claims, because it must hold whatever the learning did."""
        return self.check(name, value, kind="identity", **bar)

    def load_data(self, name: str, **kwargs):
        """Load a dataset (:func:`coursekit.data.load`), say in one line which data this run
        uses, and record it in the results file, so that a published number is set beside
        this run only when both used the same data."""
        from coursekit import data as _data

        ds = _data.load(name, **kwargs)
        self.recorder.header["data"] = dict(
            key=ds.key, train=len(ds.y_train), test=len(ds.y_test), source=ds.source
        )
        self.recorder.write()
        print(f"data: {ds.source}")
        return ds

    def record(self, name: str, value: object) -> None:
        """Record a key number (a final loss, a count) that is reported but not claimed."""
        self.recorder.add_metric(name, value)

    def record_time(self, name: str, seconds: float) -> None:
        """Record a wall time in seconds; kept apart from the numbers a seed fixes."""
        self.recorder.add_timing(name, seconds)

    def summary(self) -> _claims.ChecksTable:
        """A table of this run's checks, and where they were written.

        A run with failed claims ends here, with one ``ClaimError`` that lists them all: in
        ``collect`` mode the first word on them, in ``stop`` mode (where each raised already)
        for a runner that went on past the failed cell, as nbval does.
        """
        path = self.recorder.write()
        claims = self.recorder.claims
        counts = ", ".join(
            f"{n} {kind}" for kind in _claims.KINDS if (n := sum(c.kind == kind for c in claims))
        )
        print(f"{len(claims)} checks ({counts or 'none'}) recorded in {_claims.shown_path(path)}")
        table = _claims.ChecksTable(claims)
        failed = [c for c in claims if not c.passed]
        if failed:
            # In collect mode nothing has raised yet. In stop mode each failure raised where it
            # was checked, and a runner that goes on after a failed cell (nbval) arrives here:
            # the summary says again which claims failed, so the last cell fails too.
            from IPython.display import display

            display(table)
            listing = "\n".join(f"  - {c.describe()}" for c in failed)
            raise ClaimError(
                f"{len(failed)} of {len(claims)} claims failed in the {self.profile!r} profile"
                f"{' (null run)' if self.null_run else ''}:\n{listing}"
            )
        return table


def setup(
    profile: str = "auto",
    *,
    seed: int = 0,
    notebook: str,
    device: str = "auto",
    smoke: dict | None = None,
    lab: dict | None = None,
    full: dict | None = None,
    null: dict | None = None,
    null_run: bool = False,
    overrides: Mapping | None = None,
    quiet: bool = False,
) -> Run:
    """Resolve the profile, seed every generator, pick the device, print one line.

    ``smoke``, ``lab`` and ``full`` hold the per-profile settings; ``null`` the settings
    that take the learning out, used instead when ``null_run`` is true; ``overrides``
    holds notebook parameters that replace them when not ``None``.
    """
    from coursekit.validate import integer, one_of

    resolved = resolve_profile(profile)
    seed = integer("seed", seed, minimum=0)
    null_run = one_of("null_run", null_run, (False, True))
    checks = _claims.check_mode()
    chosen = pick_device(device)
    settings = _merge_settings(
        resolved, dict(smoke=smoke, lab=lab, full=full), overrides, null, null_run
    )
    seed_everything(seed)
    quiet_libraries()
    figures.use_course_style()
    env = environment(chosen)
    header = {
        "notebook": notebook,
        "profile": resolved,
        "seed": seed,
        "null_run": null_run,
        "checks_mode": checks,
        "device": str(chosen),
        "device_name": env["device_name"],
        "versions": env["versions"],
        "started_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "settings": settings,
    }
    run = Run(
        notebook=notebook,
        profile=resolved,
        seed=seed,
        device=chosen,
        null_run=null_run,
        checks=checks,
        settings=MappingProxyType(settings),
        env=MappingProxyType(env),
        recorder=_claims.Recorder(notebook, header),
    )
    run.recorder.write()
    if not quiet:
        versions = " | ".join(f"{k} {v}" for k, v in env["versions"].items())
        extra = " | null run: the learning taken out" if null_run else ""
        print(f"{versions} | device {env['device_name']} | profile {resolved} | seed {seed}{extra}")
    return run


__all__ = ["ClaimError", "Run", "pick_device", "resolve_profile", "seed_everything", "setup"]
