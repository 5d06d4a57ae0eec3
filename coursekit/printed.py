"""Printed digits: a source task as large as you like, made offline from fonts.

    x, y = printed.printed_digits(6000, image_size=8, seed=0)   # like scikit-learn's digits
    x, y = printed.printed_digits(6000, image_size=28, seed=0)  # like MNIST

Each image is one digit 0-9 typeset in one of the TrueType fonts that ship with
matplotlib (DejaVu Sans, Serif and Mono, STIX, Computer Modern; upright, bold, italic),
at a random size and stroke weight, rotated and sheared a little. It is then reduced the
way the handwritten sets were made:

* ``image_size=8``, like scikit-learn's digits (UCI optdigits): the digit is scaled into a
  32x32 bitmap, and each 4x4 block's count of ink pixels (0-16) is one pixel, divided by 16.
* ``image_size=28``, like MNIST: the digit is scaled to fit a 20x20 box with grey levels
  (anti-aliased), and placed in a 28x28 image so that its centre of mass is in the middle.

Returns float32 images (N, H, W, 1) in [0, 1] (channels last, as Keras wants them) and
int64 labels (N,). The same arguments give the same images on the same fonts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from coursekit import validate

VERSION = 1  # bump when the images a seed gives change
SIZES = (8, 28)
_FAMILIES = ("DejaVuSans", "DejaVuSerif", "STIXGeneral", "cmr10", "cmb10", "cmss10", "cmtt10")
_FAMILIES += ("cmti10", "cmmi10")  # italic, and old-style figures


def font_dir() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def fonts() -> list[str]:
    """The font files used, sorted: every matplotlib font of the families above."""
    names = sorted(p.name for p in font_dir().glob("*.ttf") if p.name.startswith(_FAMILIES))
    names = [n for n in names if "Display" not in n]  # DejaVu's display cuts: same shapes
    if not names:
        raise FileNotFoundError(f"no TrueType fonts of {_FAMILIES} in {font_dir()}")
    return names


def _typeset(digit: int, font, rng: np.random.Generator):
    """The digit in white on black, rotated and sheared, cropped to its ink."""
    from PIL import Image, ImageDraw

    canvas = 64
    img = Image.new("L", (canvas, canvas), 0)
    ImageDraw.Draw(img).text(
        (canvas // 2, canvas // 2),
        str(digit),
        fill=255,
        font=font,
        anchor="mm",
        stroke_width=int(rng.integers(0, 2)),
        stroke_fill=255,
    )
    img = img.rotate(rng.uniform(-12, 12), resample=Image.BILINEAR)
    shear = rng.uniform(-0.25, 0.25)
    img = img.transform(
        img.size, Image.AFFINE, (1, shear, -shear * canvas / 2, 0, 1, 0), resample=Image.BILINEAR
    )
    return img.crop(img.getbbox())


def _optdigits(glyph, rng: np.random.Generator) -> np.ndarray:
    """32x32 bitmap, the digit's height filling most of it, then 4x4 block counts / 16."""
    from PIL import Image

    w, h = glyph.size
    scale = 32 / h * rng.uniform(0.85, 1.0)
    width = min(32, max(1, round(w * scale * rng.uniform(1.0, 1.6))))  # handwriting is wider
    glyph = glyph.resize((width, max(1, round(h * scale))), Image.BILINEAR)
    bitmap = Image.new("L", (32, 32), 0)
    bitmap.paste(glyph, ((32 - glyph.size[0]) // 2, (32 - glyph.size[1]) // 2))
    ink = np.asarray(bitmap) > 127
    return ink.reshape(8, 4, 8, 4).sum(axis=(1, 3)).astype(np.float32) / 16


def _mnist(glyph, rng: np.random.Generator) -> np.ndarray:
    """Fit into 20x20 keeping the aspect ratio, grey levels kept; centre of mass in 28x28."""
    from PIL import Image

    w, h = glyph.size
    scale = 20 / max(w, h) * rng.uniform(0.85, 1.0)
    glyph = glyph.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.LANCZOS)
    a = np.asarray(glyph, dtype=np.float32) / 255
    rows, cols = np.indices(a.shape)
    total = a.sum() or 1.0
    top = int(round(14 - (rows * a).sum() / total))
    left = int(round(14 - (cols * a).sum() / total))
    top = min(max(top, 0), 28 - a.shape[0])
    left = min(max(left, 0), 28 - a.shape[1])
    out = np.zeros((28, 28), dtype=np.float32)
    out[top : top + a.shape[0], left : left + a.shape[1]] = a
    return np.clip(out, 0, 1)


def printed_digits(n: int, image_size: int = 8, seed: int = 0):
    """``n`` printed digits, balanced over the classes 0-9 (their order shuffled)."""
    from PIL import ImageFont

    n = validate.integer("n", n, minimum=1)
    validate.one_of("image_size", image_size, SIZES)
    rng = np.random.default_rng(seed)
    names = fonts()
    labels = rng.permutation(np.arange(n) % 10)
    choice = rng.integers(0, len(names), n)
    sizes = rng.integers(22, 30, n)
    reduce = _optdigits if image_size == 8 else _mnist
    loaded = {}
    images = np.empty((n, image_size, image_size, 1), dtype=np.float32)
    for i, (digit, f, size) in enumerate(zip(labels, choice, sizes, strict=True)):
        key = (names[f], int(size))
        if key not in loaded:
            loaded[key] = ImageFont.truetype(str(font_dir() / names[f]), size=int(size))
        images[i, :, :, 0] = reduce(_typeset(int(digit), loaded[key], rng), rng)
    return images, labels.astype(np.int64)


__all__ = ["SIZES", "VERSION", "font_dir", "fonts", "printed_digits"]
