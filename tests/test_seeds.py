"""The seeds report: one notebook over several seeds, every claim's spread and margin."""

import pytest

from coursekit import cli, runner, seeds


def test_margin_is_the_distance_to_failing():
    close = dict(value=0.52, form="close", expected=0.5, tolerance=0.05)
    assert seeds.margin(close) == pytest.approx(0.03)
    assert seeds.margin(dict(value=3.0, form="at_least", bar=1.0)) == 2.0
    assert seeds.margin(dict(value=3.0, form="at_most", bar=1.0)) == -2.0
    assert seeds.margin(dict(value=float("nan"), form="at_most", bar=1.0)) == float("-inf")


@pytest.mark.notebook
def test_seeds_report_spread_and_every_failure(tmp_path, monkeypatch, write_notebook, capsys):
    monkeypatch.setattr(runner, "BUILD", tmp_path / "build")
    nb = write_notebook(
        tmp_path / "noisy.ipynb",
        'profile = "auto"\nseed = 0\nnull_run = False\noffset = 0',
        "import coursekit as ck\n"
        'run = ck.setup(profile, seed=seed, notebook="noisy")\n'
        # seed 0 fails this claim, and collect mode records the claim after it too
        'run.check("seed", seed + offset, at_least=1)\n'
        'run.identity("one = one", 1.0, expected=1.0, tol=0)\n'
        "run.summary()",
    )
    report = seeds.run(nb, 3, profile="smoke", parameters={"offset": 0})
    assert report.seeds == [0, 1, 2] and not report.failed_runs and not report.ok
    frame = report.frame().set_index("claim")
    assert frame.loc["seed", "passed"] == "2/3" and frame.loc["one = one", "passed"] == "3/3"
    assert (frame.loc["seed", "min"], frame.loc["seed", "max"], frame.loc["seed", "sd"]) == (
        0,
        2,
        1,
    )
    assert frame.loc["seed", "worst margin"] == -1 and frame.loc["seed", "worst seed"] == 0
    assert frame.loc["one = one", "kind"] == "identity"
    out = tmp_path / "build" / "seeds" / "noisy" / "smoke"
    assert (out / "seeds.csv").is_file() and "| seed | measured | 2/3 |" in (
        out / "seeds.md"
    ).read_text()

    # from the command line: seeds 1 and 2 pass everything, so the exit code is 0
    assert cli.main(["seeds", str(nb), "--n", "2", "--first", "1", "--profile", "smoke"]) == 0
    assert "1/1 notebooks: every claim held on every seed" in capsys.readouterr().out
