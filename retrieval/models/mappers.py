"""Mappers: every way of matching text to images, behind one interface.

A mapper is a scikit-learn estimator fitted on paired rows: ``fit(X, Y)`` with text
features ``X`` (n, d) and image representations ``Y`` (n, k): the autoencoder code or the
standardised ResNet features. It then turns texts into *query keys* and images into
*gallery keys* whose dot products, after both are scaled to unit length, are its
similarities::

    similarity(X, Y) = unit(query_keys(X)) @ unit(gallery_keys(Y)).T

A forward mapper predicts the image representation from the text (ridge, kernel ridge,
PLS, the learned network in :mod:`retrieval.models.neural`); a reverse mapper predicts the
text features from the image and compares in text space (reverse ridge); CCA projects
both sides into a shared space. Because gallery keys depend on the gallery only, a
searcher computes them once per gallery. Every fitted mapper is plain data
(``get_state`` / :func:`mapper_from_state`).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(50, 8)).astype("float32")
>>> Y = X @ rng.normal(size=(8, 4)).astype("float32")
>>> mapper = RidgeMapper(alpha=0.1).fit(X, Y)
>>> S = mapper.similarity(X[:5], Y[:5])
>>> S.shape, (S.argmax(axis=1) == np.arange(5)).all()
((5, 5), np.True_)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_array, check_is_fitted

from retrieval.arrays import dense_float32, sparse_if_mostly_zero, unit_rows
from retrieval.config import (
    CCAParams,
    KernelRidgeParams,
    PLSParams,
    ReverseRidgeParams,
    RidgeParams,
)
from retrieval.metrics import map_at_k, ranks_from_scores
from retrieval.parameters import check_estimator, estimator_init
from retrieval.store import Arrays, Meta


def _centred_gram(X: Any) -> tuple[np.ndarray, np.ndarray]:
    """The ``n x n`` Gram matrix of the centred rows of ``X`` (dense, float64), and the row mean."""
    from scipy import sparse

    mean_x = np.asarray(X.mean(axis=0), dtype=np.float64).ravel()
    if sparse.issparse(X):
        # A column in c rows costs c^2 in a sparse product: columns in more than a sixteenth
        # of the rows (dense GloVe blocks, frequent words) go through a dense BLAS product.
        X = X.tocsc()
        frequent = np.diff(X.indptr) > X.shape[0] / 16
        dense = X[:, np.flatnonzero(frequent)].toarray().astype(np.float64)
        rare = X[:, np.flatnonzero(~frequent)].tocsr()
        gram = dense @ dense.T + (rare @ rare.T).toarray()
    else:
        gram = np.asarray(X, dtype=np.float64) @ np.asarray(X, dtype=np.float64).T
    projected = np.asarray(X @ mean_x, dtype=np.float64).ravel()
    gram -= projected[:, None]  # in place: at 10,000 rows each temporary is 800 MB
    gram -= projected[None, :]
    gram += mean_x @ mean_x
    return gram, mean_x


def _centred_dual(X: Any, Yc: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """``(K + alpha I)^-1 Yc`` with ``K`` the Gram matrix of the centred rows of ``X``, and
    the row mean of ``X``: ridge regression written in the rows' span.

    The Gram matrix is formed in float64 (its centring cancels), then factorised and solved
    in float32, which is twice as fast and ample for a system shifted by ``alpha``."""
    from scipy.linalg import cho_factor, cho_solve

    gram, mean_x = _centred_gram(X)
    gram[np.diag_indices_from(gram)] += alpha
    factor = cho_factor(gram.astype(np.float32), check_finite=False, overwrite_a=True)
    dual = cho_solve(factor, np.asarray(Yc, dtype=np.float32), check_finite=False)
    return dual.astype(np.float64), mean_x


def _from_dual(X: Any, dual: np.ndarray, mean_x: np.ndarray) -> np.ndarray:
    """``Xc' dual``: coefficients in feature space from coefficients over the centred rows."""
    return np.asarray(X.T @ dual, dtype=np.float64) - np.outer(mean_x, dual.sum(axis=0))


