"""Progress bars for loops that take more than a few seconds.

In JupyterLab or a terminal this is ``tqdm.auto``: a live bar. When a notebook is
executed in batch (``python -m coursekit run``, the tests, the site build), a live
bar would leave hundreds of redraws in the saved output, so the bar is drawn off
screen and, when the loop ends, one sentence says what it did: ``train: 800 of 800 in
1 min 40 s (8.0 a second; loss=0.31)``. A finished bar's drawing (``|##########|``)
says nothing a reader of the saved page needs.
"""

from __future__ import annotations

import io
import os

from tqdm.auto import tqdm as _live_bar
from tqdm.std import tqdm as _text_bar

ENV_BATCH = "COURSEKIT_BATCH"


def batch_mode() -> bool:
    return os.environ.get(ENV_BATCH, "") not in ("", "0")


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def final_line(desc: str | None, n: int, total: int | None, elapsed: float, postfix: str) -> str:
    """What a finished loop did, as a sentence: how many of how many, in how long, how fast."""
    done = f"{n} of {total}" if total is not None else f"{n}"
    if total is not None and n < total:
        done = f"stopped after {done}"
    rate = f"{n / elapsed:.3g} a second" if elapsed > 0 and n else ""
    details = "; ".join(part for part in (rate, postfix) if part)
    line = f"{done} in {_duration(elapsed)}" + (f" ({details})" if details else "")
    return f"{desc}: {line}" if desc else line


class _FinalLineBar(_text_bar):
    """A text bar that keeps quiet until it closes, then says in one line what it did."""

    def __init__(self, *args, **kwargs):
        kwargs["file"] = io.StringIO()
        super().__init__(*args, **kwargs)

    def close(self):
        if self.disable:
            return super().close()
        info = self.format_dict  # read before close() clears the bar
        line = final_line(
            info["prefix"], info["n"], info["total"], info["elapsed"], info["postfix"] or ""
        )
        super().close()
        print(line, flush=True)


def progress(iterable=None, *, desc: str | None = None, total: int | None = None, **kwargs):
    """``tqdm`` over ``iterable`` (or a manual bar with ``total``), batch-aware."""
    bar = _FinalLineBar if batch_mode() else _live_bar
    kwargs.setdefault("dynamic_ncols", True)
    return bar(iterable, desc=desc, total=total, **kwargs)


def trange(n: int, **kwargs):
    return progress(range(n), total=n, **kwargs)
