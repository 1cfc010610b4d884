"""The FastAPI application: text and example-image search, pictures, relevance feedback."""

from __future__ import annotations

import io
import mimetypes
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import jinja2
import numpy as np
from fastapi import FastAPI, File, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from PIL import Image
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.staticfiles import StaticFiles

from retrieval.arrays import z_scores
from retrieval.core import SCALE as SCORE_SCALE
from retrieval.core import SearchHit
from retrieval.features import HEIF_SUFFIXES, BadImageError, heif_as_jpeg
from retrieval.library import DEFAULT_EXTENSIONS
from retrieval.metrics import top_k
from retrieval.models.feedback import RelevanceFeedback
from retrieval.web._limits import BodyLimit, SecurityHeaders, looks_like_a_picture

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("retrieval.web", "templates"), autoescape=True
)

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_PIXELS = 40_000_000
MAX_QUERY_CHARS = 1000
MAX_VOTES = 1000
MAX_ANCHOR_DIM = 4096  # longer than any code or embedding the models make
MAX_JSON_BYTES = 256 * 1024
MULTIPART_OVERHEAD = 64 * 1024
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")
"""The host names a page served on this machine answers to (a DNS-rebinding page's do not)."""


class SearchBackend(Protocol):
    """What the page needs from a searchable collection of pictures."""

    paths: Sequence[Path]
    codes: np.ndarray

    def search_text(self, text: str, k: int) -> list[SearchHit]: ...

    def image_code(self, image: Image.Image) -> np.ndarray:
        """An example picture's code: the query of an image search and its refinement."""
        ...

    def code_scores(self, code: np.ndarray) -> np.ndarray:
        """A code's similarity with every picture, ``(n,)``."""
        ...

    def text_scores(self, text: str) -> np.ndarray: ...

    def query_note(self, text: str) -> str | None: ...


class Result(BaseModel):
    id: int = Field(description="gallery index of the picture")
    score: float
    name: str
    url: str


SCALE = Field(
    SCORE_SCALE,
    description="what the scores are, in every answer: 'z-score', how many standard "
    "deviations a picture's similarity is above the gallery's mean for this query "
    "(comparable within one answer only)",
)


class Results(BaseModel):
    query: str
    results: list[Result]
    scale: str = SCALE
    note: str | None = Field(
        None, description="a warning about the query, e.g. that no word of it is known"
    )
    anchor: list[float] | None = Field(
        None,
        description="for an image query, the example picture's code: send it back as "
        "/api/feedback's anchor so that a refinement starts from the picture",
    )


class FeedbackRequest(BaseModel):
    query: str = Field(
        "",
        max_length=MAX_QUERY_CHARS,
        description="the text query the session started from (may be empty)",
    )
    anchor: list[float] | None = Field(
        None,
        max_length=MAX_ANCHOR_DIM,
        description="the example picture's code an image search returned (its `anchor`), "
        "when the session started from a picture",
    )
    votes: dict[int, bool] = Field(
        default_factory=dict, max_length=MAX_VOTES, description="picture id -> relevant?"
    )
    k: int = Field(20, ge=1, le=200)


class FeedbackResults(BaseModel):
    scale: str = SCALE
    proposals: list[Result] = Field(
        description="pictures to vote on next, likely yes and likely no alternating"
    )
    ranking: list[Result] = Field(
        description="the pictures voted yes first, then the best of those not voted on; "
        "pictures voted no never appear"
    )


