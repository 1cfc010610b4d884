"""Two updates of one library never run together: the second is refused at once, in one line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from retrieval.errors import RetrievalError
from retrieval.library import PictureLibrary
from retrieval.library._lock import Busy, exclusive_lock


def test_a_second_update_is_refused_naming_the_running_one(tmp_path: Path) -> None:
    store = tmp_path / "library"
    (tmp_path / "photos").mkdir()
    with (
        exclusive_lock(store / ".lock", "the library"),  # another run holds it
        pytest.raises(Busy, match=f"another run \\(process {os.getpid()}\\)"),
    ):
        PictureLibrary(store).update([tmp_path / "photos"], bundle="never/read")
    from retrieval.cli import raised_here

    assert issubclass(Busy, RetrievalError)  # the command line says it in one line
    assert raised_here(Busy("x"))
    with pytest.raises(ValueError, match="bundle|--model"):  # released: the update runs again
        PictureLibrary(store).update([tmp_path / "photos"])
