"""Tags from text, and how well a description's predicted tags agree with an image's tags.

:class:`TagModel` fits one L2-regularised logistic regression per tag
(``supercategory:category``) on text features. :func:`tag_scores` compares the predicted
tag probabilities of each description with each gallery image's tags: the cosine between
the probability vector and the image's 0/1 tag vector. The retriever standardises these
scores per description and adds them to the mappers' with a weight (tag fusion).
:class:`TagIndicators` places an image's own tags beside its features instead: standardised
0/1 indicators, appended to the ``features`` image space with a weight, so that a mapper
learns to match descriptions to both at once.

Examples
--------
>>> import numpy as np
>>> X = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], dtype="float32")
>>> tags = [["animal:dog"], ["animal:dog"], ["animal:cat"], ["animal:cat"]]
>>> model = TagModel(C=10).fit(X, tags)
>>> model.classes_
['animal:cat', 'animal:dog']
>>> proba = model.predict_proba(np.array([[1, 0]], dtype="float32"))
>>> bool(proba[0, 1] > 0.5 > proba[0, 0])
True
>>> tag_scores(proba, model.binarize([["animal:dog"], ["animal:cat"], []])).argmax(axis=1).tolist()
[0]
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_array, check_is_fitted

from retrieval.arrays import unit_rows
from retrieval.config import TagConfig
from retrieval.parameters import AT_LEAST_ONE, NON_NEGATIVE, check_estimator
from retrieval.store import Arrays, Meta

_TAGS = TagConfig()


@dataclass
class _Solver:
    """The range of :class:`TagModel`'s solver setting (its other parameters are TagConfig's)."""

    max_iter: Annotated[int, AT_LEAST_ONE]


@dataclass
class _SideWeight:
    """The range of :class:`TagIndicators`' parameter."""

    weight: Annotated[float, NON_NEGATIVE]


