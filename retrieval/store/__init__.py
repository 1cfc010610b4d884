"""One persistence protocol for bundles, indexes and libraries: a manifest plus arrays.

A stored object is a folder::

    manifest.json   {"kind": "retrieval.bundle", "format_version": 2, ...plain JSON...}
    arrays/         one ``.npy`` file per array, in sub-folders named like the keys
                    (``mapper/0/coef`` -> ``arrays/mapper/0/coef.npy``)

Only JSON and ``.npy`` files (read with ``allow_pickle=False``) are ever loaded, so opening
a folder that someone sent you never runs code. Objects that know how to store themselves
implement :class:`Stateful`: ``get_state()`` returns ``(meta, arrays)`` and
``from_state(meta, arrays)`` rebuilds the object; composite objects nest their parts'
meta under a key and prefix their parts' array names (see :func:`nest` and :func:`part`).

Example
-------
>>> import tempfile, pathlib
>>> import numpy as np
>>> folder = pathlib.Path(tempfile.mkdtemp()) / "thing"
>>> _ = save(folder, "example", {"name": "x"}, {"w/kernel": np.eye(2, dtype="float32")})
>>> stored = load(folder, "example")
>>> stored.meta["name"], stored.arrays["w/kernel"].shape
('x', (2, 2))
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Self

import numpy as np

from retrieval.errors import RetrievalError
from retrieval.fileio import atomic_directory

FORMAT_VERSION = 2
MANIFEST = "manifest.json"
ARRAYS = "arrays"
_NAME = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")

Meta = dict[str, Any]
Arrays = dict[str, np.ndarray]


class StoreError(RetrievalError):
    """A stored folder is missing, damaged, of another kind or of another format version."""


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
    """Write ``path/`` atomically: the manifest, every array, and ``extra(staging)``'s files."""
    path = Path(path)
    reserved = {"kind", "format_version", "arrays"} & set(meta)
    if reserved:
        raise ValueError(f"meta may not use the manifest's own keys {sorted(reserved)}")
    for name, value in arrays.items():
        if not _NAME.match(name) or ".." in name.split("/"):
            raise ValueError(f"array name {name!r} must be letters, digits, '_', '.', '-' and '/'")
        if np.asarray(value).dtype == object:
            raise TypeError(f"array {name!r} holds Python objects; only numeric arrays are stored")
    manifest = {"kind": kind, "format_version": FORMAT_VERSION, **meta}
    manifest["arrays"] = sorted(arrays)
    text = json.dumps(manifest, indent=1, allow_nan=False)
    with atomic_directory(path) as staging:
        for name, value in arrays.items():
            target = staging / ARRAYS / f"{name}.npy"
            target.parent.mkdir(parents=True, exist_ok=True)
            np.save(target, np.asarray(value), allow_pickle=False)
        if extra is not None:
            extra(staging)
        (staging / MANIFEST).write_text(text, encoding="utf-8")
    return path


def read_manifest(path: str | os.PathLike[str], kind: str) -> Meta:
    """The manifest of ``path/``, checked for ``kind`` and the format version."""
    path = Path(path)
    manifest_path = path / MANIFEST
    if not path.is_dir():
        raise StoreError(f"{path}: no such folder")
    if not manifest_path.is_file():
        older = _older_format(path)
        if older:
            raise StoreError(
                f"{path}: {older} written by an older version of retrieval (format 1); "
                f"this version reads format {FORMAT_VERSION}: rebuild it with this version"
            )
        raise StoreError(f"{path}: not a stored {kind} (no {MANIFEST})")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StoreError(f"{manifest_path}: not valid JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise StoreError(f"{manifest_path}: expected a JSON object")
    found = manifest.get("kind")
    if found != kind:
        raise StoreError(f"{manifest_path}: holds a {found!r}, expected a {kind!r}")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise StoreError(
            f"{manifest_path}: format version {version!r}; this version of retrieval reads "
            f"format {FORMAT_VERSION}: rebuild it, or use the version that wrote it"
        )
    return manifest


def load(path: str | os.PathLike[str], kind: str, *, mmap: bool = False) -> Stored:
    """Read a folder written by :func:`save`; never unpickles (``allow_pickle=False``)."""
    path = Path(path)
    manifest = read_manifest(path, kind)
    names = manifest.pop("arrays", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise StoreError(f"{path / MANIFEST}: 'arrays' must be a list of names")
    arrays = {name: _read_array(path, name, mmap) for name in names}
    manifest.pop("kind")
    manifest.pop("format_version")
    return Stored(path, manifest, arrays)


def _read_array(folder: Path, name: str, mmap: bool) -> np.ndarray:
    if not _NAME.match(name) or ".." in name.split("/"):
        raise StoreError(f"{folder / MANIFEST}: bad array name {name!r}")
    file = folder / ARRAYS / f"{name}.npy"
    if not file.is_file():
        raise StoreError(f"{file}: missing (the folder is incomplete)")
    try:
        return np.load(file, allow_pickle=False, mmap_mode="r" if mmap else None)
    except (ValueError, OSError, EOFError) as exc:
        raise StoreError(f"{file}: not a readable array ({exc})") from None


def _older_format(path: Path) -> str:
    for name, what in (
        ("bundle.json", "a bundle"),
        ("index.json", "an index"),
        ("library.json", "a library"),
    ):
        if (path / name).is_file():
            return what
    return ""


def iter_names(arrays: Mapping[str, np.ndarray], prefix: str) -> Iterator[str]:
    """The names of the direct children under ``prefix/`` (``"0"``, ``"1"``, ...)."""
    seen: set[str] = set()
    start = prefix + "/"
    for name in arrays:
        if name.startswith(start):
            child = name[len(start) :].split("/", 1)[0]
            if child not in seen:
                seen.add(child)
                yield child
