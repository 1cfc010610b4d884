"""A quiet command line: native start-up notes off stderr, Python warnings on one line.

TensorFlow's C++ runtime writes notes straight to file descriptor 2, where
``TF_CPP_MIN_LOG_LEVEL`` does not reach them (:mod:`retrieval.native_notes` says which).
:class:`NativeNoiseFilter` puts a pipe in front of descriptor 2 for the whole run and forwards
everything except those lines; progress bars (partial lines ending in ``\\r``) pass through
at once.
"""

from __future__ import annotations

import os
import re
import select
import sys
import threading
import warnings

from retrieval.native_notes import NOISE_PREFIXES, is_noise

QUIET_WARNINGS = ("The structure of `inputs` doesn't match the expected structure",)


def _could_become_noise(partial: str) -> bool:
    candidates = (*NOISE_PREFIXES, "I0000 00:00:00", "W0000 00:00:00")
    return any(c.startswith(partial) or partial.startswith(c[:5]) for c in candidates)


class NativeNoiseFilter:
    """Forward descriptor 2 through a filter until :meth:`close` (idempotent)."""

    def __init__(self) -> None:
        sys.stderr.flush()
        self._saved = os.dup(2)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
        self._read_end = read_end
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="stderr-filter", daemon=True)
        self._thread.start()
        self._closed = False

    def _emit(self, text: str) -> None:
        os.write(self._saved, text.encode("utf-8", "replace"))

    def _pump(self) -> None:
        """Forward lines until end of file, or until :meth:`close` asked to stop and the pipe
        holds nothing more: processes that inherited descriptor 2 (decoding workers,
        multiprocessing's helpers) may keep the write end open long after the work is done."""
        pending = ""
        while True:
            ready, _, _ = select.select([self._read_end], [], [], 0.05)
            if not ready:
                if self._stopping.is_set():
                    break
                continue
            chunk = os.read(self._read_end, 65536)
            if not chunk:
                break
            pending += chunk.decode("utf-8", "replace")
            *lines, pending = pending.split("\n")
            for line in lines:
                if not is_noise(line):
                    self._emit(line + "\n")
            if pending and not _could_become_noise(pending):
                self._emit(pending)
                pending = ""
        if pending and not is_noise(pending):
            self._emit(pending)
        os.close(self._read_end)

    def close(self) -> None:
        """Restore descriptor 2 and forward what is left."""
        if self._closed:
            return
        self._closed = True
        sys.stderr.flush()
        os.dup2(self._saved, 2)  # the pump forwards what is in the pipe, then stops
        self._stopping.set()
        self._thread.join(timeout=5)
        os.close(self._saved)


def one_line_warnings() -> None:
    """Show Python warnings as ``warning: message`` (no source line), hiding known noise."""

    def show(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ARG001
        print(f"warning: {message}", file=file or sys.stderr)

    warnings.showwarning = show
    for text in QUIET_WARNINGS:
        warnings.filterwarnings("ignore", message=re.escape(text))
