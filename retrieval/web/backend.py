"""Adapt a :class:`~retrieval.core.Searcher` to what the web page needs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from retrieval.core import Searcher, SearchHit


class SearcherBackend:
    """A searcher's gallery, searched by text or by example image, for :func:`create_app`.

    Example images are encoded with the network that made the model's training features;
    ``weights_file`` is needed only when that network's weights were a file.
    """

    def __init__(
        self, searcher: Searcher, *, weights_file: str | os.PathLike[str] | None = None
    ) -> None:
        self.searcher = searcher
        self.weights_file = weights_file
        self.paths = list(searcher.gallery.paths)
        self.codes = searcher.gallery.codes

    def search_text(self, text: str, k: int) -> list[SearchHit]:
        return self.searcher.search(text, k)

    def search_image(self, image: Image.Image, k: int) -> list[SearchHit]:
        return self.searcher.search_image(image, k, weights_file=self.weights_file)

    def text_scores(self, text: str) -> np.ndarray:
        return self.searcher.scores([text])[0]

    def roots(self) -> list[Path]:
        """The folders the gallery's pictures live in (the only ones the page serves from)."""
        if not self.paths:
            return []
        return [Path(os.path.commonpath([str(Path(p).resolve().parent) for p in self.paths]))]