class TagModel(BaseEstimator):
    """One L2-regularised logistic regression per tag, from text features.

    Tags seen on fewer than ``min_count`` training images, or on every image, get a
    constant probability (their training frequency) instead of a classifier. ``tags`` are
    lists of :class:`~retrieval.data.Tag` or of strings.

    Attributes
    ----------
    classes_:
        The tags, sorted.
    coef_, intercept_:
        One column / entry per tag (zero where the tag is constant).
    constant_, prior_:
        Which tags are constant, and every tag's training frequency.
    """

    def __init__(self, C: float = _TAGS.C, min_count: int = _TAGS.min_count, max_iter: int = 1000):
        self.C = C
        self.min_count = min_count
        self.max_iter = max_iter

    def _validate_params(self) -> None:
        check_estimator(self, TagConfig, _Solver)

    def fit(self, X: Any, tags: Sequence[Sequence[Any]]) -> TagModel:
        self._validate_params()
        X = check_array(X, accept_sparse="csr", dtype=np.float32)
        if X.shape[0] != len(tags):
            raise ValueError(f"X has {X.shape[0]} rows but {len(tags)} tag lists were given")
        self.classes_ = sorted({str(t) for ts in tags for t in ts})
        if not self.classes_:
            raise ValueError("no image has a tag: nothing to learn")
        Y = self.binarize(tags)
        X = sparse.csr_matrix(X)
        self.n_features_in_ = int(X.shape[1])
        self.prior_ = Y.mean(axis=0).astype(np.float32)
        self.coef_ = np.zeros((X.shape[1], len(self.classes_)), dtype=np.float32)
        self.intercept_ = np.zeros(len(self.classes_), dtype=np.float32)
        self.constant_ = np.zeros(len(self.classes_), dtype=bool)
        for j in range(len(self.classes_)):
            positives = int(Y[:, j].sum())
            if positives < self.min_count or positives == len(Y):
                self.constant_[j] = True
                continue
            clf = LogisticRegression(C=self.C, max_iter=self.max_iter, solver="liblinear")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf.fit(X, Y[:, j])
            self.coef_[:, j] = clf.coef_[0]
            self.intercept_[j] = clf.intercept_[0]
        return self

    def binarize(self, tags: Sequence[Sequence[Any]]) -> np.ndarray:
        """0/1 matrix (images x known tags); tags unseen in training are ignored."""
        check_is_fitted(self, "classes_")
        return indicator_rows(tags, self.classes_)

    def predict_tags(self, X: Any, threshold: float = 0.5) -> list[list[str]]:
        """Each row's tags: those with a probability of at least ``threshold``, else the most
        probable one (tags predicted for pictures that have none).

        >>> X = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], dtype="float32")
        >>> TagModel(C=10).fit(X, [["a:dog"], ["a:dog"], ["a:cat"], ["a:cat"]]).predict_tags(X[:1])
        [['a:dog']]
        """
        proba = self.predict_proba(X)
        return [
            [self.classes_[j] for j in np.flatnonzero(row >= threshold)]
            or [self.classes_[int(row.argmax())]]
            for row in proba
        ]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probability of each tag (columns in ``classes_`` order), float32."""
        check_is_fitted(self, "coef_")
        X = check_array(X, accept_sparse="csr", dtype=np.float32)
        logits = np.asarray(X @ self.coef_) + self.intercept_
        proba = 1.0 / (1.0 + np.exp(-np.clip(logits, -50, 50)))
        return np.where(self.constant_, self.prior_, proba).astype(np.float32)

    def predict(self, X: Any, threshold: float = 0.5) -> list[list[str]]:
        """The tags whose probability reaches ``threshold``."""
        proba = self.predict_proba(X)
        return [[self.classes_[j] for j in np.flatnonzero(row >= threshold)] for row in proba]

    def get_state(self) -> tuple[Meta, Arrays]:
        check_is_fitted(self, "coef_")
        meta = {
            "params": self.get_params(),
            "classes": self.classes_,
            "n_features_in": self.n_features_in_,
        }
        arrays = {
            "coef": self.coef_,
            "intercept": self.intercept_,
            "constant": self.constant_.astype(np.uint8),
            "prior": self.prior_,
        }
        return meta, arrays

    @classmethod
    def from_state(cls, meta: Meta, arrays: Mapping[str, np.ndarray]) -> TagModel:
        model = cls(**meta["params"])
        model.classes_ = [str(c) for c in meta["classes"]]
        model.n_features_in_ = int(meta["n_features_in"])
        model.coef_ = np.asarray(arrays["coef"], dtype=np.float32)
        model.intercept_ = np.asarray(arrays["intercept"], dtype=np.float32)
        model.constant_ = np.asarray(arrays["constant"]).astype(bool)
        model.prior_ = np.asarray(arrays["prior"], dtype=np.float32)
        if model.coef_.shape != (model.n_features_in_, len(model.classes_)):
            raise ValueError("stored tag model: coefficients do not match the classes")
        return model


class TagRidge:
    """Tags from image features in one closed-form fit: ridge regression onto the 0/1 tag
    indicators (a score per tag, about a probability), for pictures that have no tags.

    Fitting costs one ``d x d`` solve whatever the number of tags (one logistic regression per
    tag took minutes on 6,000 pictures and 161 tags).

    >>> X = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], dtype="float32")
    >>> TagRidge(alpha=0.1).fit(X, [["a:dog"], ["a:dog"], ["a:cat"], ["a:cat"]]).predict_tags(X[2:3])
    [['a:cat']]
    """

    def __init__(self, alpha: float = 100.0) -> None:
        self.alpha = float(alpha)

    def fit(self, X: np.ndarray, tags: Sequence[Sequence[Any]]) -> TagRidge:
        X = np.asarray(X, np.float64)
        self.classes_ = sorted({str(t) for ts in tags for t in ts})
        T = indicator_rows(tags, self.classes_).astype(np.float64)
        self.x_mean_ = X.mean(axis=0)
        t_mean = T.mean(axis=0)
        Xc = X - self.x_mean_
        gram = Xc.T @ Xc + self.alpha * np.eye(X.shape[1])
        self.coef_ = np.linalg.solve(gram, Xc.T @ (T - t_mean)).astype(np.float32)
        self.intercept_ = t_mean.astype(np.float32)
        self.x_mean_ = self.x_mean_.astype(np.float32)
        return self

    def binarize(self, tags: Sequence[Sequence[Any]]) -> np.ndarray:
        """0/1 matrix (images x known tags); tags unseen in training are ignored."""
        return indicator_rows(tags, self.classes_)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Each tag's score for each row, clipped to [0, 1]."""
        scores = (np.asarray(X, np.float32) - self.x_mean_) @ self.coef_ + self.intercept_
        return np.clip(scores, 0.0, 1.0)

    predict_tags = TagModel.predict_tags

    def predict_over(self, X: Any, classes: Sequence[str]) -> np.ndarray:
        """:meth:`predict_proba` with its columns in the order of ``classes`` (another tag
        model's), zeros for tags this one never saw.

        >>> X = np.array([[1, 0], [0, 1]], dtype="float32")
        >>> ridge = TagRidge(alpha=0.1).fit(X, [["dog"], ["cat"]])
        >>> ridge.predict_over(X[:1], ["owl", "dog"]).round(1).tolist()
        [[0.0, 1.0]]
        """
        return self.align(self.predict_proba(X), classes)

    def align(self, scores: np.ndarray, classes: Sequence[str]) -> np.ndarray:
        """Scores over ``classes_`` (from :meth:`predict_proba`) with their columns in the
        order of ``classes``; zeros for tags this model never saw."""
        column = {c: j for j, c in enumerate(self.classes_)}
        out = np.zeros((len(scores), len(classes)), dtype=np.float32)
        for k, name in enumerate(classes):
            if name in column:
                out[:, k] = scores[:, column[name]]
        return out

    def get_state(self) -> tuple[Meta, Arrays]:
        meta = {"kind": "tag_ridge", "alpha": self.alpha, "classes": list(self.classes_)}
        arrays = {"coef": self.coef_, "intercept": self.intercept_, "x_mean": self.x_mean_}
        return meta, arrays

    @classmethod
    def from_state(cls, meta: Meta, arrays: Mapping[str, np.ndarray]) -> TagRidge:
        model = cls(alpha=float(meta["alpha"]))
        model.classes_ = [str(c) for c in meta["classes"]]
        model.coef_ = np.asarray(arrays["coef"], np.float32)
        model.intercept_ = np.asarray(arrays["intercept"], np.float32)
        model.x_mean_ = np.asarray(arrays["x_mean"], np.float32)
        if model.coef_.shape[1] != len(model.classes_):
            raise ValueError(f"{model.coef_.shape[1]} tag columns for {len(model.classes_)} tags")
        return model


