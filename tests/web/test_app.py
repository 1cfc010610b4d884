from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from retrieval.web import create_app
from tests.fruit_toy import NAMES, NO, RED_FRUIT, YES, fruit_gallery
from tests.web.conftest import DEMO, CaptionGallery


@pytest.fixture
def client(demo_gallery: CaptionGallery) -> TestClient:
    return TestClient(
        base_url="http://127.0.0.1",
        app=create_app(demo_gallery, roots=[DEMO], max_upload_bytes=200_000),
    )


def test_page_and_openapi(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and 'id="query"' in page.text
    spec = client.get("/openapi.json").json()
    assert {"/api/search", "/api/search/image", "/api/feedback", "/images/{index}"} <= set(
        spec["paths"]
    )


def test_the_api_page_works_offline_from_the_package_s_own_assets(client: TestClient) -> None:
    import re

    docs = client.get("/docs")
    assert docs.status_code == 200 and "SwaggerUIBundle" in docs.text
    sources = re.findall(r'(?:src|href)="([^"]+)"', docs.text)
    assert "/docs/assets/swagger-ui-bundle.js" in sources
    assert not [s for s in sources if s.startswith("http")]  # no CDN: it works offline
    script = client.get("/docs/assets/swagger-ui-bundle.js")
    assert script.status_code == 200 and len(script.content) > 100_000
    assert script.headers["x-content-type-options"] == "nosniff"
    assert client.get("/docs/assets/swagger-ui.css").status_code == 200
    assert client.get("/docs/assets/../app.py").status_code == 404


def test_text_search_finds_the_captioned_picture(client: TestClient) -> None:
    body = client.get("/api/search", params={"q": "a strawberry", "k": 5}).json()
    assert body["results"][0]["id"] == 0  # demo train item 0 is "A strawberry."
    assert body["results"][0]["url"] == "/images/0"
    assert len(body["results"]) == 5
    assert client.get("/api/search", params={"q": "   "}).status_code == 422
    assert client.get("/api/search", params={"q": "x", "k": 0}).status_code == 422


def test_image_search_returns_the_same_picture_first(client: TestClient) -> None:
    data = (DEMO / "images_train" / "7.jpg").read_bytes()
    response = client.post(
        "/api/search/image", params={"k": 3}, files={"file": ("7.jpg", data, "image/jpeg")}
    )
    assert response.status_code == 200
    assert response.json()["results"][0]["id"] == 7


def test_refining_an_image_search_starts_from_the_example_picture(client: TestClient) -> None:
    data = (DEMO / "images_train" / "7.jpg").read_bytes()
    found = client.post(
        "/api/search/image", params={"k": 10}, files={"file": ("7.jpg", data, "image/jpeg")}
    ).json()
    ids = [r["id"] for r in found["results"]]
    assert ids[0] == 7 and len(found["anchor"]) == 64
    votes = {ids[8]: False, ids[9]: False}  # votes alone would put a stranger first
    refined = client.post("/api/feedback", json={"anchor": found["anchor"], "votes": votes})
    assert refined.status_code == 200
    assert refined.json()["ranking"][0]["id"] == 7  # the example picture stays the anchor
    without = client.post("/api/feedback", json={"votes": votes}).json()["ranking"]
    assert without[0]["id"] != 7
    short = client.post("/api/feedback", json={"anchor": [0.0] * 3, "votes": votes})
    assert short.status_code == 422 and "3 numbers" in short.json()["detail"]
    both = client.post(
        "/api/feedback", json={"anchor": found["anchor"], "query": "x", "votes": votes}
    )
    assert both.status_code == 422


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        (b"", 400, "empty"),
        (b"GIF89a not really", 400, "not a picture this page can read"),
        (b"\xff" * 300_000, 413, "larger than 200000 bytes"),
    ],
)
def test_bad_uploads_are_refused(
    client: TestClient, payload: bytes, status: int, message: str
) -> None:
    response = client.post("/api/search/image", files={"file": ("x.jpg", payload, "image/jpeg")})
    assert response.status_code == status
    assert message in response.json()["detail"]


