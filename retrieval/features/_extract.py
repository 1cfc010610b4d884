"""Streaming feature extraction with an on-disk cache keyed by path, size and mtime.

The pipeline keeps the model fed:

- worker processes decode pictures (JPEG draft mode by default) straight into shared
  uint8 batch slots; the number of slots bounds the prefetch queue;
- the model is one compiled call of a fixed batch shape (the last batch padded), with the
  preprocessing inside it, so batches travel as uint8;
- a writer thread puts each batch's rows into the output (memory, or a ``.npy`` written
  with positioned writes so memory stays flat) and into the cache (a shard file, then its
  manifest lines), so an interrupted run resumes where it stopped and a re-run extracts
  only new or changed files, and no write stalls the model.

Bad files are skipped and listed; they never shift features against paths. The network is
ResNet-50 unless another :class:`ImageNetwork` is given (CLIP's image tower,
:mod:`retrieval.features.clip`): the same pipeline and cache, its own rows.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import queue
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from retrieval.features._images import load_picture
from retrieval.features._model import ResNet50Features
from retrieval.fileio import save_npy
from retrieval.progress import progress_bar

_log = logging.getLogger(__name__)

POOL5_DIM = 2048
FC1000_DIM = 1000
_DIMS = {"pool5": POOL5_DIM, "fc1000": FC1000_DIM}


class ImageNetwork(Protocol):
    """An image network :func:`extract_features` can run in place of ResNet-50.

    ``label`` names it (the cache folder); ``dim`` is its row width; pictures are decoded to
    ``input_size`` squares (``crop`` and ``resample`` as in :func:`load_picture`) and travel
    as uint8; ``compiled(batch_size, jit_compile=...)`` is a
    :class:`~retrieval.features._compiled.CompiledCall`; ``split(outputs)`` gives
    ``(rows, None)``.
    """

    label: str
    dim: int
    input_size: int
    crop: bool
    resample: str

    def compiled(self, batch_size: int, *, jit_compile: bool | str = "auto") -> Any: ...

    def split(self, outputs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]: ...


@dataclass
class ExtractionResult:
    """Features of the pictures that could be read, in input order, and the ones skipped.

    ``pool5`` holds ResNet-50's pool5 rows, or the rows of the :class:`ImageNetwork` used.
    """

    paths: list[Path]
    pool5: np.ndarray
    fc1000: np.ndarray | None
    failures: list[tuple[Path, str]] = field(default_factory=list)
    weights: str = ""
    reused: int = 0


def get_model(
    weights: str | None,
    fc1000: bool,
    seed: int,
    precision: str = "float32",
    model: str = "resnet50",
) -> Any:
    """A built network (ResNet-50 unless ``model`` names another), reused across calls."""
    from retrieval.features.networks import build_network

    return build_network(model, weights, fc1000=fc1000, seed=seed, precision=precision)


def file_key(path: Path) -> str:
    stat = path.stat()
    return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"


def readable(paths: Sequence[Path]) -> tuple[dict[Path, str], list[tuple[Path, str]]]:
    """Each readable picture's cache key, once, in first-seen order; and every listing of
    an unreadable one with why. Both engines read their inputs so."""
    keys: dict[Path, str] = {}
    failures: list[tuple[Path, str]] = []
    for path in paths:
        try:
            keys[path] = file_key(path)
        except OSError as exc:
            failures.append((path, f"cannot read ({exc.strerror or exc})"))
    return keys, failures


def call_batch_size(batch_size: int, pictures: int) -> int:
    """The compiled batch shape for ``pictures``: ``batch_size``, or for a short job the
    smallest power of two that holds it, not a mostly padded batch.

    >>> call_batch_size(32, 1000), call_batch_size(32, 5)
    (32, 8)
    """
    return min(batch_size, 1 << (pictures - 1).bit_length())


class FeatureCache:
    """Append-only shards of features under ``folder/<weights label>/``; ``dim``: the width of
    the main rows (2048 for ResNet-50's pool5; another network's own)."""

    def __init__(
        self,
        folder: str | os.PathLike[str],
        weights_label: str,
        fc1000: bool,
        *,
        dim: int = POOL5_DIM,
    ) -> None:
        safe = "".join(c if c.isalnum() or c in "-_.=" else "_" for c in weights_label)
        self.folder = Path(folder) / safe
        self.folder.mkdir(parents=True, exist_ok=True)
        self.fc1000 = fc1000
        self.dims = {**_DIMS, "pool5": dim}
        self.manifest = self.folder / "manifest.jsonl"
        self.index: dict[str, tuple[str, int, bool]] = {}
        self._next: int | None = None  # the next shard number, counted once
        self._damaged: set[str] = set()  # shards found damaged, reported once
        self._finite: set[tuple[str, str]] = set()  # shard files whose values were checked
        if self.manifest.is_file():
            for line in self.manifest.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                    found = (str(entry["shard"]), int(entry["row"]), bool(entry["fc1000"]))
                except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                    continue  # a line cut short by an interruption
                if (self.folder / f"{found[0]}.pool5.npy").is_file():
                    self.index[str(entry["key"])] = found

    def lookup(self, key: str) -> tuple[str, int] | None:
        """Where the features of ``key`` are, if cached in a readable shard."""
        found = self.index.get(key)
        if found is None or (self.fc1000 and not found[2]):
            return None
        shard, row, _ = found
        kinds = ("pool5", "fc1000") if self.fc1000 else ("pool5",)
        if not all(self._readable(shard, kind, row) for kind in kinds):
            return None
        return shard, row

    def _readable(self, shard: str, kind: str, row: int) -> bool:
        """Whether ``row`` of a shard can be read; a damaged shard is reported once and dropped."""
        if shard in self._damaged:
            return False
        path = self.folder / f"{shard}.{kind}.npy"
        try:
            array = self._shard(shard, kind)
            problem = _shard_problem(array, self.dims[kind], row)
            if problem is None and (shard, kind) not in self._finite:
                if not np.isfinite(array).all():  # once per shard file
                    problem = "it holds NaN or infinite values"
                else:
                    self._finite.add((shard, kind))
        except (OSError, ValueError, EOFError) as exc:
            problem = f"unreadable or truncated ({exc})"
        if problem is None:
            return True
        _log.warning("ignoring damaged cache file %s: %s", path, problem)
        self._damaged.add(shard)
        self.index = {k: v for k, v in self.index.items() if v[0] != shard}
        for name in (f"{shard}.pool5.npy", f"{shard}.fc1000.npy"):
            with contextlib.suppress(OSError):  # its pictures go into a new shard
                (self.folder / name).unlink(missing_ok=True)
        return False

    def add(self, keys: Sequence[str], pool5: np.ndarray, fc1000: np.ndarray | None) -> None:
        if not len(keys):
            return
        if self._next is None:
            self._next = len(list(self.folder.glob("*.pool5.npy")))
        while True:
            shard = f"shard-{self._next:06d}-{os.getpid()}"
            self._next += 1
            if shard not in self._damaged and not (self.folder / f"{shard}.pool5.npy").exists():
                break
        save_npy(self.folder / f"{shard}.pool5.npy", pool5)
        if fc1000 is not None:
            save_npy(self.folder / f"{shard}.fc1000.npy", fc1000)
        with self.manifest.open("a", encoding="utf-8") as handle:
            for row, key in enumerate(keys):
                handle.write(
                    json.dumps(
                        {"key": key, "shard": shard, "row": row, "fc1000": fc1000 is not None}
                    )
                    + "\n"
                )
                self.index[key] = (shard, row, fc1000 is not None)
            handle.flush()
            os.fsync(handle.fileno())

    @functools.lru_cache(maxsize=8)  # noqa: B019 - a handful of open shards per cache
    def _shard(self, shard: str, kind: str) -> np.ndarray:
        return np.load(self.folder / f"{shard}.{kind}.npy", mmap_mode="r", allow_pickle=False)

    def row(self, key: str, kind: str) -> np.ndarray:
        shard, row, _ = self.index[key]
        return self._shard(shard, kind)[row]


def _shard_problem(array: np.ndarray, dim: int, row: int) -> str | None:
    """What is wrong with a cache shard expected to hold ``(rows, dim)`` floats up to ``row``."""
    if array.ndim != 2 or array.shape[1] != dim:
        return f"shape {array.shape}, expected (rows, {dim})"
    if array.dtype.kind != "f":
        return f"dtype {array.dtype}, expected floats"
    if row >= array.shape[0]:
        return f"{array.shape[0]} rows, the manifest names row {row}"
    return None


class _Rows:
    """Output rows ``(n, dim)`` float32: in memory, or a ``.npy`` file written with positioned
    writes (no mapping, so resident memory does not grow with ``n``)."""

    def __init__(self, n: int, dim: int, path: Path | None) -> None:
        self.n, self.dim, self.path = n, dim, path
        self._fd: int | None = None
        if path is None:
            self.array: np.ndarray | None = np.zeros((n, dim), dtype=np.float32)
            return
        self.array = None
        path.parent.mkdir(parents=True, exist_ok=True)
        self.partial = path.with_name(path.name + ".partial")
        self._fd, self._offset = _open_npy(self.partial, n, dim)

    def write(self, positions: Sequence[int], rows: np.ndarray) -> None:
        if self.array is not None:
            self.array[list(positions)] = rows
            return
        rows = np.ascontiguousarray(rows, dtype=np.float32)
        size = self.dim * 4
        start = 0
        while start < len(positions):  # one write per run of consecutive positions
            end = start + 1
            while end < len(positions) and positions[end] == positions[end - 1] + 1:
                end += 1
            os.pwrite(self._fd, rows[start:end].tobytes(), self._offset + positions[start] * size)
            start = end

    def finish(self, keep: np.ndarray) -> np.ndarray:
        """The rows where ``keep`` is true, in order."""
        if self.array is not None:
            return self.array if keep.all() else self.array[keep]
        assert self._fd is not None and self.path is not None
        if keep.all():
            os.close(self._fd)
            self._fd = None
            os.replace(self.partial, self.path)
        else:
            fd, offset = _open_npy(self.path, int(keep.sum()), self.dim)
            size = self.dim * 4
            try:
                for row, source in enumerate(np.flatnonzero(keep)):
                    data = os.pread(self._fd, size, self._offset + int(source) * size)
                    os.pwrite(fd, data, offset + row * size)
            finally:
                os.close(fd)
            self.discard()
        from numpy.lib.format import open_memmap

        return open_memmap(self.path, mode="r+")

    def discard(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self.partial.unlink(missing_ok=True)


def _open_npy(path: Path, n: int, dim: int) -> tuple[int, int]:
    """Create a float32 ``(n, dim)`` ``.npy`` (sparse, zero) and open it: ``(fd, data offset)``."""
    from numpy.lib.format import open_memmap

    array = open_memmap(path, mode="w+", dtype=np.float32, shape=(n, dim))
    offset = array.offset
    del array
    return os.open(path, os.O_RDWR), offset


class _Writer:
    """A thread that takes finished batches off the model's hands (bounded queue)."""

    def __init__(self, handle: Any, depth: int = 4) -> None:
        self._handle = handle
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="feature-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self.error is None:
                try:
                    self._handle(*item)
                except BaseException as exc:  # re-raised in the caller's thread
                    self.error = exc

    def put(self, *item: Any) -> None:
        self._check()
        self._queue.put(item)

    def close(self) -> None:
        """Finish every queued write (also after an interruption, so the cache keeps them)."""
        self._queue.put(None)
        self._thread.join()
        self._check()

    def _check(self) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            raise error


