from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.fileio import atomic_directory, atomic_write, save_npy


def test_atomic_write_keeps_old_file_when_writing_fails(tmp_path: Path) -> None:
    target = tmp_path / "model.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target) as handle:
        handle.write("half of the new")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_atomic_write_replaces_on_success(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "x.bin"
    with atomic_write(target, "wb") as handle:
        handle.write(b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"


def test_atomic_directory_swaps_complete_directories_only(tmp_path: Path) -> None:
    target = tmp_path / "bundle"
    with atomic_directory(target) as staging:
        (staging / "a.txt").write_text("1")
    assert (target / "a.txt").read_text() == "1"
    with pytest.raises(KeyError), atomic_directory(target) as staging:
        (staging / "b.txt").write_text("2")
        raise KeyError("interrupted")
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]


def test_save_npy_round_trip(tmp_path: Path) -> None:
    save_npy(tmp_path / "x.npy", np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), np.arange(6).reshape(2, 3))


def test_a_full_disk_is_one_line_naming_the_file_and_keeps_the_old_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import errno
    import os

    from retrieval import fileio
    from retrieval.cli import raised_here

    target = tmp_path / "submission.csv"
    target.write_text("the good one")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fileio.os, "fsync", full)
    message = f"no space left on the device to write {target}"
    with pytest.raises(fileio.NoSpace, match=message) as err, atomic_write(target) as handle:
        handle.write("a new one")
    assert raised_here(err.value) and "MB free" in str(err.value)
    assert target.read_text() == "the good one"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["submission.csv"]  # no leftovers
    monkeypatch.undo()

    folder = tmp_path / "bundle"
    folder.mkdir()
    (folder / "kept").write_text("old bundle")
    with pytest.raises(fileio.NoSpace, match="bundle"), atomic_directory(folder) as staging:
        (staging / "part").write_text("x")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert (folder / "kept").read_text() == "old bundle"
