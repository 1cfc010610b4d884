"""Decoding pictures into shared batch slots, in worker processes or threads.

The decoded pixels never travel through a pipe: every worker maps the same slot buffer
(a file in ``/dev/shm`` when there is one) and writes each picture straight into its row of
a batch; only the paths go out and the reasons for bad files come back. The number of
slots bounds how many batches are decoded ahead of the model (the prefetch queue).

Worker processes start from a fork server (``forkserver``), not by forking a process that
runs TensorFlow or JAX threads. As with every ``multiprocessing`` start method but ``fork``,
a script that extracts features must guard its top level with ``if __name__ == "__main__":``;
if the workers cannot start, decoding falls back to threads with a warning.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import tempfile
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool, ProcessPoolExecutor
from pathlib import Path

import numpy as np

from retrieval.features._images import INPUT_SIZE, BadImageError, load_picture

_log = logging.getLogger(__name__)

_SLOTS: np.ndarray | None = None  # the slot buffer as a worker process maps it


def decode_rows(
    slots: np.ndarray,
    slot: int,
    start: int,
    paths: Sequence[str],
    draft: bool,
    crop: bool = False,
    resample: str = "bilinear",
) -> list[str]:
    """Decode ``paths`` into ``slots[slot, start:start + len(paths)]``; the reason per bad file, ``""`` when fine.

    Pictures are decoded at the slots' size; ``draft``, ``crop`` and ``resample`` as in
    :func:`load_picture`.
    """
    size = slots.shape[2]
    reasons = []
    for offset, path in enumerate(paths):
        try:
            slots[slot, start + offset] = load_picture(
                path, size, draft=draft, crop=crop, resample=resample
            )
            reasons.append("")
        except BadImageError as exc:
            slots[slot, start + offset] = 0
            reasons.append(exc.reason)
    return reasons


def _attach(buffer: str, shape: tuple[int, ...]) -> None:
    """Worker process initialiser: map the slot buffer once; leave Ctrl-C to the parent,
    which stops the workers itself (and keeps the batches already written)."""
    global _SLOTS
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _SLOTS = np.memmap(buffer, dtype=np.uint8, mode="r+", shape=shape)


def _decode_in_worker(
    slot: int, start: int, paths: Sequence[str], draft: bool, crop: bool, resample: str
) -> list[str]:
    assert _SLOTS is not None, "worker started without its slot buffer"
    return decode_rows(_SLOTS, slot, start, paths, draft, crop, resample)


def _shared_folder(size: int) -> str | None:
    """``/dev/shm`` when it has room for twice ``size`` bytes (a full tmpfs kills a writer with
    SIGBUS; containers often give it 64 MiB), else the temporary folder (page cache)."""
    shm = Path("/dev/shm")
    try:
        stats = os.statvfs(shm)
    except OSError:
        return None
    room = stats.f_bavail * stats.f_frsize
    return str(shm) if os.access(shm, os.W_OK) and room >= 2 * size else None


class SlotDecoder:
    """``slots`` batches of ``(batch_size, size, size, 3)`` uint8, filled by ``workers`` decoders.

    ``draft``, ``crop`` and ``resample`` say how pictures are decoded (:func:`load_picture`).
    ``kind`` is ``"process"`` or ``"thread"``. :meth:`submit` queues the decoding of up to
    ``batch_size`` paths into a slot and returns futures of their reasons; :attr:`slots` is
    the array the model reads. A broken process pool is replaced by threads (with a warning)
    and the chunks it lost are decoded again.
    """

    def __init__(
        self,
        *,
        slots: int,
        batch_size: int,
        workers: int,
        kind: str,
        draft: bool,
        size: int = INPUT_SIZE,
        crop: bool = False,
        resample: str = "bilinear",
    ) -> None:
        self.batch_size = batch_size
        self.workers = max(1, workers)
        self.draft = draft
        self.crop = crop
        self.resample = resample
        self.kind = kind
        shape = (slots, batch_size, size, size, 3)
        self._file: str | None = None
        self._pool: ThreadPoolExecutor | ProcessPoolExecutor
        if kind == "process":
            size = int(np.prod(shape))
            fd, self._file = tempfile.mkstemp(prefix="retrieval-slots-", dir=_shared_folder(size))
            os.ftruncate(fd, size)
            os.close(fd)
            self.slots = np.memmap(self._file, dtype=np.uint8, mode="r+", shape=shape)
            self._pool = _process_pool(self.workers, self._file, shape)
        elif kind == "thread":
            self.slots = np.zeros(shape, dtype=np.uint8)
            self._pool = ThreadPoolExecutor(max_workers=self.workers)
        else:
            raise ValueError(f"decoder kind {kind!r}: use 'process' or 'thread'")
        self._chunk = max(1, min(16, -(-batch_size // (2 * self.workers))))

    def submit(self, slot: int, paths: Sequence[str]) -> list[tuple[int, Sequence[str], Future]]:
        """Start decoding ``paths`` into ``slot``: ``(start row, paths, future of reasons)`` per chunk."""
        chunks = []
        for start in range(0, len(paths), self._chunk):
            part = list(paths[start : start + self._chunk])
            chunks.append((start, part, self._submit_chunk(slot, start, part)))
        return chunks

    def _submit_chunk(self, slot: int, start: int, paths: Sequence[str]) -> Future:
        if self.kind == "process":
            try:
                return self._pool.submit(_decode_in_worker, slot, start, paths, *self._how)
            except (BrokenProcessPool, RuntimeError) as exc:
                self._fall_back(exc)
        return self._pool.submit(decode_rows, self.slots, slot, start, paths, *self._how)

    @property
    def _how(self) -> tuple[bool, bool, str]:
        return self.draft, self.crop, self.resample

    def reasons(self, slot: int, chunks: list[tuple[int, Sequence[str], Future]]) -> list[str]:
        """Wait for a slot's chunks; the reason per path (``""`` when decoded)."""
        out: list[str] = []
        for start, paths, future in chunks:
            try:
                out += future.result()
            except BrokenProcessPool as exc:
                self._fall_back(exc)
                out += decode_rows(self.slots, slot, start, paths, *self._how)
        return out

    def _fall_back(self, exc: BaseException) -> None:
        if self.kind != "process":
            return
        _log.warning(
            "decoding in threads: worker processes failed (%s); a script that extracts "
            'features needs `if __name__ == "__main__":` around its top level',
            exc,
        )
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.kind = "thread"
        self._pool = ThreadPoolExecutor(max_workers=self.workers)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._file is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._file)
            self._file = None

    def __enter__(self) -> SlotDecoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _process_pool(workers: int, buffer: str, shape: tuple[int, ...]) -> ProcessPoolExecutor:
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if "forkserver" in methods:
        context.set_forkserver_preload([__name__])
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_attach, initargs=(buffer, shape)
    )
