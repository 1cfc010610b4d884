"""Adapt a :class:`~retrieval.core.GallerySearcher` (a trained model's or CLIP's) to what the
web page needs."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from retrieval.core import GallerySearcher, SearchHit
from retrieval.core.gallery import picture_folders
from retrieval.store import MANIFEST


class SearcherBackend:
    """A searcher's gallery, searched by text or by example image, for :func:`create_app`.

    Example images are encoded with the network that made the model's training features;
    ``weights_file`` is needed only when that network's weights were a file. ``roots`` are
    the folders the user declared (a library's); without them, the folders the gallery
    recorded when it was made (a bundle's), or for a gallery that recorded none, the folders
    its pictures are listed in.
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

        Without declared roots: those the gallery recorded when it was saved, so a picture
        path added to a bundle's manifest later is not served; for a gallery without them,
        each folder a picture is listed in, taken as listed, so a symlinked picture that
        points elsewhere does not widen them.

        >>> from types import SimpleNamespace
        >>> gallery = SimpleNamespace(paths=[Path("/p/a/1.jpg"), Path("/p/b/2.jpg"), Path("/p/a/3.jpg")], codes=None)
        >>> SearcherBackend(SimpleNamespace(gallery=gallery)).roots()
        [PosixPath('/p/a'), PosixPath('/p/b')]
        """
        if self._roots is not None:
            return list(self._roots)
        recorded = getattr(self.searcher.gallery, "roots", None)
        if recorded is not None:
            return list(recorded)
        return picture_folders(self.paths)


class LibraryBackend:
    """A library's pictures for :func:`create_app`, reloaded whenever ``retrieval index``
    rewrites the library: each request first checks the index's manifest (one ``stat``), so
    pictures added since start are found and removed ones are no longer offered.

    Ids are positions in the library as it was when a search answered; a refinement that
    arrives after a reload works on the new positions (search again to vote on them).
    """

    def __init__(self, library: Any, *, weights_file: str | os.PathLike[str] | None = None) -> None:
        self.library = library
        self.weights_file = weights_file
        self._signature: tuple[int, int] | None = None
        self._current: SearcherBackend | None = None
        self._lock = threading.Lock()
        self.reloads = 0
        self.current()

    def _manifest_signature(self) -> tuple[int, int] | None:
        try:
            stat = (Path(self.library.index_path) / MANIFEST).stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def current(self) -> SearcherBackend:
        """The backend over the library as it is now (reloaded if the index changed)."""
        signature = self._manifest_signature()
        with self._lock:
            if self._current is None or (signature is not None and signature != self._signature):
                searcher = self.library.searcher()
                self._current = SearcherBackend(
                    searcher, weights_file=self.weights_file, roots=self.library.roots
                )
                if self._signature is not None:
                    self.reloads += 1
                self._signature = signature
            return self._current

    @property
    def paths(self) -> list[Path]:
        return self.current().paths

    @property
    def codes(self) -> np.ndarray:
        return self.current().codes

    def search_text(self, text: str, k: int) -> list[SearchHit]:
        return self.current().search_text(text, k)

    def image_code(self, image: Image.Image) -> np.ndarray:
        return self.current().image_code(image)

    def code_scores(self, code: np.ndarray) -> np.ndarray:
        return self.current().code_scores(code)

    def query_note(self, text: str) -> str | None:
        return self.current().query_note(text)

    def text_scores(self, text: str) -> np.ndarray:
        return self.current().text_scores(text)

    def roots(self) -> list[Path]:
        return self.current().roots()