def choose_decoder(decoder: str, todo: int, batch_size: int) -> str:
    """How pictures are decoded: ``decoder`` when it names a kind, else (``"auto"``) worker
    processes when there are more than two batches' worth (``todo``), threads otherwise.

    >>> choose_decoder("auto", 10, 64), choose_decoder("auto", 1000, 64)
    ('thread', 'process')
    """
    if decoder in ("process", "thread"):
        return decoder
    if decoder != "auto":
        raise ValueError(f"decoder {decoder!r}: use 'auto', 'process' or 'thread'")
    return "process" if todo > 2 * batch_size else "thread"


def extract_features(
    paths: Sequence[str | os.PathLike[str]],
    *,
    weights: str | os.PathLike[str] | None = "imagenet",
    fc1000: bool = False,
    batch_size: int | None = None,
    workers: int | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] | None = None,
    seed: int = 0,
    progress: bool | None = None,
    precision: str = "float32",
    jit_compile: bool | str = "auto",
    draft: bool = True,
    decoder: str = "auto",
    prefetch: int | None = None,
    network: ImageNetwork | None = None,
    model: str = "resnet50",
) -> ExtractionResult:
    """The local engine of :func:`retrieval.features.extract_features`, whose docstring
    describes every option: this process, its decoding workers and one compiled network."""
    from retrieval.features._compiled import default_batch_size, default_workers
    from retrieval.features._decode import SlotDecoder

    for name, value in (("batch_size", batch_size), ("workers", workers), ("prefetch", prefetch)):
        if value is not None and value < 1:
            raise ValueError(f"{name} must be a positive integer or None, not {value!r}")
    choose_decoder(decoder, 0, 1)  # a bad name fails before the model is built
    if network is not None and fc1000:
        raise ValueError("fc1000 logits are not an output of a given network")
    paths = [Path(p) for p in paths]
    if network is None:
        from retrieval.features.networks import cache_label, network_dim, picture_settings

        label = cache_label(model, weights, seed)
        dim, picture = network_dim(model), picture_settings(model)
    else:
        label, dim = network.label, network.dim
        picture = {"size": network.input_size, "crop": network.crop, "resample": network.resample}
    cache = FeatureCache(cache_dir, label, fc1000, dim=dim) if cache_dir is not None else None
    keys, failures = readable(paths)
    kept = [p for p in paths if p in keys]  # one output row each, in input order (repeats too)
    rows_of: dict[Path, list[int]] = {}
    for position, path in enumerate(kept):
        rows_of.setdefault(path, []).append(position)
    todo = [p for p in keys if cache is None or cache.lookup(keys[p]) is None]
    reused = len(keys) - len(todo)
    pool5_rows = _Rows(len(kept), dim, None if out is None else Path(out))
    fc_rows = _Rows(len(kept), FC1000_DIM, None) if fc1000 else None

    def write(batch: Sequence[Path], pool5: np.ndarray | None, logits: np.ndarray | None) -> None:
        if pool5 is None:  # rows that come from the cache
            for path in batch:
                for kind, rows in (("pool5", pool5_rows), ("fc1000", fc_rows)):
                    if rows is not None:
                        row = cache.row(keys[path], kind)
                        rows.write(
                            rows_of[path], np.broadcast_to(row, (len(rows_of[path]), len(row)))
                        )
            return
        positions = [position for path in batch for position in rows_of[path]]
        take = [i for i, path in enumerate(batch) for _ in rows_of[path]]
        pool5_rows.write(positions, pool5[take])
        if fc_rows is not None:
            fc_rows.write(positions, logits[take])
        if cache is not None:
            cache.add([keys[p] for p in batch], pool5, logits)

    decoded_bad: set[Path] = set()
    writer = _Writer(write)
    try:
        if cache is not None and reused:
            waiting = set(todo)
            cached = [p for p in keys if p not in waiting]
            for start in range(0, len(cached), 256):
                writer.put(cached[start : start + 256], None, None)
        if todo:
            built = network or get_model(
                None if weights is None else str(weights), fc1000, seed, precision, model
            )
            batch_size = call_batch_size(batch_size or default_batch_size(), len(todo))
            workers = workers or default_workers()
            call = built.compiled(batch_size, jit_compile=jit_compile)
            depth = prefetch or min(8, max(2, workers))
            kind = choose_decoder(decoder, len(todo), batch_size)
            with (
                SlotDecoder(
                    slots=depth + 2,
                    batch_size=batch_size,
                    workers=workers,
                    kind=kind,
                    draft=draft,
                    **picture,
                ) as decoding,
                progress_bar(
                    total=len(todo),
                    desc="features",
                    unit="img",
                    disable=None if progress is None else not progress,
                ) as bar,
            ):
                decoded_bad = _run_pipeline(todo, call, built, decoding, writer, bar, failures)
        writer.close()
    except BaseException:
        writer.close()
        pool5_rows.discard()
        raise
    for path, reason in failures:
        _log.warning("skipping %s: %s", path, reason)
    keep = np.array([p not in decoded_bad for p in kept], dtype=bool)
    ok = [p for p in kept if p not in decoded_bad]
    pool5_all = pool5_rows.finish(keep)
    fc_all = fc_rows.finish(keep) if fc_rows is not None else None
    return ExtractionResult(ok, pool5_all, fc_all, failures, label, reused)


