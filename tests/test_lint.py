"""ruff over the package, the tests and the notebooks, with the settings in pyproject.toml."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGETS = ["coursekit", "tests", "notebooks"]


def ruff(*args):
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, *TARGETS], cwd=REPO, capture_output=True, text=True
    )


def test_ruff_check():
    result = ruff("check", "--no-fix")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format():
    result = ruff("format", "--check")
    assert result.returncode == 0, "run `ruff format`:\n" + result.stdout + result.stderr
