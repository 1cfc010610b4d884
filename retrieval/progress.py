"""Progress bars for long work, written to stderr so stdout stays clean for results.

Example
-------
>>> list(track(range(3), desc="items", disable=True))
[0, 1, 2]
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


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


def track(
    items: Iterable[T],
    *,
    total: int | None = None,
    desc: str,
    unit: str = "it",
    disable: bool | None = None,
) -> Iterator[T]:
    """Iterate over ``items`` while showing a progress bar."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with progress_bar(total=total, desc=desc, unit=unit, disable=disable) as bar:
        for item in items:
            yield item
            bar.update(1)
