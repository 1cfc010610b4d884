"""Atomic file writes: a reader never sees a half-written model, index or CSV.

Data is written to a temporary file in the destination folder, flushed to disk
and moved over the destination with :func:`os.replace`, which is atomic on POSIX
and Windows. If anything fails before the move, the old file is left untouched.

Temporary names are ``.NAME.PID-RANDOM.tmp`` beside the target; a writer removes the ones
that killed runs left behind (their process is gone, or they are a day old). A folder is
replaced by two renames (``NAME`` -> ``.NAME.old``, staging -> ``NAME``); when a run is
killed between them, :func:`recover_directory` brings ``.NAME.old`` back.

Examples
--------
>>> import tempfile, pathlib
>>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
>>> with atomic_write(target) as handle:
...     _ = handle.write("hello")
>>> target.read_text()
'hello'
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

STALE_SECONDS = 24 * 3600  # a temporary entry this old is stale even if its pid is alive


class NoSpace(OSError):
    """The device filled up while a file or folder was written; the output it was to replace
    is left as it was."""


_FULL = {errno.ENOSPC, errno.EDQUOT}


_SHORT_WRITE = re.compile(r"\d+ requested and \d+ written")  # NumPy's word for a full device


def _no_space(exc: BaseException, target: Path) -> NoSpace | None:
    """``exc`` said in one line with the file and the space left, when it is a full disk:
    ``ENOSPC`` or ``EDQUOT``, or a short write of a regular file (NumPy's ``tofile`` reports
    a full device so, without an error number)."""
    if not isinstance(exc, OSError) or isinstance(exc, NoSpace):
        return None
    if exc.errno in _FULL:
        return no_space(target, exc.errno)
    if exc.errno is None and _SHORT_WRITE.search(str(exc)):
        return no_space(target)
    return None


def no_space(target: Path, code: int = errno.ENOSPC) -> NoSpace:
    """The error for a device that filled up while ``target`` was written: one line with the
    file and the space left."""
    try:
        free = shutil.disk_usage(target.parent).free
    except OSError:
        free = 0
    return NoSpace(
        code,
        f"no space left on the device to write {target} ({free / 2**20:.1f} MB free); "
        "nothing was replaced: free some space and run again",
    )


def _umask() -> int:
    try:  # read without changing it where the system tells (Linux), safe with threads
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    current = os.umask(0)
    os.umask(current)
    return current


def _backup(target: Path) -> Path:
    return target.with_name(f".{target.name}.old")


def _pid_running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name == "nt":  # os.kill would end the process there: rely on the age alone
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's process, or not ours to ask about
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def clean_stale(path: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary files and folders of ``path`` that killed writers left behind.

    These are ``.NAME.PID-RANDOM.tmp`` entries whose process is no longer running or that
    are older than :data:`STALE_SECONDS`, ``.NAME.RANDOM.tmp`` entries (the names earlier
    versions used, which no running writer uses any more) and ``.NAME.old`` when ``NAME``
    itself exists. Returns what was removed.
    """
    target = Path(path)
    name = re.escape(target.name)
    current = re.compile(rf"\.{name}\.(\d+)-[a-z0-9_]+\.tmp")
    older = re.compile(rf"\.{name}\.[a-z0-9_]{{8}}\.tmp")
    removed: list[Path] = []
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        match = current.fullmatch(entry.name)
        if match is None:
            stale = older.fullmatch(entry.name) is not None
        else:
            try:
                age = now - entry.stat(follow_symlinks=False).st_mtime
            except OSError:
                continue
            stale = age > STALE_SECONDS or not _pid_running(int(match[1]))
        if stale:
            _remove(Path(entry.path))
            removed.append(Path(entry.path))
    backup = _backup(target)
    if backup.is_dir() and target.exists():
        _discard(backup, target)
        removed.append(backup)
    return removed


def _temporary_prefix(target: Path) -> str:
    return f".{target.name}.{os.getpid()}-"


def _discard(folder: Path, target: Path) -> None:
    """Remove ``target``'s ``folder``, first renamed to a temporary name of ``target``: a
    removal cut short leaves an entry :func:`clean_stale` removes, never a partial ``folder``."""
    trash = target.with_name(f"{_temporary_prefix(target)}{secrets.token_hex(4)}.tmp")
    try:
        os.replace(folder, trash)
    except OSError:
        trash = folder
    shutil.rmtree(trash, ignore_errors=True)


def recover_directory(path: str | os.PathLike[str]) -> Path:
    """The folder to read for ``path``, after a replacement cut off between its two renames.

    When ``path`` is missing and ``.NAME.old`` (the complete previous version) is there,
    that is renamed back to ``path``; where renaming is not allowed (a read-only folder),
    ``.NAME.old`` itself is returned. Otherwise ``path`` is returned unchanged.
    """
    target = Path(path)
    backup = _backup(target)
    if os.path.lexists(target) or not backup.is_dir():
        return target
    try:
        os.rename(backup, target)
    except OSError:
        if os.path.lexists(target):  # a writer put a new version in place meanwhile
            return target
        return backup if backup.is_dir() else target
    return target


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str],
    mode: str = "w",
    *,
    encoding: str | None = "utf-8",
    newline: str | None = None,
) -> Iterator[IO[Any]]:
    """Open a temporary file that replaces ``path`` when the block ends without error."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(target)
    binary = "b" in mode
    fd, tmp_name = tempfile.mkstemp(
        prefix=_temporary_prefix(target), suffix=".tmp", dir=target.parent
    )
    os.chmod(tmp_name, 0o666 & ~_umask())
    try:
        with os.fdopen(
            fd,
            mode,
            encoding=None if binary else encoding,
            newline=None if binary else newline,
        ) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        full = _no_space(exc, target)
        if full is not None:
            raise full from None
        raise


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Build a directory under a temporary name and swap it in when the block succeeds.

    An existing directory at ``path`` is replaced only after the new one is complete. The
    new directory gets the permissions ``mkdir`` gives (``0o777`` less the umask).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(target)
    staging = Path(
        tempfile.mkdtemp(prefix=_temporary_prefix(target), suffix=".tmp", dir=target.parent)
    )
    try:
        os.chmod(staging, 0o777 & ~_umask())
        yield staging
        _swap_in(staging, target)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        full = _no_space(exc, target)
        if full is not None:
            raise full from None
        raise
    backup = _backup(target)
    if backup.is_dir():
        _discard(backup, target)


def _swap_in(staging: Path, target: Path, attempts: int = 3) -> None:
    """Move ``staging`` to ``target``, the old ``target`` first set aside as ``.NAME.old``."""
    backup = _backup(target)
    for attempt in range(attempts):
        if os.path.lexists(target):
            if backup.is_dir():
                _discard(backup, target)
            os.replace(target, backup)
        try:
            os.replace(staging, target)
            return
        except OSError:
            # a reader renamed the backup back between the two renames: set it aside again
            if attempt == attempts - 1 or not os.path.lexists(target):
                raise


def save_npy(path: str | os.PathLike[str], array: Any) -> None:
    """Write a NumPy array to ``path`` atomically."""
    import numpy as np

    with atomic_write(path, "wb") as handle:
        np.save(handle, np.asarray(array), allow_pickle=False)
