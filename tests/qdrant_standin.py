"""A local stand-in for a Qdrant server's REST API on 127.0.0.1 (a free port).

It answers the calls the real ``qdrant-client`` makes to create a collection, upsert points
and query them: points are kept in memory, a query is scored exactly (cosine or Euclidean).
It records each upsert and how many were in flight at once, so a test can check that
batches went up in parallel.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from tests.standin_http import JSONHandler, running


@dataclass
class QdrantStandIn:
    """The server's collections and what it received."""

    url: str = ""
    collections: dict[str, dict] = field(default_factory=dict)
    upserts: list[int] = field(default_factory=list)  # points per upsert request
    in_flight: int = 0
    most_in_flight: int = 0
    upsert_delay: float = 0.05  # seconds each upsert takes, so that overlap can be seen
    lock: threading.Lock = field(default_factory=threading.Lock)

    def points(self, name: str) -> dict[int, tuple[np.ndarray, dict]]:
        return self.collections[name]["points"]


def _ok(result: object) -> dict:
    return {"result": result, "status": "ok", "time": 0.0}


def _handler(state: QdrantStandIn) -> type[JSONHandler]:
    class Handler(JSONHandler):
        protocol_version = "HTTP/1.1"

        def _request(self) -> dict:
            return json.loads(self._body() or b"{}")

        def _missing(self, name: str) -> None:
            self._json(404, {"status": {"error": f"Collection `{name}` doesn't exist!"}})

        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path == "/":
                self._json(200, {"title": "qdrant - vector search engine", "version": "1.20.0"})
            elif match := re.fullmatch(r"/collections/([^/]+)/exists", path):
                self._json(200, _ok({"exists": match[1] in state.collections}))
            else:
                self._json(404, {"status": {"error": f"no route {path}"}})

        def do_PUT(self) -> None:
            path = self.path.split("?")[0]
            body = self._request()
            if match := re.fullmatch(r"/collections/([^/]+)", path):
                vectors = body["vectors"]
                state.collections[match[1]] = {
                    "size": int(vectors["size"]),
                    "distance": vectors["distance"],
                    "points": {},
                }
                self._json(200, _ok(True))
            elif match := re.fullmatch(r"/collections/([^/]+)/points", path):
                if match[1] not in state.collections:
                    return self._missing(match[1])
                with state.lock:
                    state.in_flight += 1
                    state.most_in_flight = max(state.most_in_flight, state.in_flight)
                time.sleep(state.upsert_delay)
                for point in body["points"]:
                    vector = np.asarray(point["vector"], dtype=np.float32)
                    state.points(match[1])[int(point["id"])] = (vector, point.get("payload"))
                with state.lock:
                    state.in_flight -= 1
                    state.upserts.append(len(body["points"]))
                self._json(200, _ok({"operation_id": len(state.upserts), "status": "completed"}))
            else:
                self._json(404, {"status": {"error": f"no route {path}"}})

        def do_POST(self) -> None:
            path = self.path.split("?")[0]
            match = re.fullmatch(r"/collections/([^/]+)/points/query", path)
            if not match:
                return self._json(404, {"status": {"error": f"no route {path}"}})
            if match[1] not in state.collections:
                return self._missing(match[1])
            body = self._request()
            collection = state.collections[match[1]]
            ids = sorted(collection["points"])
            matrix = np.stack([collection["points"][i][0] for i in ids])
            query = body["query"]
            query = np.asarray(query["nearest"] if isinstance(query, dict) else query, np.float32)
            if collection["distance"] == "Cosine":
                unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
                scores = unit @ (query / np.linalg.norm(query))
                order = np.argsort(-scores, kind="stable")
            else:
                scores = np.linalg.norm(matrix - query, axis=1)
                order = np.argsort(scores, kind="stable")
            limit = int(body.get("limit", 10))
            points = [
                {
                    "id": ids[j],
                    "version": 0,
                    "score": float(scores[j]),
                    "payload": collection["points"][ids[j]][1]
                    if body.get("with_payload")
                    else None,
                }
                for j in order[:limit]
            ]
            self._json(200, _ok({"points": points}))

    return Handler


@contextmanager
def serving() -> Iterator[QdrantStandIn]:
    """A running stand-in on a free port of 127.0.0.1 (``state.url``), stopped afterwards."""
    state = QdrantStandIn()
    with running(_handler(state)) as port:
        state.url = f"http://127.0.0.1:{port}"
        yield state
