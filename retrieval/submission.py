"""Kaggle submission files for the CS5785 competition.

The header keeps the competition's own typo: ``Descritpion_ID,Top_20_Image_IDs``.

Example
-------
>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "submission.csv"
>>> write_submission(p, ["0"], [[str(i) for i in range(20)]])
>>> p.read_text().splitlines()[1].split(",")[0]
'0.txt'
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from retrieval.fileio import atomic_write

HEADER = "Descritpion_ID,Top_20_Image_IDs"
TOP_K = 20


def write_submission(
    path: str | os.PathLike[str],
    description_ids: Sequence[str],
    ranked_image_ids: Sequence[Sequence[str]],
    *,
    k: int = TOP_K,
) -> None:
    """Write one row per description: ``<id>.txt`` and its top ``k`` image ids as ``<id>.jpg``."""
    if len(description_ids) != len(ranked_image_ids):
        raise ValueError(
            f"{len(description_ids)} descriptions but {len(ranked_image_ids)} rankings"
        )
    lines = [HEADER]
    for description_id, ranking in zip(description_ids, ranked_image_ids, strict=True):
        top = [str(i) for i in ranking[:k]]
        if len(top) != k or len(set(top)) != k:
            raise ValueError(f"description {description_id}: need {k} distinct image ids, got {top}")
        lines.append(f"{description_id}.txt," + " ".join(f"{i}.jpg" for i in top))
    with atomic_write(path, "w", newline="") as handle:
        handle.write("\n".join(lines) + "\n")
