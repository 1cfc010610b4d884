"""A local stand-in for the Kaggle API on 127.0.0.1:7777 (``KAGGLE_API_ENVIRONMENT=TEST``).

It answers the calls the real ``kaggle`` client makes to download competition files and to
submit, checks what the client sends (credentials, JSON fields, uploaded bytes), and records
every request so a test can assert on the exchange.
"""

from __future__ import annotations

import base64
import io
import json
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tests.standin_http import JSONHandler, running

PORT = 7777
SERVICE = "/api/v1/competitions.CompetitionApiService/"


@dataclass
class KaggleStandIn:
    """What the server knows (users, competitions and their archives) and what it received."""

    username: str = "tester"
    key: str = "secret-key"
    archives: dict[str, bytes] = field(default_factory=dict)
    requests: list[tuple[str, str, dict]] = field(default_factory=list)
    uploads: dict[str, bytes] = field(default_factory=dict)
    submissions: list[dict] = field(default_factory=list)
    fail_uploads: bool = False

    def authorised(self, header: str | None) -> bool:
        expected = base64.b64encode(f"{self.username}:{self.key}".encode()).decode()
        return header == f"Basic {expected}"


def zip_bytes(files: dict[str, bytes]) -> bytes:
    """An in-memory zip archive holding ``files`` (name -> content)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _handler(state: KaggleStandIn) -> type[JSONHandler]:
    class Handler(JSONHandler):
        def _error(self, status: int, message: str) -> None:
            self._json(status, {"code": status, "message": message})

        def do_POST(self) -> None:
            payload = json.loads(self._body() or b"{}")
            state.requests.append(("POST", self.path, payload))
            if not state.authorised(self.headers.get("Authorization")):
                return self._error(401, "Unauthenticated")
            method = self.path.removeprefix(SERVICE)
            competition = payload.get("competitionName")
            if competition not in state.archives:
                return self._error(404, f"Competition {competition} not found")
            if method == "DownloadDataFiles":
                self.send_response(302)
                self.send_header("Location", f"http://localhost:{PORT}/files/{competition}.zip")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif method == "StartSubmissionUpload":
                if not payload.get("fileName", "").endswith(".csv") or not payload.get(
                    "contentLength"
                ):
                    return self._error(400, "expected fileName *.csv and contentLength")
                token = f"blob-{len(state.uploads) + 1}"
                state.uploads[token] = b""
                self._json(
                    200,
                    {"token": token, "createUrl": f"http://localhost:{PORT}/upload/{token}"},
                )
            elif method == "ListSubmissions":
                self._json(
                    200,
                    {"submissions": [_listed(i, s) for i, s in enumerate(state.submissions)][::-1]},
                )
            elif method == "CreateSubmission":
                token = payload.get("blobFileTokens")
                if not state.uploads.get(token):
                    return self._error(400, f"no uploaded file for token {token}")
                state.submissions.append(payload)
                self._json(
                    200, {"message": "Successfully submitted", "ref": 1000 + len(state.submissions)}
                )
            else:
                self._error(404, f"unknown method {method}")

        def do_PUT(self) -> None:
            body = self._body()
            token = self.path.removeprefix("/upload/")
            state.requests.append(("PUT", self.path, {"bytes": len(body)}))
            if token not in state.uploads or state.fail_uploads:
                return self._error(500, "upload rejected")
            state.uploads[token] = body
            self._json(200, {})

        def do_GET(self) -> None:
            state.requests.append(("GET", self.path, {}))
            name = self.path.removeprefix("/files/").removesuffix(".zip")
            if name not in state.archives:
                return self._error(404, "no such file")
            data = state.archives[name]
            self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Last-Modified", "Mon, 02 Dec 2019 10:00:00 GMT")
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _listed(index: int, submission: dict) -> dict:
    """A received submission as ListSubmissions answers it: the first is scored, the rest pending."""
    listed = {
        "ref": 1001 + index,
        "date": f"2019-12-0{index % 9 + 1}T10:00:00Z",
        "description": submission.get("submissionDescription", ""),
        "fileName": "submission.csv",
        "status": "COMPLETE" if index == 0 else "PENDING",
    }
    if index == 0:
        listed.update(publicScore="0.31250", privateScore="0.30125")
    return listed


@contextmanager
def serving(state: KaggleStandIn) -> Iterator[KaggleStandIn]:
    """Serve ``state`` on 127.0.0.1:7777 for the duration of the block."""
    with running(_handler(state), PORT):
        yield state
