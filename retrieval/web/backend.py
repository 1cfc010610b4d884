"""Adapt a :class:`~retrieval.core.GallerySearcher` (a trained model's or CLIP's) to what the
web page needs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from retrieval.core import GallerySearcher, SearchHit


class SearcherBackend:
    """A searcher's gallery, searched by text or by example image, for :func:`create_app`.

    Example images are encoded with the network that made the model's training features;
    ``weights_file`` is needed only when that network's weights were a file. ``roots`` are
    the folders the user declared (a library's); without them, the folders the gallery's
    pictures are listed in.
    """

    def __init__(
        self,
        searcher: GallerySearcher,
        *,
        weights_file: str | os.PathLike[str] | None = None,
        roots: list[Path] | None = None,
    ) -> None:
        self.searcher = searcher
        self.weights_file = weights_file
        self.paths = list(searcher.gallery.paths)
        self.codes = searcher.gallery.codes
        self._roots = roots

    def search_text(self, text: str, k: int) -> list[SearchHit]:
        return self.searcher.search(text, k)

    def image_code(self, image: Image.Image) -> np.ndarray:
        return np.asarray(self.searcher.image_code(image, weights_file=self.weights_file))

    def code_scores(self, code: np.ndarray) -> np.ndarray:
        return self.searcher.code_scores(code)

    def query_note(self, text: str) -> str | None:
        return self.searcher.query_note(text)

    def text_scores(self, text: str) -> np.ndarray:
        return self.searcher.scores([text])[0]

    def roots(self) -> list[Path]:
        """The only folders the page serves pictures from.

        Without declared roots: each folder a picture is listed in, taken as listed, so a
        symlinked picture that points elsewhere does not widen them.

        >>> from types import SimpleNamespace
        >>> gallery = SimpleNamespace(paths=[Path("/p/a/1.jpg"), Path("/p/b/2.jpg"), Path("/p/a/3.jpg")], codes=None)
        >>> SearcherBackend(SimpleNamespace(gallery=gallery)).roots()
        [PosixPath('/p/a'), PosixPath('/p/b')]
        """
        if self._roots is not None:
            return list(self._roots)
        return sorted({Path(os.path.abspath(p)).parent for p in self.paths})
