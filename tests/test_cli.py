"""`python -m coursekit`: finding notebooks, parameters, and the failure summary."""

import os
import subprocess
import sys

import pytest

from coursekit import cli, runner


def test_list_prints_notebooks_in_order():
    out = subprocess.run(
        [sys.executable, "-m", "coursekit", "list"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == sorted(out) and "04_svi_coin_toss" in out


def test_notebooks_are_found_by_number_stem_and_path():
    by_number = runner.find_notebooks(["04"])
    assert [p.stem for p in by_number] == ["04_svi_coin_toss"]
    assert runner.find_notebooks(["04_svi_coin_toss"]) == by_number
    assert runner.find_notebooks([str(by_number[0])]) == by_number


def test_unknown_notebook_lists_what_exists():
    with pytest.raises(
        ValueError, match=r"notebook='99' matches no single notebook; available: .*04_svi_coin_toss"
    ):
        runner.find_notebooks(["99"])


@pytest.mark.parametrize(
    ("text", "value"),
    [("500", 500), ("1e-3", 1e-3), ("True", True), ("None", None), ("adam", "adam")],
)
def test_parameter_values_are_parsed_as_literals(text, value):
    assert cli._parameters([["x", text]]) == {"x": value}


def test_unknown_profile_is_refused_by_the_cli(capsys):
    with pytest.raises(SystemExit):
        cli.main(["run", "--profile", "fast"])
    assert "invalid choice: 'fast'" in capsys.readouterr().err


@pytest.mark.notebook
def test_run_summarises_passes_and_names_the_failing_cell(
    tmp_path, results_dir, monkeypatch, capsys, write_notebook
):
    monkeypatch.setattr(runner, "BUILD", tmp_path / "build")
    good = write_notebook(
        tmp_path / "01_good.ipynb",
        'profile = "auto"',
        'import coursekit as ck\nrun = ck.setup(profile, notebook="01_good")\n'
        'run.check("two", 1 + 1, expected=2, tol=0)',
    )
    bad = write_notebook(
        tmp_path / "02_bad.ipynb",
        'profile = "auto"',
        'import coursekit as ck\nrun = ck.setup(profile, notebook="02_bad")',
        'run.check("pi", 3.0, expected=3.14159, tol=dict(smoke=0.01))',
    )
    code = cli.main(["run", "--profile", "smoke", str(good), str(bad)])
    out = capsys.readouterr().out
    assert code == 1
    assert "01_good" in out and "1/1 passed" in out
    assert (
        "FAILED 02_bad: cell 3 of the notebook (In [4] in the executed copy, "
        'starting `run.check("pi", 3.0, expected=3.14159, tol=dict(smoke=0.01))`) raised ClaimError'
    ) in out
    assert "pi = 3, expected 3.142 ± 0.01" in out
    assert (tmp_path / "build" / "notebooks" / "smoke" / "02_bad.ipynb").exists()


@pytest.mark.notebook
def test_run_puts_the_executed_copy_where_out_says(tmp_path, results_dir, capsys, write_notebook):
    nb = write_notebook(
        tmp_path / "01_here.ipynb",
        'profile = "auto"',
        'import coursekit as ck\nrun = ck.setup(profile, notebook="01_here")',
    )
    assert cli.main(["run", "--profile", "smoke", "--out", str(tmp_path / "mine"), str(nb)]) == 0
    assert (tmp_path / "mine" / "01_here.ipynb").is_file()
    assert f"executed notebooks: {tmp_path / 'mine'}" in capsys.readouterr().out


@pytest.mark.notebook
def test_execute_restores_the_batch_flag(tmp_path, results_dir, monkeypatch, write_notebook):
    """A sweep run from a learner's notebook must not silence that notebook's own bars."""
    monkeypatch.delenv("COURSEKIT_BATCH", raising=False)
    nb = write_notebook(tmp_path / "flag.ipynb", 'profile = "auto"', "import os")
    runner.execute(nb, "smoke", out_dir=tmp_path / "out")
    assert "COURSEKIT_BATCH" not in os.environ


@pytest.mark.notebook
def test_kernels_started_from_a_notebook_print_nothing_into_it(
    tmp_path, results_dir, capfd, write_notebook
):
    """A sweep runs kernels from inside a notebook; ipykernel's warning about unencrypted TCP
    (printed at each kernel's start) must not land in that notebook's outputs, nor on the
    terminal: the kernels talk over local IPC sockets."""
    import nbformat

    inner = write_notebook(tmp_path / "inner.ipynb", 'profile = "auto"', "x = 1")
    outer = write_notebook(
        tmp_path / "outer.ipynb",
        'profile = "auto"',
        "from pathlib import Path\nfrom coursekit import runner\n"
        f"runner.execute(Path({str(inner)!r}), 'smoke', out_dir=Path({str(tmp_path / 'in')!r}))",
    )
    outcome = runner.execute(outer, "smoke", out_dir=tmp_path / "out")
    executed = nbformat.read(outcome.output, as_version=4)
    printed = "".join(
        o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.outputs
    )
    terminal = capfd.readouterr()
    assert (tmp_path / "in" / "inner.ipynb").is_file()
    assert not executed.metadata.papermill["input_path"].startswith("/")  # relative, or a name
    for text in (printed, terminal.out, terminal.err):
        assert "IPKernelApp" not in text and "over TCP" not in text


def test_kernels_started_at_once_get_sockets_of_their_own():
    """A sweep starts several kernels at once: over IPC, each needs its own socket paths, or
    their messages cross ("Invalid Signature")."""
    manager = runner._ipc_kernel_manager()
    first, second = manager(), manager()
    assert first.transport == second.transport == "ipc"
    assert first.ip != second.ip and len(first.ip) < 90  # a Unix socket path's limit is 107


def test_a_kernel_being_shut_down_is_not_interrupted():
    """jupyter_client sends SIGINT before every shutdown; ours does not (the kernel is idle, and
    the signal made it log "KeyboardInterrupt caught in kernel" into the notebook)."""
    import asyncio

    manager = runner._ipc_kernel_manager()()
    with pytest.raises(RuntimeError, match="No kernel is running"):
        asyncio.run(manager._async_interrupt_kernel())  # asked for: it goes through
    manager.shutting_down = True
    assert asyncio.run(manager._async_interrupt_kernel()) is None  # while shutting down: not