def test_decompression_bomb_upload_is_refused(client: TestClient) -> None:
    buffer = io.BytesIO()
    Image.new("1", (9000, 9000)).save(buffer, format="PNG")
    assert len(buffer.getvalue()) < 200_000
    response = client.post(
        "/api/search/image", files={"file": ("bomb.png", buffer.getvalue(), "image/png")}
    )
    assert response.status_code == 400 and "too large" in response.json()["detail"]


def test_pictures_served_only_from_indexed_folders(
    tmp_path: Path, demo_gallery: CaptionGallery
) -> None:
    secret = tmp_path / "secret.jpg"
    Image.new("RGB", (4, 4)).save(secret)
    inside = tmp_path / "photos"
    inside.mkdir()
    (inside / "link.jpg").symlink_to(secret)
    Image.new("RGB", (4, 4)).save(inside / "ok.jpg")

    class Two(CaptionGallery):
        def __init__(self) -> None:
            self.paths = [inside / "ok.jpg", inside / "link.jpg"]

    app_client = TestClient(base_url="http://127.0.0.1", app=create_app(Two(), roots=[inside]))
    assert app_client.get("/images/0").status_code == 200
    assert app_client.get("/images/1").status_code == 404  # symlink escaping the folder
    assert app_client.get("/images/2").status_code == 404
    assert app_client.get("/images/-1").status_code == 404
    assert app_client.get("/images/..%2F..%2Fetc%2Fpasswd").status_code in (404, 422)


def test_feedback_moves_voted_kind_to_the_top(
    client: TestClient, demo_gallery: CaptionGallery
) -> None:
    votes = {i: False for i in range(10)}
    votes[0] = True
    body = client.post("/api/feedback", json={"query": "fruit", "votes": votes, "k": 10}).json()
    ranked = [r["id"] for r in body["ranking"]]
    scores = [r["score"] for r in body["ranking"]]
    assert ranked[0] == 0 and not set(ranked[1:]) & set(votes)  # the yes on top, no "no"
    assert len(ranked) == 10 and scores[1:] == sorted(scores[1:], reverse=True)
    proposals = body["proposals"]
    assert len(proposals) == 8
    assert proposals[0]["score"] > proposals[1]["score"]  # a likely yes, then a likely no
    assert client.post("/api/feedback", json={"votes": {"999": True}}).status_code == 422


def test_a_query_with_no_known_word_carries_a_note(client: TestClient) -> None:
    unknown = client.get("/api/search", params={"q": "xqzzt blorf", "k": 3}).json()
    assert unknown["note"] == "no word of this query is known"
    known = client.get("/api/search", params={"q": "a strawberry", "k": 3}).json()
    assert known["note"] is None


class FruitGallery(CaptionGallery):
    """The toy fruit gallery of ``tests.fruit_toy`` behind the page's backend protocol."""

    def __init__(self, seed: int, folder: Path) -> None:
        self.codes, self.text, self.kinds = fruit_gallery(seed)
        self.paths = [folder / f"{name}.jpg" for name in NAMES]
        for path in self.paths:  # files on disk: the page offers only pictures that exist
            path.write_bytes(b"")

    def text_scores(self, text: str) -> np.ndarray:
        return self.text if "fruit" in text else np.zeros(len(self.paths))


@pytest.mark.parametrize("seed", [0, 1, 3])
def test_refine_with_the_example_votes_keeps_the_voted_kind_on_top(
    seed: int, tmp_path: Path
) -> None:
    gallery = FruitGallery(seed, tmp_path)
    app_client = TestClient(base_url="http://127.0.0.1", app=create_app(gallery, roots=[]))
    votes = {**{i: True for i in YES}, **{i: False for i in NO}}
    body = app_client.post("/api/feedback", json={"query": "fruit", "votes": votes, "k": 12}).json()
    ranked = [r["id"] for r in body["ranking"]]
    assert len(ranked) == 12 and set(ranked[:3]) == set(YES)
    assert all(gallery.kinds[i] == RED_FRUIT for i in ranked[:8])
    assert not set(ranked) & set(NO)
    assert not {p["id"] for p in body["proposals"]} & set(votes)
    assert body["ranking"][3]["name"] in {f"{n}.jpg" for n in NAMES[3:8]}


