"""The package's messages: one ``logging`` hierarchy under the ``"retrieval"`` logger.

Library modules log to ``logging.getLogger(__name__)`` and never print: files they skip and
damaged caches at ``WARNING``, training steps at ``INFO`` (``DEBUG`` when the caller did not
ask for them). The ``"retrieval"`` logger writes bare messages to the standard error stream
of the moment (:func:`to_stderr`, installed on import), so a script, a notebook and the
command line show the same lines. An application that configures ``logging`` itself calls
:func:`use_application_logging` and gets the records through its own handlers instead.

Examples
--------
>>> import logging
>>> logging.getLogger("retrieval.workflows").parent.name
'retrieval'
>>> to_stderr() is to_stderr()  # installed once
True
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

ROOT = "retrieval"


class CurrentStderr(logging.StreamHandler):
    """A handler that writes to whatever ``sys.stderr`` is when a record arrives (a test's
    capture, a notebook's cell output), not to the stream of the moment it was made."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("%(message)s"))

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:  # StreamHandler.__init__ assigns one
        pass


def to_stderr(level: int = logging.INFO) -> CurrentStderr:
    """Make the ``"retrieval"`` logger write messages of ``level`` and above to stderr (its
    one handler, added once), and not pass them on to the root logger; returns the handler."""
    logger = logging.getLogger(ROOT)
    handler = next((h for h in logger.handlers if isinstance(h, CurrentStderr)), None)
    if handler is None:
        handler = CurrentStderr()
        logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return handler


def use_application_logging() -> None:
    """Leave the package's records to the application's own ``logging`` configuration: the
    stderr handler goes and the records propagate to the root logger."""
    logger = logging.getLogger(ROOT)
    for handler in [h for h in logger.handlers if isinstance(h, CurrentStderr)]:
        logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)
    logger.propagate = True
