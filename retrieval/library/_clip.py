"""Search a library of pictures embedded by CLIP: cosine of unit rows, no trained bundle.

:class:`ClipSearcher` answers as :class:`~retrieval.core.Searcher` does (``search``,
``search_image``, ``scores``, ``query_note``, ``gallery``), so ``retrieval search`` and the
web page (:class:`~retrieval.web.SearcherBackend`) take either.

Example
-------
>>> searcher = ClipSearcher(ClipEncoder("clip_vit_base_patch32"), gallery)   # doctest: +SKIP
>>> searcher.search("a dog on a beach", k=3)                                # doctest: +SKIP
[SearchHit(index=4, id='/home/me/Pictures/dog.jpg', path=PosixPath('...'), score=0.31), ...]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from retrieval.core import Gallery, SearchHit
from retrieval.features.clip import ClipEncoder
from retrieval.metrics import top_k


class ClipSearcher:
    """Searches ``gallery`` (its ``code`` rows: CLIP picture embeddings) with ``encoder``."""

    def __init__(self, encoder: ClipEncoder, gallery: Gallery) -> None:
        if gallery.codes.shape[1] != encoder.embedding_dim:
            raise ValueError(
                f"the gallery's rows have {gallery.codes.shape[1]} values, the CLIP preset "
                f"{encoder.preset} makes {encoder.embedding_dim}"
            )
        self.encoder = encoder
        self.gallery = gallery

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """Cosine of every text with every gallery picture, ``(n_texts, n_gallery)``."""
        return self.encoder.encode_texts(texts) @ self.gallery.codes.T

    def search(self, text: str, k: int = 20) -> list[SearchHit]:
        """The ``k`` gallery pictures that best match ``text``."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("the query is empty")
        return self._hits(self.scores([text])[0], k)

    def code_scores(self, code: np.ndarray) -> np.ndarray:
        """Cosine of an embedding with every gallery picture, ``(n_gallery,)``."""
        code = np.asarray(code, np.float32).reshape(-1)
        code = code / max(float(np.linalg.norm(code)), 1e-12)
        return self.gallery.codes @ code

    def image_scores(self, image: Any, *, weights_file: Any = None) -> np.ndarray:
        """Cosine of an example picture (a path or a PIL image) with every gallery picture."""
        return self.code_scores(self.image_code(image, weights_file=weights_file))

    def image_code(self, image: Any, *, weights_file: Any = None) -> np.ndarray:
        """An example picture's embedding, the query that :meth:`code_scores` scores."""
        if weights_file is not None:
            raise ValueError("--weights-file is for ResNet-50 bundles; a CLIP library needs none")
        return self.encoder.encode_images([image])[0]

    def search_code(self, code: np.ndarray, k: int = 20) -> list[SearchHit]:
        """The ``k`` gallery pictures closest to an embedding (cosine)."""
        return self._hits(self.code_scores(code), k)

    def search_image(self, image: Any, k: int = 20, *, weights_file: Any = None) -> list[SearchHit]:
        """The ``k`` gallery pictures closest to an example picture (a path or a PIL image)."""
        return self._hits(self.image_scores(image, weights_file=weights_file), k)

    def query_note(self, text: str) -> str | None:
        """A warning when the query is longer than CLIP reads (its end is ignored), else ``None``."""
        room = self.encoder.sequence_length - 2  # the start and end tokens
        if self.encoder.token_count(text) > room:
            return f"CLIP reads the first {room} tokens of a query; the rest of {text[:40]!r}... is ignored"
        return None

    def _hits(self, scores: np.ndarray, k: int) -> list[SearchHit]:
        best = top_k(scores[None], k)[0]
        return [
            SearchHit(int(i), self.gallery.ids[i], self.gallery.paths[i], float(scores[i]))
            for i in best
        ]