def _run_pipeline(
    todo: list[Path],
    call: Any,
    model: ResNet50Features | ImageNetwork,
    decoding: Any,
    writer: _Writer,
    bar: Any,
    failures: list[tuple[Path, str]],
) -> set[Path]:
    """Decode ahead into free slots, run the compiled call on each full slot, hand rows to the writer."""
    size = call.batch_size
    batches = [todo[i : i + size] for i in range(0, len(todo), size)]
    free = deque(range(len(decoding.slots)))
    pending: deque = deque()
    running: tuple | None = None
    bad: set[Path] = set()
    following = 0

    def refill() -> None:
        nonlocal following
        while free and following < len(batches):
            slot = free.popleft()
            batch = batches[following]
            pending.append((batch, slot, decoding.submit(slot, [str(p) for p in batch])))
            following += 1

    def finish(batch: list[Path], slot: int, reasons: list[str], handle: Any) -> None:
        pool5, logits = model.split(call.fetch(handle))
        free.append(slot)
        good = [i for i, reason in enumerate(reasons) if not reason]
        if good:
            writer.put(
                [batch[i] for i in good], pool5[good], None if logits is None else logits[good]
            )
        bar.update(len(batch))

    refill()
    while pending:
        batch, slot, chunks = pending.popleft()
        reasons = decoding.reasons(slot, chunks)
        for path, reason in zip(batch, reasons, strict=True):
            if reason:
                failures.append((path, reason))
                bad.add(path)
        if len(batch) < size:
            decoding.slots[slot, len(batch) :] = 0  # the last batch, padded with black pictures
        handle = call.submit(decoding.slots[slot])
        if running is not None:  # fetch the previous batch while this one runs (JAX: async)
            finish(*running)
        running = (batch, slot, reasons, handle)
        refill()
    if running is not None:
        finish(*running)
    return bad


