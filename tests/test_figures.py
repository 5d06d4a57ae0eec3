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
