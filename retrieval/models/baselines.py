"""Linear baselines from text features to image features: ridge regression and PLS.

``tfidf_ridge()`` is the course's sample baseline: TF-IDF of the description, ridge
regression to the 2048 pool5 features, then nearest neighbours among the images.
Both classes take features ``X`` (dense or sparse) and targets ``Y`` like
:class:`~retrieval.models.regressor.TextToCodeRegressor`, and compose with the text
encoders in a scikit-learn ``Pipeline``.

Examples
--------
>>> import numpy as np
>>> X = np.eye(4, dtype="float32")
>>> Y = np.arange(8, dtype="float32").reshape(4, 2)
>>> RidgeBaseline(alpha=1e-6).fit(X, Y).predict(X[:1]).round(3).tolist()
[[0.0, 1.0]]
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.cross_decomposition import PLSRegression
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.utils.validation import check_is_fitted

from retrieval.fileio import atomic_write
from retrieval.text import TfidfEncoder


def _check(name: str, values: Any, *, allow_sparse: bool) -> Any:
    if hasattr(values, "toarray"):
        if not allow_sparse:
            values = values.toarray()
        else:
            data = values.data
            if not np.isfinite(data).all():
                raise ValueError(f"{name} holds NaN or infinite values; clean them first")
            return values.astype(np.float32)
    array = np.asarray(values, dtype=np.float32)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-d array, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} holds NaN or infinite values; clean them first")
    return array


class _Saveable:
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Pickle the fitted model to ``path`` atomically."""
        path = Path(path)
        with atomic_write(path, "wb") as handle:
            pickle.dump(self, handle, protocol=pickle.HIGHEST_PROTOCOL)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]):
        """A model written by :meth:`save` (pickle: load only files you trust)."""
        with open(path, "rb") as handle:
            model = pickle.load(handle)
        if not isinstance(model, cls):
            raise TypeError(f"{path} holds a {type(model).__name__}, not a {cls.__name__}")
        return model


class RidgeBaseline(_Saveable, RegressorMixin, BaseEstimator):
    """Multi-output ridge regression (scikit-learn ``Ridge``); sparse ``X`` is fine."""

    def __init__(self, alpha: float = 1.0):
        self.alpha = alpha

    def fit(self, X: Any, Y: Any) -> RidgeBaseline:
        X = _check("X", X, allow_sparse=True)
        Y = _check("Y", Y, allow_sparse=False)
        if X.shape[0] != Y.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but Y has {Y.shape[0]}")
        self.model_ = Ridge(alpha=self.alpha).fit(X, Y)
        return self

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        return np.asarray(self.model_.predict(_check("X", X, allow_sparse=True)), np.float32)


class PLSBaseline(_Saveable, RegressorMixin, BaseEstimator):
    """Partial least squares regression with ``n_components`` latent directions.

    ``n_components`` is capped at the rank the data allow (rows - 1 and the feature count).
    """

    def __init__(self, n_components: int = 64, max_iter: int = 500, scale: bool = False):
        self.n_components = n_components
        self.max_iter = max_iter
        self.scale = scale

    def fit(self, X: Any, Y: Any) -> PLSBaseline:
        X = _check("X", X, allow_sparse=False)
        Y = _check("Y", Y, allow_sparse=False)
        if X.shape[0] != Y.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but Y has {Y.shape[0]}")
        k = max(1, min(self.n_components, X.shape[0] - 1, X.shape[1]))
        self.n_components_ = k
        self.model_ = PLSRegression(n_components=k, max_iter=self.max_iter, scale=self.scale)
        self.model_.fit(X, Y)
        return self

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        return np.asarray(self.model_.predict(_check("X", X, allow_sparse=False)), np.float32)


def tfidf_ridge(alpha: float = 1.0, max_features: int | None = 20000) -> Pipeline:
    """The sample baseline as one estimator: descriptions -> TF-IDF -> ridge -> image features."""
    return make_pipeline(TfidfEncoder(max_features=max_features, sparse=True), RidgeBaseline(alpha))


def tfidf_pls(n_components: int = 64, max_features: int | None = 20000) -> Pipeline:
    """Descriptions -> TF-IDF -> PLS regression -> image features."""
    return make_pipeline(TfidfEncoder(max_features=max_features), PLSBaseline(n_components))
