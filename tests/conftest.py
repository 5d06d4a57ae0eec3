import pytest


@pytest.fixture
def results_dir(tmp_path, monkeypatch):
    """Send recorded results to a temporary folder (kernels started later inherit it)."""
    folder = tmp_path / "results"
    monkeypatch.setenv("COURSEKIT_RESULTS", str(folder))
    return folder