def test_a_foreign_host_name_is_refused_with_the_security_headers(
    demo_gallery: CaptionGallery,
) -> None:
    """DNS rebinding: a page at attacker.example that resolves to 127.0.0.1 gets 400."""
    app = create_app(demo_gallery, roots=[DEMO])
    foreign = TestClient(app, base_url="http://attacker.example")
    for url in ("/api/search?q=apple", "/images/0", "/"):
        answer = foreign.get(url)
        assert answer.status_code == 400, url
        assert answer.headers["x-content-type-options"] == "nosniff"
    local = TestClient(app, base_url="http://localhost:8000")
    assert local.get("/api/search?q=apple").status_code == 200
    extra = create_app(demo_gallery, roots=[DEMO], allowed_hosts=["photos.lan"])
    assert TestClient(extra, base_url="http://photos.lan").get("/").status_code == 200


def test_an_early_413_carries_the_security_headers(demo_gallery: CaptionGallery) -> None:
    client = TestClient(create_app(demo_gallery, roots=[DEMO]), base_url="http://127.0.0.1")
    answer = client.post(
        "/api/feedback",
        content=b"{}",
        headers={"content-type": "application/json", "content-length": str(10**10)},
    )
    assert answer.status_code == 413
    for header in ("x-content-type-options", "content-security-policy", "x-frame-options"):
        assert header in answer.headers, header


def test_text_queries_are_answered_while_uploads_are_encoded(
    demo_gallery: CaptionGallery,
) -> None:
    """A real server: while two uploads each hold a worker for 3 s (a slow network on a
    large picture), text queries keep their latency (each under 1.5 s, where a blocked
    event loop would hold them for the whole encoding)."""
    import socket
    import threading
    import time

    import httpx
    import uvicorn

    class Slow(CaptionGallery):
        def image_code(self, image):  # noqa: ANN001, ANN202
            time.sleep(3.0)  # blocks its thread, as decoding and a CPU network do
            return super().image_code(image)

    gallery = Slow.__new__(Slow)
    gallery.__dict__.update(demo_gallery.__dict__)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(gallery, roots=[DEMO])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    threading.Thread(target=server.run, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        buffer = io.BytesIO()
        Image.new("RGB", (32, 32), "red").save(buffer, format="PNG")
        uploads: list[int] = []

        def upload() -> None:
            with httpx.Client(base_url=base, timeout=30) as client:
                files = {"file": ("red.png", buffer.getvalue())}
                uploads.append(client.post("/api/search/image", files=files).status_code)

        uploaders = [threading.Thread(target=upload) for _ in range(2)]
        for thread in uploaders:
            thread.start()
        time.sleep(0.5)  # both uploads are being encoded now
        latencies = []
        with httpx.Client(base_url=base, timeout=30) as client:
            for _ in range(5):
                started = time.monotonic()
                answer = client.get("/api/search", params={"q": "a red apple", "k": 5})
                latencies.append(time.monotonic() - started)
                assert answer.status_code == 200
        encoding = any(thread.is_alive() for thread in uploaders)
        for thread in uploaders:
            thread.join(30)
        assert uploads == [200, 200]
        assert encoding, "the uploads ended before the text queries were timed"
        assert max(latencies) < 1.5, latencies
    finally:
        server.should_exit = True


def test_an_image_query_runs_off_the_event_loop(demo_gallery: CaptionGallery) -> None:
    """Decoding and the network run in a worker thread, so uploads cannot stall text queries."""
    import asyncio

    seen: list[bool] = []

    def on_loop() -> bool:
        try:
            asyncio.get_running_loop()
            return True  # on the loop: every other request waits
        except RuntimeError:
            return False

    class Watching(CaptionGallery):
        def image_code(self, image):  # noqa: ANN001, ANN202
            seen.append(on_loop())
            return super().image_code(image)

        def code_scores(self, code):  # noqa: ANN001, ANN202
            seen.append(on_loop())  # scoring a large gallery is work too
            return super().code_scores(code)

    gallery = Watching.__new__(Watching)
    gallery.__dict__.update(demo_gallery.__dict__)
    client = TestClient(create_app(gallery, roots=[DEMO]), base_url="http://127.0.0.1")
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), "red").save(buffer, format="PNG")
    answer = client.post("/api/search/image", files={"file": ("red.png", buffer.getvalue())})
    assert answer.status_code == 200 and seen == [False, False]
