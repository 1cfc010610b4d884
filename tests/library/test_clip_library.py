"""Libraries embedded by CLIP (a tiny random preset folder): index, search, serve, no mixing."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from retrieval import store
from retrieval.cli import main
from retrieval.core import GallerySearcher
from retrieval.features.clip import ClipEncoder
from retrieval.library import ClipSearcher, PictureLibrary
from retrieval.library._library import KIND

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    (root / "trip").mkdir(parents=True)
    for i in range(5):
        shutil.copyfile(DEMO / "images_test" / f"{i}.jpg", root / "trip" / f"p{i}.jpg")
    shutil.copyfile(DEMO / "images_test" / "0.jpg", root / "copy_of_p0.jpg")
    (root / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    return root


def test_cli_indexes_and_searches_a_clip_library(
    clip_preset: Path, photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store_folder = str(tmp_path / "store")
    model = f"clip:{clip_preset}"
    assert main(["index", str(photos), "--model", model, "--store", store_folder]) == 0
    out = capsys.readouterr()
    assert "5 pictures indexed (7 new" in out.out and "1 skipped" in out.out
    assert f"skipping {photos / 'broken.jpg'}: not an image" in out.err

    assert main(["search", "a red apple", "--library", store_folder, "--k", "3"]) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    scores = [float(score) for score, _ in rows]
    assert len(rows) == 3 and scores == sorted(scores, reverse=True)
    assert all(Path(path).is_relative_to(photos) for _, path in rows)
    # CLIP's cosines, shown as every search shows its scores: z-scores over the gallery
    from retrieval.arrays import z_scores

    cosines = PictureLibrary(store_folder).searcher().scores(["a red apple"])[0]
    expected = sorted(z_scores(cosines), reverse=True)[:3]
    assert scores == pytest.approx(expected, abs=1e-4)

    example = photos / "trip" / "p3.jpg"
    argv = ["search", "--image", str(example), "--library", store_folder, "--k", "1"]
    assert main([*argv, "--paths-only"]) == 0
    assert capsys.readouterr().out.strip() == str(example)

    assert main(["index", "--store", store_folder]) == 0  # the preset is remembered
    out = capsys.readouterr()
    assert f"model: clip:{clip_preset.resolve()} (the library's)" in out.err
    assert "0 new" in out.out and "0 extracted" in out.out and "5 pictures indexed" in out.out


def test_a_clip_library_round_trips_and_serves(
    clip_preset: Path, photos: Path, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from retrieval.web import SearcherBackend, create_app

    library = PictureLibrary(tmp_path / "store")
    report = library.update([photos], model=f"clip:{clip_preset}")
    assert (report.indexed, report.extracted) == (5, 5)
    manifest = library.manifest()
    assert manifest["bundle"] is None
    assert manifest["features"] == ClipEncoder(clip_preset).record
    assert sorted(p.name for p in (tmp_path / "store" / "index" / "arrays").rglob("*")) == [
        "code.npy",
        "spaces",
    ]

    searcher = PictureLibrary(tmp_path / "store").searcher()  # loaded back from the folder
    assert isinstance(searcher, ClipSearcher) and isinstance(searcher, GallerySearcher)
    # the shared protocol: an example picture finds itself, by code or by picture
    picture_code = searcher.image_code(searcher.gallery.paths[2])
    assert searcher.search_code(picture_code, 1)[0].index == 2
    assert searcher.search_image(searcher.gallery.paths[2], 1)[0].index == 2
    assert searcher.scores(["a dog", "a cat"], as_a_set=True).shape == (2, 5)
    with pytest.raises(ValueError, match="the query is empty"):
        searcher.search("  ")
    fresh = searcher.encoder.encode_images(searcher.gallery.paths)
    np.testing.assert_allclose(searcher.gallery.codes, fresh, atol=1e-5)

    backend = SearcherBackend(searcher, roots=library.roots)
    assert backend.query_note("a red apple") is None
    assert "reads the first 14 tokens" in backend.query_note("a red apple " * 10)
    assert backend.text_scores("a dog").shape == (5,)
    client = TestClient(base_url="http://127.0.0.1", app=create_app(backend, roots=backend.roots()))
    body = client.get("/api/search", params={"q": "a dog on the grass", "k": 3}).json()
    assert len(body["results"]) == 3
    picture = photos / "trip" / "p2.jpg"
    response = client.post(
        "/api/search/image",
        params={"k": 1},
        files={"file": ("p2.jpg", picture.read_bytes(), "image/jpeg")},
    )
    assert response.status_code == 200
    assert response.json()["results"][0]["id"] == backend.paths.index(picture)


def test_clip_and_bundle_pictures_never_mix(
    clip_preset: Path, photos: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip_store = str(tmp_path / "clip-store")
    model = f"clip:{clip_preset}"
    assert main(["index", str(photos), "--model", model, "--library", clip_store]) == 0
    capsys.readouterr()
    bundle = str(tmp_path / "some-bundle")
    assert main(["index", "--bundle", bundle, "--store", clip_store]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert "were embedded by CLIP" in err and "cannot join them; use a new --library" in err

    other = tmp_path / "other-clip"
    shutil.copytree(clip_preset, other)
    assert main(["index", "--model", f"clip:{other}", "--library", clip_store]) == 1
    assert f"not {other}; use a new --library" in capsys.readouterr().err

    bundle_store = tmp_path / "bundle-store"  # a library coded with a bundle, as it is stored
    meta = {"roots": [str(photos)], "bundle": bundle, "features": {"model": "resnet50"}}
    store.save(bundle_store / "index", KIND, {**meta, "paths": []}, {})
    assert main(["index", "--model", model, "--store", str(bundle_store)]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert f"coded with the bundle {bundle}; CLIP pictures cannot join them" in err

    with pytest.raises(SystemExit):
        main(["index", str(photos), "--model", model, "--bundle", bundle])
    assert "not allowed with argument" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["index", str(photos), "--model", "resnet50"])
    assert "use clip:PRESET_OR_FOLDER" in capsys.readouterr().err
