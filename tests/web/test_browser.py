"""The page end to end: a real server on 127.0.0.1 driven by Playwright in Debian's Chromium."""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from retrieval.web import create_app
from tests.web.conftest import DEMO, CaptionGallery

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"
    ),
]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def server_url(demo_gallery: CaptionGallery) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        create_app(demo_gallery, roots=[DEMO]), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_search_vote_and_refine_in_the_browser(server_url: str, tmp_path: Path) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        failed: list[str] = []
        page.on(
            "response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None
        )
        page.on("console", lambda m: failed.append(m.text) if m.type == "error" else None)
        page.goto(server_url)
        page.wait_for_load_state("networkidle")
        assert not failed, failed  # nothing missing on load (the favicon included)
        assert page.locator("#refine").is_disabled()  # nothing to refine before a search
        page.fill("#query", "a strawberry")
        page.click("#search")
        page.wait_for_selector(".card img")
        cards = page.locator(".card")
        assert cards.count() == 24
        assert cards.first.get_attribute("data-id") == "0"
        assert "24 pictures" in page.inner_text("#status")
        expect = playwright_api.expect
        first_image = page.locator(".card img").first
        deadline = time.monotonic() + 10
        while first_image.evaluate("img => img.naturalWidth") == 0:  # the page's CSP forbids eval
            assert time.monotonic() < deadline, "the first picture never loaded"
            time.sleep(0.05)

        assert page.locator("#refine").is_enabled()
        yes, no = cards.nth(0).get_attribute("data-id"), cards.nth(1).get_attribute("data-id")
        cards.nth(0).locator("button.y").click()
        cards.nth(1).locator("button.n").click()
        assert "yes" in cards.nth(0).get_attribute("class")
        page.click("#refine")
        expect(page.locator("#status")).to_have_text(
            "Refined with 2 votes; scores are z-scores over the gallery (compare within this answer)"
        )
        ids = [c.get_attribute("data-id") for c in page.locator(".card").all()]
        assert len(ids) == 24 and ids[0] == yes and no not in ids  # the yes kept on top
        assert "yes" in page.locator(".card").first.get_attribute("class")  # and still marked
        assert page.locator("#query-picture").is_hidden()

        top = page.locator(".card").first  # its path below the root, a link, an undoable vote
        assert top.locator(".meta span").first.inner_text().startswith("images_")
        assert top.locator("a").get_attribute("href") == f"/images/{yes}"
        top.locator("button.y").click()  # the same vote again takes it back
        assert "yes" not in top.get_attribute("class")

        page.fill("#query", "apple " * 300)  # longer than a query may be: said in words
        page.click("#search")
        expect(page.locator("#status")).to_have_text(re.compile("longer than|pictures for"))
        status = page.inner_text("#status")
        assert "{" not in status and "[" not in status  # never the raw validation JSON

        broken = tmp_path / "notes.jpg"
        broken.write_text("not a picture")
        page.set_input_files("#image", str(broken))
        page.click("#search-image")
        expect(page.locator("#status")).to_contain_text("not a picture this page can read")
        assert page.locator(".card").count() == 0  # no stale results under the error
        failed.clear()

        page.set_input_files("#image", str(DEMO / "images_train" / "7.jpg"))
        page.click("#search-image")
        expect(page.locator("#status")).to_contain_text("like 7.jpg; scores are z-scores")
        assert page.locator(".card").first.get_attribute("data-id") == "7"
        thumbnail = page.locator("#query-picture")
        assert thumbnail.is_visible() and thumbnail.get_attribute("src").startswith("blob:")
        deadline = time.monotonic() + 10
        while thumbnail.evaluate("img => img.naturalWidth") == 0:  # the CSP allows blob: pictures
            assert time.monotonic() < deadline, "the uploaded picture is not shown"
            time.sleep(0.05)
        page.screenshot(path=str(tmp_path / "page.png"), full_page=True)

        # the API page runs from the package's own Swagger UI, under the same CSP, offline
        page.goto(server_url + "/docs")
        page.wait_for_selector(".opblock", timeout=15000)
        assert "/api/search" in page.inner_text(".swagger-ui")
        browser.close()