def _centred_ridge(X: Any, Yc: np.ndarray, alpha: float) -> np.ndarray:
    """``(Xc'Xc + alpha I)^-1 Xc'Yc`` in float64, for centred targets ``Yc``: through the
    ``d x d`` normal equations when there are fewer features than rows, else through the
    ``n x n`` Gram matrix (the same solution, written in the rows' span)."""
    from scipy import sparse
    from scipy.linalg import cho_factor, cho_solve

    n, d = X.shape
    if d <= n:
        mean_x = np.asarray(X.mean(axis=0), dtype=np.float64).ravel()
        covariance = X.T @ X
        covariance = np.asarray(
            covariance.toarray() if sparse.issparse(covariance) else covariance, dtype=np.float64
        )
        covariance -= n * np.outer(mean_x, mean_x)
        covariance[np.diag_indices_from(covariance)] += alpha
        return cho_solve(cho_factor(covariance), np.asarray(X.T @ Yc, dtype=np.float64))
    return _from_dual(X, *_centred_dual(X, Yc, alpha))


def ridge_solution(X: Any, Y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients ``(d, k)`` and intercept ``(k,)`` of multi-output ridge regression of ``Y`` on ``X``.

    Many targets (the 2048 ResNet features) are solved at once through the ``n x n`` Gram
    matrix of the centred rows; a few targets of sparse rows by conjugate gradients.
    """
    from scipy import sparse
    from sklearn.linear_model import Ridge

    X = sparse_if_mostly_zero(X)
    n = X.shape[0]
    if Y.shape[1] > 256 and n <= 20000:
        mean_y = Y.mean(axis=0).astype(np.float64)
        coef = _centred_ridge(X, Y.astype(np.float64) - mean_y, alpha)
        mean_x = np.asarray(X.mean(axis=0), dtype=np.float64).ravel()
        return coef.astype(np.float32), (mean_y - mean_x @ coef).astype(np.float32)
    solver = "sparse_cg" if sparse.issparse(X) else "auto"
    model = Ridge(alpha=alpha, solver=solver, tol=1e-5).fit(X, Y)
    return np.asarray(model.coef_.T, dtype=np.float32), np.asarray(
        model.intercept_, dtype=np.float32
    )


class Mapper(BaseEstimator):
    """The interface every mapper implements (see the module docstring).

    A subclass names its hyperparameters once, as the fields of the dataclasses in
    ``parameters``: they become its ``__init__``'s keyword parameters, with their defaults,
    and ``fit`` checks them against the fields' types and ranges.
    """

    kind: ClassVar[str] = ""
    parameters: ClassVar[tuple[type, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "parameters" in cls.__dict__:
            cls.__init__ = estimator_init(*cls.parameters)  # type: ignore[method-assign]

    def _validate_params(self) -> None:
        check_estimator(self, *self.parameters)

    def fit(self, X: Any, Y: Any) -> Mapper:
        raise NotImplementedError

    def without_refinement(self) -> Mapper:
        """This mapper as it is before iterative refinement: a cheaper stand-in while fusion
        weights are chosen. The classical mappers are solved in closed form: themselves."""
        return self

    def query_keys(self, X: Any) -> np.ndarray:
        """Text features -> query keys (n, m)."""
        raise NotImplementedError

    def gallery_keys(self, Y: Any) -> np.ndarray:
        """Image representations -> gallery keys (n, m)."""
        raise NotImplementedError

    def unit_query_keys(self, X: Any) -> np.ndarray:
        """Query keys scaled so that their dot products with :meth:`unit_gallery_keys` are similarities."""
        return unit_rows(self.query_keys(X))

    def unit_gallery_keys(self, Y: Any) -> np.ndarray:
        """Gallery keys scaled so that their dot products with :meth:`unit_query_keys` are similarities."""
        return unit_rows(self.gallery_keys(Y))

    def similarity(self, X: Any, Y: Any) -> np.ndarray:
        """Cosine similarity of every text with every image, (n_texts, n_images)."""
        return self.unit_query_keys(X) @ self.unit_gallery_keys(Y).T

    def score(self, X: Any, Y: Any) -> float:
        """MAP@20 (1/r, the competition's form) of ranking the rows of ``Y`` for each row of
        ``X``, row ``i`` of ``Y`` being the image that text ``i`` describes: the score that
        scikit-learn's model selection maximises (``GridSearchCV(RidgeMapper(), ...)``)."""
        scores = self.similarity(X, Y)
        if scores.shape[0] != scores.shape[1]:
            raise ValueError(f"X has {scores.shape[0]} rows but Y has {scores.shape[1]}")
        ranks = ranks_from_scores(scores, np.arange(scores.shape[0]))
        return map_at_k(ranks)

    def _check_pairs(self, X: Any, Y: Any) -> tuple[Any, np.ndarray]:
        self._validate_params()
        X = check_array(X, accept_sparse="csr", dtype=np.float32)
        Y = check_array(Y, dtype=np.float32)
        if X.shape[0] != Y.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but Y has {Y.shape[0]}")
        if X.shape[0] < 2:
            raise ValueError("need at least two training pairs")
        self.n_features_in_ = int(X.shape[1])
        self.n_targets_ = int(Y.shape[1])
        return X, Y

    def _texts(self, X: Any) -> Any:
        check_is_fitted(self, "n_features_in_")
        X = check_array(X, accept_sparse="csr", dtype=np.float32)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} columns, the mapper expects {self.n_features_in_}"
            )
        return X

    def _images(self, Y: Any) -> np.ndarray:
        check_is_fitted(self, "n_targets_")
        Y = check_array(Y, dtype=np.float32, ensure_min_samples=0)
        if Y.shape[1] != self.n_targets_:
            raise ValueError(f"Y has {Y.shape[1]} columns, the mapper expects {self.n_targets_}")
        return Y

    # Persistence: the fitted arrays named in _STATE, the parameters, the two sizes.
    _STATE: ClassVar[tuple[str, ...]] = ()

    def get_state(self) -> tuple[Meta, Arrays]:
        check_is_fitted(self, "n_features_in_")
        meta = {
            "kind": self.kind,
            "params": self.get_params(),
            "n_features_in": self.n_features_in_,
            "n_targets": self.n_targets_,
        }
        return meta, {name: np.asarray(getattr(self, name)) for name in self._STATE}

    @classmethod
    def from_state(cls, meta: Meta, arrays: Mapping[str, np.ndarray]) -> Mapper:
        params = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["params"].items()}
        mapper = cls(**params)
        for name in cls._STATE:
            setattr(mapper, name, np.asarray(arrays[name]))
        mapper.n_features_in_ = int(meta["n_features_in"])
        mapper.n_targets_ = int(meta["n_targets"])
        return mapper


