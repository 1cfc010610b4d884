"""A library index whose manifest fields are missing or of the wrong kind is refused in one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval import store
from retrieval.cli import main
from retrieval.library import PictureLibrary
from retrieval.library._library import KIND

GOOD = {"roots": ["/p"], "bundle": None, "features": {"model": "clip", "preset": "x"}}


@pytest.mark.parametrize(
    ("meta", "rows", "message"),
    [
        ({**GOOD, "paths": 3}, 1, "'paths' must be a list of file paths"),
        (GOOD, 1, "'paths' must be a list of file paths"),  # missing
        ({**GOOD, "roots": "/p", "paths": ["/p/a.jpg"]}, 1, "'roots' must be a list"),
        ({**GOOD, "bundle": 7, "paths": ["/p/a.jpg"]}, 1, "'bundle' must be a folder or null"),
        ({**GOOD, "paths": ["/p/a.jpg", "/p/b.jpg"]}, 3, "expected one row for each of the 2"),
    ],
)
def test_a_damaged_library_index_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], meta: dict, rows: int, message: str
) -> None:
    library = tmp_path / "library"
    store.save(library / "index", KIND, meta, {"spaces/code": np.zeros((rows, 4), np.float32)})
    with pytest.raises(store.StoreError, match=message) as err:
        PictureLibrary(library).searcher()
    assert err.value.path == str(library / "index" / "manifest.json")
    assert main(["search", "a dog", "--library", str(library)]) == 1
    err_text = capsys.readouterr().err
    assert message.split("'")[1 if "'" in message else 0] in err_text
    assert "Traceback" not in err_text
