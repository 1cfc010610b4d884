"""One run at a time: an exclusive lock file, refused at once with the holder's process id."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from retrieval.errors import RetrievalError


class Busy(RetrievalError):
    """Another process holds the lock on what this one wanted to change."""


@contextlib.contextmanager
def exclusive_lock(path: str | os.PathLike[str], what: str) -> Iterator[None]:
    """Hold the lock file ``path`` (created if need be) for the block, or raise :class:`Busy`
    at once, naming ``what`` and the holder's process id: two runs never change it together.

    >>> import tempfile
    >>> lock = Path(tempfile.mkdtemp()) / ".lock"
    >>> with exclusive_lock(lock, "the library"):
    ...     with exclusive_lock(lock, "the library"):
    ...         pass
    Traceback (most recent call last):
    ...
    retrieval.library._lock.Busy: the library is being changed by another run (process ...); wait for it to finish
    """
    import fcntl

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise Busy(
                f"{what} is being changed by another run (process {holder}); wait for it to finish"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the lock
