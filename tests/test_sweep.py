"""Parameter sweeps: a grid of papermill runs gathered into one table."""

import os

import matplotlib

matplotlib.use("Agg")

import pytest

from coursekit import cli, runner, sweep


def test_grid_points_cover_the_product_in_order():
    points = sweep.grid_points({"batch_size": [8, 64], "lr": [0.1, 0.01, 0.001]})
    assert len(points) == 6
    assert points[0] == {"batch_size": 8, "lr": 0.1} and points[-1] == {
        "batch_size": 64,
        "lr": 0.001,
    }


def test_a_list_of_grids_is_their_union_in_order():
    columns = [{"batch_size": [8], "lr": [0.1, 0.2]}, {"batch_size": [64], "lr": [0.4]}]
    assert sweep.grid_points(columns) == [
        {"batch_size": 8, "lr": 0.1},
        {"batch_size": 8, "lr": 0.2},
        {"batch_size": 64, "lr": 0.4},
    ]


@pytest.mark.parametrize("grid", [{}, {"lr": []}, {"lr": 0.1}, [], [{"lr": [0.1]}, {}], "lr"])
def test_bad_grid_is_named(grid):
    with pytest.raises(ValueError, match="is not allowed"):
        sweep.grid_points(grid)


def test_cli_grid_parsing():
    assert cli._grid([["lr", "0.1", "1e-2"], ["opt", "adam"]]) == {
        "lr": [0.1, 0.01],
        "opt": ["adam"],
    }
    with pytest.raises(ValueError, match="needs at least one value"):
        cli._grid([["lr"]])


@pytest.mark.notebook
@pytest.mark.parametrize("jobs", [1, 2])  # one point after another, or in processes at once
def test_sweep_runs_every_point_and_gathers_numbers(tmp_path, monkeypatch, write_notebook, jobs):
    monkeypatch.setattr(runner, "BUILD", tmp_path / "build")
    monkeypatch.setenv("COURSEKIT_RESULTS", str(tmp_path / "mine"))
    nb = write_notebook(
        tmp_path / "product.ipynb",
        'profile = "auto"\na = 1\nb = 1\nscale = 1',
        "import coursekit as ck\n"
        'run = ck.setup(profile, notebook="product")\n'
        'run.record("quotient", scale * a / b)\n'
        'run.check("product", scale * a * b, at_least=0)',
    )
    table = sweep.run(
        nb, {"a": [1, 2], "b": [0, 3]}, profile="smoke", fixed={"scale": 10}, jobs=jobs
    )
    assert os.environ["COURSEKIT_RESULTS"] == str(tmp_path / "mine")  # the caller's, kept
    assert list(table.columns[:2]) == ["a", "b"] and "scale" not in table.columns
    assert list(table["a"]) == [1, 1, 2, 2] and list(table["b"]) == [0, 3, 0, 3]
    # b = 0 divides by zero: that point fails, the sweep goes on and says why
    assert list(table["ok"]) == [False, True, False, True]
    assert table.loc[~table["ok"], "error"].str.contains("ZeroDivisionError").all()
    assert list(table.loc[table["ok"], "product"]) == [30.0, 60.0]
    assert list(table.loc[table["ok"], "quotient"]) == [10 / 3, 20 / 3]
    out = tmp_path / "build" / "sweeps" / "product" / "smoke"
    assert (out / "sweep.csv").exists() and (out / "a=2__b=3" / "product.ipynb").exists()

    ax = sweep.heatmap(table, x="a", y="b", value="product")
    labels = sorted(t.get_text() for t in ax.texts)
    assert labels == ["30", "60", "failed", "failed"]
    with pytest.raises(ValueError, match="'accuracy' is not in the sweep table"):
        sweep.heatmap(table, x="a", y="b", value="accuracy")


def test_sweep_jobs_must_be_a_positive_integer(tmp_path, write_notebook):
    nb = write_notebook(tmp_path / "p.ipynb", 'profile = "auto"\na = 1')
    with pytest.raises(ValueError, match="jobs=0 is not allowed: it must be an integer >= 1"):
        sweep.run(nb, {"a": [1]}, profile="smoke", jobs=0)


def test_heatmap_tells_failed_from_not_recorded():
    import pandas as pd

    table = pd.DataFrame(
        {
            "lr": [0.1, 0.1, 1.0, 1.0],
            "batch_size": [8, 64, 8, 64],
            "ok": [True, True, True, False],
            "steps to target": [12.0, float("nan"), 3.0, float("nan")],
        }
    )
    ax = sweep.heatmap(table, x="batch_size", y="lr", value="steps to target")
    assert sorted(t.get_text() for t in ax.texts) == ["12", "3", "failed", "not recorded"]