def create_app(
    gallery: SearchBackend,
    *,
    roots: Sequence[Path] | Callable[[], Sequence[Path]],
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
    title: str = "retrieval",
    allowed_hosts: Sequence[str] | None = LOOPBACK_HOSTS,
) -> FastAPI:
    """The web application over ``gallery``; pictures are served only from inside ``roots``.

    A picture is served when it is one of the gallery's, has a picture suffix, and its real
    path (symlinks followed) lies inside one of the real ``roots``. Request bodies are
    refused with 413 as soon as they pass the limit (the image upload's, or 256 KiB of
    JSON), before they are read in full; every answer carries ``nosniff``, a content
    security policy and ``frame-ancestors 'none'``; error answers never echo the input.
    Requests whose ``Host`` is not one of ``allowed_hosts`` (by default this machine's
    loopback names) get 400, so a web page that rebinds its DNS name to 127.0.0.1 cannot read
    the pictures; ``None`` accepts any host. Example-image queries decode and run the network
    in a worker thread, so text queries go on while pictures are uploaded.
    """

    def declared_roots() -> list[Path]:  # a library's may grow while the page runs
        return [Path(os.path.abspath(r)) for r in (roots() if callable(roots) else roots)]

    def allowed_roots() -> list[Path]:
        return [root.resolve() for root in declared_roots()]

    app = FastAPI(
        title=title,
        description="Search pictures by text or by example image.",
        version="1",
        docs_url=None,  # served below from the package's own copy of Swagger UI
        redoc_url=None,
    )
    assets = _swagger_assets()
    if assets is not None:
        app.mount("/docs/assets", StaticFiles(directory=assets), name="docs-assets")
    # the last added is the outermost: the security headers go on every answer, the early
    # 413 and the wrong host's 400 included
    if allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    app.add_middleware(
        BodyLimit,
        default_limit=MAX_JSON_BYTES,
        limits={"/api/search/image": max_upload_bytes},
        overhead=MULTIPART_OVERHEAD,
    )
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    page_html = _TEMPLATES.get_template("page.html.j2").render(
        title=f"{title}: search pictures",
        heading="Search pictures",
        max_query_chars=MAX_QUERY_CHARS,
    )

    def snapshot() -> SearchBackend:
        """The collection as it is for this request (a library reloads when re-indexed)."""
        current = getattr(gallery, "current", None)
        return current() if callable(current) else gallery

    def shown_name(path: Path, declared: Sequence[Path]) -> str:
        """The picture's path below the declared folder it is listed in (``trip/12.jpg``, so
        pictures of the same name in two folders are told apart), else its name."""
        listed = Path(os.path.abspath(path))
        for root in declared:
            if listed.is_relative_to(root):
                return listed.relative_to(root).as_posix()
        return path.name

    def results(view: SearchBackend, pairs: Sequence[tuple[int, float]]) -> list[Result]:
        """The hits whose file is still there (a picture deleted since indexing is never
        offered), as answers."""
        declared = declared_roots()  # once per answer, not once per picture
        out = []
        for index, score in pairs:
            path = Path(view.paths[index])
            if path.is_file():
                out.append(
                    Result(
                        id=index,
                        score=round(float(score), 6),
                        name=shown_name(path, declared),
                        url=f"/images/{index}",
                    )
                )
        return out

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return page_html

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def api_docs() -> HTMLResponse:
        """The API's Swagger UI, with its script and style served from here (it works offline)."""
        if assets is None:
            return HTMLResponse(
                "<!doctype html><title>API</title><p>The interactive API page needs the "
                "<code>fastapi-offline</code> package (<code>pip install "
                "'retrieval[web]'</code>); the API itself is described in "
                '<a href="/openapi.json">/openapi.json</a>.</p>'
            )
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{title}: API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="data:,",
            swagger_ui_parameters={"validatorUrl": None},  # no call to an online validator
        )

    @app.get(
        "/api/search",
        response_model=Results,
        summary="Search by text",
        responses={422: {"description": "a blank query or a bad k"}},
    )
    def search(
        q: str = Query(..., min_length=1, max_length=MAX_QUERY_CHARS),
        k: int = Query(20, ge=1, le=200),
    ) -> Results:
        if not q.strip():
            raise HTTPException(422, "the query is blank")
        view = snapshot()
        hits = results(view, [(h.index, h.score) for h in view.search_text(q, k)])
        return Results(query=q, results=hits, note=view.query_note(q))

    @app.post(
        "/api/search/image",
        response_model=Results,
        summary="Search by an example image",
        responses={
            400: {"description": "not a readable image, empty, or too many pixels"},
            413: {"description": "the upload is larger than the limit"},
        },
    )
    async def search_image(
        file: UploadFile = File(...), k: int = Query(20, ge=1, le=200)
    ) -> Results:
        data = await file.read(max_upload_bytes + 1)
        if len(data) > max_upload_bytes:
            raise HTTPException(413, f"the upload is larger than {max_upload_bytes} bytes")

        view = snapshot()

        def code_and_scores() -> tuple[np.ndarray, np.ndarray]:
            code = view.image_code(_decode_upload(data))
            return code, np.asarray(view.code_scores(code))

        code, scores = await run_in_threadpool(code_and_scores)  # both off the event loop
        scores = z_scores(scores)  # the scale of every answer
        order = top_k(scores[None], k)[0]
        return Results(
            query=file.filename or "image",
            results=results(view, [(int(i), scores[i]) for i in order]),
            anchor=[float(x) for x in np.asarray(code).ravel()],
        )

    @app.get(
        "/images/{index}",
        summary="A gallery picture",
        response_class=FileResponse,
        responses={
            200: {"content": {"image/*": {}}, "description": "the picture file"},
            404: {"description": "no such picture"},
        },
    )
    def picture(index: int) -> Response:
        paths = snapshot().paths
        if not 0 <= index < len(paths):
            raise HTTPException(404, "no such picture")
        listed = Path(paths[index])
        path = listed.resolve()
        if (
            listed.suffix.lower() not in DEFAULT_EXTENSIONS
            or path.suffix.lower() not in DEFAULT_EXTENSIONS
            or not any(path.is_relative_to(root) for root in allowed_roots())
            or not path.is_file()
            or not looks_like_a_picture(path)
        ):
            raise HTTPException(404, "no such picture")
        if path.suffix.lower() in HEIF_SUFFIXES:  # most browsers cannot show HEIF
            try:
                return Response(heif_as_jpeg(path), media_type="image/jpeg")
            except BadImageError:
                raise HTTPException(404, "no such picture") from None
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return FileResponse(path, media_type=media_type)

    @app.post(
        "/api/feedback",
        response_model=FeedbackResults,
        summary="Learn from yes/no votes",
        description="Fuses the text query's scores with the votes (Rocchio in the code "
        "space and an RBF-kernel SVM); see `retrieval.models.feedback`.",
        responses={
            400: {"description": "the body is not valid JSON"},
            422: {"description": "ids outside the gallery"},
        },
    )
    def feedback(request: FeedbackRequest) -> FeedbackResults:
        view = snapshot()
        n = len(view.paths)
        bad = [i for i in request.votes if not 0 <= i < n]
        if bad:
            raise HTTPException(422, f"picture ids outside the gallery of {n}: {bad[:5]}")
        if request.anchor is not None and request.query.strip():
            raise HTTPException(422, "a session starts from a text query or an anchor, not both")
        if request.anchor is not None:
            dim = int(np.asarray(view.codes).shape[1])
            if len(request.anchor) != dim:
                raise HTTPException(
                    422, f"the anchor has {len(request.anchor)} numbers; this gallery's codes {dim}"
                )
            initial = np.asarray(view.code_scores(np.asarray(request.anchor, np.float32)))
        else:
            initial = view.text_scores(request.query) if request.query.strip() else None
        session = RelevanceFeedback(view.codes, initial_scores=initial)
        session.vote_many(list(request.votes), list(request.votes.values()))
        scores = z_scores(session.scores())  # the scale of every answer
        ranking = session.ranking(include_voted=True)[: request.k]
        return FeedbackResults(
            proposals=results(view, [(i, scores[i]) for i in session.propose(8)]),
            ranking=results(view, [(int(i), scores[i]) for i in ranking]),
        )

    return app


def _swagger_assets() -> Path | None:
    """The folder of an installed Swagger UI script and style (the ``fastapi-offline``
    package's copy; ``None`` without it)."""
    import importlib.resources
    import importlib.util

    if importlib.util.find_spec("fastapi_offline") is None:
        return None
    folder = Path(str(importlib.resources.files("fastapi_offline") / "static"))
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


def _decode_upload(data: bytes) -> Image.Image:
    """Check that ``data`` is a picture of sane size and decode it, or answer 400."""
    if not data:
        raise HTTPException(400, "the upload is empty")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size
            if width * height > MAX_UPLOAD_PIXELS:
                raise HTTPException(400, f"the image is too large ({width}x{height} pixels)")
            probe.verify()
        image = Image.open(io.BytesIO(data))
        image.load()
    except HTTPException:
        raise
    except Exception:  # Pillow raises many kinds for bad data
        raise HTTPException(
            400, "not a picture this page can read (JPEG, PNG, WebP, GIF, BMP or TIFF)"
        ) from None
    return image
