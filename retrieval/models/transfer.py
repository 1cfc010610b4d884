"""Text transfer: a picture described by the descriptions of its nearest training pictures.

The image -> text direction, without a fitted map. When the image features mean something
(EfficientNet-Lite's ImageNet features), a gallery picture's nearest training pictures in the
image code show the same kind of thing, and their descriptions say what it is.
:class:`TextTransfer` keeps the training pictures' unit codes and their unit text features;
a gallery picture gets its ``k`` nearest training pictures with softmax weights
(``exp(cosine / temperature)``), and a description's score for it is the weighted sum of its
cosines with those pictures' descriptions. The retriever standardises the score per query and
adds it with a weight chosen on held-out training items, as it does the tag score.

The gallery keeps, per picture, its neighbours and their weights (the ``transfer`` and
``transfer_weights`` spaces); the model keeps the training codes and text rows (sparse).

Examples
--------
>>> import numpy as np
>>> codes = np.array([[1, 0], [0, 1]], "float32")          # two training pictures
>>> texts = np.array([[1, 0, 0], [0, 1, 0]], "float32")    # and their descriptions
>>> transfer = TextTransfer(k=1).fit(codes, texts)
>>> neighbours, weights = transfer.neighbours(np.array([[0.9, 0.1]], "float32"))
>>> neighbours.tolist(), weights.tolist()
([[0.0]], [[1.0]])
>>> transfer.scores(np.array([[2, 0, 0], [0, 0, 1]], "float32"), neighbours, weights).tolist()
[[1.0], [0.0]]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import sparse

from retrieval.arrays import unit_rows
from retrieval.store import Arrays, Meta


def _unit_sparse(X: Any) -> sparse.csr_matrix:
    """Rows of ``X`` scaled to unit length, as a float32 CSR matrix (zero rows stay zero)."""
    X = sparse.csr_matrix(X, dtype=np.float32)
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    return sparse.diags(1.0 / np.maximum(norms, 1e-12)).astype(np.float32) @ X


class TextTransfer:
    """Descriptions of a picture's nearest training pictures (see the module docstring)."""

    kind = "transfer"

    def __init__(self, k: int = 50, temperature: float = 0.05, space: str = "code") -> None:
        if space not in ("code", "features"):
            raise ValueError(f"space must be 'code' or 'features', got {space!r}")
        if k < 1:
            raise ValueError(f"k must be 1 or more, got {k!r}")
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature!r}")
        self.k = int(k)
        self.temperature = float(temperature)
        self.space = space

    def fit(self, codes: np.ndarray, X: Any) -> TextTransfer:
        """Keep the training pictures' ``codes`` (n, c) and their text features ``X`` (n, D)."""
        codes = np.asarray(codes, np.float32)
        if codes.ndim != 2 or codes.shape[0] != X.shape[0]:
            raise ValueError(f"{codes.shape[0]} codes for {X.shape[0]} descriptions")
        self.codes_ = unit_rows(codes)
        self.texts_ = _unit_sparse(X)
        return self

    def neighbours(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each picture's ``k`` nearest training pictures (positions, as float32) and weights."""
        similarity = unit_rows(np.asarray(codes, np.float32)) @ self.codes_.T
        k = min(self.k, similarity.shape[1])
        nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        chosen = np.take_along_axis(similarity, nearest, axis=1)
        weights = np.exp((chosen - chosen.max(axis=1, keepdims=True)) / self.temperature)
        weights /= weights.sum(axis=1, keepdims=True)
        return nearest.astype(np.float32), weights.astype(np.float32)

    def scores(self, X: Any, neighbours: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Scores of descriptions (text features ``X``) for pictures with these neighbours,
        (n_texts, n_pictures)."""
        n, k = neighbours.shape
        rows = np.repeat(np.arange(n), k)
        columns = np.asarray(neighbours, np.int64).ravel()
        if n and (columns.min() < 0 or columns.max() >= self.texts_.shape[0]):
            raise ValueError("a neighbour outside the training pictures")
        mixing = sparse.csr_matrix(
            (np.asarray(weights, np.float32).ravel(), (rows, columns)),
            shape=(n, self.texts_.shape[0]),
        )
        borrowed = mixing @ self.texts_  # (pictures, D): their neighbours' descriptions
        queries = _unit_sparse(X)
        return np.asarray((queries @ borrowed.T).todense(), dtype=np.float32)

    def get_state(self) -> tuple[Meta, Arrays]:
        texts = self.texts_
        meta = {
            "kind": self.kind,
            "k": self.k,
            "temperature": self.temperature,
            "space": self.space,
            "text_shape": list(texts.shape),
        }
        arrays = {
            "codes": self.codes_,
            "text_data": texts.data.astype(np.float32),
            "text_indices": texts.indices.astype(np.int32),
            "text_indptr": texts.indptr.astype(np.int64),
        }
        return meta, arrays

    @classmethod
    def from_state(cls, meta: Meta, arrays: Mapping[str, np.ndarray]) -> TextTransfer:
        transfer = cls(int(meta["k"]), float(meta["temperature"]), meta.get("space", "code"))
        shape = tuple(int(n) for n in meta["text_shape"])
        texts = sparse.csr_matrix(
            (arrays["text_data"], arrays["text_indices"], arrays["text_indptr"]), shape=shape
        )
        codes = np.asarray(arrays["codes"], np.float32)
        if codes.shape[0] != shape[0]:
            raise ValueError(f"{codes.shape[0]} stored codes for {shape[0]} stored descriptions")
        transfer.codes_, transfer.texts_ = codes, texts
        return transfer
