"""TF-IDF in which a word outside the training vocabulary counts for its nearest known words.

A plain TF-IDF row drops every word that the training descriptions never used, so a query
made only of such words ("a kitten" against a vocabulary with "cat") is a zero row. Here
each unknown word that has a pretrained vector (GloVe by default) adds, to each of its
``neighbours`` most similar vocabulary words whose cosine is at least ``min_similarity``,
that cosine as a fractional count. Known words count as in :class:`TfidfEncoder`, so a
description made only of known words gets exactly its TF-IDF row.

The encoder keeps the unit vectors of its vocabulary and of the pretrained words outside it
(as float16), and finds an unknown word's neighbours when a description uses it, so
``fit`` costs no more than TF-IDF's and transforming needs neither the pretrained file nor
gensim.

Examples
--------
>>> from gensim.models import KeyedVectors
>>> kv = KeyedVectors(vector_size=2)
>>> kv.add_vectors(["cat", "dog", "kitten"], np.array([[1, 0], [0, 1], [0.9, 0.1]], "float32"))
>>> enc = NeighbourTfidfEncoder(vectors=kv).fit(["a cat", "a dog"])
>>> enc.transform(["a kitten", "a dog"]).round(3).tolist()
[[1.0, 0.0], [0.0, 1.0]]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from retrieval.arrays import unit_rows
from retrieval.config import TextConfig
from retrieval.text._encoders import (
    OnEmpty,
    TfidfEncoder,
    _as_texts,
    _check_empty,
    _json_params,
    word_vectors,
)
from retrieval.text._registry import stored_as
from retrieval.text._tokenize import Tokenizer

_TEXT = TextConfig()
_CHUNK = 4096  # unknown words compared with the vocabulary at a time


def nearest_known(
    candidates: np.ndarray, known: np.ndarray, neighbours: int, min_similarity: float
) -> tuple[np.ndarray, np.ndarray]:
    """For each unit row of ``candidates``, the ``neighbours`` rows of ``known`` with the
    highest cosine: ``(indices, cosines)``, both ``(n, neighbours)``, cosines below
    ``min_similarity`` set to 0.

    >>> idx, cos = nearest_known(np.eye(2, dtype="float32"), np.eye(2, dtype="float32"), 1, 0.5)
    >>> idx.tolist(), cos.tolist()
    ([[0], [1]], [[1.0], [1.0]])
    """
    k = min(neighbours, known.shape[0])
    indices = np.empty((len(candidates), k), dtype=np.int32)
    cosines = np.empty((len(candidates), k), dtype=np.float32)
    for start in range(0, len(candidates), _CHUNK):
        sims = candidates[start : start + _CHUNK] @ known.T
        if k < sims.shape[1]:
            top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        else:  # every known word is a neighbour
            top = np.broadcast_to(np.arange(k), sims.shape)
        indices[start : start + _CHUNK] = top
        cosines[start : start + _CHUNK] = np.take_along_axis(sims, top, axis=1)
    cosines[cosines < min_similarity] = 0.0
    return indices, cosines


@stored_as("tfidf_neighbours")
class NeighbourTfidfEncoder(BaseEstimator, TransformerMixin):
    """TF-IDF over the training vocabulary; an unknown word counts for its nearest known words.

    Parameters
    ----------
    neighbours, min_similarity:
        How many known words an unknown word counts for, and the least cosine (above 0)
        between their vectors for it to count; it counts as that cosine.
    vectors, limit:
        The word vectors that find the neighbours: ``"glove"`` (GloVe 6B 50-d), a path to
        a word2vec or gensim file, or a gensim ``KeyedVectors``; ``limit`` keeps only the
        first (most frequent) words.
    max_features, min_df, sublinear_tf, stop_words, on_empty:
        As for :class:`TfidfEncoder` (single words only). With ``sublinear_tf`` a count
        ``c`` of at least 1 becomes ``1 + log(c)``; a fractional count stays as it is.
    """

    kind = "tfidf_neighbours"

    def __init__(
        self,
        neighbours: int = _TEXT.neighbours,
        min_similarity: float = _TEXT.neighbour_similarity,
        vectors: Any = "glove",
        limit: int | None = _TEXT.glove_vocabulary,
        max_features: int | None = _TEXT.max_features,
        min_df: int | float = _TEXT.min_df,
        sublinear_tf: bool = _TEXT.sublinear_tf,
        stop_words: str | list[str] | None = "function",
        on_empty: OnEmpty = "zero",
    ) -> None:
        self.neighbours = neighbours
        self.min_similarity = min_similarity
        self.vectors = vectors
        self.limit = limit
        self.max_features = max_features
        self.min_df = min_df
        self.sublinear_tf = sublinear_tf
        self.stop_words = stop_words
        self.on_empty = on_empty

    def fit(self, texts: Sequence[str], y: object = None) -> NeighbourTfidfEncoder:
        if int(self.neighbours) < 1:
            raise ValueError(f"neighbours must be at least 1, got {self.neighbours}")
        if not 0 < self.min_similarity <= 1:
            raise ValueError(f"min_similarity must be in (0, 1], got {self.min_similarity}")
        tfidf = TfidfEncoder(
            max_features=self.max_features,
            min_df=self.min_df,
            sublinear_tf=self.sublinear_tf,
            stop_words=self.stop_words,
        ).fit(texts)
        terms = sorted(tfidf.vocabulary_, key=tfidf.vocabulary_.__getitem__)
        words, vectors = word_vectors(self.vectors, self.limit)
        row_of = {w: i for i, w in enumerate(words)}
        vectors = np.asarray(vectors)
        term_vectors = np.zeros((len(terms), vectors.shape[1]), dtype=np.float32)
        with_vector = [j for j, term in enumerate(terms) if term in row_of]
        if with_vector:
            term_vectors[with_vector] = unit_rows(vectors[[row_of[terms[j]] for j in with_vector]])
        vocabulary = set(terms)
        unknown = [i for i, w in enumerate(words) if w not in vocabulary]
        self._set_state(
            terms,
            tfidf.vectorizer_.idf_,
            term_vectors,
            [words[i] for i in unknown],
            unit_rows(vectors[unknown]).astype(np.float16),
        )
        return self

    def _set_state(
        self,
        terms: Sequence[str],
        idf: np.ndarray,
        term_vectors: np.ndarray,
        unknown_words: Sequence[str],
        unknown_vectors: np.ndarray,
    ) -> None:
        self.terms_ = list(terms)
        self.idf_ = np.asarray(idf, dtype=np.float32)
        self.term_vectors_ = np.asarray(term_vectors, dtype=np.float32)
        self.unknown_words_ = list(unknown_words)
        self.unknown_vectors_ = np.asarray(unknown_vectors, dtype=np.float16)
        if not (
            len(self.idf_) == len(self.terms_) == len(self.term_vectors_)
            and len(self.unknown_vectors_) == len(self.unknown_words_)
        ):
            raise ValueError("neighbour TF-IDF state: terms, idf and vectors differ in length")
        self.vocabulary_ = {t: i for i, t in enumerate(self.terms_)}
        self._unknown = {w: i for i, w in enumerate(self.unknown_words_)}
        self.tokenizer_ = Tokenizer(self.stop_words)

    def neighbours_of(self, words: Sequence[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The known words (column indices) each unknown word counts for, and its counts
        (the cosines); words without a vector or without a close enough neighbour are left out.

        >>> from gensim.models import KeyedVectors
        >>> kv = KeyedVectors(vector_size=2)
        >>> kv.add_vectors(["cat", "kitten"], np.array([[1, 0], [1, 0.1]], "float32"))
        >>> enc = NeighbourTfidfEncoder(vectors=kv).fit(["a cat"])
        >>> columns, counts = enc.neighbours_of(["kitten", "cat", "dog"])["kitten"]
        >>> columns.tolist(), round(float(counts[0]), 3)
        ([0], 0.995)
        """
        check_is_fitted(self, "terms_")
        rows = sorted({self._unknown[w] for w in words if w in self._unknown})
        if not rows:
            return {}
        indices, cosines = nearest_known(
            self.unknown_vectors_[rows].astype(np.float32),
            self.term_vectors_,
            int(self.neighbours),
            self.min_similarity,
        )
        found = {}
        for row, columns, counts in zip(rows, indices, cosines, strict=True):
            kept = counts > 0
            if kept.any():
                found[self.unknown_words_[row]] = (columns[kept], counts[kept])
        return found

    @property
    def dim(self) -> int:
        check_is_fitted(self, "terms_")
        return len(self.terms_)

    def _counts(self, texts: Sequence[str]) -> tuple[sparse.csr_matrix, np.ndarray]:
        """Each text's (fractional) counts over the vocabulary, and its number of tokens
        that count (known, or with a neighbour)."""
        token_lists = [self.tokenizer_(text) for text in _as_texts(texts)]
        neighbours = self.neighbours_of(
            [t for tokens in token_lists for t in tokens if t not in self.vocabulary_]
        )
        one = np.ones(1, dtype=np.float32)
        rows: list[int] = []
        columns: list[np.ndarray] = []
        values: list[np.ndarray] = []
        counted = []
        for i, tokens in enumerate(token_lists):
            n = 0
            for token in tokens:
                j = self.vocabulary_.get(token)
                if j is not None:
                    columns.append(np.array([j]))
                    values.append(one)
                elif token in neighbours:
                    columns.append(neighbours[token][0])
                    values.append(neighbours[token][1])
                else:
                    continue
                rows.extend([i] * len(columns[-1]))
                n += 1
            counted.append(n)
        shape = (len(counted), len(self.terms_))
        if not rows:
            return sparse.csr_matrix(shape, dtype=np.float32), np.array(counted, dtype=np.int64)
        matrix = sparse.csr_matrix(
            (np.concatenate(values), (np.array(rows), np.concatenate(columns))),
            shape=shape,
            dtype=np.float32,
        )
        matrix.sum_duplicates()
        matrix.eliminate_zeros()
        return matrix, np.array(counted, dtype=np.int64)

    def known_counts(self, texts: Sequence[str]) -> np.ndarray:
        """How many tokens of each text count: known words and words with a neighbour."""
        check_is_fitted(self, "terms_")
        return self._counts(texts)[1]

    def transform_sparse(self, texts: Sequence[str]) -> sparse.csr_matrix:
        check_is_fitted(self, "terms_")
        matrix, counted = self._counts(texts)
        if self.sublinear_tf:
            data = matrix.data
            big = data >= 1.0
            data[big] = 1.0 + np.log(data[big])
        matrix = matrix @ sparse.diags(self.idf_)
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        matrix = sparse.diags(1.0 / np.maximum(norms, 1e-30)) @ matrix
        _check_empty(counted, self.on_empty)
        return sparse.csr_matrix(matrix, dtype=np.float32)

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        return self.transform_sparse(texts).toarray()

    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        check_is_fitted(self, "terms_")
        meta = {
            "kind": self.kind,
            "params": _json_params(self),
            "terms": self.terms_,
            "unknown_words": self.unknown_words_,
        }
        arrays = {
            "idf": self.idf_,
            "term_vectors": self.term_vectors_,
            "unknown_vectors": self.unknown_vectors_,
        }
        return meta, arrays

    @classmethod
    def from_state(
        cls, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]
    ) -> NeighbourTfidfEncoder:
        encoder = cls(**meta["params"])
        encoder._set_state(
            meta["terms"],
            arrays["idf"],
            arrays["term_vectors"],
            meta["unknown_words"],
            arrays["unknown_vectors"],
        )
        return encoder
