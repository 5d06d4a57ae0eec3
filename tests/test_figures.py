"""coursekit.figures: the course's figure settings and what each figure output carries."""

import matplotlib
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from coursekit import figures  # noqa: E402


@pytest.fixture
def fig():
    figure, (left, right) = plt.subplots(1, 2, figsize=(8, 3))
    figure.suptitle("Two optimisers")
    left.plot([0, 1], [1, 0], label="GD")
    left.set(title="Loss\n(train)", xlabel="step", ylabel="loss")
    left.legend(fontsize=7)
    right.imshow([[0, 1], [1, 0]])
    right.set_axis_off()
    yield figure
    plt.close(figure)


def test_alt_text_says_what_the_figure_shows(fig):
    text = figures.alt_text(fig)
    assert (
        text
        == 'A figure of 2 panels, "Two optimisers": Loss (train) (loss against step); an image.'
    )


def test_smallest_font_is_the_smallest_visible_text(fig):
    assert figures.smallest_font_pt(fig) == 7  # the legend
    fig.axes[0].get_legend().set_visible(False)
    assert figures.smallest_font_pt(fig) == matplotlib.rcParams["font.size"]


def test_a_figure_without_text_has_no_font_size():
    figure, ax = plt.subplots()
    ax.set_axis_off()
    assert figures.smallest_font_pt(figure) is None
    assert figures.alt_text(figure) == "A figure."
    plt.close(figure)


def test_text_shrinks_with_the_figure():
    # 10 pt at 150 dpi is 20.8 px; a 1,800 px image shown 720 px wide shrinks it to 8.3 px
    assert figures.text_px(10, 150, 1800, 1800) == pytest.approx(20.833, abs=1e-3)
    assert figures.text_px(10, 150, 1800, 720) == pytest.approx(8.333, abs=1e-3)


def test_the_course_style_sets_the_dpi(monkeypatch):
    monkeypatch.setitem(matplotlib.rcParams, "figure.dpi", 100)
    figures.use_course_style()  # outside a kernel: the settings only
    assert matplotlib.rcParams["figure.dpi"] == figures.DPI >= 150


@pytest.mark.notebook
def test_a_figure_in_a_notebook_carries_its_description(tmp_path, results_dir, write_notebook):
    import nbformat

    from coursekit import runner

    nb = write_notebook(
        tmp_path / "figure.ipynb",
        'profile = "auto"',
        'import coursekit as ck\nrun = ck.setup(profile, notebook="figure", quiet=True)',
        "import matplotlib.pyplot as plt\n"
        "fig, ax = plt.subplots(figsize=(4, 3))\n"
        "ax.plot([0, 1]); ax.set(title='Loss', xlabel='step')",
    )
    outcome = runner.execute(nb, "smoke", out_dir=tmp_path / "out")
    assert not outcome.error, outcome.error
    executed = nbformat.read(outcome.output, as_version=4)
    (output,) = [o for o in executed.cells[-1].outputs if "image/png" in o.get("data", {})]
    info = output.metadata["image/png"]["coursekit"]
    assert info["alt"] == "A figure: Loss (step)."
    assert info["dpi"] == figures.DPI
    assert info["min_font_pt"] == matplotlib.rcParams["font.size"]
    assert info["unlabelled"] == ["Loss: y"] and info["legend_cover"] == {}


def test_an_axis_that_shows_values_needs_a_label():
    figure, axes = plt.subplots(2, 2, sharex=True, sharey="row")
    for ax in axes.flat:
        ax.plot([0, 1, 2], [2, 0, 1])
    axes[0, 0].set(title="top", ylabel="loss")  # the row shares it: labelled once is enough
    axes[1, 0].set(xlabel="step")  # the columns share x, shown on the bottom row only
    axes[1, 1].set_title("bottom right")
    figure.canvas.draw()
    assert figures.unlabelled_axes(figure) == ["a panel: y"]  # the bottom row's y: unlabelled
    axes[1, 0].set_ylabel("accuracy")
    assert figures.unlabelled_axes(figure) == []  # every x is shared with the labelled one
    figure, (left, right) = plt.subplots(1, 2)  # nothing shared: each panel says its own
    for ax in (left, right):
        ax.plot([0, 1], [1, 0])
        ax.set_ylabel("loss")
    left.set_xlabel("step")
    right.set_title("right")
    figure.canvas.draw()
    assert figures.unlabelled_axes(figure) == ["right: x"]
    figure, (bars, image) = plt.subplots(1, 2)
    bars.barh(["Adam", "SGD"], [1.0, 2.0])  # categories name themselves
    bars.set_xlabel("seconds")
    image.imshow([[0, 1], [1, 0]])  # an image panel (a digit) is not a plot of values
    figure.canvas.draw()
    assert figures.unlabelled_axes(figure) == []
    plt.close("all")


def test_a_legend_over_the_data_is_measured():
    import numpy as np

    figure, ax = plt.subplots()
    t = np.linspace(0, 1, 200)
    ax.plot(t, t, label="rising")
    ax.legend(loc="lower right")  # below the diagonal: nothing under it
    figure.canvas.draw()
    assert figures.legend_cover(figure) == 0.0
    ax.legend(loc="center")
    figure.canvas.draw()
    assert 0.02 < figures.legend_cover(figure) < 0.5
    assert set(figures.legend_cover_by_panel(figure)) == {"panel 1"}
    plt.close("all")
