from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

import pytest

from retrieval.library.crawl import FileCatalog, iter_image_files


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    (root / "trip").mkdir(parents=True)
    (root / ".thumbnails").mkdir()
    (root / "a.jpg").write_bytes(b"picture a")
    (root / "trip" / "b.PNG").write_bytes(b"picture b")
    (root / "trip" / "copy_of_a.jpg").write_bytes(b"picture a")
    (root / ".thumbnails" / "t.jpg").write_bytes(b"thumb")
    (root / ".hidden.jpg").write_bytes(b"hidden")
    (root / "notes.txt").write_text("not a picture")
    return root


def test_walk_skips_hidden_and_other_extensions(photos: Path) -> None:
    found = [p.relative_to(photos).as_posix() for p in iter_image_files([photos])]
    assert found == ["a.jpg", "trip/b.PNG", "trip/copy_of_a.jpg"]
    with_hidden = {p.name for p in iter_image_files([photos], include_hidden=True)}
    assert {"t.jpg", ".hidden.jpg"} <= with_hidden
    only_png = [p.name for p in iter_image_files([photos], extensions=["png"])]
    assert only_png == ["b.PNG"]
    with pytest.raises(FileNotFoundError, match="no such folder"):
        list(iter_image_files([photos / "missing"]))


def test_sync_is_incremental_and_tracks_removals(photos: Path, tmp_path: Path) -> None:
    with FileCatalog(tmp_path / "index" / "catalog.sqlite") as catalog:
        first = catalog.sync([photos])
        assert len(first.added) == 3 and first.unchanged == 0
        second = catalog.sync([photos])
        assert (second.added, second.changed, second.removed, second.unchanged) == ([], [], [], 3)

        (photos / "trip" / "b.PNG").write_bytes(b"picture b, edited")
        os.utime(photos / "trip" / "b.PNG", ns=(1, 1))
        (photos / "a.jpg").unlink()
        (photos / "new.jpg").write_bytes(b"brand new")
        third = catalog.sync([photos])
        assert [p.name for p in third.added] == ["new.jpg"]
        assert [p.name for p in third.changed] == ["b.PNG"]
        assert [p.name for p in third.removed] == ["a.jpg"]
        assert len(catalog) == 3


def test_identical_content_is_reported_once(photos: Path, tmp_path: Path) -> None:
    with FileCatalog(tmp_path / "catalog.sqlite") as catalog:
        changes = catalog.sync([photos])
        assert changes.duplicates == {
            str(photos / "a.jpg"): [str(photos / "trip" / "copy_of_a.jpg")]
        }
        assert [p.name for p in catalog.unique_files()] == ["a.jpg", "b.PNG"]


def test_catalogue_survives_reopening_and_rejects_other_schema(
    photos: Path, tmp_path: Path
) -> None:
    path = tmp_path / "catalog.sqlite"
    with FileCatalog(path) as catalog:
        catalog.sync([photos])
    with FileCatalog(path) as catalog:
        assert catalog.sync([photos]).unchanged == 3
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
    with pytest.raises(ValueError, match="schema 99"):
        FileCatalog(path)


@pytest.fixture
def linked(photos: Path, tmp_path: Path) -> Path:
    """``photos`` plus links: to a folder inside, to one outside, back up, to nothing."""
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x.jpg").write_bytes(b"outside")
    (photos / "album.jpg").mkdir()  # a folder named like a picture
    (photos / "album.jpg" / "c.jpg").write_bytes(b"picture c")
    (photos / "again").symlink_to(photos / "trip", target_is_directory=True)
    (photos / "out.jpg").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (photos / "trip" / "up").symlink_to(photos, target_is_directory=True)
    (photos / "gone.jpg").symlink_to(photos / "deleted.jpg")
    return photos


def test_walk_follows_links_inside_the_roots_and_names_the_rest(linked: Path) -> None:
    skipped: list[tuple[Path, str]] = []
    found = iter_image_files([linked], on_skip=lambda path, reason: skipped.append((path, reason)))
    assert [p.relative_to(linked).as_posix() for p in found] == [
        "a.jpg",
        "again/b.PNG",
        "again/copy_of_a.jpg",
        "album.jpg/c.jpg",
        "trip/b.PNG",
        "trip/copy_of_a.jpg",
    ]
    assert {(p.relative_to(linked).as_posix(), r) for p, r in skipped} == {
        ("gone.jpg", "dangling link"),
        ("out.jpg", "link to a folder outside the indexed folders"),
        ("again/up", "link to a folder that encloses it (a loop)"),
        ("trip/up", "link to a folder that encloses it (a loop)"),
    }
    outer = iter_image_files([linked, linked.parent / "elsewhere"])  # now inside the roots
    assert linked / "out.jpg" / "x.jpg" in set(outer)


