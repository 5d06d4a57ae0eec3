import pytest


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