def extract_array(
    images: Sequence[object],
    *,
    weights: str | os.PathLike[str] | None = "imagenet",
    seed: int = 0,
    precision: str = "float32",
    draft: bool = True,
    model: str = "resnet50",
) -> np.ndarray:
    """Features of a few query pictures (paths or PIL images); a bad one raises ``BadImageError``.

    Pictures are decoded as :func:`extract_features` decodes them (``draft``) and the network
    (``model``, ResNet-50 by default) runs with no compilation to wait for
    (:func:`~retrieval.features.networks.query_encoder`).
    """
    from retrieval.features.networks import network_dim, picture_settings, query_encoder

    images = list(images)
    picture = picture_settings(model)
    encode = query_encoder(
        model, None if weights is None else str(weights), seed=seed, precision=precision
    )
    parts = [np.zeros((0, network_dim(model)), np.float32)]
    for start in range(0, len(images), 32):  # calls of at most 32 pictures
        pixels = np.stack(
            [load_picture(image, draft=draft, **picture) for image in images[start : start + 32]]
        )
        parts.append(encode(pixels))
    return np.concatenate(parts)


def write_feature_manifest(
    out: str | os.PathLike[str], result: ExtractionResult, record: dict[str, Any]
) -> Path:
    """Beside the ``.npy`` that :func:`extract_features` wrote to ``out``: the ImageNet logits
    (``.fc1000.npy``, when extracted) and the manifest (``.json``: the network ``record``, the
    pictures in row order and the skipped ones with their reasons), each written atomically.
    Returns the manifest's path."""
    from retrieval.fileio import atomic_write

    out = Path(out)
    if result.fc1000 is not None:
        save_npy(out.with_suffix(".fc1000.npy"), result.fc1000)
    manifest = {
        "features": record,
        "paths": [str(p) for p in result.paths],
        "skipped": [{"path": str(p), "reason": reason} for p, reason in result.failures],
    }
    with atomic_write(out.with_suffix(".json")) as handle:
        json.dump(manifest, handle, indent=1)
    return out.with_suffix(".json")
