"""One persistence protocol for bundles, indexes and libraries: a manifest plus arrays.

A stored object is a folder::

    manifest.json   {"kind": "retrieval.bundle", "format_version": 2, ...plain JSON...}
    arrays/         one ``.npy`` file per array, in sub-folders named like the keys
                    (``mapper/0/coef`` -> ``arrays/mapper/0/coef.npy``)

Only JSON and ``.npy`` files (read with ``allow_pickle=False``) are ever loaded, so opening
a folder that someone sent you never runs code. The manifest records each array's shape,
dtype, SHA-256 of its data and, for floats, whether it holds NaN or infinity; loading checks
each ``.npy`` header against the file's size and that record before reading, then the
checksum, and refuses NaN or infinity the record does not allow (folders written before
arrays had records are checked for what they hold: sizes and finite floats). A damaged
file ends in one :class:`StoreError` naming it. A folder whose replacement was cut off
between its two renames is read from its previous version (``.NAME.old``).

Objects that know how to store themselves implement :class:`Stateful`: ``get_state()``
returns ``(meta, arrays)``, whose meta names the object's class by its ``"kind"`` tag, and
``from_state(meta, arrays)`` rebuilds the object; :func:`save_state` and :func:`load_state`
store one such object as a folder. Composite objects nest their parts' meta under a key and
prefix their parts' array names (see :func:`nest` and :func:`part`).

Examples
--------
>>> import tempfile, pathlib
>>> import numpy as np
>>> folder = pathlib.Path(tempfile.mkdtemp()) / "thing"
>>> _ = save(folder, "example", {"name": "x"}, {"w/kernel": np.eye(2, dtype="float32")})
>>> stored = load(folder, "example")
>>> stored.meta["name"], stored.arrays["w/kernel"].shape
('x', (2, 2))
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Self, TypeVar

import numpy as np

from retrieval.errors import DataFormatError
from retrieval.fileio import atomic_directory, recover_directory

FORMAT_VERSION = 2
MANIFEST = "manifest.json"
ARRAYS = "arrays"
MAX_MANIFEST_BYTES = 128 * 2**20  # far above any real manifest (a million paths is ~80 MB)
MAX_DEPTH = 100  # nesting of the manifest's JSON; real ones nest a few levels
_CHUNK = 16 * 2**20
_NAME = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")

Meta = dict[str, Any]
Arrays = dict[str, np.ndarray]


class StoreError(DataFormatError):
    """A stored folder is missing, damaged, of another kind or of another format version."""


S = TypeVar("S", bound="Stateful")


class Stateful(Protocol):
    """What an object needs to be stored: plain JSON meta and named arrays."""

    def get_state(self) -> tuple[Meta, Arrays]: ...

    @classmethod
    def from_state(cls, meta: Meta, arrays: Mapping[str, np.ndarray]) -> Self: ...


@dataclass(frozen=True)
class Stored:
    """A loaded folder: its manifest (``meta``), its arrays and where it lives."""

    folder: Path
    meta: Meta
    arrays: Mapping[str, np.ndarray]


def nest(prefix: str, arrays: Mapping[str, np.ndarray]) -> Arrays:
    """``arrays`` with every name put under ``prefix/``."""
    return {f"{prefix}/{name}": value for name, value in arrays.items()}


def part(prefix: str, arrays: Mapping[str, np.ndarray]) -> Arrays:
    """The arrays stored under ``prefix/``, with the prefix removed."""
    start = prefix + "/"
    return {name[len(start) :]: value for name, value in arrays.items() if name.startswith(start)}


def save(
    path: str | os.PathLike[str],
    kind: str,
    meta: Meta,
    arrays: Mapping[str, np.ndarray],
    *,
    extra: Callable[[Path], None] | None = None,
) -> Path:
    """Write ``path/`` atomically: the manifest (with each array's shape, dtype, SHA-256 and,
    for floats, whether it is all finite), every array, and ``extra(staging)``'s files."""
    path = Path(path)
    reserved = {"kind", "format_version", "arrays"} & set(meta)
    if reserved:
        raise ValueError(f"meta may not use the manifest's own keys {sorted(reserved)}")
    values: Arrays = {}
    for name, value in arrays.items():
        if not _NAME.match(name) or ".." in name.split("/"):
            raise ValueError(f"array name {name!r} must be letters, digits, '_', '.', '-' and '/'")
        values[name] = np.asarray(value)
        if values[name].dtype.hasobject:
            raise TypeError(f"array {name!r} holds Python objects; only numeric arrays are stored")
    manifest = {"kind": kind, "format_version": FORMAT_VERSION, **meta}
    json.dumps(manifest, allow_nan=False)  # fail before writing anything
    with atomic_directory(path) as staging:
        records: dict[str, dict[str, Any]] = {}
        for name in sorted(values):
            target = staging / ARRAYS / f"{name}.npy"
            target.parent.mkdir(parents=True, exist_ok=True)
            np.save(target, values[name], allow_pickle=False)
            records[name] = _record(target, values[name])
        if extra is not None:
            extra(staging)
        manifest["arrays"] = records
        text = json.dumps(manifest, indent=1, allow_nan=False)
        (staging / MANIFEST).write_text(text, encoding="utf-8")
    return path


