from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.index import BinaryIndex, IndexStateError, load_index, make_index
from retrieval.store import StoreError

BACKENDS = ["exact", "hnsw", "binary", "qdrant"]


def clustered(n: int = 600, dim: int = 100, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (12, dim))
    return (centres[rng.integers(0, 12, n)] + rng.normal(0, 0.35, (n, dim))).astype(np.float32)


def build(backend: str, tmp_path: Path, metric: str = "cosine"):
    params = {"metric": metric}
    if backend == "binary":
        params["candidates"] = 300  # 1-bit codes need many candidates on tight clusters
    return make_index(backend, **params)


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int, metric: str) -> np.ndarray:
    if metric == "cosine":
        a = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
        scores = q @ a.T
    else:
        scores = -np.linalg.norm(queries[:, None, :] - vectors[None, :, :], axis=2)
    return np.argsort(-scores, axis=1)[:, :k]


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_recall_against_exact_search_and_incremental_add(
    backend: str, metric: str, tmp_path: Path
) -> None:
    vectors = clustered()
    queries = clustered(40, seed=1)
    index = build(backend, tmp_path, metric)
    ids = [f"item{i}" for i in range(len(vectors))]
    index.add(ids[:400], vectors[:400])
    index.add(ids[400:], vectors[400:])  # incremental
    assert len(index) == 600
    found, scores = index.search(queries, k=10)
    assert found.shape == scores.shape == (40, 10)
    assert np.all(np.diff(scores, axis=1) <= 1e-5)  # best first
    truth = exact_top(vectors, queries, 10, metric)
    recall = np.mean([len(set(found[i]) & {ids[j] for j in truth[i]}) / 10 for i in range(40)])
    assert recall >= {"exact": 1.0, "hnsw": 0.95, "qdrant": 0.95, "binary": 0.85}[backend], recall
    if hasattr(index, "close"):
        index.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_save_load_round_trip(backend: str, tmp_path: Path) -> None:
    vectors = clustered(200)
    index = build(backend, tmp_path)
    index.add([str(i) for i in range(200)], vectors)
    before = index.search(vectors[:5], k=5)
    if hasattr(index, "close"):
        index.close()
    index.save(tmp_path / "index")
    loaded = load_index(tmp_path / "index")
    after = loaded.search(vectors[:5], k=5)
    assert after[0].tolist() == before[0].tolist()
    np.testing.assert_allclose(after[1], before[1], rtol=1e-5, atol=1e-5)
    assert after[0][0, 0] == "0"


@pytest.mark.parametrize("backend", ["exact", "hnsw", "binary"])
def test_errors(backend: str, tmp_path: Path) -> None:
    index = build(backend, tmp_path)
    with pytest.raises(IndexStateError, match="empty"):
        index.search(np.zeros((1, 4)), k=1)
    index.add(["a", "b"], np.eye(2, 4))
    with pytest.raises(IndexStateError, match="'a' is already in the index"):
        index.add(["a"], np.ones((1, 4)))
    with pytest.raises(ValueError, match="3 dimensions, the index has 4"):
        index.search(np.zeros((1, 3)), k=1)
    with pytest.raises(ValueError, match="NaN"):
        index.add(["c"], np.full((1, 4), np.nan))
    assert index.search(np.eye(1, 4), k=10)[0].shape == (1, 2)  # k capped at the index size


def test_an_index_is_stored_by_the_state_protocol_and_the_earlier_layout_still_loads(
    tmp_path: Path,
) -> None:
    from retrieval import store
    from retrieval.index._base import KIND

    index = make_index("exact")
    index.add(["a", "b", "c"], np.eye(3, 4))
    index.save(tmp_path / "now")
    state = store.load(tmp_path / "now", KIND).meta["state"]
    assert (state["kind"], state["ids"], state["dim"]) == ("exact", ["a", "b", "c"], 4)
    # the layout written before: the same fields at the manifest's top level, "backend" the tag
    meta, arrays = index.get_state()
    legacy = {"backend": meta["kind"], **{k: v for k, v in meta.items() if k != "kind"}}
    store.save(tmp_path / "before", KIND, legacy, arrays)
    for folder in ("now", "before"):
        ids, _ = load_index(tmp_path / folder).search(np.eye(1, 4, 1), k=1)
        assert ids.tolist() == [["b"]]


