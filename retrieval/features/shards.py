"""Sharded, resumable feature outputs: ``features/part-XXXXX.npy`` beside ``metadata/part-XXXXX.parquet``.

A large collection is extracted in shards of ``shard_size`` input paths, in input order:

- ``DIR/manifest.json``: kind ``retrieval.feature_shards``, the network record, the shard
  size, the row type and the number of shards;
- ``DIR/features/part-00000.npy``: the rows of the shard's readable pictures (float32 or
  float16);
- ``DIR/metadata/part-00000.parquet``: one row per input path: ``path``, ``size``, ``mtime``,
  ``sha256`` (of the content), ``status`` (``"ok"`` or the reason it was skipped) and ``row``
  (its row in the shard's array; -1 when skipped).

Each file is written atomically, the array before its metadata, so a shard whose metadata
exists is complete; a re-run (after an interruption, or with more paths appended) extracts
only the shards that are not, and a bad file is listed, never a failed job. Loading reads
``.npy`` files with ``allow_pickle=False`` and parquet tables: no code runs.

Examples
--------
>>> summary = write_shards(paths, "out/shards", shard_size=10000)   # doctest: +SKIP
>>> for shard in read_shards("out/shards"):                          # doctest: +SKIP
...     index.add(shard.features)
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.errors import DataFormatError
from retrieval.fileio import atomic_write, save_npy

KIND = "retrieval.feature_shards"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
COLUMNS = ("path", "size", "mtime", "sha256", "status", "row")


def shard_name(number: int) -> str:
    """``part-00042`` for shard 42."""
    return f"part-{number:05d}"


@dataclass(frozen=True)
class Shard:
    """One finished shard: its readable pictures' paths and rows, and every input's metadata."""

    number: int
    paths: list[Path]
    features: np.ndarray
    metadata: Any  # a pandas DataFrame with COLUMNS


@dataclass
class ShardSummary:
    """What a :func:`write_shards` run did."""

    folder: Path
    shards: int = 0
    written: int = 0
    kept: int = 0
    pictures: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.shards} shards in {self.folder} ({self.written} written, {self.kept} already "
            f"complete); {self.pictures} pictures, {len(self.skipped)} skipped"
        )


def _digest(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return ""


def _stat(path: Path) -> tuple[int, float]:
    try:
        info = path.stat()
    except OSError:
        return -1, 0.0
    return int(info.st_size), float(info.st_mtime)


def _complete(folder: Path, number: int, chunk: Sequence[Path]) -> bool:
    """Whether shard ``number`` was written for exactly these input paths."""
    import pandas as pd

    metadata = folder / "metadata" / f"{shard_name(number)}.parquet"
    array = folder / "features" / f"{shard_name(number)}.npy"
    if not (metadata.is_file() and array.is_file()):
        return False
    try:
        listed = pd.read_parquet(metadata, columns=["path"])["path"].tolist()
    except (OSError, ValueError):
        return False
    return listed == [str(p) for p in chunk]


def _write_manifest(folder: Path, record: dict, shard_size: int, dtype: str, shards: int) -> None:
    manifest = {
        "kind": KIND,
        "format_version": FORMAT_VERSION,
        "features": record,
        "shard_size": shard_size,
        "dtype": dtype,
        "shards": shards,
    }
    with atomic_write(folder / MANIFEST) as handle:
        json.dump(manifest, handle, indent=1)


def write_shards(
    paths: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    extract: Callable[[list[Path]], Any] | None = None,
    engine: Callable[[list[tuple[int, list[Path]]]], Iterable[tuple[int, Sequence[Path], Any]]]
    | None = None,
    record: dict | None = None,
    shard_size: int = 10_000,
    dtype: str = "float32",
    **extract_kwargs: Any,
) -> ShardSummary:
    """Extract ``paths`` into shards under ``out``; finished shards are kept, not redone.

    ``extract`` maps a list of paths to an :class:`~retrieval.features.ExtractionResult`
    (default: :func:`~retrieval.features.extract_features` with ``extract_kwargs``), and
    ``record`` is the network record kept in the manifest. ``engine`` extracts many shards at
    once instead: it takes the unfinished ``(number, paths)`` shards and yields ``(number,
    paths, result)`` as each completes, in any order (the Ray engine,
    :func:`~retrieval.features.ray_engine.extract_shards`). A folder written with another
    network, shard size or row type is refused, naming its manifest.
    """
    import pandas as pd

    if shard_size < 1:
        raise ValueError(f"shard_size must be at least 1, got {shard_size}")
    if dtype not in ("float32", "float16"):
        raise ValueError(f"dtype must be 'float32' or 'float16', got {dtype!r}")
    if extract is None:
        from retrieval.features._extract import extract_features

        def extract(chunk: list[Path]) -> Any:
            return extract_features(chunk, **extract_kwargs)

    folder = Path(out)
    inputs = [Path(p) for p in paths]
    shards = (len(inputs) + shard_size - 1) // shard_size
    record = json.loads(json.dumps(record or {}))  # as the manifest will hold it
    manifest_path = folder / MANIFEST
    if manifest_path.is_file():
        before = read_manifest(folder)
        for key, value in (("features", record), ("shard_size", shard_size), ("dtype", dtype)):
            if before.get(key) != value:
                raise DataFormatError(
                    f"{manifest_path}: written with another {key} ({before.get(key)!r}, "
                    f"now {value!r}); give another folder"
                )
    _write_manifest(folder, record, shard_size, dtype, shards)
    summary = ShardSummary(folder=folder, shards=shards)
    pending = []
    for number in range(shards):
        chunk = inputs[number * shard_size : (number + 1) * shard_size]
        if _complete(folder, number, chunk):
            summary.kept += 1
            kept = pd.read_parquet(folder / "metadata" / f"{shard_name(number)}.parquet")
            summary.pictures += int((kept["status"] == "ok").sum())
            summary.skipped += [
                (p, s) for p, s in zip(kept["path"], kept["status"], strict=True) if s != "ok"
            ]
        else:
            pending.append((number, chunk))
    if engine is not None:
        finished = engine(pending)
    else:
        finished = ((number, chunk, extract(chunk)) for number, chunk in pending)
    for number, chunk, result in finished:
        _write_shard(folder, number, chunk, result, dtype, summary)
    return summary


def _write_shard(
    folder: Path, number: int, chunk: Sequence[Path], result: Any, dtype: str, summary: ShardSummary
) -> None:
    """Write shard ``number`` of ``chunk`` from its extraction ``result``: the array, then
    the metadata that marks it complete."""
    import pandas as pd

    rows: dict[str, list[int]] = {}  # a picture listed twice has a row for each listing
    for i, done in enumerate(result.paths):
        rows.setdefault(os.path.abspath(done), []).append(i)
    reasons = {os.path.abspath(p): reason for p, reason in result.failures}
    table = []
    for path in chunk:
        found = rows.get(os.path.abspath(path))
        row = found.pop(0) if found else -1
        status = "ok" if row >= 0 else reasons.get(os.path.abspath(path), "not extracted")
        size, mtime = _stat(path)
        table.append((str(path), size, mtime, _digest(path) if row >= 0 else "", status, row))
    save_npy(
        folder / "features" / f"{shard_name(number)}.npy",
        np.asarray(result.pool5, dtype=dtype),
    )
    frame = pd.DataFrame(table, columns=list(COLUMNS))
    with atomic_write(folder / "metadata" / f"{shard_name(number)}.parquet", "wb") as handle:
        frame.to_parquet(handle, index=False)
    summary.written += 1
    summary.pictures += len(result.paths)
    summary.skipped += [(p, s) for p, *_, s, r in table if r < 0]


def read_manifest(folder: str | os.PathLike[str]) -> dict:
    """The manifest of a shard folder; a missing or foreign one is one error naming it."""
    path = Path(folder) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataFormatError(f"{path}: no such file (not a folder of feature shards)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataFormatError(f"{path}: damaged ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("kind") != KIND:
        raise DataFormatError(f"{path}: not a folder of feature shards (kind {KIND!r})")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise DataFormatError(
            f"{path}: format version {manifest.get('format_version')!r}, "
            f"this version of retrieval reads {FORMAT_VERSION}"
        )
    return manifest


def read_shards(folder: str | os.PathLike[str]) -> Iterator[Shard]:
    """Each finished shard in order, one in memory at a time; unfinished ones are skipped."""
    import pandas as pd

    folder = Path(folder)
    manifest = read_manifest(folder)
    for number in range(int(manifest["shards"])):
        metadata_path = folder / "metadata" / f"{shard_name(number)}.parquet"
        if not metadata_path.is_file():
            continue
        metadata = pd.read_parquet(metadata_path)
        array_path = folder / "features" / f"{shard_name(number)}.npy"
        try:
            features = np.load(array_path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DataFormatError(f"{array_path}: damaged ({exc})") from None
        ok = metadata[metadata["row"] >= 0].sort_values("row")
        if (
            features.ndim != 2
            or len(features) != len(ok)
            or ok["row"].tolist() != list(range(len(ok)))
        ):
            raise DataFormatError(
                f"{array_path}: {features.shape[0] if features.ndim else 0} rows, its metadata "
                f"lists {len(ok)} pictures"
            )
        yield Shard(number, [Path(p) for p in ok["path"]], features, metadata)


def shard_row_count(folder: str | os.PathLike[str]) -> int:
    """How many rows the finished shards hold, read from their metadata alone."""
    import pandas as pd

    folder = Path(folder)
    total = 0
    for number in range(int(read_manifest(folder)["shards"])):
        metadata = folder / "metadata" / f"{shard_name(number)}.parquet"
        if metadata.is_file():
            total += int((pd.read_parquet(metadata, columns=["row"])["row"] >= 0).sum())
    return total


def _same_network(a: dict, b: dict) -> bool:
    """Whether two network records describe one network (counts of skipped files aside)."""
    return {k: v for k, v in a.items() if k != "skipped"} == {
        k: v for k, v in b.items() if k != "skipped"
    }


def require_network(folder: str | os.PathLike[str], record: dict) -> dict:
    """The shard folder's manifest, when its rows come from the network ``record`` describes;
    a :class:`DataFormatError` naming both otherwise."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if not _same_network(manifest["features"], record):
        raise DataFormatError(
            f"{folder / MANIFEST}: its rows come from {manifest['features']}, not from "
            f"{record}; extract shards with the same network"
        )
    return manifest


