"""The page attacked: planted symlinks, hostile paths, oversized bodies, echoed input, headers."""

from __future__ import annotations

import io
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import uvicorn
from fastapi.testclient import TestClient
from PIL import Image

from retrieval.config import RunConfig
from retrieval.core import Gallery, Searcher, Trainer, load_bundle, save_bundle
from retrieval.data import load_competition
from retrieval.web import SearcherBackend, create_app
from tests.web.conftest import DEMO, CaptionGallery

REPO = DEMO.parents[1]


class Listed(CaptionGallery):
    """A gallery of the given files (searching is not what these tests attack)."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        self.codes = np.eye(len(paths), dtype=np.float32)


@pytest.fixture
def planted(tmp_path: Path) -> tuple[Path, list[Path]]:
    """``photos/`` with one real picture, a link to a file outside, a link to a folder
    outside, and a non-picture; plus a secret outside the folder."""
    photos = tmp_path / "photos"
    photos.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    Image.new("RGB", (4, 4), "red").save(photos / "ok.jpg")
    (outside / "secret.txt").write_text("password")
    Image.new("RGB", (4, 4)).save(outside / "private.jpg")
    (photos / "escape.jpg").symlink_to(outside / "secret.txt")
    (photos / "linked-dir").symlink_to(outside, target_is_directory=True)
    (photos / "notes.txt").write_text("not a picture")
    paths = [
        photos / "ok.jpg",
        photos / "escape.jpg",
        photos / "linked-dir" / "private.jpg",
        photos / "notes.txt",
        photos / ".." / "outside" / "private.jpg",
        Path("/etc/os-release"),
    ]
    return photos, paths


def test_only_pictures_inside_the_declared_folder_are_served(
    planted: tuple[Path, list[Path]],
) -> None:
    photos, paths = planted
    client = TestClient(base_url="http://127.0.0.1", app=create_app(Listed(paths), roots=[photos]))
    assert client.get("/images/0").status_code == 200
    assert client.get("/images/0").headers["content-type"] == "image/jpeg"
    for index in range(1, len(paths)):
        response = client.get(f"/images/{index}")
        assert response.status_code == 404, paths[index]
        assert "password" not in response.text


def test_roots_of_a_bundle_gallery_are_not_widened_by_symlinks(
    planted: tuple[Path, list[Path]],
) -> None:
    photos, paths = planted
    backend = SearcherBackend(_searcher_over(paths[:2]))
    assert backend.roots() == [photos]  # not the folder the link points into
    client = TestClient(base_url="http://127.0.0.1", app=create_app(backend, roots=backend.roots()))
    assert client.get("/images/0").status_code == 200
    assert client.get("/images/1").status_code == 404


def test_a_file_that_only_carries_a_pictures_name_is_not_served(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("RGB", (4, 4), "red").save(photos / "ok.png")
    (photos / "id_rsa.jpg").write_text("-----BEGIN OPENSSH PRIVATE KEY-----")
    Image.new("RGB", (4, 4), "blue").save(photos / "webp.webp")
    paths = [photos / "ok.png", photos / "id_rsa.jpg", photos / "webp.webp"]
    client = TestClient(base_url="http://127.0.0.1", app=create_app(Listed(paths), roots=[photos]))
    assert [client.get(f"/images/{i}").status_code for i in range(3)] == [200, 404, 200]
    assert "PRIVATE" not in client.get("/images/1").text


def test_a_heic_picture_is_served_as_a_jpeg_browsers_can_show(tmp_path: Path) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(photos / "phone.heic", format="HEIF")
    (photos / "fake.heic").write_text("-----BEGIN OPENSSH PRIVATE KEY-----")
    paths = [photos / "phone.heic", photos / "fake.heic"]
    client = TestClient(base_url="http://127.0.0.1", app=create_app(Listed(paths), roots=[photos]))
    answer = client.get("/images/0")
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(answer.content)).size == (40, 30)
    assert client.get("/images/1").status_code == 404


def test_declared_picture_roots_narrow_what_a_bundle_serves(
    planted: tuple[Path, list[Path]], tmp_path: Path
) -> None:
    photos, paths = planted
    listed = [paths[0], tmp_path / "outside" / "private.jpg"]  # a gallery listing a private picture
    assert set(SearcherBackend(_searcher_over(listed)).roots()) == {photos, tmp_path / "outside"}
    backend = SearcherBackend(_searcher_over(listed), roots=[photos])
    client = TestClient(base_url="http://127.0.0.1", app=create_app(backend, roots=backend.roots))
    assert client.get("/images/0").status_code == 200
    assert client.get("/images/1").status_code == 404


def _searcher_over(paths: list[Path]) -> Searcher:
    from types import SimpleNamespace

    gallery = Gallery([str(i) for i in range(len(paths))], paths, {"code": np.eye(len(paths))})
    return SimpleNamespace(gallery=gallery)  # type: ignore[return-value]


@pytest.fixture(scope="module")
def trained_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ridge bundle trained from the repository root on ``data/demo`` (relative paths)."""
    config = RunConfig.from_toml(REPO / "configs" / "peers" / "ridge.toml")
    config.tags.enabled = False
    bundle = tmp_path_factory.mktemp("trained") / "bundle"
    here = Path.cwd()
    os.chdir(REPO)
    try:
        train = load_competition("data/demo", "train")
        assert not train.image_paths[0].is_absolute()
        model = Trainer(config, verbose=False).fit(train)
        save_bundle(bundle, model, model.gallery_from_dataset(train))
    finally:
        os.chdir(here)
    return bundle


