import shutil
from pathlib import Path

import course_runs
import pytest

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # without these Chromium keeps calling out to Google's services, which this
    # offline machine refuses, many times over
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
]


@pytest.fixture
def results_dir(tmp_path, monkeypatch):
    """Send recorded results to a temporary folder (kernels started later inherit it)."""
    folder = tmp_path / "results"
    monkeypatch.setenv("COURSEKIT_RESULTS", str(folder))
    return folder


@pytest.fixture
def write_notebook():
    """Write a small notebook: the first source is its parameters cell, the rest code cells."""
    import nbformat

    def write(path, *sources):
        cells = [nbformat.v4.new_code_cell(s) for s in sources]
        cells[0].metadata["tags"] = ["parameters"]
        nb = nbformat.v4.new_notebook(cells=cells)
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        nbformat.write(nb, path)
        return path

    return write


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Debian Chromium driven by selenium; skips where Chromium is not installed."""
    if CHROMIUM is None or not Path(CHROMEDRIVER).exists():
        pytest.skip(
            "Chromium is not installed: apt-get install chromium chromium-driver (.ci/run installs them)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def pytest_collection_modifyitems(config, items):
    """Without Horovod (its build failed or was skipped), notebook 10 skips and says why;
    CI sets COURSEKIT_REQUIRE_HOROVOD=1, so there it runs or fails, never skips. The items
    are put in the order `_order` gives."""
    import os

    items.sort(key=_order)  # stable: each group keeps its order

    horovod_items = [item for item in items if "10_horovod" in item.nodeid]
    if not horovod_items or os.environ.get("COURSEKIT_REQUIRE_HOROVOD") == "1":
        return
    from coursekit.distributed import horovod_status

    usable, why = horovod_status()
    if not usable:
        for item in horovod_items:
            item.add_marker(pytest.mark.skip(reason=why))


# --- The notebook runs beside nbval's pass (course_runs.py says why and how) ---------------------

# The tests that read a course_runs run, by name: which kind of run each one reads.
READS_A_RUN = {
    "test_notebook_runs_and_its_claims_hold": "claims",
    "test_null_run_fails_every_measured_claim": "null",
    "test_notebook_on_mnists_official_split": "mnist",
}


def _is_nbval_cell(item) -> bool:
    return item.path.suffix == ".ipynb"


def _order(item) -> int:
    """nbval's cells first, then the tests that need no notebook run, then those that read a
    run (so that the runs have as long as possible to finish beside the rest), the site last
    (it is built from the claims runs' executed copies)."""
    if _is_nbval_cell(item):
        return 0
    if item.path.name == "test_site.py":
        return 3
    if getattr(item, "originalname", None) in READS_A_RUN or item.path.name == "test_notebooks.py":
        return 2
    return 1


def pytest_collection_finish(session):
    if session.config.option.collectonly or course_runs.JOBS < 2:
        return
    selected: dict[str, set[str]] = {}
    for item in session.items:
        kind = READS_A_RUN.get(getattr(item, "originalname", None))
        if kind and not item.get_closest_marker("skip"):
            if kind != "mnist" or course_runs.SHARED_MNIST_FULL.is_dir():
                selected.setdefault(kind, set()).add(item.callspec.params["stem"])
    nbval_stems = {
        item.path.stem
        for item in session.items
        if _is_nbval_cell(item) and item.path.stem in course_runs.REGISTRY
    }
    jobs = course_runs.plan(selected)
    if jobs:
        course_runs.BACKGROUND.start(jobs, nbval_stems, workers=course_runs.JOBS)


class NbvalBeside:
    """Tells the background when nbval starts and ends each notebook. A plugin of its own,
    registered below: a conftest's test hooks see only the items under its folder, and
    nbval's cells are in notebooks/."""

    def __init__(self):
        self.held: set[Path] = set()  # the timed notebook nbval is running, alone

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_setup(self, item):
        if (
            _is_nbval_cell(item)
            and course_runs.has_timing_claims(item.path.stem)
            and item.path not in self.held
        ):
            course_runs.BACKGROUND.gate.hold_alone()  # before its kernel starts
            self.held.add(item.path)
        yield

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(self, item, nextitem):
        yield  # after the last cell's teardown, nbval has shut the notebook's kernel down
        if _is_nbval_cell(item) and (nextitem is None or nextitem.path != item.path):
            if item.path in self.held:
                self.held.discard(item.path)
                course_runs.BACKGROUND.gate.release_alone()
            course_runs.BACKGROUND.nbval_finished(item.path.stem)

    def release(self):
        while self.held:
            self.held.pop()
            course_runs.BACKGROUND.gate.release_alone()


NBVAL_BESIDE = NbvalBeside()


def pytest_configure(config):
    config.pluginmanager.register(NBVAL_BESIDE, "coursekit-nbval-beside")


def pytest_sessionfinish(session):
    course_runs.BACKGROUND.stop()
    NBVAL_BESIDE.release()
