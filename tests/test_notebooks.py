"""Every notebook of the course, executed as a test.

Each registered notebook runs with papermill under the test profile (smoke unless
COURSEKIT_PROFILE says otherwise, e.g. `make test PROFILE=full`), and every claim it
checks must hold; the same seed gives the same numbers as nbval's run of it. On a machine
with CUDA the notebooks pick the GPU themselves. Where and when the runs happen (most of
them beside nbval's pass): tests/course_runs.py.
"""

import json
import shutil
import time

import nbformat
import pytest
from course_runs import (
    BACKGROUND,
    MNIST_NOTEBOOKS,
    NOTEBOOK_FILES,
    PROFILE,
    REGISTRY,
    SHARED_MNIST_FULL,
    has_timing_claims,
)

from coursekit import claims, exercise, outputs, runner

# Course notebooks and the task notebooks they run (e.g. by a sweep) in notebooks/tasks/.
ALL_NOTEBOOKS = {
    p.stem: p
    for p in sorted(runner.NOTEBOOKS.rglob("*.ipynb"))
    if ".ipynb_checkpoints" not in p.parts
}


# Seed-0 runs of this session that the determinism test compares: nbval's (where `make test`
# had nbval execute notebooks/ first) and the claims run's.
FIRST_RUNS: dict[str, list[dict]] = {}
SESSION_START = time.time()  # this module is imported while pytest collects, before any run


def read(stem):
    return nbformat.read(ALL_NOTEBOOKS[stem], as_version=4)


def execute(stem, tmp_path, **parameters):
    return runner.execute(NOTEBOOK_FILES[stem], PROFILE, parameters, out_dir=tmp_path / "executed")


def test_every_notebook_is_registered():
    assert NOTEBOOK_FILES, "no notebooks found"
    unregistered = sorted(set(NOTEBOOK_FILES) - set(REGISTRY))
    missing = sorted(set(REGISTRY) - set(NOTEBOOK_FILES))
    assert not unregistered, (
        f"add these notebooks to REGISTRY in tests/course_runs.py: {unregistered}"
    )
    assert not missing, f"registered but not in notebooks/: {missing}"


