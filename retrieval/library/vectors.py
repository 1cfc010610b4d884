"""A vector index of a collection's feature shards under a bundle, built shard by shard and
searched by text.

The index holds each picture's key under the bundle's first mapper (what its text queries
are compared with), so a text query is one nearest-neighbour search in any backend of
:mod:`retrieval.index`: an HNSW graph or 1-bit codes on this machine, or a Qdrant server or
cluster for collections beyond it. The fused parts of a full search (tags, the concept
bridge, the other mappers) are left out, which is what lets the collection be searched
without holding it. Scores are z-scores, as every search's: the mapper's cosine similarity
standardised by its mean and spread over a fixed sample of the collection's keys (stored
with the index), as a full search standardises over a large gallery.

>>> index = index_shards(model, "runs/demo/bundle", "runs/archive", backend="hnsw")  # doctest: +SKIP
>>> search_index(model, index, ["a red apple"], k=5)[0][:1]  # doctest: +SKIP
[('/home/me/archive/apple.jpg', 3.2)]
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.core import TrainedModel
from retrieval.core.model import Z_SAMPLE
from retrieval.errors import DataFormatError
from retrieval.features.shards import require_network, shard_row_count
from retrieval.index import VectorIndex, add_shards, make_index

KEYS = "first mapper's gallery keys"
"""What an index built here holds (its ``info["vectors"]``)."""
SAMPLE = "z_sample"
"""The ``info_arrays`` entry of the keys that standardise scores."""


def picture_keys(model: TrainedModel, rows: np.ndarray) -> np.ndarray:
    """The unit-length keys of feature ``rows`` under the model's first mapper."""
    first = model.members[0]
    spaces = model.image_spaces(rows)
    return first.mapper.unit_gallery_keys(spaces[first.space]).astype(np.float32)


def index_shards(
    model: TrainedModel,
    bundle: str | os.PathLike[str],
    shards: str | os.PathLike[str],
    *,
    backend: str = "hnsw",
    progress: bool | None = None,
    **params: Any,
) -> VectorIndex:
    """A ``backend`` index (``params`` go to it) of every picture in a shard folder, keyed by
    path, with the keys of ``model`` (loaded from ``bundle``, whose path the index records).
    The shards must come from the network the bundle was trained on."""
    require_network(shards, model.feature_record)
    index = make_index(backend, metric="cosine", **params)
    index.info = {
        "vectors": KEYS,
        "bundle": str(Path(bundle).resolve()),
        "features": model.feature_record,
        "shards": str(Path(shards).resolve()),
    }
    total = shard_row_count(shards)
    wanted = np.sort(np.random.default_rng(0).choice(total, min(total, Z_SAMPLE), replace=False))
    sample: list[np.ndarray] = []
    seen = 0

    def keys(rows: np.ndarray) -> np.ndarray:
        nonlocal seen
        out = picture_keys(model, rows)
        mine = wanted[(wanted >= seen) & (wanted < seen + len(rows))] - seen
        sample.append(out[mine])
        seen += len(rows)
        return out

    add_shards(index, shards, transform=keys, progress=progress, total=total)
    index.info_arrays[SAMPLE] = np.concatenate(sample) if sample else np.zeros((0, 1), np.float32)
    return index


def search_index(
    model: TrainedModel, index: VectorIndex, texts: list[str], *, k: int = 20
) -> list[list[tuple[str, float]]]:
    """The ``k`` best (path, z-score) of each description, best first. ``index`` must hold
    the keys of this model (:func:`index_shards`)."""
    if index.info.get("vectors") != KEYS or index.info.get("features") != model.feature_record:
        raise DataFormatError(
            f"the index holds {index.info.get('vectors') or 'vectors of unknown origin'} made "
            f"with the bundle {index.info.get('bundle')}, not keys of this bundle; build it "
            "with `retrieval index --from-shards DIR --backend ...` and this bundle"
        )
    queries = model.query_keys(model.text_features(texts))[0].astype(np.float32)
    ids, scores = index.search(queries, k)
    reference = queries @ index.info_arrays[SAMPLE].T
    mean, std = reference.mean(axis=1, keepdims=True), reference.std(axis=1, keepdims=True)
    scores = (scores - mean) / np.maximum(std, 1e-12)
    return [
        [(str(i), float(s)) for i, s in zip(row_ids, row_scores, strict=True)]
        for row_ids, row_scores in zip(ids, scores, strict=True)
    ]
