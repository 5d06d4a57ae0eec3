"""A learner's path, end to end: JupyterLab opens a notebook and "Run All Cells" runs it.

JupyterLab is started from the course's environment (as `make lab` does) on 127.0.0.1,
headless Chromium opens the coin-toss notebook there, clicks Run > Run All Cells, and
waits for the last cell's output. The notebook's recorded results prove what ran: every
claim checked and passed, in the smoke profile that the server's environment sets.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from coursekit import runner

NOTEBOOK = "04_svi_coin_toss"
TOKEN = "coursekit-test"
RUN_S = 240  # kernel start and a smoke run of the notebook, on a loaded 2-core machine


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server on a copy of the notebook (JupyterLab autosaves what it runs, and
    the notebooks in git must stay without outputs); its kernels record results in tmp_path."""
    root = tmp_path / "notebooks"
    root.mkdir()
    shutil.copy(runner.NOTEBOOKS / f"{NOTEBOOK}.ipynb", root)
    port = free_port()
    env = {
        **os.environ,
        "COURSEKIT_PROFILE": "smoke",
        "COURSEKIT_RESULTS": str(tmp_path / "results"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),  # no user settings leak in
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter-runtime"),
    }
    env.pop("COURSEKIT_BATCH", None)  # a learner's session: live progress bars
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
        f"--ServerApp.port={port}", "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}",
    ]  # fmt: skip
    log = open(tmp_path / "lab.log", "w")  # noqa: SIM115 -- closed below
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"JupyterLab did not start:\n{(tmp_path / 'lab.log').read_text()}")
            time.sleep(0.5)
    yield url, tmp_path / "results"
    server.terminate()
    server.wait(timeout=30)
    log.close()


def notebook_text(driver):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, ".jp-Notebook").get_attribute("innerText")


@pytest.mark.notebook
def test_run_all_cells_in_jupyterlab(lab, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, results = lab
    browser.get(f"{url}/lab/tree/{NOTEBOOK}.ipynb?token={TOKEN}")
    idle = ".jp-Notebook-ExecutionIndicator[data-status='idle']"
    WebDriverWait(browser, 90, poll_frequency=0.5).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, idle), "the notebook's kernel did not start"
    )
    menus = browser.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-item")
    next(m for m in menus if m.text.strip() == "Run").click()
    run_all = "li[data-command='runmenu:run-all']"
    WebDriverWait(browser, 10).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, run_all), "the Run menu shows no Run All Cells"
    )
    browser.find_element(By.CSS_SELECTOR, run_all).click()

    # Done when the last cell has printed its summary, or a cell has raised.
    from selenium.common.exceptions import TimeoutException

    runner.BUILD.mkdir(exist_ok=True)
    shot = runner.BUILD / "jupyterlab-run-all.png"
    try:
        WebDriverWait(browser, RUN_S, poll_frequency=1).until(
            lambda d: any(s in notebook_text(d) for s in ("checks recorded in", "Traceback"))
        )
    except TimeoutException:
        browser.save_screenshot(str(shot))
        pytest.fail(
            f"Run All did not reach the last cell within {RUN_S} s; screenshot: {shot}; "
            f"the notebook's end:\n{notebook_text(browser)[-2000:]}"
        )
    browser.save_screenshot(str(shot))
    text = notebook_text(browser)
    assert "Traceback" not in text, text[-3000:]
    data = json.loads((results / f"{NOTEBOOK}.json").read_text())
    assert data["profile"] == "smoke"
    assert data["checks_total"] >= 8 and data["checks_passed"] == data["checks_total"]