@pytest.mark.parametrize("stem", sorted(ALL_NOTEBOOKS))
def test_notebook_is_stored_without_outputs(stem):
    nb = read(stem)
    dirty = [
        i
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert not dirty, f"{stem}: cells {dirty} carry outputs; run `nbstripout` (pre-commit does it)"
    assert "widgets" not in nb.metadata


@pytest.mark.parametrize("stem", sorted(ALL_NOTEBOOKS))
def test_notebook_starts_the_course_way(stem):
    """A parameters cell with profile and seed, then ck.setup naming this notebook."""
    nb = read(stem)
    code = [c for c in nb.cells if c.cell_type == "code"]
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, f"{stem}: needs exactly one cell tagged 'parameters'"
    assert code[0] is params[0], f"{stem}: the parameters cell must be the first code cell"
    assert 'profile = "auto"' in params[0].source and "seed = " in params[0].source
    assert f'notebook="{stem}"' in code[1].source, f"{stem}: the second code cell calls ck.setup"
    if stem in REGISTRY:  # a course notebook: it has a null run, and ends with its checks
        assert "null_run = False" in params[0].source, f"{stem}: needs a null_run parameter"
        assert "null_run=null_run" in code[1].source and "null=" in code[1].source
        assert code[-1].source.strip().endswith("run.summary()"), f"{stem}: end with run.summary()"


def test_timing_claims_are_found():
    """course_runs tells the runs that must have the machine to themselves by reading the
    notebooks' sources: it must see the timing claims there."""
    assert has_timing_claims("10_horovod") and not has_timing_claims("01_gradient_descent")


@pytest.mark.notebook
@pytest.mark.parametrize("stem", sorted(REGISTRY))
def test_notebook_runs_and_its_claims_hold(stem):
    """`python -m coursekit run NN --profile <the test profile>`, as a learner types it (in the
    background while nbval ran, or here, alone, for a notebook with timing claims)."""
    results, (status, output) = BACKGROUND.result("claims", stem)
    assert status == 0, f"{stem} failed in the {PROFILE} profile:\n{output[-4000:]}"
    recorded = json.loads((results / f"{stem}.json").read_text())
    assert recorded["profile"] == PROFILE and recorded["notebook"] == stem
    assert recorded["checks_total"] >= REGISTRY[stem]["min_checks"]
    assert recorded["checks_passed"] == recorded["checks_total"]
    assert recorded["wall_time_s"] > 0
    assert not recorded["null_run"] and recorded["seed"] == 0
    # The instructor's copy solves every exercise it holds: each check, and each prediction
    # against what this run measured.
    mine = exercise.in_notebook(stem[:2])
    progress = json.loads((results / "exercises.json").read_text()) if mine else {}
    assert {n: progress.get(n, {}).get("status") for n in mine} == dict.fromkeys(
        mine, exercise.SOLVED
    ), f"{stem}: exercises the instructor's copy did not solve"
    FIRST_RUNS[stem] = [r for r in (nbval_run(stem), recorded) if r is not None]
    # The site test builds its page from this run's executed copy: its results go beside it.
    claims.results_dir().mkdir(parents=True, exist_ok=True)
    shutil.copy2(results / f"{stem}.json", claims.results_dir() / f"{stem}.json")
    # What the site publishes shows the lesson only: no warnings, logs or absolute paths.
    executed = nbformat.read(runner.BUILD / "notebooks" / PROFILE / f"{stem}.ipynb", as_version=4)
    assert not outputs.noise(executed), outputs.report(executed, stem)


def nbval_run(stem: str) -> dict | None:
    """The results of a complete seed-0 run of this notebook made earlier in this session
    (by nbval, which `make test` runs first), or None."""
    path = claims.results_dir() / f"{stem}.json"
    if not path.exists() or path.stat().st_mtime < SESSION_START:
        return None
    recorded = json.loads(path.read_text())
    complete = (
        recorded.get("profile") == PROFILE
        and recorded.get("seed") == 0
        and not recorded.get("null_run")
        and recorded.get("checks_total", 0) >= REGISTRY[stem]["min_checks"]
        and recorded.get("checks_passed") == recorded.get("checks_total")
    )
    return recorded if complete else None  # a failed nbval run is nbval's to report


def seeded_numbers(recorded: dict) -> dict:
    """Every number a seed fixes: each check's value (timings excepted) and each metric."""
    checks = {c["name"]: c["value"] for c in recorded["checks"] if c["kind"] != "timing"}
    return {"checks": checks, "metrics": recorded["metrics"]}


@pytest.mark.notebook
@pytest.mark.parametrize("stem", sorted(REGISTRY))
def test_notebook_is_deterministic(stem, tmp_path, results_dir):
    """The same seed gives the same numbers: every check and metric, to the last digit.

    Compares two seed-0 runs of this session: nbval's (where `make test` ran it first) and
    test_notebook_runs_and_its_claims_hold's, two executors and two kernels; the notebook
    runs here as many times as it takes to have two.
    """
    runs = list(FIRST_RUNS.get(stem, []))
    while len(runs) < 2:
        outcome = execute(stem, tmp_path / str(len(runs)), seed=0)
        assert outcome.ok, outcome.error
        runs.append(json.loads((results_dir / f"{stem}.json").read_text()))
    first, second = (seeded_numbers(r) for r in runs)
    differ = {
        f"{part}: {name}": (first[part].get(name), second[part].get(name))
        for part in ("checks", "metrics")
        for name in first[part].keys() | second[part].keys()
        if first[part].get(name) != second[part].get(name)
    }
    assert not differ, f"{stem}: same seed, different numbers (first run, second run): {differ}"


@pytest.mark.notebook
@pytest.mark.skipif(
    not SHARED_MNIST_FULL.is_dir(), reason=f"no shared MNIST copy at {SHARED_MNIST_FULL}"
)
@pytest.mark.parametrize("stem", sorted(MNIST_NOTEBOOKS))
def test_notebook_on_mnists_official_split(stem):
    """The real-data lane: with COURSEKIT_DATA at all four MNIST files, the notebook trains on
    the official 60,000/10,000 split, says so, and its claims (MNIST's own bars) hold."""
    folder, (status, output) = BACKGROUND.result("mnist", stem)
    assert status == 0, f"{stem} failed on MNIST in the {PROFILE} profile:\n{output[-4000:]}"
    recorded = json.loads((folder / "results" / f"{stem}.json").read_text())
    assert recorded["data"]["key"] == "mnist-official"
    assert (recorded["data"]["train"], recorded["data"]["test"]) == (60_000, 10_000)
    assert recorded["checks_total"] >= MNIST_NOTEBOOKS[stem]["min_checks"]
    assert recorded["checks_passed"] == recorded["checks_total"]
    executed = nbformat.read(folder / "executed" / f"{stem}.ipynb", as_version=4)
    first_output = next(  # the first cell that prints: the setup cell, which loads the data
        "".join(o.get("text", "") for o in cell.outputs)
        for cell in executed.cells
        if cell.cell_type == "code" and cell.get("outputs")
    )
    assert "data: MNIST, official split" in first_output
    assert not outputs.noise(executed), outputs.report(executed, f"{stem} on MNIST")


@pytest.mark.notebook
@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        (dict(steps=-5), "steps=-5 is not allowed: it must be an integer >= 1"),
        (dict(prior_a=0.0), "prior_a=0.0 is not allowed: it must be a finite number > 0"),
        (dict(heads=2.5), "heads=2.5 is not allowed: it must be an integer >= 0"),
        (dict(profile="fast"), "profile='fast' is not allowed"),
    ],
)
def test_bad_parameter_stops_with_a_clear_error(parameters, message, tmp_path, results_dir):
    outcome = runner.execute(
        NOTEBOOK_FILES["04_svi_coin_toss"], PROFILE, parameters, out_dir=tmp_path
    )
    assert not outcome.ok
    assert "ValueError" in outcome.error and message in outcome.error
