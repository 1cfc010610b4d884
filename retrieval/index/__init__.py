"""Nearest-neighbour indexes over codes: one interface, several backends.

=========  ===========================================  ======================
backend    what                                          incremental ``add``
=========  ===========================================  ======================
exact      scikit-learn ``NearestNeighbors`` (brute)     yes
hnsw       hnswlib HNSW graph (approximate)              yes
binary     1-bit codes, Hamming search, exact re-rank    yes
qdrant     Qdrant: embedded on a path, or a server URL   yes
=========  ===========================================  ======================

Example
-------
>>> import numpy as np
>>> index = make_index("exact", metric="cosine")
>>> index.add(["x", "y", "z"], np.eye(3))
>>> ids, scores = index.search(np.array([[0.0, 1.0, 0.1]]), k=2)
>>> ids.tolist()
[['y', 'z']]
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from retrieval.index._backends import BinaryIndex, ExactIndex, HNSWIndex, QdrantIndex
from retrieval.index._base import INDEX_FORMAT, IndexStateError, VectorIndex

BACKENDS: dict[str, type[VectorIndex]] = {
    "exact": ExactIndex,
    "hnsw": HNSWIndex,
    "binary": BinaryIndex,
    "qdrant": QdrantIndex,
}


def make_index(backend: str = "exact", **params: Any) -> VectorIndex:
    """An empty index of the named backend."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown index backend {backend!r}; expected one of {sorted(BACKENDS)}")
    return BACKENDS[backend](**params)


def load_index(path: str | os.PathLike[str]) -> VectorIndex:
    """Read an index folder written by ``save``."""
    path = Path(path)
    meta_path = path / "index.json"
    if not meta_path.is_file():
        raise IndexStateError(f"{path}: not an index folder (no index.json)")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get("format") != INDEX_FORMAT:
        raise IndexStateError(
            f"{meta_path}: index format {meta.get('format')!r}, this version reads {INDEX_FORMAT}"
        )
    index = make_index(meta["backend"], **meta["params"])
    index.ids_, index.dim_ = list(meta["ids"]), meta["dim"]
    index._load_state(path)
    return index


__all__ = [
    "BACKENDS",
    "BinaryIndex",
    "ExactIndex",
    "HNSWIndex",
    "IndexStateError",
    "QdrantIndex",
    "VectorIndex",
    "load_index",
    "make_index",
]