def test_a_bundle_finds_its_pictures_from_any_working_directory(
    trained_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, gallery = load_bundle(trained_bundle)
    assert all(p.is_absolute() and p.is_file() for p in gallery.paths)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    model, gallery = load_bundle(trained_bundle)
    backend = SearcherBackend(Searcher(model, gallery))
    client = TestClient(base_url="http://127.0.0.1", app=create_app(backend, roots=backend.roots()))
    assert client.get("/images/0").status_code == 200
    # moved together with its pictures, a bundle still finds them
    copy = save_bundle(tmp_path / "copy" / "bundle", model, gallery)
    assert load_bundle(copy)[1].paths == gallery.paths


def test_a_picture_added_to_a_bundle_s_manifest_later_is_not_served(
    trained_bundle: Path, tmp_path: Path
) -> None:
    """The bundle records the folders its pictures were in when saved; a path edited into
    its manifest afterwards (a private picture elsewhere) is listed but never served."""
    import json

    private = tmp_path / "home" / "private.jpg"
    private.parent.mkdir()
    Image.new("RGB", (4, 4), "blue").save(private)
    edited = save_bundle(tmp_path / "edited" / "bundle", *load_bundle(trained_bundle))
    manifest = edited / "manifest.json"
    meta = json.loads(manifest.read_text())
    roots = [(edited / r).resolve() for r in meta["state"]["gallery"]["roots"]]
    demo_pictures = (REPO / "data" / "demo" / "images_train").resolve()
    assert roots == [demo_pictures]
    meta["state"]["gallery"]["paths"][1] = os.path.relpath(private, edited)
    manifest.write_text(json.dumps(meta))
    model, gallery = load_bundle(edited)
    assert gallery.paths[1] == private
    backend = SearcherBackend(Searcher(model, gallery))
    assert [r.resolve() for r in backend.roots()] == [demo_pictures]
    client = TestClient(base_url="http://127.0.0.1", app=create_app(backend, roots=backend.roots))
    assert client.get("/images/0").status_code == 200
    assert client.get("/images/1").status_code == 404


@pytest.fixture
def client(demo_gallery: CaptionGallery) -> TestClient:
    return TestClient(
        base_url="http://127.0.0.1",
        app=create_app(demo_gallery, roots=[DEMO], max_upload_bytes=100_000),
    )


def test_a_huge_feedback_query_is_refused_before_any_work(client: TestClient) -> None:
    started = time.perf_counter()
    response = client.post("/api/feedback", json={"query": "apple " * 400_000, "votes": {}})
    assert response.status_code == 413
    assert time.perf_counter() - started < 5
    long_but_small = client.post("/api/feedback", json={"query": "a" * 5000, "votes": {}})
    assert long_but_small.status_code == 422


def test_a_chunked_body_is_counted_as_it_arrives(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"x" * 10_000

    response = client.post(
        "/api/feedback", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]


def test_validation_errors_do_not_echo_the_input(client: TestClient) -> None:
    marker = "<script>alert('echo')</script>"
    response = client.get("/api/search", params={"q": marker, "k": "many"})
    assert response.status_code == 422
    assert "echo" not in response.text
    assert response.json()["detail"][0]["loc"] == ["query", "k"]


def test_every_answer_carries_the_security_headers(client: TestClient) -> None:
    for path in ("/", "/api/search?q=apple", "/images/0", "/images/99999", "/openapi.json"):
        headers = client.get(path).headers
        assert headers["x-content-type-options"] == "nosniff", path
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert headers["x-frame-options"] == "DENY", path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_oversized_upload_is_refused_before_it_is_sent(demo_gallery: CaptionGallery) -> None:
    """A real server answers 413 after the headers of a 500 MB upload, not after its body."""
    port = _free_port()
    app = create_app(demo_gallery, roots=[], max_upload_bytes=1_000_000)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(
                b"POST /api/search/image HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: multipart/form-data; boundary=x\r\n"
                b"Content-Length: 500000000\r\n\r\n" + b"y" * 1000
            )
            answer = b""
            while b"larger than" not in answer:  # the headers and the body may come apart
                chunk = conn.recv(4096)
                if not chunk:
                    break
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 413"), answer[:80]
        assert b"larger than 1000000 bytes" in answer
    finally:
        server.should_exit = True
        thread.join(timeout=10)
