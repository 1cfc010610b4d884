"""Where pictures are listed: folders, list files and manifests, and their bad forms."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from retrieval.errors import DataFormatError
from retrieval.features.sources import picture_sources


def test_folders_lists_and_manifests_name_pictures_in_order(tmp_path: Path) -> None:
    (tmp_path / "pics" / ".hidden").mkdir(parents=True)
    for name in ("b.jpg", "a.png", "notes.txt", ".hidden/c.jpg"):
        (tmp_path / "pics" / name).write_bytes(b"x")
    (tmp_path / "list.txt").write_text("# a comment\npics/b.jpg\n\n/elsewhere/z.jpg\n")
    pd.DataFrame({"path": ["pics/a.png"], "caption": ["x"]}).to_csv(tmp_path / "m.csv")
    pd.DataFrame({"image_path": ["pics/b.jpg"]}).to_parquet(tmp_path / "m.parquet")
    found = picture_sources(
        [
            tmp_path / "pics",
            tmp_path / "list.txt",
            tmp_path / "m.csv",
            tmp_path / "m.parquet",
            tmp_path / "one.jpg",
        ]
    )
    assert found == [
        tmp_path / "pics" / "a.png",
        tmp_path / "pics" / "b.jpg",
        tmp_path / "pics" / "b.jpg",
        Path("/elsewhere/z.jpg"),
        tmp_path / "pics" / "a.png",
        tmp_path / "pics" / "b.jpg",
        tmp_path / "one.jpg",
    ]


def test_a_manifest_without_paths_is_one_error_naming_it(tmp_path: Path) -> None:
    pd.DataFrame({"file": ["a.jpg"]}).to_csv(tmp_path / "m.csv", index=False)
    with pytest.raises(
        DataFormatError, match=r"m\.csv: a manifest needs a 'path' column; it has file"
    ):
        picture_sources([tmp_path / "m.csv"])
    (tmp_path / "gap.csv").write_text("path,caption\na.jpg,x\n,y\n")
    with pytest.raises(DataFormatError, match=r"gap\.csv: row 2 has no path"):
        picture_sources([tmp_path / "gap.csv"])
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(DataFormatError, match=r"bad\.parquet: cannot read the manifest"):
        picture_sources([tmp_path / "bad.parquet"])