class _Affine(Mapper):
    """A forward mapper whose query keys are ``X @ coef_ + intercept_``."""

    _STATE = ("coef_", "intercept_")

    def query_keys(self, X: Any) -> np.ndarray:
        X = self._texts(X)
        return np.asarray(X @ self.coef_, dtype=np.float32) + self.intercept_

    def gallery_keys(self, Y: Any) -> np.ndarray:
        return self._images(Y)


class RidgeMapper(_Affine):
    """Ridge regression from text features to the image representation (the course's baseline).

    Sparse ``X`` is fine. Compared by cosine with the gallery's representations.
    """

    kind = "ridge"
    parameters = (RidgeParams,)

    def fit(self, X: Any, Y: Any) -> RidgeMapper:
        X, Y = self._check_pairs(X, Y)
        self.coef_, self.intercept_ = ridge_solution(X, Y, self.alpha)
        return self


class PLSMapper(_Affine):
    """Partial least squares from text features to the image representation.

    ``n_components`` is capped at the rank the data allow (rows - 1 and the feature count).
    """

    kind = "pls"
    parameters = (PLSParams,)

    def fit(self, X: Any, Y: Any) -> PLSMapper:
        import warnings

        from sklearn.cross_decomposition import PLSRegression

        X, Y = self._check_pairs(X, Y)
        X = dense_float32(X)
        k = max(1, min(self.n_components, X.shape[0] - 1, X.shape[1], Y.shape[1]))
        model = PLSRegression(n_components=k, max_iter=self.max_iter, scale=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "y residual is constant" on tiny data
            model.fit(X, Y)
        self.n_components_ = k
        self.coef_ = np.asarray(model.coef_.T, dtype=np.float32)
        self.intercept_ = np.asarray(
            model.intercept_ - model._x_mean @ model.coef_.T, dtype=np.float32
        )
        return self


class KernelRidgeMapper(Mapper):
    """Kernel ridge regression with an RBF kernel on unit-length text features.

    ``k(x, x') = exp(-gamma * |x - x'|^2)``; the query key of a text is
    ``k(x, X_train) @ dual_coef_``. Keeps the training texts' features.
    """

    kind = "kernel_ridge"
    _STATE = ("X_fit_", "dual_coef_")
    parameters = (KernelRidgeParams,)

    def _kernel(self, A: np.ndarray, B: np.ndarray) -> np.ndarray:
        distances = (
            np.square(A).sum(axis=1)[:, None] + np.square(B).sum(axis=1)[None, :] - 2.0 * A @ B.T
        )
        return np.exp(-self.gamma * np.maximum(distances, 0.0))

    def fit(self, X: Any, Y: Any) -> KernelRidgeMapper:
        X, Y = self._check_pairs(X, Y)
        self.X_fit_ = unit_rows(dense_float32(X))
        gram = self._kernel(self.X_fit_, self.X_fit_).astype(np.float64)
        gram[np.diag_indices_from(gram)] += self.alpha
        mean = Y.mean(axis=0)
        self.dual_coef_ = np.linalg.solve(gram, Y - mean).astype(np.float32)
        self.y_mean_ = mean
        return self

    def query_keys(self, X: Any) -> np.ndarray:
        X = unit_rows(dense_float32(self._texts(X)))
        return (self._kernel(X, self.X_fit_) @ self.dual_coef_).astype(np.float32)

    def gallery_keys(self, Y: Any) -> np.ndarray:
        return self._images(Y) - getattr(self, "y_mean_", 0.0)

    def get_state(self) -> tuple[Meta, Arrays]:
        meta, arrays = super().get_state()
        return meta, {**arrays, "y_mean_": self.y_mean_}

    @classmethod
    def from_state(cls, meta: Meta, arrays: Mapping[str, np.ndarray]) -> KernelRidgeMapper:
        mapper = super().from_state(meta, arrays)
        mapper.y_mean_ = np.asarray(arrays["y_mean_"])
        return mapper


class ReverseRidgeMapper(Mapper):
    """Ridge regression from the image representation to text features, ranked in text space.

    The similarity of a text ``x`` and an image ``y`` is the cosine of ``x`` and the
    predicted text features ``y @ coef_ + intercept_``. The keys are computed without
    materialising predicted text features for the gallery: the scaled query keys are
    ``[x @ coef_.T, x @ intercept_] / |x|`` and the scaled gallery keys
    ``[y, 1] / |y @ coef_ + intercept_|``, whose dot product is that cosine.
    """

    kind = "reverse_ridge"
    _STATE = ("coef_", "intercept_")
    parameters = (ReverseRidgeParams,)

    def fit(self, X: Any, Y: Any) -> ReverseRidgeMapper:
        X, Y = self._check_pairs(X, Y)
        X = sparse_if_mostly_zero(X)
        mean_y, mean_x = Y.mean(axis=0), np.asarray(X.mean(axis=0)).ravel()
        Yc = (Y - mean_y).astype(np.float64)
        gram = Yc.T @ Yc
        gram[np.diag_indices_from(gram)] += self.alpha
        # Yc's columns sum to 0, so Yc.T @ (X - mean_x) == Yc.T @ X, and X may stay sparse
        from scipy.linalg import cho_factor, cho_solve

        coef = cho_solve(cho_factor(gram), np.asarray((X.T @ Yc).T))  # (k, d)
        self.coef_ = coef.astype(np.float32)
        self.intercept_ = (mean_x - mean_y @ coef).astype(np.float32)
        return self

    def query_keys(self, X: Any) -> np.ndarray:
        return self.unit_query_keys(X)

    def gallery_keys(self, Y: Any) -> np.ndarray:
        return self.unit_gallery_keys(Y)

    def unit_query_keys(self, X: Any) -> np.ndarray:
        X = self._texts(X)
        keys = np.hstack([np.asarray(X @ self.coef_.T), np.asarray(X @ self.intercept_)[:, None]])
        norms = (
            np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
            if hasattr(X, "multiply")
            else np.linalg.norm(X, axis=1)
        )
        return (keys / np.maximum(norms, 1e-12)[:, None]).astype(np.float32)

    def unit_gallery_keys(self, Y: Any) -> np.ndarray:
        Y = self._images(Y).astype(np.float64)
        coef, intercept = self.coef_.astype(np.float64), self.intercept_.astype(np.float64)
        squared = (
            ((Y @ (coef @ coef.T)) * Y).sum(axis=1)
            + 2.0 * Y @ (coef @ intercept)
            + intercept @ intercept
        )
        keys = np.hstack([Y, np.ones((len(Y), 1))])
        return (keys / np.sqrt(np.maximum(squared, 1e-24))[:, None]).astype(np.float32)


class CCAMapper(Mapper):
    """Regularised canonical correlation analysis: both sides projected into a shared space.

    Each side is centred and whitened with its covariance shrunk towards the identity
    (``reg`` times the mean variance is added to every variance); the ``n_components``
    directions of highest correlation between the whitened sides are kept, each scaled by
    the square root of its correlation.
    """

    kind = "cca"
    _STATE = ("x_mean_", "x_weights_", "y_mean_", "y_weights_")
    parameters = (CCAParams,)

    def fit(self, X: Any, Y: Any) -> CCAMapper:
        # Written so that the wide text side is never decomposed: with Cxx, Cyy the
        # shrunk covariances and W = Cxx^-1 Cxy (a ridge solution, solved through the
        # smaller of its two forms), the canonical image directions are L^-T times the
        # eigenvectors of L^-1 Cxy' W L^-T, with L the Cholesky factor of Cyy (eigenvalues:
        # the squared correlations), and the text directions follow as W b / correlation.
        # Exactly the SVD of the whitened cross-covariance, at the cost of one ridge solve
        # and a k x k eigenproblem.
        from scipy.linalg import cholesky, solve_triangular

        X, Y = self._check_pairs(X, Y)
        X = sparse_if_mostly_zero(X)
        Y = np.asarray(Y, dtype=np.float64)
        n = X.shape[0]
        x_mean = np.asarray(X.mean(axis=0), dtype=np.float64).ravel()
        y_mean = Y.mean(axis=0)
        Yc = Y - y_mean
        # the shrinkage: reg times the mean squared singular value of each centred side
        x_total = float(X.multiply(X).sum()) if hasattr(X, "multiply") else float((X * X).sum())
        x_total -= n * float(x_mean @ x_mean)
        x_shrink = self.reg * max(x_total, 1e-12) / min(X.shape)
        y_scatter = Yc.T @ Yc
        y_shrink = self.reg * max(float(np.trace(y_scatter)), 1e-12) / min(Yc.shape)
        # whitening by the Cholesky factor of the shrunk scatter, L L' = Syy + s I:
        # L^-1 (.) L^-T whitens, and directions found there map back through L^-T
        y_factor = cholesky(y_scatter + y_shrink * np.eye(len(y_scatter)), lower=True)
        if X.shape[1] > n:
            # W = Xc' A with A = (K + a I)^-1 Yc, K = Xc Xc', so that
            # Cxy' W = Yc' K A = Yc'Yc - a Yc' A: no d x k matrix is formed until the end.
            dual, _ = _centred_dual(X, Yc, x_shrink)
            cross_w = y_scatter - x_shrink * (Yc.T @ dual)

            def text_weights(directions: np.ndarray) -> np.ndarray:
                return _from_dual(X, dual @ directions, x_mean)
        else:
            text_to_image = _centred_ridge(X, Yc, x_shrink)  # (d, k)
            cross_w = np.asarray(X.T @ Yc, dtype=np.float64).T @ text_to_image  # Yc is centred

            def text_weights(directions: np.ndarray) -> np.ndarray:
                return text_to_image @ directions

        half = solve_triangular(y_factor, cross_w, lower=True)
        inner = solve_triangular(y_factor, half.T, lower=True)
        squared, vectors = np.linalg.eigh((inner + inner.T) / 2.0)
        order = np.argsort(squared)[::-1][: min(self.n_components, len(squared))]
        correlations = np.sqrt(np.clip(squared[order], 0.0, None))
        image_directions = solve_triangular(y_factor.T, vectors[:, order], lower=False)
        kept = correlations > 1e-9 * max(correlations.max(initial=0.0), 1e-300)
        scale = np.where(kept, 1.0 / np.sqrt(np.where(kept, correlations, 1.0)), 0.0)
        self.correlations_ = correlations
        self.x_weights_ = text_weights(image_directions * scale).astype(np.float32)
        self.y_weights_ = (image_directions * np.sqrt(correlations)).astype(np.float32)
        self.x_mean_ = x_mean.astype(np.float32)
        self.y_mean_ = y_mean.astype(np.float32)
        return self

    def query_keys(self, X: Any) -> np.ndarray:
        X = self._texts(X)
        return np.asarray(X @ self.x_weights_, dtype=np.float32) - self.x_mean_ @ self.x_weights_

    def gallery_keys(self, Y: Any) -> np.ndarray:
        return (self._images(Y) - self.y_mean_) @ self.y_weights_