def _record(file: Path, value: np.ndarray) -> dict[str, Any]:
    """What the manifest records of the array just written to ``file``."""
    digest = hashlib.sha256()
    with open(file, "rb") as handle:
        _read_header(handle, file)
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    record: dict[str, Any] = {
        "shape": list(value.shape),
        "dtype": value.dtype.str,
        "sha256": digest.hexdigest(),
    }
    if value.dtype.kind in "fc":
        record["finite"] = bool(np.isfinite(value).all())
    return record


def read_manifest(path: str | os.PathLike[str], kind: str) -> Meta:
    """The manifest of ``path/``, checked for ``kind`` and the format version."""
    return _open(Path(path), kind)[1]


def _open(path: Path, kind: str) -> tuple[Path, Meta]:
    """The folder that holds ``path``'s data (see :func:`recover_directory`) and its manifest."""
    path = recover_directory(path)
    manifest_path = path / MANIFEST
    if not path.is_dir():
        raise StoreError("no such folder", path=path)
    if not manifest_path.is_file():
        older = _older_format(path)
        if older:
            raise StoreError(
                f"{older} written by an older version of retrieval (format 1); "
                f"this version reads format {FORMAT_VERSION}: rebuild it with this version",
                path=path,
            )
        raise StoreError(f"not a stored {kind} (no {MANIFEST})", path=path)
    manifest = _parse_manifest(manifest_path)
    found = manifest.get("kind")
    if found != kind:
        raise StoreError(f"holds a {found!r}, expected a {kind!r}", path=manifest_path)
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise StoreError(
            f"format version {version!r}; this version of retrieval reads "
            f"format {FORMAT_VERSION}: rebuild it, or use the version that wrote it",
            path=manifest_path,
        )
    return path, manifest


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _parse_manifest(file: Path) -> Meta:
    """``file``'s JSON object, refused when too large, too deeply nested or holding NaN."""
    try:
        with open(file, "rb") as handle:
            raw = handle.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        raise StoreError(f"not readable ({exc.strerror or exc})", path=file) from None
    if len(raw) > MAX_MANIFEST_BYTES:
        raise StoreError(
            f"more than {MAX_MANIFEST_BYTES // 2**20} MB, larger than any manifest this "
            "package writes: refused",
            path=file,
        )
    try:
        manifest = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except RecursionError:
        raise StoreError(f"JSON nested more than {MAX_DEPTH} levels deep", path=file) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise StoreError(f"not valid JSON ({_brief(exc)})", path=file) from None
    if not isinstance(manifest, dict):
        raise StoreError("expected a JSON object", path=file)
    if _deeper_than(manifest, MAX_DEPTH):
        raise StoreError(f"JSON nested more than {MAX_DEPTH} levels deep", path=file)
    return manifest


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether the JSON ``value`` nests lists and objects more than ``limit`` levels deep."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _brief(exc: BaseException) -> str:
    """``exc``'s message on one short line."""
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:200] + "..."


def load(path: str | os.PathLike[str], kind: str, *, mmap: bool = False) -> Stored:
    """Read a folder written by :func:`save`; never unpickles (``allow_pickle=False``).

    Every array is checked against its ``.npy`` header, the file's size and the manifest's
    record (shape, dtype, SHA-256, finite floats). With ``mmap`` the arrays are mapped
    read-only and only the header, size and record of shape and dtype are checked (the
    checksum and the finite check would read every byte).
    """
    folder, manifest = _open(Path(path), kind)
    records = _array_records(manifest.pop("arrays", []), folder / MANIFEST)
    arrays = {name: _read_array(folder, name, record, mmap) for name, record in records.items()}
    manifest.pop("kind")
    manifest.pop("format_version")
    return Stored(folder, manifest, arrays)


def _array_records(entries: Any, manifest: Path) -> dict[str, dict[str, Any]]:
    """The manifest's ``arrays``: a list of names (older folders) or name -> record."""
    if isinstance(entries, list) and all(isinstance(n, str) for n in entries):
        return {name: {} for name in entries}
    if not isinstance(entries, dict):
        raise StoreError("'arrays' must be a list of names or an object of records", path=manifest)
    for name, record in entries.items():
        if not isinstance(record, dict) or not _valid_record(record):
            raise StoreError(
                f"the record of array {name!r} must be an object of 'shape' (a list of counts), "
                "'dtype' and 'sha256' (strings) and 'finite' (true or false)",
                path=manifest,
            )
    return entries


def _valid_record(record: dict[str, Any]) -> bool:
    shape = record.get("shape", [])
    return (
        isinstance(shape, list)
        and all(type(n) is int and n >= 0 for n in shape)
        and isinstance(record.get("dtype", ""), str)
        and isinstance(record.get("sha256", ""), str)
        and isinstance(record.get("finite", True), bool)
    )


