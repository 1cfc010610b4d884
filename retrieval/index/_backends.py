"""Index backends: exact (scikit-learn), HNSW (hnswlib), 1-bit codes, Qdrant."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.arrays import unit_rows
from retrieval.index._base import (
    IndexStateError,
    Metric,
    VectorIndex,
    append_rows,
    registered,
)


@registered
class ExactIndex(VectorIndex):
    """Exact search with scikit-learn's ``NearestNeighbors`` (brute force); incremental ``add``.

    Examples
    --------
    >>> index = ExactIndex()
    >>> index.add(["a", "b"], [[1.0, 0.0], [0.0, 1.0]])
    >>> ids, scores = index.search([[0.9, 0.1]], k=1)
    >>> ids.tolist(), round(float(scores[0, 0]), 3)
    ([['a']], 0.994)
    """

    backend = "exact"

    def __init__(self, metric: Metric = "cosine") -> None:
        super().__init__(metric)
        self._vectors = np.zeros((0, 0), dtype=np.float32)
        self._buffer = self._vectors  # _vectors is its first len(self) rows
        self._room = 0

    def reserve(self, total: int) -> None:
        self._room = max(self._room, int(total))

    def _fit(self) -> None:
        from sklearn.neighbors import NearestNeighbors

        self._model = NearestNeighbors(metric=self.metric, algorithm="brute").fit(self._vectors)

    def add(self, ids: Sequence[object], vectors: Any) -> None:
        ids, matrix = self._check_add(ids, vectors)
        self._buffer = append_rows(self._buffer, len(self.ids_), matrix, self._room)
        self.ids_.extend(ids)
        self._vectors = self._buffer[: len(self.ids_)]
        self._fit()

    def search(self, vectors: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries, k = self._check_search(vectors, k)
        distances, rows = self._model.kneighbors(queries, n_neighbors=k)
        scores = 1.0 - distances if self.metric == "cosine" else -distances
        return self._ids_array(rows), scores.astype(np.float32)

    def _state_arrays(self) -> dict[str, np.ndarray]:
        return {"vectors": self._vectors}

    def _restore(self, folder: Path, arrays: Mapping[str, np.ndarray]) -> None:
        self._vectors = np.asarray(arrays["vectors"], dtype=np.float32)
        self._buffer = self._vectors
        if len(self._vectors):  # an empty index is fitted by its first add
            self._fit()


@registered
class HNSWIndex(VectorIndex):
    """Approximate search with hnswlib's HNSW graph; incremental ``add`` (the graph grows).

    ``M`` and ``ef_construction`` trade build time for recall; ``ef`` (>= k) trades query time
    for recall.
    """

    backend = "hnsw"

    def __init__(
        self,
        metric: Metric = "cosine",
        M: int = 16,
        ef_construction: int = 200,
        ef: int = 100,
        threads: int = -1,
        seed: int = 0,
    ) -> None:
        super().__init__(metric)
        self.M, self.ef_construction, self.ef, self.threads, self.seed = (
            M,
            ef_construction,
            ef,
            threads,
            seed,
        )
        self._graph = None
        self._room = 0

    def reserve(self, total: int) -> None:
        self._room = max(self._room, int(total))
        if self._graph is not None and self._room > self._graph.get_max_elements():
            self._graph.resize_index(self._room)

    def params(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "M": self.M,
            "ef_construction": self.ef_construction,
            "ef": self.ef,
            "threads": self.threads,
            "seed": self.seed,
        }

    def _space(self) -> str:
        return "cosine" if self.metric == "cosine" else "l2"

    def add(self, ids: Sequence[object], vectors: Any) -> None:
        import hnswlib

        ids, matrix = self._check_add(ids, vectors)
        if self._graph is None:
            self._graph = hnswlib.Index(space=self._space(), dim=self.dim_)
            self._graph.init_index(
                max_elements=max(1024, len(matrix), self._room),
                M=self.M,
                ef_construction=self.ef_construction,
                random_seed=self.seed,
            )
        needed = len(self.ids_) + len(matrix)
        if needed > self._graph.get_max_elements():
            self._graph.resize_index(max(needed, 2 * self._graph.get_max_elements()))
        labels = np.arange(len(self.ids_), needed)
        self._graph.add_items(matrix, labels, num_threads=self.threads)
        self.ids_.extend(ids)

    def search(self, vectors: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries, k = self._check_search(vectors, k)
        self._graph.set_ef(max(self.ef, k))
        rows, distances = self._graph.knn_query(queries, k=k, num_threads=self.threads)
        scores = 1.0 - distances if self.metric == "cosine" else -np.sqrt(np.maximum(distances, 0))
        return self._ids_array(rows.astype(np.int64)), scores.astype(np.float32)

    def _write_files(self, folder: Path) -> None:
        if self._graph is not None:  # an empty index has no graph yet
            self._graph.save_index(str(folder / "hnsw.bin"))

    def _restore(self, folder: Path, arrays: Mapping[str, np.ndarray]) -> None:
        import hnswlib

        if not self.ids_:
            self._graph = None
            return
        graph_file = folder / "hnsw.bin"
        if not graph_file.is_file():
            raise IndexStateError(f"{graph_file}: missing (the index folder is incomplete)")
        self._graph = hnswlib.Index(space=self._space(), dim=self.dim_)
        self._graph.load_index(str(graph_file), max_elements=len(self.ids_))


@registered
class BinaryIndex(VectorIndex):
    """1-bit codes: the signs of the centred vectors, searched by Hamming distance; the best
    ``candidates`` are re-ranked exactly. Memory per vector: ``dim / 8`` bytes for the codes
    (plus the float vectors kept for re-ranking unless ``keep_vectors=False``).
    """

    backend = "binary"

    def __init__(
        self, metric: Metric = "cosine", candidates: int = 200, keep_vectors: bool = True
    ) -> None:
        super().__init__(metric)
        self.candidates, self.keep_vectors = candidates, keep_vectors
        self._codes = np.zeros((0, 0), dtype=np.uint64)
        self._vectors = np.zeros((0, 0), dtype=np.float32)
        self._code_buffer, self._vector_buffer = self._codes, self._vectors
        self._room = 0
        self.centre_: np.ndarray | None = None

    def reserve(self, total: int) -> None:
        self._room = max(self._room, int(total))

    def params(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "candidates": self.candidates,
            "keep_vectors": self.keep_vectors,
        }

    def _encode(self, matrix: np.ndarray) -> np.ndarray:
        bits = np.packbits((matrix - self.centre_) > 0, axis=1)
        padded = np.zeros((len(bits), -(-bits.shape[1] // 8) * 8), dtype=np.uint8)
        padded[:, : bits.shape[1]] = bits
        return padded.view(np.uint64)

    def add(self, ids: Sequence[object], vectors: Any) -> None:
        ids, matrix = self._check_add(ids, vectors)
        if self.metric == "cosine":
            matrix = unit_rows(matrix)
        if self.centre_ is None:
            self.centre_ = matrix.mean(axis=0)
        count = len(self.ids_)
        self._code_buffer = append_rows(self._code_buffer, count, self._encode(matrix), self._room)
        if self.keep_vectors:
            self._vector_buffer = append_rows(self._vector_buffer, count, matrix, self._room)
        self.ids_.extend(ids)
        self._codes = self._code_buffer[: len(self.ids_)]
        if self.keep_vectors:
            self._vectors = self._vector_buffer[: len(self.ids_)]

    def hamming(self, queries: np.ndarray) -> np.ndarray:
        """Hamming distances ``(n_queries, n_items)`` between query codes and the index."""
        if self.metric == "cosine":
            queries = unit_rows(queries)
        codes = self._encode(queries)
        return np.bitwise_count(codes[:, None, :] ^ self._codes[None, :, :]).sum(axis=2)

    def search(self, vectors: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries, k = self._check_search(vectors, k)
        n_candidates = min(len(self), max(k, self.candidates))
        ids = np.empty((len(queries), k), dtype=object)
        scores = np.empty((len(queries), k), dtype=np.float32)
        for row, query in enumerate(queries):
            distance = self.hamming(query[None])[0]
            candidates = np.argpartition(distance, n_candidates - 1)[:n_candidates]
            if self.keep_vectors:
                q = unit_rows(query[None])[0] if self.metric == "cosine" else query
                exact = (
                    self._vectors[candidates] @ q
                    if self.metric == "cosine"
                    else -np.linalg.norm(self._vectors[candidates] - q, axis=1)
                )
            else:
                exact = -distance[candidates].astype(np.float32)
            best = np.argsort(-exact, kind="stable")[:k]
            ids[row] = self._ids_array(candidates[best])
            scores[row] = exact[best]
        return ids, scores

    def memory_bytes(self) -> int:
        return int(self._codes.nbytes + (self._vectors.nbytes if self.keep_vectors else 0))

    def _state_arrays(self) -> dict[str, np.ndarray]:
        centre = np.zeros(0, np.float32) if self.centre_ is None else self.centre_
        return {"codes": self._codes, "vectors": self._vectors, "centre": centre}

    def _restore(self, folder: Path, arrays: Mapping[str, np.ndarray]) -> None:
        self._codes = np.asarray(arrays["codes"], dtype=np.uint64)
        self._vectors = np.asarray(arrays["vectors"], dtype=np.float32)
        self._code_buffer, self._vector_buffer = self._codes, self._vectors
        centre = np.asarray(arrays["centre"], dtype=np.float32)
        self.centre_ = centre if centre.size else None  # an empty index has no centre yet


@registered
class QdrantIndex(VectorIndex):
    """Qdrant through ``qdrant-client``: embedded in this process by default, or a server (or
    cluster) at ``url``. Points carry the string id as payload; ``add`` is incremental.

    An embedded index keeps its vectors in memory and is saved as plain arrays, which a load
    puts into a new embedded collection (Qdrant's own on-disk store is never read). A server
    index keeps its points on the server; saving writes only the ids. Points go up in batches
    of ``batch_size``; to a server, ``upload_workers`` batches at a time (threads: the upload
    waits on the network, not on this process).
    """

    backend = "qdrant"

    def __init__(
        self,
        metric: Metric = "cosine",
        url: str | None = None,
        collection: str = "retrieval",
        api_key: str | None = None,
        upload_workers: int = 1,
        batch_size: int = 1000,
    ) -> None:
        super().__init__(metric)
        if upload_workers < 1 or batch_size < 1:
            raise ValueError(
                f"upload_workers and batch_size must be at least 1, got {upload_workers} and "
                f"{batch_size}"
            )
        self.url, self.collection, self.api_key = url, collection, api_key
        self.upload_workers, self.batch_size = int(upload_workers), int(batch_size)
        self._client = None
        self._vectors = np.zeros((0, 0), dtype=np.float32)

    def params(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "url": self.url,
            "collection": self.collection,
            "upload_workers": self.upload_workers,
            "batch_size": self.batch_size,
        }

    def client(self):
        if self._client is None:
            try:
                from qdrant_client import QdrantClient
            except ImportError:
                raise IndexStateError(
                    "the qdrant backend needs qdrant-client: pip install 'retrieval[qdrant]'"
                ) from None
            self._client = (
                QdrantClient(location=":memory:")
                if self.url is None
                else QdrantClient(url=self.url, api_key=self.api_key)
            )
        return self._client

    @contextmanager
    def _server(self) -> Iterator[None]:
        """Errors of the Qdrant server (unreachable, or refusing a request) as one
        :class:`IndexStateError` that names it."""
        from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

        try:
            yield
        except (ResponseHandlingException, UnexpectedResponse) as exc:
            reason = str(exc)
            if isinstance(exc, UnexpectedResponse):  # the server's own words, on one line
                try:
                    said = json.loads(exc.content)["status"]["error"]
                except (ValueError, KeyError, TypeError):
                    said = exc.reason_phrase
                reason = f"HTTP {exc.status_code}: {said}"
            where = self.url or "the embedded store"
            raise IndexStateError(
                f"Qdrant at {where}, collection {self.collection!r}: {reason}"
            ) from exc

    def add(self, ids: Sequence[object], vectors: Any) -> None:
        ids, matrix = self._check_add(ids, vectors)
        with self._server():
            self._upsert(len(self.ids_), ids, matrix)
        if self.url is None:
            self._vectors = matrix if not len(self._vectors) else np.vstack([self._vectors, matrix])
        self.ids_.extend(ids)

    def _upsert(self, start: int, ids: Sequence[str], matrix: np.ndarray) -> None:
        from qdrant_client import models

        client = self.client()
        if not client.collection_exists(self.collection):
            distance = models.Distance.COSINE if self.metric == "cosine" else models.Distance.EUCLID
            client.create_collection(
                self.collection,
                vectors_config=models.VectorParams(size=int(matrix.shape[1]), distance=distance),
            )

        def upload(offset: int) -> None:
            chunk = range(offset, min(offset + self.batch_size, len(ids)))
            points = [
                models.PointStruct(id=start + i, vector=matrix[i].tolist(), payload={"id": ids[i]})
                for i in chunk
            ]
            client.upsert(self.collection, points=points)

        offsets = range(0, len(ids), self.batch_size)
        if self.url is None or self.upload_workers == 1 or len(offsets) == 1:
            for offset in offsets:
                upload(offset)
            return
        with ThreadPoolExecutor(self.upload_workers) as pool:
            list(pool.map(upload, offsets))  # the first failed batch's error is raised

    def search(self, vectors: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries, k = self._check_search(vectors, k)
        ids = np.empty((len(queries), k), dtype=object)
        scores = np.empty((len(queries), k), dtype=np.float32)
        for row, query in enumerate(queries):
            with self._server():
                found = self.client().query_points(self.collection, query=query.tolist(), limit=k)
            points = found.points
            ids[row] = [self.ids_[p.id] for p in points]
            scores[row] = [p.score if self.metric == "cosine" else -p.score for p in points]
        return ids, scores

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _state_arrays(self) -> dict[str, np.ndarray]:
        return {"vectors": self._vectors} if self.url is None else {}

    def _restore(self, folder: Path, arrays: Mapping[str, np.ndarray]) -> None:
        self._client = None
        if self.url is None:
            self._vectors = np.asarray(arrays["vectors"], dtype=np.float32)
            if len(self._vectors):
                self._upsert(0, self.ids_, self._vectors)
