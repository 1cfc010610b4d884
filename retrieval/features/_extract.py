"""Streaming feature extraction with an on-disk cache keyed by path, size and mtime.

Decoding runs in a thread pool while the model works on the previous batch. Each batch
is written to the cache as soon as it is computed (a shard file, then its manifest
lines), so an interrupted run resumes where it stopped and a re-run extracts only new or
changed files. Bad files are skipped and listed; they never shift features against paths.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retrieval.features._images import BadImageError, load_picture
from retrieval.features._model import ResNet50Features, describe_weights
from retrieval.fileio import save_npy
from retrieval.progress import progress_bar

POOL5_DIM = 2048
FC1000_DIM = 1000


@dataclass
class ExtractionResult:
    """Features of the pictures that could be read, in input order, and the ones skipped."""

    paths: list[Path]
    pool5: np.ndarray
    fc1000: np.ndarray | None
    failures: list[tuple[Path, str]] = field(default_factory=list)
    weights: str = ""
    reused: int = 0


@functools.lru_cache(maxsize=4)
def get_model(weights: str | None, fc1000: bool, seed: int) -> ResNet50Features:
    """A built ResNet-50, reused across calls with the same settings."""
    return ResNet50Features(weights, fc1000=fc1000, seed=seed)


def file_key(path: Path) -> str:
    stat = path.stat()
    return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"


class FeatureCache:
    """Append-only shards of features under ``folder/<weights label>/``."""

    def __init__(self, folder: str | os.PathLike[str], weights_label: str, fc1000: bool) -> None:
        safe = "".join(c if c.isalnum() or c in "-_.=" else "_" for c in weights_label)
        self.folder = Path(folder) / safe
        self.folder.mkdir(parents=True, exist_ok=True)
        self.fc1000 = fc1000
        self.manifest = self.folder / "manifest.jsonl"
        self.index: dict[str, tuple[str, int, bool]] = {}
        if self.manifest.is_file():
            for line in self.manifest.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by an interruption
                if (self.folder / f"{entry['shard']}.pool5.npy").is_file():
                    self.index[entry["key"]] = (entry["shard"], entry["row"], entry["fc1000"])

    def lookup(self, key: str) -> tuple[str, int] | None:
        found = self.index.get(key)
        if found is None or (self.fc1000 and not found[2]):
            return None
        return found[0], found[1]

    def add(self, keys: Sequence[str], pool5: np.ndarray, fc1000: np.ndarray | None) -> None:
        shard = f"shard-{len(list(self.folder.glob('*.pool5.npy'))):06d}-{os.getpid()}"
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
        return np.load(self.folder / f"{shard}.{kind}.npy", mmap_mode="r")

    def row(self, key: str, kind: str) -> np.ndarray:
        shard, row, _ = self.index[key]
        return self._shard(shard, kind)[row]


def _decode(path: Path) -> tuple[np.ndarray | None, str]:
    try:
        return load_picture(path), ""
    except BadImageError as exc:
        return None, exc.reason


def _batches(
    paths: Sequence[Path], batch_size: int, workers: int
) -> Iterator[list[tuple[Path, np.ndarray | None, str]]]:
    """Decoded batches; the next batch is decoded while the caller works on the current one."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        chunks = [paths[i : i + batch_size] for i in range(0, len(paths), batch_size)]
        pending = [pool.submit(_decode, p) for p in chunks[0]] if chunks else []
        for index in range(len(chunks)):
            current = [
                (path, *future.result())
                for path, future in zip(chunks[index], pending, strict=True)
            ]
            pending = (
                [pool.submit(_decode, p) for p in chunks[index + 1]]
                if index + 1 < len(chunks)
                else []
            )
            yield current


def extract_features(
    paths: Sequence[str | os.PathLike[str]],
    *,
    weights: str | os.PathLike[str] | None = "imagenet",
    fc1000: bool = False,
    batch_size: int = 32,
    workers: int = 4,
    cache_dir: str | os.PathLike[str] | None = None,
    out: str | os.PathLike[str] | None = None,
    seed: int = 0,
    progress: bool | None = None,
) -> ExtractionResult:
    """ResNet-50 features of ``paths``; bad files are skipped and listed in ``failures``.

    With ``cache_dir``, features are kept per file (keyed by path, size and mtime): a re-run
    extracts only new or changed files, and an interrupted run resumes. With ``out`` (a
    ``.npy`` path), pool5 rows are written to a memory-mapped file instead of held in memory,
    so peak memory does not grow with the number of pictures.
    """
    paths = [Path(p) for p in paths]
    label = describe_weights(weights) + (f"(seed={seed})" if weights is None else "")
    cache = FeatureCache(cache_dir, label, fc1000) if cache_dir is not None else None
    failures: list[tuple[Path, str]] = []
    keys: dict[Path, str] = {}
    for path in paths:
        try:
            keys[path] = file_key(path)
        except OSError as exc:
            failures.append((path, f"cannot read ({exc.strerror or exc})"))
    todo = [p for p in keys if cache is None or cache.lookup(keys[p]) is None]
    reused = len(keys) - len(todo)
    computed: dict[Path, tuple[np.ndarray, np.ndarray | None]] = {}
    model = get_model(None if weights is None else str(weights), fc1000, seed) if todo else None
    with progress_bar(
        total=len(todo),
        desc="features",
        unit="img",
        disable=None if progress is None else not progress,
    ) as bar:
        for batch in _batches(todo, batch_size, workers):
            good = [(path, pixels) for path, pixels, _ in batch if pixels is not None]
            for path, pixels, reason in batch:
                if pixels is None:
                    failures.append((path, reason))
            if good:
                pool5, logits = model(np.stack([pixels for _, pixels in good]))
                if cache is not None:
                    cache.add([keys[p] for p, _ in good], pool5, logits)
                else:
                    for row, (path, _) in enumerate(good):
                        computed[path] = (pool5[row], None if logits is None else logits[row])
            bar.update(len(batch))
    failed = {path for path, _ in failures}
    for path, reason in failures:
        print(f"skipping {path}: {reason}", file=sys.stderr)
    ok = [p for p in paths if p not in failed]
    if out is not None:
        from numpy.lib.format import open_memmap

        Path(out).parent.mkdir(parents=True, exist_ok=True)
        pool5_all = open_memmap(Path(out), mode="w+", dtype=np.float32, shape=(len(ok), POOL5_DIM))
    else:
        pool5_all = np.empty((len(ok), POOL5_DIM), dtype=np.float32)
    fc_all = np.empty((len(ok), FC1000_DIM), dtype=np.float32) if fc1000 else None
    for row, path in enumerate(ok):
        if path in computed:
            pool5_all[row], fc_row = computed[path]
            if fc_all is not None:
                fc_all[row] = fc_row
        else:
            pool5_all[row] = cache.row(keys[path], "pool5")
            if fc_all is not None:
                fc_all[row] = cache.row(keys[path], "fc1000")
    if isinstance(pool5_all, np.memmap):
        pool5_all.flush()
    return ExtractionResult(ok, pool5_all, fc_all, failures, label, reused)


def extract_array(
    images: Sequence[object], *, weights: str | os.PathLike[str] | None = "imagenet", seed: int = 0
) -> np.ndarray:
    """pool5 features of a few query pictures (paths or PIL images); a bad one raises ``BadImageError``."""
    pixels = np.stack([load_picture(image) for image in images])
    pool5, _ = get_model(None if weights is None else str(weights), False, seed)(pixels)
    return pool5
