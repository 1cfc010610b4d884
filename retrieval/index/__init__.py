"""Nearest-neighbour indexes over codes: one interface, several backends.

=========  ===========================================  ======================
backend    what                                          incremental ``add``
=========  ===========================================  ======================
exact      scikit-learn ``NearestNeighbors`` (brute)     yes
hnsw       hnswlib HNSW graph (approximate)              yes
binary     1-bit codes, Hamming search, exact re-rank    yes
qdrant     Qdrant: embedded on a path, or a server URL   yes
=========  ===========================================  ======================

Examples
--------
>>> import numpy as np
>>> index = make_index("exact", metric="cosine")
>>> index.add(["x", "y", "z"], np.eye(3))
>>> ids, scores = index.search(np.array([[0.0, 1.0, 0.1]]), k=2)
>>> ids.tolist()
[['y', 'z']]
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from retrieval import store
from retrieval.index._backends import BinaryIndex, ExactIndex, HNSWIndex, QdrantIndex
from retrieval.index._base import BACKENDS, KIND, IndexStateError, VectorIndex
from retrieval.progress import progress_bar


def make_index(backend: str = "exact", **params: Any) -> VectorIndex:
    """An empty index of the named backend."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown index backend {backend!r}; expected one of {sorted(BACKENDS)}")
    return BACKENDS[backend](**params)


def add_shards(
    index: VectorIndex,
    folder: str | os.PathLike[str],
    *,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
    progress: bool | None = False,
    total: int | None = None,
) -> int:
    """Add every finished shard of a feature-shard folder to ``index``, one shard at a time.

    Ids are the pictures' paths; ``transform`` maps a shard's rows first (a model's image code,
    for instance). The index makes room for every row first (counted from the shards'
    metadata), so memory stays at one shard plus the index, with no copy of the index as it
    grows. Returns the number of rows added. ``progress``: a bar of pictures on stderr
    (``None``: when stderr is a terminal). ``total``: the shards' row count, when the caller
    has already read it from their metadata (:func:`~retrieval.features.shards.shard_row_count`).

    >>> add_shards(make_index("hnsw"), "out/shards", transform=model.image_coder.transform)  # doctest: +SKIP
    """
    from retrieval.features.shards import read_shards, shard_row_count

    total = shard_row_count(folder) if total is None else total
    index.reserve(len(index) + total)
    added = 0
    disable = None if progress is None else not progress
    with progress_bar(total=total, desc="indexing shards", unit="pic", disable=disable) as bar:
        for shard in read_shards(folder):
            if not shard.paths:
                continue
            rows = shard.features.astype(np.float32)
            index.add([str(p) for p in shard.paths], transform(rows) if transform else rows)
            added += len(shard.paths)
            bar.update(len(shard.paths))
    return added


def load_index(path: str | os.PathLike[str]) -> VectorIndex:
    """Read an index folder written by ``save`` (plain data: nothing is unpickled)."""
    stored = store.load(path, KIND)
    state = store.state_of(stored)
    if "backend" in state:  # folders written before the state protocol: the same fields
        state = {**state, "kind": state["backend"]}
    try:
        if state["kind"] not in BACKENDS:
            raise KeyError(f"unknown backend {state['kind']!r}")
        return BACKENDS[state["kind"]].from_state(state, stored.arrays, folder=Path(path))
    except (KeyError, TypeError) as exc:
        raise store.StoreError(
            f"{Path(path) / store.MANIFEST}: not a complete index ({exc})"
        ) from None


__all__ = [
    "BACKENDS",
    "BinaryIndex",
    "ExactIndex",
    "HNSWIndex",
    "IndexStateError",
    "QdrantIndex",
    "VectorIndex",
    "add_shards",
    "load_index",
    "make_index",
]
