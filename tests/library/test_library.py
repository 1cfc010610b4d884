from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from retrieval.cli import main
from retrieval.library import LibraryUpdate, PictureLibrary

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore")]


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    (root / "trip").mkdir(parents=True)
    for i in range(6):
        shutil.copyfile(
            DEMO / "images_test" / f"{i}.jpg", root / ("trip" if i % 2 else ".") / f"p{i}.jpg"
        )
    shutil.copyfile(DEMO / "images_test" / "0.jpg", root / "trip" / "copy_of_p0.jpg")
    (root / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    (root / ".hidden").mkdir()
    shutil.copyfile(DEMO / "images_test" / "9.jpg", root / ".hidden" / "secret.jpg")
    return root


def test_index_search_and_incremental_update(bundle: Path, photos: Path, tmp_path: Path) -> None:
    library = PictureLibrary(tmp_path / "store")
    first = library.update([photos], bundle=bundle)
    assert first.indexed == 6 and first.extracted == 6 and first.added == 8
    assert first.duplicates == {str(photos / "p0.jpg"): [str(photos / "trip" / "copy_of_p0.jpg")]}
    assert [Path(p).name for p, _ in first.skipped] == ["broken.jpg"]

    searcher = library.searcher()
    hits = searcher.search("a picture", k=10)
    assert len(hits) == 6 and all(h.path.is_relative_to(photos) for h in hits)
    assert all(".hidden" not in str(h.path) for h in hits)
    example = searcher.search_image(
        photos / "trip" / "p3.jpg", k=1
    )  # the bundle's recorded network
    assert example[0].path == photos / "trip" / "p3.jpg"

    again = library.update()  # remembers roots and bundle
    assert (again.extracted, again.unchanged, again.indexed) == (0, 8, 6)

    (photos / "p2.jpg").unlink()
    shutil.copyfile(DEMO / "images_test" / "20.jpg", photos / "new.jpg")
    third = library.update()
    assert (third.removed, third.added, third.extracted, third.indexed) == (1, 1, 1, 6)
    names = {h.path.name for h in library.searcher().search("a picture", k=10)}
    assert "p2.jpg" not in names and "new.jpg" in names


def test_an_update_encodes_only_new_content_and_names_a_bad_file_once(
    bundle: Path, photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from retrieval.library import _library

    real = _library.extract_features
    encoded: list[list[str]] = []

    def watched(paths: list[Path], **options: object):  # noqa: ANN202
        encoded.append(sorted(p.name for p in paths))
        return real(paths, **options)

    monkeypatch.setattr(_library, "extract_features", watched)
    library = PictureLibrary(tmp_path / "store")
    first = library.update([photos], bundle=bundle)
    assert [Path(p).name for p, _ in first.skipped] == ["broken.jpg"]
    before = [(h.id, round(h.score, 5)) for h in library.searcher().search("a dog", k=6)]

    os.utime(photos / "p4.jpg")  # touched: a new time, the same content
    again = library.update()
    assert encoded[1:] == []  # nothing new: no extraction, no network built
    assert (again.unchanged, again.changed, again.indexed, again.skipped) == (8, 0, 6, [])
    assert again.skipped_before == 1 and "1 more as before" in str(again)
    assert [(h.id, round(h.score, 5)) for h in library.searcher().search("a dog", k=6)] == before

    shutil.copyfile(DEMO / "images_test" / "21.jpg", photos / "trip" / "p1.jpg")  # new content
    shutil.copyfile(DEMO / "images_test" / "20.jpg", photos / "new.jpg")
    third = library.update()
    assert encoded[1:] == [["new.jpg", "p1.jpg"]]  # only these two are read
    assert (third.added, third.changed, third.indexed) == (1, 1, 7)
    (photos / "broken.jpg").write_bytes(b"\xff\xd8 still not a jpeg, but changed")
    fourth = library.update()
    assert [Path(p).name for p, _ in fourth.skipped] == ["broken.jpg"]  # changed: tried again
    assert encoded[2:] == [["broken.jpg"]]


def test_cli_index_then_search_library(
    bundle: Path, photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "store")
    assert main(["index", str(photos), "--bundle", str(bundle), "--store", store]) == 0
    out = capsys.readouterr()
    assert "6 pictures indexed" in out.out and "duplicate content" in out.err
    assert (
        main(
            [
                "search",
                "--library",
                store,
                "--image",
                str(photos / "p4.jpg"),
                "--k",
                "1",
                "--paths-only",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.strip() == str(photos / "p4.jpg")
    assert main(["search", "a red apple", "--library", str(tmp_path / "empty")]) == 1
    assert "nothing indexed yet" in capsys.readouterr().err


def test_a_failed_update_leaves_its_files_new(
    bundle: Path, photos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from retrieval.library import _library

    real = _library.extract_features

    def interrupted(paths: list[Path], **options: object) -> None:
        pictures = [p for p in paths if p.name != "broken.jpg"]
        real(pictures[:2], **options)  # two pictures reach the feature cache, none the index
        raise RuntimeError("interrupted")

    library = PictureLibrary(tmp_path / "store")
    with monkeypatch.context() as patch:
        patch.setattr(_library, "extract_features", interrupted)
        with pytest.raises(RuntimeError, match="interrupted"):
            library.update([photos], bundle=bundle)
    report = library.update([photos], bundle=bundle)
    assert (report.added, report.unchanged, report.extracted, report.indexed) == (8, 0, 4, 6)
    again = library.update()
    assert (again.added, again.unchanged, again.extracted, again.indexed) == (0, 8, 0, 6)


def test_cli_names_every_skipped_file_and_follows_links_inside(
    bundle: Path, photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "elsewhere").mkdir()
    shutil.copyfile(DEMO / "images_test" / "12.jpg", tmp_path / "elsewhere" / "x.jpg")
    (photos / "outside.jpg").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (photos / "again").symlink_to(photos / "trip", target_is_directory=True)
    (photos / "gone.jpg").symlink_to(photos / "deleted.jpg")
    store = str(tmp_path / "store")
    assert main(["index", str(photos), "--bundle", str(bundle), "--library", store]) == 0
    out = capsys.readouterr()
    assert f"skipping {photos / 'gone.jpg'}: dangling link" in out.err
    link = photos / "outside.jpg"
    assert f"skipping {link}: link to a folder outside the indexed folders" in out.err
    assert f"skipping {photos / 'broken.jpg'}: not an image" in out.err
    assert "outside.jpg: corrupt" not in out.err and "3 skipped" in out.out
    assert f"{photos / 'again' / 'p1.jpg'} also at {photos / 'trip' / 'p1.jpg'}" in out.err
    assert "6 pictures indexed" in out.out
    assert "5 duplicate files (the content is indexed once)" in out.out


def test_the_per_user_library_is_the_default_and_remembers_its_bundle(
    bundle: Path,
    photos: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data-home"))
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # no pictures here: no search indexes it
    default = tmp_path / "data-home" / "retrieval" / "library"
    assert main(["search", "a red apple"]) == 1
    assert f"the default library {default} holds nothing yet" in capsys.readouterr().err
    assert main(["index", str(photos)]) == 1
    assert "has no bundle yet: give --bundle" in capsys.readouterr().err

    assert main(["index", str(photos), "--bundle", str(bundle)]) == 0
    out = capsys.readouterr()
    assert f"library: {default} (the default" in out.err and "6 pictures indexed" in out.out
    assert main(["index"]) == 0  # a re-crawl names neither the library nor the bundle
    out = capsys.readouterr()
    assert f"bundle: {bundle.resolve()} (the library's)" in out.err
    assert "0 new" in out.out and "6 pictures indexed" in out.out
    assert main(["search", "a red apple", "--k", "3", "--paths-only"]) == 0
    out = capsys.readouterr()
    assert f"library: {default} (the default" in out.err
    assert all(Path(p).is_relative_to(photos) for p in out.out.split())


def test_a_search_indexes_a_working_folder_only_up_to_a_limit(
    bundle: Path,
    photos: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A working folder with more new pictures than the limit is left to ``retrieval index``,
    said in one line; within the limit it is indexed first."""
    from retrieval.cli import _options

    store = tmp_path / "store"
    PictureLibrary(store).update([photos / "trip"], bundle=bundle)
    monkeypatch.chdir(photos)
    monkeypatch.setattr(_options, "AUTO_INDEX_LIMIT", 2)
    _options.index_here_first(store)
    assert "holds more than 2 pictures the library lacks" in capsys.readouterr().err
    assert not PictureLibrary(store).covers(photos)
    monkeypatch.setattr(_options, "AUTO_INDEX_LIMIT", 100)
    _options.index_here_first(store)
    assert f"indexing {photos.resolve()} into the library first" in capsys.readouterr().err
    assert PictureLibrary(store).covers(photos)


def test_the_summary_says_no_duplicates_rather_than_zero_of_them() -> None:
    assert "no duplicate files; 0 skipped" in str(LibraryUpdate(indexed=3))
    one = LibraryUpdate(indexed=3, duplicates={"a.jpg": ["b.jpg"]})
    assert "1 duplicate file (the content is indexed once)" in str(one)


def test_the_page_follows_re_indexing_and_never_offers_a_deleted_picture(
    bundle: Path, photos: Path, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from retrieval.web import LibraryBackend, create_app

    library = PictureLibrary(tmp_path / "store")
    library.update([photos], bundle=bundle)
    backend = LibraryBackend(library)
    client = TestClient(create_app(backend, roots=backend.roots), base_url="http://127.0.0.1")

    def names() -> set[str]:
        body = client.get("/api/search", params={"q": "a picture", "k": 50}).json()
        return {r["name"] for r in body["results"]}

    assert names() == {"p0.jpg", "p2.jpg", "p4.jpg", "trip/p1.jpg", "trip/p3.jpg", "trip/p5.jpg"}
    (photos / "p2.jpg").unlink()  # deleted, not re-indexed yet: no longer offered
    assert "p2.jpg" not in names() and backend.reloads == 0
    extra = tmp_path / "more"
    extra.mkdir()
    shutil.copyfile(DEMO / "images_test" / "30.jpg", extra / "q.jpg")
    library.update([extra])  # a new folder while the page runs
    found = names()
    assert backend.reloads == 1 and "q.jpg" in found and "p2.jpg" not in found
    index = next(
        r["id"]
        for r in client.get("/api/search", params={"q": "a picture", "k": 50}).json()["results"]
        if r["name"] == "q.jpg"
    )
    assert client.get(f"/images/{index}").status_code == 200  # the new root is served
    # one scale on the page, whatever the query: z-scores over the gallery, said in each answer
    assert client.get("/api/search", params={"q": "a dog"}).json()["scale"] == "z-score"
    upload = {"file": ("q.jpg", (extra / "q.jpg").read_bytes(), "image/jpeg")}
    answer = client.post("/api/search/image", files=upload).json()
    assert answer["scale"] == "z-score" and answer["results"][0]["name"] == "q.jpg"
    assert (
        answer["results"][0]["score"] > 1.5
    )  # the picture itself stands out (a cosine is at most 1)


def test_near_duplicates_are_grouped_and_listed_by_the_command(
    bundle: Path, photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    with Image.open(photos / "trip" / "p3.jpg") as picture:  # re-encoded at half the size
        picture.reduce(2).save(photos / "p3_small.jpg", quality=70)
    library = PictureLibrary(tmp_path / "store")
    library.update([photos], bundle=bundle)
    assert main(["duplicates", "--library", str(tmp_path / "store"), "--threshold", "0.9"]) == 0
    captured = capsys.readouterr()
    groups = [line.split("\t") for line in captured.out.splitlines()]
    assert any({Path(p).name for p in g[1:]} >= {"p3.jpg", "p3_small.jpg"} for g in groups)
    assert all(0.9 <= float(g[0]) <= 1.0 for g in groups)
    assert "group(s) of near-duplicates" in captured.err
    assert main(["duplicates", "--library", str(tmp_path / "store"), "--threshold", "2"]) == 1


def test_excluded_folders_and_the_size_limit_are_remembered_until_given_again(
    bundle: Path, photos: Path, tmp_path: Path
) -> None:
    library = PictureLibrary(tmp_path / "store")
    first = library.update([photos], bundle=bundle, exclude_dirs=["trip"])
    assert first.indexed == 3  # p0, p2, p4: the trip folder is left out
    again = library.update()  # remembered
    assert again.indexed == 3 and library.manifest()["crawl"]["exclude_dirs"] == ["trip"]
    small = library.update(max_bytes=1)  # every picture is larger: all skipped, named once
    assert small.indexed == 0 and len(small.skipped) == 4  # p0, p2, p4 and broken.jpg
    cleared = library.update(exclude_dirs=[], max_bytes=0)
    assert cleared.indexed == 6 and library.manifest()["crawl"] == {
        "exclude_dirs": [],
        "max_bytes": None,
    }


def test_a_library_takes_its_features_from_shards_made_with_the_bundles_network(
    bundle: Path, photos: Path, tmp_path: Path
) -> None:
    import numpy as np

    from retrieval.errors import DataFormatError
    from retrieval.features.shards import write_shards
    from tests.library.conftest import bundle_network_shards

    pictures = sorted(p for p in photos.rglob("*.jpg") if ".hidden" not in p.parts)
    bundle_network_shards(pictures, tmp_path / "shards", shard_size=3)
    from_shards = PictureLibrary(tmp_path / "a")
    report = from_shards.update([photos], bundle=bundle, shards=tmp_path / "shards")
    assert report.indexed == 6 and report.extracted == 0
    extracted = PictureLibrary(tmp_path / "b")
    assert extracted.update([photos], bundle=bundle).extracted == 6
    a, b = from_shards.searcher().gallery, extracted.searcher().gallery
    assert a.paths == b.paths
    np.testing.assert_allclose(a.codes, b.codes, atol=1e-4)

    write_shards([], tmp_path / "other", record={"model": "efficientnet_lite0"})
    with pytest.raises(DataFormatError, match="other/manifest.json: its rows come from"):
        PictureLibrary(tmp_path / "c").update([photos], bundle=bundle, shards=tmp_path / "other")
