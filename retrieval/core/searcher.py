"""Search one gallery with a trained model: text queries, image queries, whole-gallery rankings.

A :class:`Searcher` binds a :class:`~retrieval.core.model.TrainedModel` to a
:class:`~retrieval.core.gallery.Gallery`. It computes the gallery's keys once, and, for a
large gallery with an approximate index configured, builds the index on first use and
keeps it under the index settings it was built with (changing the settings builds another).

Examples
--------
>>> searcher = Searcher(model, gallery)                     # doctest: +SKIP
>>> searcher.search("a red apple", k=5)                     # doctest: +SKIP
[SearchHit(index=12, id='340', path=PosixPath('...'), score=0.64), ...]
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from retrieval.arrays import unit_rows, z_scores
from retrieval.config import IndexConfig
from retrieval.core.gallery import Gallery
from retrieval.core.model import CONCEPTS, HUBNESS, TrainedModel, z_sample
from retrieval.errors import refuse_single_string
from retrieval.index import make_index
from retrieval.metrics import top_k
from retrieval.models.query_set import dual_softmax
from retrieval.models.tags import tag_scores


class SearchHit(NamedTuple):
    """One search result: gallery position, image id, file path and score (higher is better)."""

    index: int
    id: str
    path: Path
    score: float


SCALE = "z-score"
"""What every search's hits are scored in, whatever searches and whatever the query (a text,
an example picture, both, or a refinement): the z-score of the picture's similarity over the
gallery, how many standard deviations above the gallery's mean it is for this query. Compare
scores within one query; the raw similarities are :meth:`GallerySearcher.scores` and
:meth:`GallerySearcher.code_scores`."""


class GallerySearcher:
    """What every searcher of one gallery answers, whatever embeds its queries: a trained
    model (:class:`Searcher`) or CLIP (:class:`~retrieval.library.ClipSearcher`).

    A subclass gives :meth:`scores` (texts against the gallery) and :meth:`image_code` (an
    example picture in the space of the gallery's codes); text, code and example-image search,
    and the hits, are shared.
    """

    gallery: Gallery

    def scores(self, texts: Sequence[str], *, as_a_set: bool = False) -> np.ndarray:
        """Similarity of every description with every gallery picture, (n_texts, n_gallery)."""
        raise NotImplementedError

    def places(self, text: str) -> bool:
        """Whether the searcher can place ``text`` at all (a trained model needs one known
        word; without one, every score says nothing about the query)."""
        return True

    def image_code(self, image: Any, *, weights_file: Any = None) -> np.ndarray:
        """An example picture's code, the query that :meth:`code_scores` scores."""
        raise NotImplementedError

    def query_note(self, text: str) -> str | None:
        """A warning about a query the searcher cannot read in full, else ``None``."""
        return None

    def search(self, text: str, k: int = 20) -> list[SearchHit]:
        """The ``k`` gallery pictures that best match ``text``."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("the query is empty")
        return self._text_hits(text, k)

    def _text_hits(self, text: str, k: int) -> list[SearchHit]:
        return self._hits(self.scores([text])[0], k)

    @cached_property
    def _unit_codes(self) -> np.ndarray:
        return unit_rows(self.gallery.codes)

    def code_scores(self, code: np.ndarray) -> np.ndarray:
        """Cosine of a code with every gallery picture's code, ``(n_gallery,)``."""
        code = unit_rows(np.asarray(code, np.float32).reshape(1, -1))
        return (code @ self._unit_codes.T)[0]

    def image_scores(self, image: Any, *, weights_file: Any = None) -> np.ndarray:
        """Cosine of an example picture (a path or a PIL image) with every gallery picture, in
        the codes' space, ``(n_gallery,)``."""
        return self.code_scores(self.image_code(image, weights_file=weights_file))

    def search_code(self, code: np.ndarray, k: int = 20) -> list[SearchHit]:
        """The ``k`` gallery pictures closest to a code (cosine)."""
        return self._hits(self.code_scores(code), k)

    def search_image(self, image: Any, k: int = 20, *, weights_file: Any = None) -> list[SearchHit]:
        """The ``k`` gallery pictures closest to an example picture (see :meth:`image_scores`)."""
        return self._hits(self.image_scores(image, weights_file=weights_file), k)

    def _hits(self, scores: np.ndarray, k: int, rows: np.ndarray | None = None) -> list[SearchHit]:
        """The best ``k`` of ``scores`` (over the whole gallery, or over the candidate
        ``rows`` an index found), scored as z-scores over what was scored."""
        scores = z_scores(scores)
        best = top_k(scores[None], k)[0]
        positions = best if rows is None else rows[best]
        return [
            SearchHit(int(i), self.gallery.ids[i], self.gallery.paths[i], float(scores[j]))
            for j, i in zip(best, positions, strict=True)
        ]


class Searcher(GallerySearcher):
    """Searches ``gallery`` with ``model``; ``index`` (default: the model's config) picks candidates."""

    def __init__(
        self, model: TrainedModel, gallery: Gallery, *, index: IndexConfig | None = None
    ) -> None:
        missing = set(model.spaces) - set(gallery.spaces)
        if missing:
            raise ValueError(
                f"the gallery lacks the image spaces {sorted(missing)} the model needs"
            )
        self.model = model
        self.gallery = gallery
        self.index_config = index if index is not None else model.config.index
        self._indexes: dict[str, Any] = {}

    @cached_property
    def _keys(self) -> list[np.ndarray]:
        return self.model.gallery_keys(self.gallery)

    @cached_property
    def _tags(self) -> np.ndarray | None:
        return self.model.tag_matrix(self.gallery)

    @cached_property
    def _sample(self) -> np.ndarray | None:
        return z_sample(len(self.gallery))

    # ------------------------------------------------------------------ scores
    def _components(self, X: np.ndarray, rows: np.ndarray | None) -> list[np.ndarray]:
        queries = self.model.query_keys(X)
        out = []
        for q, keys in zip(queries, self._keys, strict=True):
            out.append(q @ (keys if rows is None else keys[rows]).T)
        if self.model.hubness is not None:
            penalties = self.gallery.spaces[HUBNESS]
            penalties = penalties if rows is None else penalties[rows]
            out = [self.model.hubness.corrected(c, penalties, i) for i, c in enumerate(out)]
        if self._tags is not None:
            tags = self._tags if rows is None else self._tags[rows]
            out.append(tag_scores(self.model.tag_model.predict_proba(X), tags))
        if self.model.concepts is not None:
            concepts = self.gallery.spaces[CONCEPTS]
            out.append(self.model.concepts.scores(X, concepts if rows is None else concepts[rows]))
        if self.model.transfer is not None:
            out.append(self.model.transfer_scores(X, self.gallery.spaces, rows))
        return out

    def _fused(self, X: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        components = self._components(X, rows)
        weights = self.model.weights(self.gallery, self._tags is not None)
        if len(components) == 1:
            return components[0]
        sample = self._sample
        if rows is None and sample is None:
            reference = None
        else:
            reference = self._components(
                X, np.arange(len(self.gallery)) if sample is None else sample
            )
        return self.model.fuse(components, weights, reference)

    def scores(self, texts: Sequence[str], *, as_a_set: bool = False) -> np.ndarray:
        """Similarity of every description with every gallery image, (n_texts, n_gallery).

        ``as_a_set``: the descriptions are ranked together (a test part), so the model's
        query-set normalisation applies, when it has one (``model.query_set``).
        """
        scores = self._fused(self.model.text_features(texts))
        if as_a_set and self.model.query_set > 0:
            scores = dual_softmax(scores, self.model.query_set)
        return scores

    def rank(self, texts: Sequence[str], k: int | None = None) -> np.ndarray:
        """For each description of a set ranked together, gallery positions from best to
        worst (the first ``k`` if given)."""
        scores = self.scores(texts, as_a_set=True)
        return top_k(scores, k or scores.shape[1])

    # ------------------------------------------------------------------ queries
    def _text_hits(self, text: str, k: int) -> list[SearchHit]:
        X = self.model.text_features([text])
        rows = self._candidates(self.model.query_keys(X)[0][0], k)
        return self._hits(self._fused(X, rows)[0], k, rows)

    def places(self, text: str) -> bool:
        return int(self.model.known_words([text])[0]) > 0

    def query_note(self, text: str) -> str | None:
        """A warning for a query the model cannot place (no known word), else ``None``.

        Such a query is encoded as zeros, so its ranking says nothing about it.
        """
        if int(self.model.known_words([text])[0]) == 0:
            stop = self.model.stop_words_in(text)
            if stop:
                return (
                    f"every word of {text[:80]!r} is a stop word ({', '.join(stop[:8])}), which "
                    "the text features leave out; the results do not reflect it"
                )
            return f"no word of {text[:80]!r} is known to the model; the results do not reflect it"
        return None

    def image_code(self, image: Any, *, weights_file: Any = None) -> np.ndarray:
        """An example picture's code, encoded by the network that made the model's training
        features (``weights_file`` only when that network's weights were a file)."""
        return self.model.encode_images([image], weights_file=weights_file)[0]

    def rank_texts(
        self, image: Any, texts: Sequence[str], *, weights_file: Any = None
    ) -> list[tuple[str, float]]:
        """Candidate descriptions for a picture, best first: retrieval-style captioning.

        ``image`` is a path or a PIL image, or a code (for models whose mappers all work in
        the code space).
        """
        refuse_single_string(texts)
        if isinstance(image, np.ndarray):
            if "features" in self.model.spaces:
                raise ValueError(
                    "rank_texts with a code needs a model whose mappers all work in the code "
                    "space; give the picture itself instead"
                )
            spaces = {"code": np.asarray(image, np.float32).reshape(1, -1)}
        else:
            features = self.model.image_features([image], weights_file=weights_file)
            spaces = self.model.image_spaces(features)
        single = Gallery(["query"], [Path("query")], spaces)
        # one image against many texts: each component is standardised over the texts
        components = [
            c.T for c in self.model.component_scores(self.model.text_features(texts), single)
        ]
        # one picture: its predicted tags, if the model has a tag predictor
        scores = self.model.fuse(components, self.model.weights(single))[0]
        order = np.argsort(-scores, kind="stable")
        return [(texts[i], float(scores[i])) for i in order]

    # ------------------------------------------------------------------ candidates
    def _candidates(self, query_key: np.ndarray, k: int) -> np.ndarray | None:
        """Gallery positions worth scoring for one query; ``None`` means all of them."""
        settings = self.index_config
        wanted = max(k, settings.candidates)
        if settings.backend == "exact" or len(self.gallery) <= wanted:
            return None
        key = json.dumps(dataclasses.asdict(settings), sort_keys=True, default=str)
        if key not in self._indexes:
            index = make_index(settings.backend, metric=settings.metric, **settings.params)
            index.add(range(len(self.gallery)), self._keys[0])
            self._indexes[key] = index
        ids, _ = self._indexes[key].search(query_key[None], wanted)
        return np.array([int(i) for i in ids[0]], dtype=np.int64)
