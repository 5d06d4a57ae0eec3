"""coursekit.outputs: the scan for machine noise in executed notebooks."""

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from coursekit import outputs


def notebook(*cell_outputs):
    cells = [new_markdown_cell("# a title, /tmp/not-an-output")]
    cells += [new_code_cell("x = 1", outputs=list(outs)) for outs in cell_outputs]
    return new_notebook(cells=cells)


def stream(text, name="stdout"):
    return new_output("stream", name=name, text=text)


def result(text):
    return new_output("execute_result", data={"text/plain": text}, execution_count=1)


def test_a_clean_notebook_has_no_noise():
    nb = notebook(
        [
            stream(
                "data: MNIST, official split: 60000 train images from ../shared/data/mnist-full\n"
            )
        ],
        [stream("train: 800 of 800 in 1 min 40 s (8 a second; loss=0.31)\n")],
        [result("see https://pyro.ai/examples/vae.html and build/results/05_vae.json")],
    )
    assert outputs.noise(nb) == []


def test_stderr_absolute_paths_and_bar_drawings_are_found_with_their_cells():
    nb = notebook(
        [
            stream(
                "/x/.venv/lib/python3.11/site-packages/scipy/a.py:3: RuntimeWarning: y\n", "stderr"
            )
        ],
        [stream("10 checks recorded in /tmp/pytest-3/results/01.json\n")],
        [result("'/home/learner/course/notebooks'")],
        [stream("fit: 100%|##########| 50/50 [00:01<00:00, 40.1it/s]\n")],
        [stream("Initializing NUTS using jitter+adapt_diag...\n", "stderr")],
    )
    found = outputs.noise(nb)
    assert [(n.cell, n.kind) for n in found] == [
        (1, "stderr"),
        (2, "absolute path"),
        (3, "absolute path"),
        (4, "progress bar"),
        (5, "stderr"),
    ]
    assert "RuntimeWarning" in found[0].text
    message = outputs.report(nb, "01_x")
    assert message.startswith("01_x: 5 outputs") and "cell 2: absolute path: 10 checks" in message


def test_the_scan_reads_a_saved_notebook(tmp_path):
    path = tmp_path / "n.ipynb"
    nbformat.write(notebook([stream("WARNING | over TCP\n", "stderr")]), path)
    assert [n.kind for n in outputs.noise(nbformat.read(path, as_version=4))] == ["stderr"]


def test_absolute_paths_in_papermills_metadata_are_found():
    nb = notebook([])
    nb.metadata["papermill"] = {"input_path": "/home/me/course/notebooks/01.ipynb"}
    assert [(n.cell, n.kind) for n in outputs.noise(nb)] == [(-1, "absolute path")]
    nb.metadata["papermill"] = {"input_path": "notebooks/01.ipynb", "output_path": "build/x.ipynb"}
    assert outputs.noise(nb) == []
