"""Where the pictures to extract are listed: folders, picture files, list files and manifests.

- a folder: every picture below it (sorted; hidden files and folders left out);
- a list file (``.txt``, ``.lst``, ``.list``): one path a line; blank lines and lines
  starting with ``#`` are skipped;
- a manifest (``.csv``, ``.parquet``): the ``path`` column (``image_path`` also read);
- any other file: that picture.

Relative paths in a list file or manifest are read from the file's own folder, so a list
travels with the pictures it names.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "list.txt").write_text("# holiday\\na.jpg\\n\\nsub/b.png\\n")
>>> [p.relative_to(folder).as_posix() for p in picture_sources([folder / "list.txt"])]
['a.jpg', 'sub/b.png']
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from retrieval.errors import DataFormatError

LIST_SUFFIXES = (".txt", ".lst", ".list")
MANIFEST_SUFFIXES = (".csv", ".parquet")
PATH_COLUMNS = ("path", "image_path")


def pictures_below(folder: Path) -> list[Path]:
    """The pictures below ``folder``, sorted, hidden files and folders left out."""
    from retrieval.features._images import IMAGE_SUFFIXES

    found = [
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    ]
    return sorted(found)


def _listed(file: Path) -> list[Path]:
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"{file}: cannot read the list of pictures ({exc})") from None
    entries = [line.strip() for line in lines]
    return [file.parent / e for e in entries if e and not e.startswith("#")]


def _manifest(file: Path) -> list[Path]:
    import pandas as pd

    try:
        if file.suffix.lower() == ".parquet":
            table = pd.read_parquet(file)
        else:
            table = pd.read_csv(file, dtype=str, keep_default_na=False)
    except (OSError, ValueError, ImportError) as exc:
        detail = " ".join(str(exc).split())
        raise DataFormatError(f"{file}: cannot read the manifest ({detail})") from None
    column = next((c for c in PATH_COLUMNS if c in table.columns), None)
    if column is None:
        raise DataFormatError(
            f"{file}: a manifest needs a 'path' column; it has {', '.join(map(str, table.columns))}"
        )
    paths = []
    for row, value in enumerate(table[column].tolist(), start=1):
        if not isinstance(value, str) or not value.strip():
            raise DataFormatError(f"{file}: row {row} has no path (expected a file name)")
        paths.append(file.parent / value.strip())
    return paths


def picture_sources(sources: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Every picture that ``sources`` name, in order (see the module's description)."""
    out: list[Path] = []
    for source in map(Path, sources):
        suffix = source.suffix.lower()
        if source.is_dir():
            out += pictures_below(source)
        elif suffix in LIST_SUFFIXES and source.is_file():
            out += _listed(source)
        elif suffix in MANIFEST_SUFFIXES and source.is_file():
            out += _manifest(source)
        else:
            out.append(source)
    return out
