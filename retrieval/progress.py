"""Progress bars for long work, written to stderr so stdout stays clean for results.

Examples
--------
>>> with progress_bar(total=3, desc="items", disable=True) as bar:
...     bar.update(3)
"""

from __future__ import annotations

import sys

from tqdm.auto import tqdm


def progress_bar(
    *, total: int | None, desc: str, unit: str = "it", disable: bool | None = None
) -> tqdm:
    """A bar with counts and rate on stderr; ``disable=None`` hides it when stderr is not a terminal
    unless ``RETRIEVAL_PROGRESS=1`` is set."""
    if disable is None:
        import os

        forced = os.environ.get("RETRIEVAL_PROGRESS")
        disable = (forced == "0") if forced is not None else not sys.stderr.isatty()
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        disable=disable,
        dynamic_ncols=True,
        mininterval=0.5,
    )
