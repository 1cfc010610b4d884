"""Array helpers shared by the text features, the mappers and the indexes: when a matrix is
worth keeping sparse, and rows scaled to unit length.

>>> import numpy as np
>>> type(sparse_if_mostly_zero(np.eye(8))).__name__
'csr_matrix'
>>> mostly_zero(3, 4)
False
>>> unit_rows(np.array([[3.0, 4.0], [0.0, 0.0]])) * 5
array([[3., 4.],
       [0., 0.]], dtype=float32)
"""

from __future__ import annotations

from typing import Any

import numpy as np

DENSITY = 0.25
"""Below this share of non-zero entries a matrix is kept sparse (TF-IDF rows are)."""


def mostly_zero(nonzeros: int, size: int, density: float = DENSITY) -> bool:
    """Whether ``nonzeros`` of ``size`` entries is few enough to keep a matrix sparse."""
    return bool(size) and nonzeros < density * size


def sparse_if_mostly_zero(X: Any, density: float = DENSITY) -> Any:
    """``X`` as a CSR matrix when fewer than ``density`` of its entries are non-zero
    (TF-IDF rows are), so that linear solvers work on the non-zeros only."""
    from scipy import sparse

    if sparse.issparse(X):
        return X.tocsr()
    if mostly_zero(np.count_nonzero(X), X.size, density):
        return sparse.csr_matrix(X)
    return X


def dense_float32(X: Any) -> np.ndarray:
    """``X`` (sparse or dense) as a dense float32 array."""
    return np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float32)


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, as float32 (all-zero rows stay zero)."""
    matrix = np.asarray(matrix, dtype=np.float32)
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)


def standard_scale(std: np.ndarray) -> np.ndarray:
    """``1 / std`` per column, and 1 for columns that (nearly) never vary in training, as
    scikit-learn's ``StandardScaler`` does: a value there in a new image must not be blown up
    by a millionfold.

    >>> standard_scale(np.array([2.0, 0.0, 1e-9])).tolist()
    [0.5, 1.0, 1.0]
    """
    std = np.asarray(std, dtype=np.float64)
    constant = std <= 1e-6 * max(float(std.max(initial=0.0)), 1.0)
    return np.where(constant, 1.0, 1.0 / np.where(constant, 1.0, std))


def z_scores(scores: Any) -> np.ndarray:
    """``scores`` minus their mean, over their standard deviation (all zeros when they are all
    equal): one query's scores over a gallery on the scale every search answers in.

    >>> z_scores([1.0, 2.0, 3.0]).round(3).tolist()
    [-1.225, 0.0, 1.225]
    >>> z_scores([0.5, 0.5]).tolist()
    [0.0, 0.0]
    """
    scores = np.asarray(scores, np.float64)
    spread = float(scores.std())
    return (scores - scores.mean()) / spread if spread > 0 else np.zeros_like(scores)
