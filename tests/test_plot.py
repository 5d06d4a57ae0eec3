"""coursekit.plot: the grid it evaluates, the paths it draws, and the errors it raises."""

import matplotlib

matplotlib.use("Agg")  # no display in the tests

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from coursekit import plot, problems  # noqa: E402


@pytest.fixture
def ax():
    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


def test_grid_values_evaluates_the_function_on_the_window():
    gx, gy, z = plot.grid_values(problems.rosenbrock, (-2, 2), (-1, 3), n=5)
    assert gx.shape == gy.shape == z.shape == (5, 5)
    assert gx[0, 0] == -2 and gx[0, -1] == 2 and gy[0, 0] == -1 and gy[-1, 0] == 3
    point = torch.tensor([gx[2, 3], gy[2, 3]], dtype=torch.float64)
    assert z[2, 3] == pytest.approx(problems.rosenbrock(point).item())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(xlim=(1, 1), ylim=(0, 1)), "xlim"),
        (dict(xlim=(0, 1), ylim=(2, 1)), "ylim"),
        (dict(xlim=(0, 1), ylim=(0, 1), n=1), "n=1 is not allowed: it must be an integer >= 2"),
    ],
)
def test_grid_values_rejects_bad_windows(kwargs, message):
    with pytest.raises(ValueError, match=message):
        plot.grid_values(problems.rosenbrock, **kwargs)


def test_as_path_takes_tensors_and_arrays_and_stops_at_the_first_non_finite_point():
    t = torch.tensor([[0.0, 0.0], [1.0, 2.0], [float("inf"), 0.0], [3.0, 3.0]])
    assert plot.as_path(t).tolist() == [[0.0, 0.0], [1.0, 2.0]]
    assert plot.as_path(np.ones((3, 2))).shape == (3, 2)
    assert plot.as_path([[1.0, float("nan")]]).shape == (0, 2)


@pytest.mark.parametrize("bad", [np.ones((3, 3)), np.ones(4), np.ones((0, 2))])
def test_as_path_rejects_wrong_shapes(bad):
    with pytest.raises(ValueError, match=r"shape \(T, 2\)"):
        plot.as_path(bad)


def test_contour_trajectories_draws_each_path_with_its_label(ax):
    q = problems.Quadratic.rotated([1.0, 10.0], angle=0.5)
    paths = {
        "first": torch.tensor([[-3.0, 1.0], [-2.0, 0.5], [-1.0, 0.0]], dtype=torch.float64),
        "second": np.array([[-3.0, 1.0], [0.0, 0.0]]),
    }
    out = plot.contour_trajectories(
        ax,
        q.value,
        paths,
        xlim=(-4, 2),
        ylim=(-2, 2),
        minimum=(0, 0),
        styles={"second": dict(color="red", zorder=5)},
        equal_aspect=True,
        title="a map",
    )
    assert out is ax
    labels = [line.get_label() for line in ax.get_lines()]
    assert "first" in labels and "second" in labels and "start" in labels
    first = next(line for line in ax.get_lines() if line.get_label() == "first")
    np.testing.assert_allclose(first.get_xydata(), paths["first"].numpy())
    second = next(line for line in ax.get_lines() if line.get_label() == "second")
    assert second.get_color() == "red" and second.get_zorder() == 5
    assert ax.get_title() == "a map" and ax.get_xlim() == (-4, 2)
    assert ax.get_aspect() == 1.0
    assert [t.get_text() for t in ax.get_legend().get_texts()][:2] == ["first", "second"]


def test_log_levels_span_the_positive_values(ax):
    plot.contour_trajectories(
        ax, problems.rosenbrock, {}, xlim=(-2, 2), ylim=(-1, 3), levels=7, log_levels=True
    )
    levels = ax.collections[0].levels if ax.collections else None
    assert levels is not None and len(levels) == 7
    ratios = np.asarray(levels[1:]) / np.asarray(levels[:-1])
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-9)  # evenly spaced in log scale


def test_log_levels_need_positive_values(ax):
    with pytest.raises(ValueError, match="positive values"):
        plot.contour_trajectories(
            ax, lambda w: -w.square().sum(-1), {}, xlim=(-1, 1), ylim=(-1, 1), log_levels=True
        )


def test_styles_must_name_given_paths(ax):
    with pytest.raises(ValueError, match="not given"):
        plot.contour_trajectories(
            ax,
            problems.rosenbrock,
            {"a": np.zeros((2, 2))},
            xlim=(-1, 1),
            ylim=(-1, 1),
            styles={"b": dict(lw=3)},
        )
