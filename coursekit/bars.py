"""Progress bars for loops that take more than a few seconds.

In JupyterLab or a terminal this is ``tqdm.auto``: a live bar. When a notebook is
executed in batch (``python -m coursekit run``, the tests, the site build), a live
bar would leave hundreds of redraws in the saved output, so the bar is drawn off
screen and only its final state is printed, once, when the loop ends.
"""

from __future__ import annotations

import io
import os

from tqdm.auto import tqdm as _live_bar
from tqdm.std import tqdm as _text_bar

ENV_BATCH = "COURSEKIT_BATCH"


def batch_mode() -> bool:
    return os.environ.get(ENV_BATCH, "") not in ("", "0")


class _FinalLineBar(_text_bar):
    """A text bar that keeps quiet until it closes, then prints its last state."""

    def __init__(self, *args, **kwargs):
        kwargs["file"] = io.StringIO()
        super().__init__(*args, **kwargs)

    def close(self):
        if not self.disable:
            self.refresh()  # bring the rate and postfix up to date
            line = self.__str__()
            super().close()
            print(line, flush=True)
        else:
            super().close()


def progress(iterable=None, *, desc: str | None = None, total: int | None = None, **kwargs):
    """``tqdm`` over ``iterable`` (or a manual bar with ``total``), batch-aware."""
    bar = _FinalLineBar if batch_mode() else _live_bar
    kwargs.setdefault("dynamic_ncols", True)
    return bar(iterable, desc=desc, total=total, **kwargs)


def trange(n: int, **kwargs):
    return progress(range(n), total=n, **kwargs)
