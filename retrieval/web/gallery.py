"""Adapt a trained :class:`~retrieval.pipeline.Retriever` to what the web page needs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from retrieval.web.app import Hit


class RetrieverGallery:
    """The retriever's current gallery, searched by text or example image.

    ``weights`` is the ResNet-50 weights used for example images (``"imagenet"``,
    ``None`` for random initialisation, or a file path); it must match the weights
    the gallery's features were extracted with.
    """

    def __init__(self, retriever, *, weights: str | None = "imagenet") -> None:
        self.retriever = retriever
        self.weights = weights
        self.paths = list(retriever.gallery_.paths)
        self.codes = retriever.gallery_.codes

    def search_text(self, text: str, k: int) -> list[Hit]:
        return [Hit(h.index, h.score) for h in self.retriever.search(text, k)]

    def search_image(self, image: Image.Image, k: int) -> list[Hit]:
        return [
            Hit(h.index, h.score)
            for h in self.retriever.search_image(image, k, weights=self.weights)
        ]

    def text_scores(self, text: str) -> np.ndarray:
        return self.retriever.scores([text])[0]

    def roots(self) -> list[Path]:
        """The folders the gallery's pictures live in (the only ones the page serves from)."""
        if not self.paths:
            return []
        return [Path(os.path.commonpath([str(Path(p).resolve().parent) for p in self.paths]))]
