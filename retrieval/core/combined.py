"""Combined queries: texts and example pictures added to or taken from one query, as in
``"a dog" + beach.jpg - "indoors"``.

Each term is scored against the whole gallery on its own (a text by the model's text
scores, a picture by its cosine with every gallery picture), its scores are standardised
over the gallery (mean 0, standard deviation 1) so that texts and pictures weigh alike, and
the combined score is the weighted sum: a subtracted term has a negative weight. Its hits are
scored, as every search's, by their z-score over the gallery.

Works with any searcher that has ``scores(texts)``, ``image_scores(image, weights_file=...)``
and a ``gallery`` with ``ids`` and ``paths`` (a bundle's :class:`retrieval.core.Searcher`, a
CLIP library's searcher).

Examples
--------
>>> terms = [QueryTerm.parse("a dog"), QueryTerm.parse("beach.jpg"), QueryTerm.parse("indoors", -1)]
>>> [(term.text, str(term.image) if term.image else None, term.weight) for term in terms]
[('a dog', None, 1.0), (None, 'beach.jpg', 1.0), ('indoors', None, -1.0)]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.arrays import z_scores
from retrieval.core.searcher import SearchHit
from retrieval.features import IMAGE_SUFFIXES
from retrieval.metrics import top_k


@dataclass(frozen=True)
class QueryTerm:
    """One part of a combined query: a ``text`` or an ``image`` (a path), with a ``weight``
    (negative: subtracted)."""

    text: str | None = None
    image: Path | None = None
    weight: float = 1.0

    def __post_init__(self) -> None:
        if (self.text is None) == (self.image is None):
            raise ValueError("a query term is a text or an image, exactly one of them")
        if self.text is not None and not self.text.strip():
            raise ValueError("a text query term is empty")
        if not math.isfinite(self.weight) or self.weight == 0:
            raise ValueError(f"a query term's weight must be a non-zero number, got {self.weight}")

    @classmethod
    def parse(cls, term: str, weight: float = 1.0) -> QueryTerm:
        """A term as typed: a path ending in a picture's suffix (``.jpg``, ``.png``, ...) is an
        example image, anything else a text."""
        stripped = term.strip()
        if Path(stripped).suffix.lower() in IMAGE_SUFFIXES:
            return cls(image=Path(stripped), weight=float(weight))
        return cls(text=term, weight=float(weight))


def check_terms(terms: Sequence[QueryTerm]) -> None:
    """Refuse an empty query, one of subtractions only, and image terms whose file is missing
    (each named), before anything is loaded."""
    if not terms:
        raise ValueError("the query has no terms")
    if all(term.weight < 0 for term in terms):
        raise ValueError("a query of subtracted terms only matches nothing; add a text or image")
    for term in terms:
        if term.image is not None and not term.image.is_file():
            raise FileNotFoundError(f"{term.image}: no such image file (a term of the query)")


def combined_scores(
    searcher: Any, terms: Sequence[QueryTerm], *, weights_file: Any = None
) -> np.ndarray:
    """The weighted sum of each term's gallery scores, standardised over the gallery,
    ``(n_gallery,)``."""
    check_terms(terms)
    total = np.zeros(len(searcher.gallery.ids), np.float64)
    for term in terms:
        if term.text is not None:
            scores = searcher.scores([term.text])[0]
        else:
            scores = searcher.image_scores(term.image, weights_file=weights_file)
        total += term.weight * z_scores(scores)
    return total


def search_combined(
    searcher: Any, terms: Sequence[QueryTerm], k: int = 20, *, weights_file: Any = None
) -> list[SearchHit]:
    """The ``k`` gallery pictures with the best combined score (see :func:`combined_scores`),
    each scored as a z-score over the gallery, as every search answers."""
    scores = z_scores(combined_scores(searcher, terms, weights_file=weights_file))
    gallery = searcher.gallery
    return [
        SearchHit(int(i), gallery.ids[i], gallery.paths[i], float(scores[i]))
        for i in top_k(scores[None], k)[0]
    ]
