"""Search a library of pictures embedded by CLIP: cosine of unit rows, no trained bundle.

:class:`ClipSearcher` is a :class:`~retrieval.core.GallerySearcher`, as the trained model's
:class:`~retrieval.core.Searcher` is, so ``retrieval search`` and the web page
(:class:`~retrieval.web.SearcherBackend`) take either.

Examples
--------
>>> searcher = ClipSearcher(ClipEncoder("clip_vit_base_patch32"), gallery)   # doctest: +SKIP
>>> searcher.search("a dog on a beach", k=3)                                # doctest: +SKIP
[SearchHit(index=4, id='/home/me/Pictures/dog.jpg', path=PosixPath('...'), score=0.31), ...]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from retrieval.core import Gallery, GallerySearcher
from retrieval.features.clip import ClipEncoder


class ClipSearcher(GallerySearcher):
    """Searches ``gallery`` (its ``code`` rows: CLIP picture embeddings) with ``encoder``."""

    def __init__(self, encoder: ClipEncoder, gallery: Gallery) -> None:
        if gallery.codes.shape[1] != encoder.embedding_dim:
            raise ValueError(
                f"the gallery's rows have {gallery.codes.shape[1]} values, the CLIP preset "
                f"{encoder.preset} makes {encoder.embedding_dim}"
            )
        self.encoder = encoder
        self.gallery = gallery

    def scores(self, texts: Sequence[str], *, as_a_set: bool = False) -> np.ndarray:
        """Cosine of every text with every gallery picture, ``(n_texts, n_gallery)`` (a set of
        texts is scored as each alone: CLIP has no query-set normalisation)."""
        return self.encoder.encode_texts(texts) @ self._unit_codes.T

    def image_code(self, image: Any, *, weights_file: Any = None) -> np.ndarray:
        """An example picture's embedding, the query that :meth:`code_scores` scores."""
        if weights_file is not None:
            raise ValueError("--weights-file is for ResNet-50 bundles; a CLIP library needs none")
        return self.encoder.encode_images([image])[0]

    def query_note(self, text: str) -> str | None:
        """A warning when the query is longer than CLIP reads (its end is ignored), else ``None``."""
        room = self.encoder.sequence_length - 2  # the start and end tokens
        if self.encoder.token_count(text) > room:
            return f"CLIP reads the first {room} tokens of a query; the rest of {text[:40]!r}... is ignored"
        return None