def test_sync_names_every_skipped_file(linked: Path, tmp_path: Path) -> None:
    with FileCatalog(tmp_path / "catalog.sqlite") as catalog:
        changes = catalog.sync([linked])
    reasons = {p.name: r for p, r in changes.skipped}
    assert reasons["gone.jpg"] == "dangling link"
    assert reasons["out.jpg"] == "link to a folder outside the indexed folders"
    assert not any("corrupt" in r for r in reasons.values())
    assert len(changes.added) == 6


def test_uncommitted_sync_leaves_files_new(photos: Path, tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    with FileCatalog(path) as catalog:
        assert len(catalog.sync([photos], commit=False).added) == 3
    with FileCatalog(path) as catalog:  # the run failed before commit: nothing was kept
        assert len(catalog.sync([photos], commit=False).added) == 3
        catalog.commit()
    with FileCatalog(path) as catalog:
        assert catalog.sync([photos]).unchanged == 3


def test_a_link_to_a_picture_outside_the_roots_is_skipped_with_its_reason(
    photos: Path, tmp_path: Path
) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "x.jpg").write_bytes(b"outside")
    (photos / "x.jpg").symlink_to(tmp_path / "elsewhere" / "x.jpg")
    (photos / "a_again.jpg").symlink_to(photos / "a.jpg")  # inside: kept
    skipped: list[tuple[Path, str]] = []
    found = list(iter_image_files([photos], on_skip=lambda p, r: skipped.append((p, r))))
    assert photos / "a_again.jpg" in found and photos / "x.jpg" not in found
    assert skipped == [
        (photos / "x.jpg", "link to a picture outside the indexed folders (it could not be shown)")
    ]
    assert photos / "x.jpg" in set(iter_image_files([photos, tmp_path / "elsewhere"]))


@pytest.mark.parametrize("damage", ["truncated", "random", "folder"])
def test_a_damaged_catalogue_is_named_in_one_error(
    photos: Path, tmp_path: Path, damage: str
) -> None:
    from retrieval.errors import DataFormatError

    path = tmp_path / "catalog.sqlite"
    with FileCatalog(path) as catalog:
        catalog.sync([photos])
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:700])
    elif damage == "random":
        path.write_bytes(os.urandom(4096))
    else:
        path.unlink()
        path.mkdir()
    with (
        pytest.raises(DataFormatError, match="not a readable catalogue") as err,
        FileCatalog(path) as catalog,
    ):
        catalog.sync([photos])
    assert err.value.path == str(path)


def test_excluded_folders_are_left_out_and_large_files_named(photos: Path, tmp_path: Path) -> None:
    (photos / "thumbs").mkdir()
    (photos / "thumbs" / "t1.jpg").write_bytes(b"tiny")
    (photos / "trip" / "thumbs").mkdir()
    (photos / "trip" / "thumbs" / "t2.jpg").write_bytes(b"tiny")
    (photos / "big.jpg").write_bytes(b"x" * 3000)
    skipped: list[tuple[Path, str]] = []
    found = iter_image_files(
        [photos],
        exclude_dirs=["thumbs", str(photos / "trip")],
        max_bytes=2048,
        on_skip=lambda p, r: skipped.append((p, r)),
    )
    assert [p.relative_to(photos).as_posix() for p in found] == ["a.jpg"]
    assert [(p.name, r.split(" (")[0]) for p, r in skipped] == [
        ("big.jpg", "larger than the limit")
    ]
    with FileCatalog(tmp_path / "c.sqlite") as catalog:
        assert len(catalog.sync([photos]).added) == 6  # without limits: everything
        changes = catalog.sync([photos], exclude_dirs=["thumbs"], max_bytes=2048)
    assert sorted(p.name for p in changes.removed) == ["big.jpg", "t1.jpg", "t2.jpg"]


@pytest.mark.parametrize("commit", [True, False])
def test_a_full_disk_while_the_catalogue_is_written_is_one_line_naming_it(
    photos: Path, tmp_path: Path, commit: bool
) -> None:
    """SQLite's own "disk full" (a page limit reached, as on a full device) is
    :class:`NoSpace` naming the catalogue, never a ``sqlite3`` traceback; nothing of the
    failed sync is kept."""
    from retrieval.fileio import NoSpace

    for i in range(40):  # long paths, so that their rows need more pages than are left
        (photos / f"{'x' * 200}-{i}.jpg").write_bytes(f"picture {i}".encode())
    path = tmp_path / "catalog.sqlite"
    with FileCatalog(path) as catalog:
        pages = catalog._db.execute("PRAGMA page_count").fetchone()[0]
        catalog._db.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(NoSpace, match="catalog.sqlite") as err:
            catalog.sync([photos], commit=commit)
            catalog.commit()
        assert err.value.errno == errno.ENOSPC
        assert len(catalog) == 0
