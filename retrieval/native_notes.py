"""TensorFlow's native start-up notes, kept out of scripts' and notebooks' stderr.

When TensorFlow's C++ runtime loads it writes notes (``I0000 ... port.cc ... oneDNN``, the
absl ``InitializeLog`` warning, a failed CUDA probe on a machine without a GPU) straight to
file descriptor 2, before any log level is read: ``TF_CPP_MIN_LOG_LEVEL`` does not reach
them. :func:`quiet_first_import` (installed when ``retrieval`` is imported) holds descriptor
2 in a temporary file while TensorFlow is first imported, by the package or by anyone after
it, then writes back every line that is not such a note. The command line filters the whole
run instead (:mod:`retrieval.cli._quiet`), with the same :func:`is_noise`.

Examples
--------
>>> is_noise("I0000 00:00:1795667547.499996 26526 port.cc:153] oneDNN custom operations are on.")
True
>>> is_noise("training 'demo' on 449 items")
False
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Sequence
from typing import Any

NOISE_PREFIXES = (
    "WARNING: All log messages before absl::InitializeLog() is called",
    "To enable the following instructions:",
)
NATIVE_LOG_LINE = re.compile(r"^[IW]\d{4} \d\d:\d\d:\d\d")  # absl: I0000 00:00:17956...
NATIVE_CUDA_PROBE = re.compile(r"^E\d{4} \d\d:\d\d:\d\d.*cuda", re.IGNORECASE)
# logged at error level, but a note: an int64 op (CLIP's tokens) runs without oneDNN
NATIVE_ONEDNN_NOTE = re.compile(r"^E\d{4} \d\d:\d\d:\d\d.*\] oneDNN supports DT_INT64 only")
# Ray's core worker, when Ray Data starts an actor pool (its own constructor arguments)
RAY_ACTOR_NOTE = re.compile(
    r"^\[[\d-]+ [\d:,]+ E \d+ \d+\] core_worker\.cc:\d+: Actor with class name: "
    r"'MapWorker\(.*has constructor arguments in the object store"
)
QUIETED = ("tensorflow",)


def _probe_devices(module: Any) -> None:
    """TensorFlow looks for GPUs on its first operation (a failed CUDA probe logs an error
    line on a machine without one): done here, while the notes are held back."""
    with contextlib.suppress(Exception):
        module.config.list_physical_devices()


def is_noise(line: str) -> bool:
    """Whether a line of native stderr output is a start-up note to hide (on a machine without
    a GPU, the failed CUDA probe of TensorFlow's GPU build is one too).

    >>> is_noise("E0000 00:00:1795669519.579769 15493 cuda_platform.cc:52] failed call to cuInit")
    True
    >>> is_noise("E0000 00:00:1795669840.427210 20179 util.cc:131] oneDNN supports DT_INT64 only on "
    ...          "platforms with AVX-512. Falling back to the default Eigen-based implementation")
    True
    >>> is_noise("[2026-12-06 08:19:20,508 E 19404 19404] core_worker.cc:2465: Actor with class "
    ...          "name: 'MapWorker(MapBatches(SpecNetworkActor))' and ID: 'cc98' has constructor "
    ...          "arguments in the object store and max_restarts > 0.")
    True
    """
    return (
        line.startswith(NOISE_PREFIXES)
        or bool(RAY_ACTOR_NOTE.match(line))
        or bool(NATIVE_LOG_LINE.match(line))
        or bool(NATIVE_CUDA_PROBE.match(line))
        or bool(NATIVE_ONEDNN_NOTE.match(line))
    )


@contextlib.contextmanager
def notes_held_back() -> Iterator[None]:
    """Descriptor 2 goes to a temporary file for the block; then every line of it that is
    not a start-up note is written to the real descriptor 2."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            text = held.read().decode("utf-8", "replace")
            kept = [line for line in text.splitlines(keepends=True) if not is_noise(line)]
            if kept:
                os.write(2, "".join(kept).encode("utf-8", "replace"))


class _QuietLoader(importlib.abc.Loader):
    """A module's own loader, its ``exec_module`` run with the notes held back."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Any:
        return self._inner.create_module(spec)

    def exec_module(self, module: Any) -> None:
        with notes_held_back():
            self._inner.exec_module(module)
            _probe_devices(module)

    def __getattr__(self, name: str) -> Any:  # resources, code and source: the inner loader's
        return getattr(self._inner, name)


class _QuietFirstImport(importlib.abc.MetaPathFinder):
    """Finds the quieted modules as the import system would, with a :class:`_QuietLoader`;
    it leaves ``sys.meta_path`` at the first of them."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in QUIETED:
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def quiet_first_import() -> None:
    """Hold TensorFlow's start-up notes back when it is first imported (once; nothing when
    it is imported already, or when ``RETRIEVAL_NATIVE_NOTES=1`` asks to see them)."""
    if any(name in sys.modules for name in QUIETED) or os.environ.get("RETRIEVAL_NATIVE_NOTES"):
        return
    if not any(isinstance(finder, _QuietFirstImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietFirstImport())
