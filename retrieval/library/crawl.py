"""Crawl folders of pictures and keep a catalogue of what changed since the last crawl.

The catalogue is a SQLite file: one row per picture with its size, modification time and
content digest. A crawl hashes only new or changed files, so re-crawling a large folder
is fast; files with identical content are grouped, so the same picture stored twice is
indexed and reported once.

Example
-------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "a.jpg").write_bytes(b"same"); _ = (folder / "b.jpg").write_bytes(b"same")
>>> catalog = FileCatalog(folder / "catalog.sqlite")
>>> changes = catalog.sync([folder])
>>> len(changes.added), len(catalog.unique_files()), len(changes.duplicates)
(2, 1, 1)
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff")
SCHEMA_VERSION = 1


def iter_image_files(
    roots: Iterable[str | os.PathLike[str]],
    *,
    extensions: Sequence[str] = DEFAULT_EXTENSIONS,
    include_hidden: bool = False,
) -> Iterator[Path]:
    """Yield the picture files under ``roots`` (absolute paths, sorted per folder).

    Hidden files and folders (names starting with ``.``) are skipped unless
    ``include_hidden``; symbolic links to folders are not followed.
    """
    wanted = {e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions}
    for root in roots:
        root = Path(root).resolve()
        if root.is_file():
            if root.suffix.lower() in wanted:
                yield root
            continue
        if not root.is_dir():
            raise FileNotFoundError(f"{root}: no such folder")
        for folder, subfolders, files in os.walk(root):
            if not include_hidden:
                subfolders[:] = [d for d in subfolders if not d.startswith(".")]
            subfolders.sort()
            for name in sorted(files):
                if (include_hidden or not name.startswith(".")) and Path(
                    name
                ).suffix.lower() in wanted:
                    yield Path(folder) / name


def file_digest(path: Path) -> str:
    """SHA-256 of the file's content."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


@dataclass
class CatalogChanges:
    """What a :meth:`FileCatalog.sync` found."""

    added: list[Path] = field(default_factory=list)
    changed: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    unchanged: int = 0
    unreadable: list[tuple[Path, str]] = field(default_factory=list)
    duplicates: dict[str, list[str]] = field(default_factory=dict)


class FileCatalog:
    """The SQLite catalogue of crawled pictures at ``path``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, digest TEXT)"
        )
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if row is None:
            self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            self._db.commit()
        elif int(row[0]) != SCHEMA_VERSION:
            raise ValueError(
                f"{self.path}: catalogue schema {row[0]}, this version reads {SCHEMA_VERSION}"
            )

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> FileCatalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sync(
        self,
        roots: Iterable[str | os.PathLike[str]],
        *,
        extensions: Sequence[str] = DEFAULT_EXTENSIONS,
        include_hidden: bool = False,
        commit_every: int = 500,
    ) -> CatalogChanges:
        """Bring the catalogue in line with the files under ``roots``.

        Files under ``roots`` that disappeared are removed; files elsewhere in the catalogue
        (other roots) are left alone. Work is committed every ``commit_every`` files, so an
        interrupted crawl resumes where it stopped.
        """
        roots = [Path(r).resolve() for r in roots]
        known = {
            Path(p): (size, mtime)
            for p, size, mtime in self._db.execute("SELECT path, size, mtime_ns FROM files")
        }
        changes = CatalogChanges()
        seen: set[Path] = set()
        pending = 0
        for path in iter_image_files(roots, extensions=extensions, include_hidden=include_hidden):
            seen.add(path)
            try:
                stat = path.stat()
                if known.get(path) == (stat.st_size, stat.st_mtime_ns):
                    changes.unchanged += 1
                    continue
                digest = file_digest(path)
            except OSError as exc:
                changes.unreadable.append((path, str(exc)))
                continue
            (changes.changed if path in known else changes.added).append(path)
            self._db.execute(
                "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)",
                (str(path), stat.st_size, stat.st_mtime_ns, digest),
            )
            pending += 1
            if pending >= commit_every:
                self._db.commit()
                pending = 0
        for path in known:
            if path not in seen and any(path.is_relative_to(root) for root in roots):
                changes.removed.append(path)
                self._db.execute("DELETE FROM files WHERE path = ?", (str(path),))
        self._db.commit()
        changes.duplicates = self.duplicates()
        return changes

    def duplicates(self) -> dict[str, list[str]]:
        """``{kept path: [other paths with the same content]}`` for content stored more than once."""
        groups: dict[str, list[str]] = {}
        for digest, path in self._db.execute(
            "SELECT digest, path FROM files ORDER BY digest, path"
        ):
            groups.setdefault(digest, []).append(path)
        return {paths[0]: paths[1:] for paths in groups.values() if len(paths) > 1}

    def unique_files(self) -> list[Path]:
        """One path per distinct content (the first in sorted order), sorted."""
        rows = self._db.execute("SELECT MIN(path) FROM files GROUP BY digest ORDER BY MIN(path)")
        return [Path(p) for (p,) in rows]

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM files").fetchone()[0]
