"""The competition's feature CSVs: no header, ``images_<split>/<id>.jpg`` then the floats.

Reading takes a fast path (pandas' C parser into float32) and falls back to a
line-by-line parser only when the file has a problem, so that every bad row can
be reported with its line number and skipped without losing the good ones.
"""

from __future__ import annotations

import collections
import io
import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from retrieval.data._problems import ProblemLog
from retrieval.errors import DataFormatError
from retrieval.fileio import atomic_write


def image_id_from_path(image_path: str) -> str:
    """``"images_train/5373.jpg"`` -> ``"5373"``."""
    return PurePosixPath(image_path.strip().replace("\\", "/")).stem


def read_feature_csv(
    path: str | os.PathLike[str], problems: ProblemLog | None = None
) -> tuple[list[str], np.ndarray]:
    """Read a feature CSV into ``(image_ids, float32 matrix)``, rows in file order.

    Malformed rows (wrong number of columns, a value that is not a finite number)
    and repeated ids are reported with their line number and skipped.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "f.csv"
    >>> _ = p.write_text("images_train/7.jpg,0.5,1\\nimages_train/3.jpg,2,3\\n")
    >>> ids, x = read_feature_csv(p)
    >>> ids, x.tolist()
    (['7', '3'], [[0.5, 1.0], [2.0, 3.0]])
    """
    path = Path(path)
    problems = problems if problems is not None else ProblemLog()
    if not path.is_file():
        raise DataFormatError("feature file not found", path=path)
    result = _read_fast(path)
    if result is None:
        result = _read_careful(path, problems)
    ids, matrix = result
    return _drop_repeated_ids(ids, matrix, path, problems)


def _read_fast(path: Path) -> tuple[list[str], np.ndarray] | None:
    with path.open("rb") as handle:
        first = handle.readline()
    if not first.strip():
        return None
    n_cols = first.count(b",") + 1
    if n_cols < 2:
        return None
    dtypes: dict[int, object] = {0: str}
    dtypes.update({i: np.float32 for i in range(1, n_cols)})
    try:
        frame = pd.read_csv(
            path, header=None, dtype=dtypes, engine="c", na_filter=True, skip_blank_lines=True
        )
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError):
        return None
    if frame.shape[1] != n_cols:
        return None
    matrix = frame.iloc[:, 1:].to_numpy(dtype=np.float32)
    if not np.isfinite(matrix).all() or frame.iloc[:, 0].isna().any():
        return None
    return [image_id_from_path(p) for p in frame.iloc[:, 0]], np.ascontiguousarray(matrix)


def _read_careful(path: Path, problems: ProblemLog) -> tuple[list[str], np.ndarray]:
    raw_lines = path.read_bytes().split(b"\n")
    counts = collections.Counter(line.count(b",") + 1 for line in raw_lines[:1000] if line.strip())
    if not counts:
        raise DataFormatError("feature file is empty", path=path)
    n_cols = counts.most_common(1)[0][0]
    if n_cols < 2:
        raise DataFormatError(
            "expected an image path and numbers on each row, found a single column", path=path
        )
    ids: list[str] = []
    rows: list[np.ndarray] = []
    for number, raw in enumerate(raw_lines, start=1):
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError:
            problems.report("row is not valid UTF-8; row skipped", path=path, line=number)
            continue
        fields = line.split(",")
        if len(fields) != n_cols:
            problems.report(
                f"expected {n_cols} columns (image path + {n_cols - 1} numbers), "
                f"found {len(fields)}; row skipped",
                path=path,
                line=number,
            )
            continue
        try:
            values = np.array(fields[1:], dtype=np.float32)
        except ValueError:
            bad = next(f for f in fields[1:] if not _is_number(f))
            problems.report(
                f"expected a number, found {bad.strip()!r}; row skipped", path=path, line=number
            )
            continue
        if not np.isfinite(values).all():
            problems.report("row holds NaN or infinity; row skipped", path=path, line=number)
            continue
        if not fields[0].strip():
            problems.report("row has no image path; row skipped", path=path, line=number)
            continue
        ids.append(image_id_from_path(fields[0]))
        rows.append(values)
    matrix = np.vstack(rows) if rows else np.zeros((0, n_cols - 1), dtype=np.float32)
    return ids, matrix


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _drop_repeated_ids(
    ids: list[str], matrix: np.ndarray, path: Path, problems: ProblemLog
) -> tuple[list[str], np.ndarray]:
    if len(set(ids)) == len(ids):
        return ids, matrix
    seen: set[str] = set()
    keep = []
    for row, image_id in enumerate(ids):
        if image_id in seen:
            problems.report(
                f"image id {image_id} repeated; later row skipped", path=path, line=row + 1
            )
            continue
        seen.add(image_id)
        keep.append(row)
    return [ids[i] for i in keep], matrix[keep]


def write_feature_csv(
    path: str | os.PathLike[str],
    image_paths: Sequence[str],
    matrix: np.ndarray,
    *,
    float_format: str = "%.6g",
) -> None:
    """Write a feature CSV in the competition's format, atomically.

    ``image_paths`` are written as given in the first column (the competition uses
    ``images_<split>/<id>.jpg``).
    """
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != len(image_paths):
        raise ValueError(f"matrix must be ({len(image_paths)}, d), got {matrix.shape}")
    if not np.isfinite(matrix).all():
        raise ValueError("feature matrix holds NaN or infinity")
    buffer = io.StringIO()
    frame = pd.DataFrame(matrix)
    frame.insert(0, "path", list(image_paths))
    frame.to_csv(buffer, header=False, index=False, float_format=float_format, lineterminator="\n")
    with atomic_write(path, "w", newline="") as handle:
        handle.write(buffer.getvalue())
