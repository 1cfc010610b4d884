"""Crawl folders of pictures and keep a catalogue of what changed since the last crawl.

The catalogue is a SQLite file: one row per picture with its size, modification time and
content digest. A crawl hashes only new or changed files, so re-crawling a large folder
is fast, and a file whose time changed but whose content did not (``touch``) is unchanged; files with identical content are grouped, so the same picture stored twice is
indexed and reported once. Links to folders are followed only inside the crawled folders;
what is passed over (dangling links, links leading out, unreadable files) is named with why.

Examples
--------
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
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrieval.errors import DataFormatError
from retrieval.features import IMAGE_SUFFIXES
from retrieval.fileio import no_space

DEFAULT_EXTENSIONS = IMAGE_SUFFIXES
SCHEMA_VERSION = 1


def iter_image_files(
    roots: Iterable[str | os.PathLike[str]],
    *,
    extensions: Sequence[str] = DEFAULT_EXTENSIONS,
    include_hidden: bool = False,
    on_skip: Callable[[Path, str], None] | None = None,
    exclude_dirs: Sequence[str] = (),
    max_bytes: int | None = None,
) -> Iterator[Path]:
    """Yield the picture files under ``roots`` (absolute paths, sorted per folder).

    Hidden files and folders (names starting with ``.``) are skipped unless
    ``include_hidden``. Folders are never pictures, whatever their name. A symbolic link to a
    folder is followed when the folder lies inside ``roots`` (not when it encloses the link: a
    loop); other links to folders, links to pictures outside ``roots`` (the page would refuse
    to show them), dangling links and files that are not regular files are passed to
    ``on_skip(path, reason)``. Folders named in ``exclude_dirs`` (a name, such as
    ``thumbnails``, matches a folder of that name anywhere; a path matches that folder) are
    left out without a word, as asked; files over ``max_bytes`` go to ``on_skip``.
    """
    wanted = {e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions}
    roots = [Path(root).resolve() for root in roots]
    skip = on_skip or (lambda path, reason: None)
    names = {e for e in exclude_dirs if "/" not in e and e not in (".", "..")}
    folders = {Path(e).expanduser().resolve() for e in exclude_dirs if e not in names}

    def excluded(folder: Path) -> bool:
        return folder.name in names or folder.resolve() in folders

    def too_big(path: Path) -> str | None:
        if max_bytes is None:
            return None
        try:
            size = path.stat().st_size
        except OSError:
            return None  # named by the reader
        if size > max_bytes:
            return f"larger than the limit ({size / 2**20:.1f} MB > {max_bytes / 2**20:g} MB)"
        return None

    for root in roots:
        if root.is_file():
            if root.suffix.lower() in wanted:
                yield root
            continue
        if not root.is_dir():
            raise FileNotFoundError(f"{root}: no such folder")
        for path in _walk(root, (root,), roots, wanted, include_hidden, skip, excluded):
            reason = too_big(path)
            if reason:
                skip(path, reason)
            else:
                yield path


def _walk(
    folder: Path,
    chain: tuple[Path, ...],
    roots: Sequence[Path],
    wanted: set[str],
    include_hidden: bool,
    skip: Callable[[Path, str], None],
    excluded: Callable[[Path], bool] = lambda folder: False,
) -> Iterator[Path]:
    """The pictures in ``folder``, then in its sub-folders; ``chain``: the real folders walked."""
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
    except OSError as exc:
        skip(folder, f"cannot list folder ({exc.strerror or exc})")
        return
    subfolders = []
    for entry in entries:
        if not include_hidden and entry.name.startswith("."):
            continue
        if _is_folder(entry):
            subfolders.append(entry)
        elif Path(entry.name).suffix.lower() in wanted:
            reason = _not_a_file(entry)
            if not reason and entry.is_symlink():
                real = Path(entry.path).resolve()
                if not any(real.is_relative_to(root) for root in roots):
                    reason = "link to a picture outside the indexed folders (it could not be shown)"
            if reason:
                skip(Path(entry.path), reason)
            else:
                yield Path(entry.path)
    for entry in subfolders:
        path = Path(entry.path)
        if excluded(path):
            continue
        real = path.resolve() if entry.is_symlink() else chain[-1] / entry.name
        if not any(real.is_relative_to(root) for root in roots):
            skip(path, "link to a folder outside the indexed folders")
        elif real in chain:
            skip(path, "link to a folder that encloses it (a loop)")
        else:
            yield from _walk(path, (*chain, real), roots, wanted, include_hidden, skip, excluded)


def _is_folder(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()  # follows links
    except OSError:
        return False


def _not_a_file(entry: os.DirEntry) -> str | None:
    """Why a directory entry named like a picture is not a file to read, or ``None``."""
    try:
        if entry.is_file():  # follows links
            return None
        os.stat(entry.path)
    except FileNotFoundError:
        return "dangling link"
    except OSError as exc:
        return f"cannot read ({exc.strerror or exc})"
    return "not a regular file"


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
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    duplicates: dict[str, list[str]] = field(default_factory=dict)


def _full(exc: sqlite3.Error) -> bool:
    """Whether SQLite failed because the device (or its page limit) is full."""
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL


class FileCatalog:
    """The SQLite catalogue of crawled pictures at ``path``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path)
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, digest TEXT)"
            )
            self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if row is None:
                self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
                self._db.commit()
        except sqlite3.Error as exc:
            if _full(exc):
                raise no_space(self.path) from None
            raise DataFormatError(
                f"not a readable catalogue ({exc}); delete it and index again (the pictures "
                "are crawled anew, their features come from the cache)",
                path=self.path,
            ) from None
        if row is not None and int(row[0]) != SCHEMA_VERSION:
            raise ValueError(
                f"{self.path}: catalogue schema {row[0]}, this version reads {SCHEMA_VERSION}"
            )

    def close(self) -> None:
        """Close the catalogue; what was not committed is dropped."""
        self._db.close()

    def commit(self) -> None:
        """Keep what :meth:`sync` found (after ``sync(..., commit=False)``)."""
        with self._writing():
            self._db.commit()

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """SQLite's errors while the catalogue is written, said in one line naming it: a full
        disk as :class:`~retrieval.fileio.NoSpace`, anything else as damage. What was not
        committed is dropped; what was committed before stays."""
        try:
            yield
        except sqlite3.Error as exc:
            self._db.rollback()
            if _full(exc):
                raise no_space(self.path) from None
            raise DataFormatError(
                f"the catalogue could not be written ({exc}); delete it and index again",
                path=self.path,
            ) from None

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
        commit: bool = True,
        exclude_dirs: Sequence[str] = (),
        max_bytes: int | None = None,
    ) -> CatalogChanges:
        """Bring the catalogue in line with the files under ``roots``.

        Files under ``roots`` that disappeared or cannot be read are removed; files elsewhere
        in the catalogue (other roots) are left alone. Work is committed every
        ``commit_every`` files, so an interrupted crawl resumes where it stopped; with
        ``commit=False`` nothing is kept until :meth:`commit` (for a caller that must first
        store what it makes of the files, so a failure leaves them new or changed).
        """
        roots = [Path(r).resolve() for r in roots]
        try:
            known = {
                Path(p): (size, mtime, digest)
                for p, size, mtime, digest in self._db.execute(
                    "SELECT path, size, mtime_ns, digest FROM files"
                )
            }
        except sqlite3.DatabaseError as exc:
            raise DataFormatError(
                f"not a readable catalogue ({exc}); delete it and index again", path=self.path
            ) from None
        changes = CatalogChanges()
        with self._writing():
            self._sync_files(
                roots,
                known,
                changes,
                commit_every if commit else 0,
                extensions=extensions,
                include_hidden=include_hidden,
                exclude_dirs=exclude_dirs,
                max_bytes=max_bytes,
            )
            if commit:
                self._db.commit()
        changes.duplicates = self.duplicates()
        return changes

    def _sync_files(
        self,
        roots: list[Path],
        known: dict[Path, tuple[int, int, str]],
        changes: CatalogChanges,
        commit_every: int,
        **crawl: Any,
    ) -> None:
        """:meth:`sync`'s work: rows for new and changed files, none for vanished ones,
        committed every ``commit_every`` files (``0``: never)."""
        seen: set[Path] = set()
        pending = 0
        skipped = changes.skipped
        for path in iter_image_files(
            roots,
            on_skip=lambda path, reason: skipped.append((path, reason)),
            **crawl,
        ):
            try:
                stat = path.stat()
                before = known.get(path)
                if before is not None and before[:2] == (stat.st_size, stat.st_mtime_ns):
                    seen.add(path)
                    changes.unchanged += 1
                    continue
                digest = file_digest(path)
            except OSError as exc:
                skipped.append((path, f"cannot read ({exc.strerror or exc})"))
                continue
            seen.add(path)
            if before is not None and before[2] == digest:  # touched, same content
                changes.unchanged += 1
            else:
                (changes.changed if before is not None else changes.added).append(path)
            self._db.execute(
                "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)",
                (str(path), stat.st_size, stat.st_mtime_ns, digest),
            )
            pending += 1
            if commit_every and pending >= commit_every:
                self._db.commit()
                pending = 0
        for path in known:
            if path not in seen and any(path.is_relative_to(root) for root in roots):
                changes.removed.append(path)
                self._db.execute("DELETE FROM files WHERE path = ?", (str(path),))

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
