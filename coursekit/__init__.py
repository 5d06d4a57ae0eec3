"""coursekit: the helper package of the course's notebooks.

Every notebook starts with ``run = ck.setup(profile, seed=seed, notebook=...)``,
checks its claims with ``run.check(...)`` and shows loops with ``ck.progress``.
"""

from coursekit import data, exercise, library_logs, sweep, validate
from coursekit.bars import batch_mode, progress, trange
from coursekit.claims import ClaimError
from coursekit.runtime import Run, pick_device, resolve_profile, seed_everything, setup

__version__ = "0.1.0"

# One notice ArviZ prints at import, about its next major version: not the learner's concern.
library_logs.quiet_arviz_import_notice()

__all__ = [
    "ClaimError",
    "Run",
    "batch_mode",
    "data",
    "exercise",
    "pick_device",
    "progress",
    "resolve_profile",
    "seed_everything",
    "setup",
    "sweep",
    "trange",
    "validate",
]
