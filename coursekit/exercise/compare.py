"""Comparing a learner's result with the oracle's: one sentence that says what is wrong.

Tuples are compared item by item; a tensor's dtype, any array's shape and NaNs get their
own messages before the values are compared with the exercise's tolerances.
"""

from __future__ import annotations

import numpy as np
import torch


def as_array(value) -> np.ndarray | None:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        return None


def short(value) -> str:
    if isinstance(value, tuple | list) and value and not isinstance(value[0], int | float):
        return "(" + ", ".join(short(v) for v in value) + ")"
    array = as_array(value)
    if array is None:
        return repr(value)[:200]
    with np.printoptions(precision=6, threshold=12, edgeitems=2, linewidth=88):
        return np.array2string(array)


def compare(expected, received, rtol: float, atol: float) -> str:
    """An empty string when ``received`` matches ``expected``; else what is wrong, in a
    sentence. A tuple (several results, as ``mean, var, lml``) is compared item by item."""
    if isinstance(expected, tuple):
        if not isinstance(received, tuple | list) or len(received) != len(expected):
            got = len(received) if isinstance(received, tuple | list) else type(received).__name__
            return f"expected a tuple of {len(expected)} results, received {got}"
        for i, (want, got) in enumerate(zip(expected, received, strict=True), start=1):
            problem = compare(want, got, rtol, atol)
            if problem:
                return f"result {i} of {len(expected)}: {problem}"
        return ""
    if received is None:
        return "your function returned None: does it end with a return statement?"
    want, got = as_array(expected), as_array(received)
    if got is None:
        return f"expected numbers, received a {type(received).__name__}"
    if isinstance(expected, torch.Tensor) and isinstance(received, torch.Tensor):
        if received.dtype != expected.dtype:
            return f"expected a tensor of dtype {expected.dtype}, received {received.dtype}"
    if got.shape != want.shape:
        return f"expected shape {tuple(want.shape)}, received shape {tuple(got.shape)}"
    if np.isnan(got).any() and not np.isnan(want).any():
        return f"received NaN in {int(np.isnan(got).sum())} of {got.size} entries"
    if not np.allclose(got, want, rtol=rtol, atol=atol, equal_nan=True):
        where = np.unravel_index(np.argmax(np.abs(got - want)), got.shape) if got.ndim else ()
        return (
            f"the values differ (largest difference {np.nanmax(np.abs(got - want)):.3g}"
            + (f", at index {tuple(int(i) for i in where)}" if got.ndim else "")
            + ")"
        )
    return ""
