"""Images laid out for looking at: many small digits tiled into one array for ``imshow``."""

from __future__ import annotations

import numpy as np


def grid(images, ncols: int = 10, pad: int = 1, pad_value: float = 0.0) -> np.ndarray:
    """Tile images (N, 1, H, W) or (N, H, W) into one 2-D array, row by row.

    ``ncols`` images per row (fewer if N is smaller); a ``pad``-pixel border of
    ``pad_value`` between them: 0 is white under ``cmap="gray_r"``, the course's way to show
    digits. The last row is filled with ``pad_value`` where images run out. Accepts numpy
    arrays and tensors (on any device).
    """
    if hasattr(images, "detach"):
        images = images.detach().cpu().numpy()
    a = np.asarray(images, dtype=np.float32)
    if a.ndim == 4:
        if a.shape[1] != 1:
            raise ValueError(f"expected one channel (N, 1, H, W), got shape {a.shape}")
        a = a[:, 0]
    if a.ndim != 3 or len(a) == 0:
        raise ValueError(f"expected images (N, H, W) or (N, 1, H, W) with N >= 1, got {a.shape}")
    if ncols < 1 or pad < 0:
        raise ValueError(f"ncols must be >= 1 and pad >= 0, got {ncols} and {pad}")
    n, h, w = a.shape
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    out = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad), pad_value, dtype=np.float32)
    for i, image in enumerate(a):
        r, c = divmod(i, ncols)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        out[top : top + h, left : left + w] = image
    return out


__all__ = ["grid"]
