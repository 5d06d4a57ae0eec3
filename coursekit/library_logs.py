"""Libraries' own chatter, turned into what a reader of the notebook needs.

PyMC logs every sampling run to stderr: the step methods it chose, "Sequential sampling
(2 chains in 1 job)", the time it took, and its convergence warnings. On a saved page
those lines are machine noise; the time and the warnings are worth a sentence. So the
notebook samples (or fits ADVI) inside :func:`pymc_logs`, which holds PyMC's records back
and then prints, on stdout, the line that says what was sampled and how long it took (or
ADVI's final loss), and each warning as "PyMC warns: ...". Every warning is still said.
NumPy's floating-point warnings from inside PyMC's own code ("overflow encountered in
dot", when a trajectory's kinetic energy overflows: PyMC treats that trajectory as
divergent) would print with the path of PyMC's file; they are said as a sentence too.
Warnings from anywhere else pass through as they were.

ArviZ warns at import about a refactor of its next major version (a ``FutureWarning``
from ``arviz/__init__.py``): it concerns the course's pinned versions, not a learner's
code. :func:`quiet_arviz_import_notice` ignores that one message, and nothing else.
"""

from __future__ import annotations

import logging
import warnings
from contextlib import contextmanager

# What a NumPy overflow inside PyMC's HMC code means for the run.
HMC_OVERFLOW = " (a trajectory whose energy overflowed: the sampler counts it as divergent)"
ARVIZ_NOTICE = r"\s*ArviZ is undergoing a major refactor"


def quiet_arviz_import_notice() -> None:
    """Ignore ArviZ's notice of its coming refactor (one message; its other warnings stay)."""
    warnings.filterwarnings("ignore", message=ARVIZ_NOTICE, category=FutureWarning)


def _in_pymc(filename: str) -> bool:
    return "/pymc/" in filename.replace("\\", "/")


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def pymc_logs(what: str = "PyMC"):
    """Sample or fit inside this block: PyMC's log lines are held back, then said in short.

    Prints ``<what>: Sampling 4 chains for 500 tune and 1_000 draw iterations ... took 3
    seconds.`` (or ADVI's ``<what>: Finished [100%]: Average Loss = 7.28``) and a line for
    every warning PyMC logged (R-hat, effective sample size, divergences). Yields the list
    of PyMC's records.
    """
    logger = logging.getLogger("pymc")
    collect = _Collect()
    handlers, propagate, level = logger.handlers[:], logger.propagate, logger.level
    logger.handlers, logger.propagate = [collect], False
    logger.setLevel(logging.INFO)  # PyMC's own level; say it, in case another was set
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            yield collect.records
    finally:
        logger.handlers, logger.propagate = handlers, propagate
        logger.setLevel(level)
        numeric = []
        for w in caught:
            if issubclass(w.category, RuntimeWarning) and _in_pymc(w.filename):
                hmc = "step_methods/hmc" in w.filename.replace("\\", "/")
                numeric.append(f"{w.message}" + (HMC_OVERFLOW if hmc else ""))
            else:  # not PyMC's arithmetic: as it would have been shown
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        for record in collect.records:
            message = record.getMessage().strip()
            if record.levelno >= logging.WARNING:
                print(f"PyMC warns: {message}")
            elif (message.startswith("Sampling ") and " took " in message) or message.startswith(
                "Finished"
            ):
                print(f"{what}: {message}")
        for message in dict.fromkeys(numeric):
            print(f"{what}: NumPy warned inside PyMC: {message}")