def rows_by_path(
    folder: str | os.PathLike[str], record: dict
) -> dict[str, tuple[int, float, int, int]]:
    """Each extracted picture's resolved path -> (size, mtime, shard number, row), for reuse
    by an index; the rows themselves stay on disk (see :class:`ShardRows`).

    ``record`` is the network the rows must come from; shards of another are refused. Paths
    written relative are resolved against the current folder.
    """
    import pandas as pd

    folder = Path(folder)
    manifest = require_network(folder, record)
    out: dict[str, tuple[int, float, int, int]] = {}
    for number in range(int(manifest["shards"])):
        metadata = folder / "metadata" / f"{shard_name(number)}.parquet"
        if not metadata.is_file():
            continue
        table = pd.read_parquet(metadata, columns=["path", "size", "mtime", "row"])
        ok = table[table["row"] >= 0]
        for path, size, mtime, row in zip(
            ok["path"], ok["size"], ok["mtime"], ok["row"], strict=True
        ):
            out[str(Path(path).resolve())] = (int(size), float(mtime), number, int(row))
    return out


class ShardRows:
    """Rows of a shard folder read from disk on demand: each shard's array is memory-mapped
    (read-only, never unpickled) when first asked for, so a process holds the pages it reads,
    not every shard."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self._arrays: dict[int, np.ndarray] = {}

    def row(self, number: int, row: int) -> np.ndarray:
        """Row ``row`` of shard ``number`` as float32."""
        if number not in self._arrays:
            path = self.folder / "features" / f"{shard_name(number)}.npy"
            try:
                self._arrays[number] = np.load(path, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise DataFormatError(f"{path}: damaged ({exc})") from None
        array = self._arrays[number]
        if array.ndim != 2 or not 0 <= row < len(array):
            raise DataFormatError(
                f"{self.folder / 'features' / shard_name(number)}.npy: no row {row} "
                f"(its metadata lists it)"
            )
        return np.asarray(array[row], dtype=np.float32)


def reusing_shards(
    encode: Callable[[list[Path]], Any], folder: str | os.PathLike[str], record: dict
) -> Callable[[list[Path]], Any]:
    """``encode`` that takes a picture's row from the shards when its size and mtime still
    match, and extracts only the others (counted as ``reused`` in the result). Only the
    paths' metadata is held in memory; rows are read from the memory-mapped shards."""
    from retrieval.features._extract import ExtractionResult

    known = rows_by_path(folder, record)
    stored = ShardRows(folder)

    def encode_with_shards(files: list[Path]) -> Any:
        found: dict[str, np.ndarray] = {}
        todo = []
        for path in files:
            entry = known.get(str(Path(path).resolve()))
            size, mtime = _stat(Path(path))
            if entry is not None and entry[0] == size and abs(entry[1] - mtime) < 1e-6:
                found[str(path)] = stored.row(entry[2], entry[3])
            else:
                todo.append(path)
        extracted = encode(todo) if todo else None
        rows = dict(found)
        failures = []
        if extracted is not None:
            rows |= {str(p): r for p, r in zip(extracted.paths, extracted.pool5, strict=True)}
            failures = list(extracted.failures)
        paths = [Path(p) for p in files if str(p) in rows]
        width = next(iter(rows.values())).shape[0] if rows else 0
        pool5 = (
            np.stack([np.asarray(rows[str(p)], np.float32) for p in paths])
            if paths
            else np.zeros((0, width), np.float32)
        )
        reused = len(found) + (extracted.reused if extracted is not None else 0)
        return ExtractionResult(
            paths=paths, pool5=pool5, fc1000=None, failures=failures, reused=reused
        )

    return encode_with_shards


def load_shards(folder: str | os.PathLike[str]) -> tuple[list[Path], np.ndarray]:
    """Every finished shard's paths and rows, concatenated (float32)."""
    paths: list[Path] = []
    blocks: list[np.ndarray] = []
    for shard in read_shards(folder):
        paths += shard.paths
        blocks.append(shard.features.astype(np.float32))
    if not blocks:
        return [], np.zeros((0, 0), np.float32)
    return paths, np.vstack(blocks)