def _read_header(handle: Any, file: Path) -> tuple[tuple[int, ...], bool, np.dtype]:
    """Shape, Fortran order and dtype from the ``.npy`` header; ``handle`` is left at the data."""
    from numpy.lib import format as npy

    try:
        version = npy.read_magic(handle)
        if version == (1, 0):
            shape, fortran, dtype = npy.read_array_header_1_0(handle)
        elif version == (2, 0):
            shape, fortran, dtype = npy.read_array_header_2_0(handle)
        else:
            raise StoreError(f"a .npy file of format {version}, expected 1.0 or 2.0", path=file)
    except StoreError:
        raise
    except (ValueError, SyntaxError, RecursionError, MemoryError, EOFError, TypeError) as exc:
        raise StoreError(f"not a readable array ({_brief(exc)})", path=file) from None
    if dtype.hasobject:
        raise StoreError(
            "holds Python objects (which only a pickle can hold); only numeric arrays are read",
            path=file,
        )
    return tuple(shape), bool(fortran), dtype


def _read_array(folder: Path, name: str, record: Mapping[str, Any], mmap: bool) -> np.ndarray:
    if not _NAME.match(name) or ".." in name.split("/"):
        raise StoreError(f"bad array name {name!r}", path=folder / MANIFEST)
    file = folder / ARRAYS / f"{name}.npy"
    if not file.is_file():
        raise StoreError("missing (the folder is incomplete)", path=file)
    try:
        with open(file, "rb") as handle:
            shape, fortran, dtype = _read_header(handle, file)
            _check_header(file, shape, dtype, record)
            offset = handle.tell()
            count = math.prod(shape)
            expected = count * dtype.itemsize
            found = os.fstat(handle.fileno()).st_size - offset
            if found != expected:
                raise StoreError(
                    f"damaged: its header says {count} values of {dtype.str} (shape {shape}, "
                    f"{expected} bytes), but it holds {found} bytes of data",
                    path=file,
                )
            if mmap:
                return (
                    np.load(file, mmap_mode="r", allow_pickle=False)
                    if expected
                    else np.empty(shape, dtype)
                )
            buffer = bytearray(expected)
            if handle.readinto(buffer) != expected:
                raise StoreError("damaged: it ended before its data", path=file)
    except OSError as exc:
        raise StoreError(f"not a readable array ({exc.strerror or exc})", path=file) from None
    _check_checksum(file, buffer, record)
    if dtype.itemsize == 0:
        array = np.empty(shape, dtype)
    else:
        flat = np.frombuffer(buffer, dtype=dtype, count=count)
        array = flat.reshape(shape[::-1]).transpose() if fortran else flat.reshape(shape)
    allowed = record.get("finite", True) is False
    if dtype.kind in "fc" and not allowed and not np.isfinite(array).all():
        raise StoreError(
            "holds NaN or infinity, which its manifest does not record as allowed", path=file
        )
    return array


def _check_header(
    file: Path, shape: tuple[int, ...], dtype: np.dtype, record: Mapping[str, Any]
) -> None:
    """The header's shape and dtype against what the manifest records, where it records them."""
    wanted_shape = record.get("shape")
    wanted_dtype = record.get("dtype")
    if (wanted_shape is not None and tuple(wanted_shape) != shape) or (
        wanted_dtype is not None and wanted_dtype != dtype.str
    ):
        raise StoreError(
            f"damaged: holds shape {list(shape)} of {dtype.str}; its manifest records shape "
            f"{wanted_shape} of {wanted_dtype}",
            path=file,
        )


def _check_checksum(file: Path, data: bytearray, record: Mapping[str, Any]) -> None:
    """``data`` against the SHA-256 the manifest records, where it records one."""
    wanted = record.get("sha256")
    if wanted is not None and hashlib.sha256(data).hexdigest() != wanted.lower():
        raise StoreError(
            f"damaged: its data do not match the SHA-256 recorded in {MANIFEST}", path=file
        )


def _older_format(path: Path) -> str:
    for name, what in (
        ("bundle.json", "a bundle"),
        ("index.json", "an index"),
        ("library.json", "a library"),
    ):
        if (path / name).is_file():
            return what
    return ""


STATE = "state"
"""The manifest key under which :func:`save_state` keeps an object's own meta."""


def save_state(
    path: str | os.PathLike[str],
    kind: str,
    obj: Stateful,
    *,
    extra: Callable[[Path], None] | None = None,
) -> Path:
    """Store ``obj`` (a :class:`Stateful`) as the folder ``path`` of ``kind``: its meta under
    the manifest's ``"state"`` key, its arrays as they are named."""
    meta, arrays = obj.get_state()
    return save(path, kind, {STATE: meta}, arrays, extra=extra)


def state_of(stored: Stored) -> Meta:
    """The object's meta in a folder :func:`save_state` wrote (a folder written before it kept
    the same fields at the manifest's top level, which are returned then)."""
    if STATE in stored.meta:
        return dict(stored.meta[STATE])
    return {k: v for k, v in stored.meta.items() if k not in ("kind", "format_version", "arrays")}


def load_state(path: str | os.PathLike[str], kind: str, cls: type[S]) -> S:
    """The object of class ``cls`` (a :class:`Stateful`) stored in ``path`` by :func:`save_state`."""
    stored = load(path, kind)
    return cls.from_state(state_of(stored), stored.arrays)
