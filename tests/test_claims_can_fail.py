"""Every measured claim fails when the learning is taken out: the null run.

A claim that passes whatever the notebook learned says nothing about the learning. Each
course notebook declares, in ``ck.setup(..., null=...)``, the settings that take its
learning out (one optimisation step, an untrained guide or generator, an unfitted
kernel), and its ``null_run`` parameter switches them on. Run that way, with
``COURSEKIT_CHECKS=collect`` so that one run shows every claim, each claim of kind
``measured`` must fail. Identities (from scratch = library, exact algebra) and timings
are not about what was learned; the test lists the ones that pass, and does not judge them.
"""

import json

import pytest
from course_runs import BACKGROUND, REGISTRY


@pytest.mark.notebook
@pytest.mark.parametrize("stem", sorted(REGISTRY))
def test_null_run_fails_every_measured_claim(stem):
    """`python -m coursekit run NN -p null_run True` in collect mode (in the background while
    nbval ran: see course_runs.py)."""
    results, (_, output) = BACKGROUND.result("null", stem)
    recorded = json.loads((results / f"{stem}.json").read_text())
    assert recorded["null_run"] is True and recorded["checks_mode"] == "collect"
    # the run got to its summary, which raises because claims failed; nothing stopped it sooner
    assert "ClaimError" in output and "(null run)" in output, output[-3000:]
    measured = [c for c in recorded["checks"] if c["kind"] == "measured"]
    assert measured, f"{stem} checks no measured claim"
    still_pass = [c["name"] for c in measured if c["passed"]]
    others = [f"{c['name']} ({c['kind']})" for c in recorded["checks"] if c["kind"] != "measured"]
    print(f"{stem} null run: {len(measured)} measured claims, all failed; not judged: {others}")
    assert not still_pass, (
        f"{stem}: these measured claims pass with the learning taken out, so they do not "
        f"measure it (tighten the bar, or say what the claim is): {still_pass}"
    )
