"""coursekit.printed: digits typeset in matplotlib's fonts, reduced like the handwritten sets."""

import numpy as np
import pytest

from coursekit import printed


def test_fonts_ship_with_matplotlib():
    names = printed.fonts()
    assert len(names) >= 10 and all((printed.font_dir() / n).is_file() for n in names)


@pytest.mark.parametrize("size", printed.SIZES)
def test_images_have_the_shape_range_and_balanced_labels(size):
    x, y = printed.printed_digits(50, image_size=size, seed=1)
    assert x.shape == (50, size, size, 1) and x.dtype == np.float32
    assert x.min() >= 0 and x.max() <= 1 and x.max() > 0.5
    assert y.dtype == np.int64 and np.bincount(y, minlength=10).tolist() == [5] * 10
    assert all(img.sum() > 0 for img in x)  # every image has ink


def test_eight_by_eight_counts_ink_in_sixteenths_like_optdigits():
    x, _ = printed.printed_digits(20, image_size=8, seed=2)
    np.testing.assert_array_equal(x * 16, np.round(x * 16))


def test_same_seed_same_images_other_seed_other_images():
    a, ya = printed.printed_digits(30, seed=3)
    b, yb = printed.printed_digits(30, seed=3)
    c, _ = printed.printed_digits(30, seed=4)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(n=0), "n=0 is not allowed: it must be an integer >= 1"),
        (dict(n=2.5), "n=2.5 is not allowed"),
        (dict(n=10, image_size=16), "image_size=16 is not allowed: it must be one of"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        printed.printed_digits(**kwargs)
