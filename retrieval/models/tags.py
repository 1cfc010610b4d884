"""Tags from text, and fusion of tag agreement with code-space similarity.

:class:`TagPredictor` fits one logistic-regression classifier per tag
(``supercategory:category``) on text features. :func:`tag_scores` compares the
predicted tag probabilities of each description with each gallery image's tags
(cosine between the probability vector and the image's 0/1 tag vector), and
:func:`fuse_scores` blends that with the code-space similarity:
``(1 - weight) * code + weight * tags``.

Examples
--------
>>> import numpy as np
>>> X = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], dtype="float32")
>>> tags = [["animal:dog"], ["animal:dog"], ["animal:cat"], ["animal:cat"]]
>>> pred = TagPredictor(C=10).fit(X, tags)
>>> pred.classes_
['animal:cat', 'animal:dog']
>>> proba = pred.predict_proba(np.array([[1, 0]], dtype="float32"))
>>> bool(proba[0, 1] > 0.5 > proba[0, 0])
True
>>> scores = tag_scores(proba, pred.binarize([["animal:dog"], ["animal:cat"], []]))
>>> scores.argmax(axis=1).tolist()
[0]
"""

from __future__ import annotations

import os
import pickle
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from retrieval.fileio import atomic_write


def _labels(tags: Sequence[Any]) -> list[str]:
    return sorted({str(t) for t in tags})


class TagPredictor(BaseEstimator):
    """One L2-regularised logistic regression per tag, from text features.

    Tags seen on fewer than ``min_count`` training images, or on every image, get a
    constant probability (their training frequency) instead of a classifier.
    ``tags`` are lists of :class:`~retrieval.data.Tag` or of strings.
    """

    def __init__(self, C: float = 1.0, min_count: int = 2, max_iter: int = 1000):
        self.C = C
        self.min_count = min_count
        self.max_iter = max_iter

    def fit(self, X: Any, tags: Sequence[Sequence[Any]]) -> TagPredictor:
        if X.shape[0] != len(tags):
            raise ValueError(f"X has {X.shape[0]} rows but {len(tags)} tag lists were given")
        if hasattr(X, "toarray"):
            X = X.tocsr()
        elif not np.isfinite(np.asarray(X, dtype=np.float32)).all():
            raise ValueError("X holds NaN or infinite values; clean them first")
        self.classes_ = _labels(t for ts in tags for t in ts)
        if not self.classes_:
            raise ValueError("no image has a tag: nothing to learn")
        Y = self.binarize(tags)
        self.prior_ = Y.mean(axis=0)
        self.models_: list[LogisticRegression | None] = []
        for j in range(len(self.classes_)):
            positives = int(Y[:, j].sum())
            if positives < self.min_count or positives == len(Y):
                self.models_.append(None)
                continue
            clf = LogisticRegression(C=self.C, max_iter=self.max_iter)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf.fit(X, Y[:, j])
            self.models_.append(clf)
        return self

    def binarize(self, tags: Sequence[Sequence[Any]]) -> np.ndarray:
        """0/1 matrix (images x known tags); tags unseen in training are ignored."""
        check_is_fitted(self, "classes_")
        column = {c: j for j, c in enumerate(self.classes_)}
        out = np.zeros((len(tags), len(self.classes_)), dtype=np.float32)
        for i, ts in enumerate(tags):
            for t in ts:
                j = column.get(str(t))
                if j is not None:
                    out[i, j] = 1.0
        return out

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probability of each tag (columns in ``classes_`` order), float32."""
        check_is_fitted(self, "models_")
        n = X.shape[0]
        out = np.empty((n, len(self.classes_)), dtype=np.float32)
        for j, clf in enumerate(self.models_):
            out[:, j] = self.prior_[j] if clf is None else clf.predict_proba(X)[:, 1]
        return out

    def predict(self, X: Any, threshold: float = 0.5) -> list[list[str]]:
        """The tags whose probability reaches ``threshold``."""
        proba = self.predict_proba(X)
        return [[self.classes_[j] for j in np.flatnonzero(row >= threshold)] for row in proba]

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Pickle to ``path`` atomically."""
        path = Path(path)
        with atomic_write(path, "wb") as handle:
            pickle.dump(self, handle, protocol=pickle.HIGHEST_PROTOCOL)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TagPredictor:
        """A predictor written by :meth:`save` (pickle: load only files you trust)."""
        with open(path, "rb") as handle:
            model = pickle.load(handle)
        if not isinstance(model, cls):
            raise TypeError(f"{path} holds a {type(model).__name__}, not a TagPredictor")
        return model


def _unit_rows(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.where(norms > 0, norms, 1.0)


def tag_scores(proba: np.ndarray, gallery_tags: np.ndarray) -> np.ndarray:
    """Cosine between each description's tag probabilities and each image's 0/1 tags.

    ``proba`` is (queries, tags), ``gallery_tags`` (images, tags) from
    :meth:`TagPredictor.binarize`. An image without tags scores 0.
    """
    proba = np.asarray(proba, dtype=np.float32)
    gallery_tags = np.asarray(gallery_tags, dtype=np.float32)
    if proba.shape[1] != gallery_tags.shape[1]:
        raise ValueError(f"{proba.shape[1]} tag columns vs {gallery_tags.shape[1]} in the gallery")
    return _unit_rows(proba) @ _unit_rows(gallery_tags).T


def code_scores(predicted: np.ndarray, gallery_codes: np.ndarray) -> np.ndarray:
    """Cosine similarity between predicted codes (queries) and the gallery's image codes."""
    return (
        _unit_rows(np.asarray(predicted, np.float32))
        @ _unit_rows(np.asarray(gallery_codes, np.float32)).T
    )


def fuse_scores(code: np.ndarray, tags: np.ndarray, weight: float = 0.3) -> np.ndarray:
    """``(1 - weight) * code + weight * tags``; both are cosine scores of the same shape."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be in [0, 1], got {weight}")
    if np.shape(code) != np.shape(tags):
        raise ValueError(f"score shapes differ: {np.shape(code)} vs {np.shape(tags)}")
    return (1.0 - weight) * np.asarray(code, np.float32) + weight * np.asarray(tags, np.float32)
