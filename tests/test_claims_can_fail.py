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
import os
from concurrent.futures import ThreadPoolExecutor

import pytest
from test_notebooks import REGISTRY, run_in_process

from coursekit import claims

# The null runs are short, and much of each is one thread's work (a kernel starting, imports),
# so they run two at a time, each in its own process with its own results folder; the longest
# start first (smoke wall times of a CI run). COURSEKIT_NULL_JOBS=1 runs them one by one.
NULL_JOBS = int(os.environ.get("COURSEKIT_NULL_JOBS", "2"))
LONGEST_FIRST = ["03", "10", "09", "06", "08", "02", "05", "04", "07", "01"]


@pytest.fixture(scope="module")
def null_runs(tmp_path_factory):
    """Every course notebook's null run, as `python -m coursekit run NN -p null_run True`
    runs it in collect mode: {stem: (the results folder, the command's output)}."""
    root = tmp_path_factory.mktemp("null-runs")
    order = sorted(REGISTRY, key=lambda s: (LONGEST_FIRST + [s[:2]]).index(s[:2]))

    def null_run(stem):
        env = {**os.environ, "COURSEKIT_CHECKS": "collect", claims.ENV_RESULTS: str(root / stem)}
        _, output = run_in_process(stem, "-p", "null_run", "True", env=env)
        return root / stem, output

    with ThreadPoolExecutor(max_workers=NULL_JOBS) as pool:
        return dict(zip(order, pool.map(null_run, order), strict=True))


@pytest.mark.notebook
@pytest.mark.parametrize("stem", sorted(REGISTRY))
def test_null_run_fails_every_measured_claim(stem, null_runs):
    results, output = null_runs[stem]
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