def indicator_rows(tags: Sequence[Sequence[Any]], classes: Sequence[str]) -> np.ndarray:
    """0/1 rows (images x ``classes``) marking each image's tags; other tags are ignored.

    >>> indicator_rows([["a", "c"], []], ["a", "b"]).tolist()
    [[1.0, 0.0], [0.0, 0.0]]
    """
    column = {c: j for j, c in enumerate(classes)}
    out = np.zeros((len(tags), len(classes)), dtype=np.float32)
    for i, ts in enumerate(tags):
        for t in ts:
            j = column.get(str(t))
            if j is not None:
                out[i, j] = 1.0
    return out


def tag_scores(proba: np.ndarray, gallery_tags: np.ndarray) -> np.ndarray:
    """Cosine between each description's tag probabilities and each image's 0/1 tags.

    ``proba`` is (queries, tags), ``gallery_tags`` (images, tags) from
    :meth:`TagModel.binarize`. An image without tags scores 0.
    """
    proba = np.asarray(proba, dtype=np.float32)
    gallery_tags = np.asarray(gallery_tags, dtype=np.float32)
    if proba.shape[1] != gallery_tags.shape[1]:
        raise ValueError(f"{proba.shape[1]} tag columns vs {gallery_tags.shape[1]} in the gallery")
    return unit_rows(proba) @ unit_rows(gallery_tags).T


class TagIndicators(BaseEstimator):
    """An image's tags as standardised, weighted 0/1 indicators over the training tags.

    ``fit`` learns the tag vocabulary and each tag's mean and standard deviation over the
    training images; ``transform`` gives ``weight * (indicator - mean) / (std + 0.001)``.
    Unknown tags are ignored, and images without tag lists (``None``) get the training
    mean: zeros, which leave only the image features to match.

    >>> side = TagIndicators(weight=2.0).fit([["a"], ["a", "b"], [], ["b"]])
    >>> side.classes_
    ['a', 'b']
    >>> side.transform([["a"], ["c"]]).round(2).tolist()
    [[2.0, -2.0], [-2.0, -2.0]]
    >>> side.transform(None, n=1).tolist()
    [[0.0, 0.0]]
    """

    def __init__(self, weight: float = 1.0) -> None:
        self.weight = weight

    def _validate_params(self) -> None:
        check_estimator(self, _SideWeight)

    def fit(self, tags: Sequence[Sequence[Any]]) -> TagIndicators:
        self._validate_params()
        self.classes_ = sorted({str(t) for ts in tags for t in ts})
        if not self.classes_:
            raise ValueError("no image has a tag: nothing to learn")
        indicators = indicator_rows(tags, self.classes_)
        self.mean_ = indicators.mean(axis=0).astype(np.float32)
        self.scale_ = (self.weight / (indicators.std(axis=0) + 1e-3)).astype(np.float32)
        return self

    def transform(
        self, tags: Sequence[Sequence[Any]] | None, *, n: int | None = None
    ) -> np.ndarray:
        """Tag lists -> (images, tags) rows; ``tags=None`` gives ``n`` rows of zeros."""
        check_is_fitted(self, "scale_")
        if tags is None:
            if n is None:
                raise ValueError("without tag lists, give the number of images n")
            return np.zeros((n, len(self.classes_)), dtype=np.float32)
        return self.transform_scores(indicator_rows(tags, self.classes_))

    def transform_scores(self, scores: np.ndarray) -> np.ndarray:
        """Rows of scores in ``[0, 1]`` over ``classes_`` (soft, predicted tags), standardised
        as indicators are.

        >>> side = TagIndicators().fit([["a"], []])
        >>> side.transform_scores(np.array([[0.5]])).round(2).tolist()
        [[0.0]]
        """
        check_is_fitted(self, "scale_")
        return ((np.asarray(scores, np.float32) - self.mean_) * self.scale_).astype(np.float32)

    def get_state(self) -> tuple[Meta, Arrays]:
        check_is_fitted(self, "scale_")
        meta = {"weight": float(self.weight), "classes": self.classes_}
        return meta, {"mean": self.mean_, "scale": self.scale_}

    @classmethod
    def from_state(cls, meta: Meta, arrays: Mapping[str, np.ndarray]) -> TagIndicators:
        side = cls(weight=float(meta["weight"]))
        side.classes_ = [str(c) for c in meta["classes"]]
        side.mean_ = np.asarray(arrays["mean"], dtype=np.float32)
        side.scale_ = np.asarray(arrays["scale"], dtype=np.float32)
        if side.mean_.shape != (len(side.classes_),) or side.scale_.shape != side.mean_.shape:
            raise ValueError("stored tag indicators: arrays do not match the classes")
        return side