def test_unknown_backend_and_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown index backend 'faiss'"):
        make_index("faiss")
    with pytest.raises(StoreError, match="no manifest.json"):
        load_index(tmp_path)


def test_binary_codes_are_compact_and_hamming_is_right() -> None:
    index = BinaryIndex(keep_vectors=False)
    vectors = clustered(100, dim=128)
    index.add([str(i) for i in range(100)], vectors)
    assert index.memory_bytes() == 100 * 128 // 8
    distances = index.hamming(vectors[:3])
    assert distances.shape == (3, 100)
    assert (distances[np.arange(3), np.arange(3)] == 0).all()
    bits = (index._encode(index.centre_[None] + 1.0) != 0).sum()
    assert bits > 0


@pytest.mark.parametrize("backend", ["exact", "binary"])
def test_reserved_room_is_filled_in_place_not_copied(backend: str) -> None:
    """With room reserved for every vector, adding them in parts never copies what is held."""
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(10, 6)).astype(np.float32)
    index = make_index(backend)
    index.reserve(10)
    index.add([str(i) for i in range(4)], vectors[:4])
    first = index.get_state()[1]["vectors"]
    index.add([str(i) for i in range(4, 10)], vectors[4:])
    after = index.get_state()[1]["vectors"]
    assert after.shape == (10, 6) and np.shares_memory(first, after)
    ids, _ = index.search(vectors[[2, 8]], k=1)
    assert ids.tolist() == [["2"], ["8"]]


def test_every_backend_is_registered_once_and_the_config_names_exactly_them() -> None:
    import typing

    from retrieval.config import IndexConfig
    from retrieval.index import BACKENDS

    assert {tag: cls.backend for tag, cls in BACKENDS.items()} == {t: t for t in BACKENDS}
    configurable = typing.get_args(typing.get_type_hints(IndexConfig)["backend"])
    assert set(configurable) == set(BACKENDS) == {"exact", "hnsw", "binary", "qdrant"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_info_and_info_arrays_are_stored_with_the_index(backend: str, tmp_path: Path) -> None:
    index = make_index(backend)
    index.add(["a", "b"], np.eye(2, dtype=np.float32))
    index.info = {"vectors": "keys", "bundle": "/b"}
    index.info_arrays["sample"] = np.arange(6, dtype=np.float32).reshape(3, 2)
    loaded = load_index(index.save(tmp_path / "index"))
    assert loaded.info == {"vectors": "keys", "bundle": "/b"}
    np.testing.assert_array_equal(loaded.info_arrays["sample"], index.info_arrays["sample"])
    assert loaded.search(np.array([[0.0, 1.0]]), k=1)[0].tolist() == [["b"]]


def test_qdrant_upload_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="upload_workers and batch_size must be at least 1"):
        make_index("qdrant", upload_workers=0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_empty_index_is_saved_loaded_and_grows(backend: str, tmp_path: Path) -> None:
    loaded = load_index(make_index(backend).save(tmp_path / "empty"))
    assert len(loaded) == 0
    with pytest.raises(IndexStateError, match="the index is empty"):
        loaded.search(np.ones((1, 2)), k=1)
    loaded.add(["a", "b"], np.eye(2, dtype=np.float32))
    assert loaded.search(np.array([[1.0, 0.1]]), k=1)[0].tolist() == [["a"]]


def test_a_qdrant_server_that_fails_is_named_in_one_error() -> None:
    import socket

    from tests.qdrant_standin import serving

    with socket.socket() as free:  # a port nobody listens on
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    closed = make_index("qdrant", url=f"http://127.0.0.1:{port}", collection="c")
    with pytest.raises(IndexStateError, match=f"Qdrant at http://127.0.0.1:{port}, collection 'c'"):
        closed.add(["a"], np.ones((1, 2)))
    with serving() as server:
        index = make_index("qdrant", url=server.url, collection="c")
        index.add(["a", "b"], np.eye(2, dtype=np.float32))
        server.collections.clear()  # the collection is dropped on the server
        with pytest.raises(
            IndexStateError, match="collection 'c': HTTP 404: Collection `c` doesn't exist"
        ):
            index.search(np.ones((1, 2)), k=1)
