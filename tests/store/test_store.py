"""The stored-folder format: what loading checks before it trusts a file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from retrieval import store
from retrieval.store import StoreError


@pytest.fixture()
def saved(tmp_path: Path) -> Path:
    arrays = {"weights/w": np.arange(12, dtype=np.float32).reshape(3, 4), "ids": np.arange(5)}
    return store.save(tmp_path / "thing", "thing", {"size": 3}, arrays)


def _npy(folder: Path, name: str) -> Path:
    return folder / "arrays" / f"{name}.npy"


def test_the_manifest_records_shape_dtype_checksum_and_finiteness(saved: Path) -> None:
    records = json.loads((saved / "manifest.json").read_text())["arrays"]
    assert records["weights/w"]["shape"] == [3, 4]
    assert records["weights/w"]["dtype"] == "<f4"
    assert records["weights/w"]["finite"] is True
    assert "finite" not in records["ids"]  # integers cannot hold NaN
    assert len(records["ids"]["sha256"]) == 64
    loaded = store.load(saved, "thing")
    np.testing.assert_array_equal(loaded.arrays["weights/w"], np.arange(12).reshape(3, 4))
    assert loaded.meta == {"size": 3}


def test_a_flipped_byte_is_reported_as_damage_naming_the_file(saved: Path) -> None:
    file = _npy(saved, "weights/w")
    data = bytearray(file.read_bytes())
    data[-1] ^= 0x40
    file.write_bytes(bytes(data))
    with pytest.raises(StoreError, match=f"{file}: damaged: .*SHA-256"):
        store.load(saved, "thing")
    # mapped loading skips the checksum but still checks the header and the size
    assert store.load(saved, "thing", mmap=True).arrays["weights/w"].shape == (3, 4)


def test_a_truncated_array_is_refused_even_when_mapped(saved: Path) -> None:
    file = _npy(saved, "weights/w")
    file.write_bytes(file.read_bytes()[:-8])
    for mmap in (False, True):
        with pytest.raises(StoreError, match=f"{file}: damaged: its header says 12 values"):
            store.load(saved, "thing", mmap=mmap)


def test_an_array_of_another_shape_than_recorded_is_refused(saved: Path) -> None:
    np.save(_npy(saved, "weights/w"), np.zeros((4, 3), np.float32))
    with pytest.raises(StoreError, match=r"holds shape \[4, 3\] of <f4; its manifest records"):
        store.load(saved, "thing", mmap=True)


def test_nan_is_refused_unless_the_manifest_allows_it(tmp_path: Path) -> None:
    values = np.array([1.0, np.nan])
    allowed = store.save(tmp_path / "nan", "thing", {}, {"x": values})
    np.testing.assert_array_equal(store.load(allowed, "thing").arrays["x"], values)
    older = store.save(tmp_path / "old", "thing", {}, {"x": values})
    manifest = older / "manifest.json"
    meta = json.loads(manifest.read_text())
    meta["arrays"] = ["x"]  # a folder written before arrays had records
    manifest.write_text(json.dumps(meta))
    with pytest.raises(StoreError, match="holds NaN or infinity"):
        store.load(older, "thing")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"kind": "thing", "format_version": 2, "x": NaN}', "not valid JSON"),
        ("[" * 5000 + "]" * 5000, "nested more than 100 levels"),
        ('{"kind": "thing", "format_version": 2, "arrays": {"x": {"shape": [-1]}}}', "record"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_a_hostile_manifest_ends_in_one_error(saved: Path, text: str, message: str) -> None:
    (saved / "manifest.json").write_text(text)
    with pytest.raises(StoreError, match=message):
        store.load(saved, "thing")


def test_an_oversized_manifest_is_refused_before_parsing(
    saved: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "MAX_MANIFEST_BYTES", 64)
    (saved / "manifest.json").write_text(json.dumps({"kind": "thing", "pad": "x" * 100}))
    with pytest.raises(StoreError, match="larger than any manifest"):
        store.load(saved, "thing")


def test_a_replacement_cut_between_its_renames_is_read_from_the_old_version(saved: Path) -> None:
    backup = saved.with_name(f".{saved.name}.old")
    os.replace(saved, backup)  # killed after setting the old version aside
    loaded = store.load(saved, "thing")
    assert loaded.folder == saved and saved.is_dir() and not backup.exists()
    assert loaded.meta == {"size": 3}


def test_a_new_save_removes_what_killed_writers_left(saved: Path) -> None:
    parent = saved.parent
    dead = parent / f".{saved.name}.999999999-abcd1234.tmp"  # no such process
    dead.mkdir()
    alive = parent / f".{saved.name}.{os.getpid()}-abcd1234.tmp"
    alive.mkdir()
    old = parent / f".{saved.name}.old"
    old.mkdir()
    store.save(saved, "thing", {"size": 4}, {"x": np.ones(2)})
    left = sorted(p.name for p in parent.iterdir())
    assert left == sorted([saved.name, alive.name])
    assert store.load(saved, "thing").meta == {"size": 4}


def test_folders_get_the_permissions_mkdir_gives(tmp_path: Path) -> None:
    previous = os.umask(0o027)
    try:
        folder = store.save(tmp_path / "thing", "thing", {}, {"x": np.ones(2)})
    finally:
        os.umask(previous)
    assert folder.stat().st_mode & 0o777 == 0o750
    assert (folder / "manifest.json").stat().st_mode & 0o777 == 0o640
