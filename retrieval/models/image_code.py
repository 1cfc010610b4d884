"""The image branch as one estimator: ResNet features -> the code in which images are searched.

``fit(features)`` learns, in order: an optional signed square root of the pooled features,
their standardisation, the :class:`~retrieval.models.autoencoder.Autoencoder` (2048 -> 100),
and a whitening of the code (decorrelated directions of unit variance, so that no direction
dominates the cosine). The fitted branch is two :class:`~retrieval.models.dense_stack.DenseStack`
chains that need NumPy only: ``transform`` gives codes, ``features`` the standardised features
(the space the classical peers regress into).

Examples
--------
>>> import numpy as np
>>> X = np.abs(np.random.default_rng(0).normal(size=(300, 40))).astype("float32")
>>> coder = ImageCoder(use_autoencoder=False, whiten_shrink=0.0).fit(X)
>>> codes = coder.transform(X)
>>> codes.shape, bool(np.allclose(np.cov(codes.T), np.eye(40), atol=0.05))
((300, 40), True)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted, validate_data

from retrieval.arrays import standard_scale
from retrieval.config import ImageConfig
from retrieval.models.autoencoder import Autoencoder
from retrieval.models.dense_stack import DenseStack
from retrieval.store import Arrays, Meta, nest, part

_IMAGE = ImageConfig()


def whitening_layer(codes: np.ndarray, shrink: float = _IMAGE.whiten_shrink) -> dict[str, Any]:
    """A dense layer that centres ``codes`` and whitens them: each principal direction is
    scaled by ``1 / sqrt(variance + shrink * mean variance)``."""
    codes = np.asarray(codes, dtype=np.float64)
    mean = codes.mean(axis=0)
    centred = codes - mean
    variances, vectors = np.linalg.eigh(centred.T @ centred / max(len(codes) - 1, 1))
    variances = np.maximum(variances, 0.0) + shrink * max(float(variances.mean()), 1e-12)
    kernel = vectors / np.sqrt(variances)
    order = np.argsort(-variances)
    kernel = kernel[:, order]
    return {
        "kind": "dense",
        "kernel": kernel.astype(np.float32),
        "bias": (-mean @ kernel).astype(np.float32),
        "activation": "linear",
    }


class ImageCoder(TransformerMixin, BaseEstimator):
    """ResNet features -> search code, learned from the training images' features.

    Parameters
    ----------
    use_autoencoder:
        Compress with the autoencoder; ``False`` keeps the standardised features as the code.
    power:
        Signed power of the features first (1: none; pooled ReLU activations are skewed).
    whiten, whiten_shrink:
        Whiten the code (PCA whitening learned in ``fit``, shrunk: see
        :class:`~retrieval.config.ImageConfig`).
    autoencoder:
        The :class:`~retrieval.models.autoencoder.Autoencoder` to fit (a clone is fitted);
        ``None`` builds one with the defaults.

    Attributes
    ----------
    code_stack_, features_stack_:
        The fitted chains (NumPy only).
    history_:
        The autoencoder's training history.
    """

    def __init__(
        self,
        use_autoencoder: bool = _IMAGE.use_autoencoder,
        power: float = _IMAGE.power,
        whiten: bool = _IMAGE.whiten,
        whiten_shrink: float = _IMAGE.whiten_shrink,
        autoencoder: Any = None,
    ) -> None:
        self.use_autoencoder = use_autoencoder
        self.power = power
        self.whiten = whiten
        self.whiten_shrink = whiten_shrink
        self.autoencoder = autoencoder

    @classmethod
    def from_config(cls, config: ImageConfig, *, seed: int = 0) -> ImageCoder:
        """The image branch an :class:`~retrieval.config.ImageConfig` describes."""
        return cls(
            use_autoencoder=config.use_autoencoder,
            power=config.power,
            whiten=config.whiten,
            whiten_shrink=config.whiten_shrink,
            autoencoder=Autoencoder.from_config(config, seed=seed)
            if config.use_autoencoder
            else None,
        )

    def fit(self, X: Any, y: object = None) -> ImageCoder:
        """Learn the branch from training features ``X`` (n, d); returns ``self``."""
        X = validate_data(self, X, dtype=np.float32, ensure_min_samples=4)
        head = DenseStack(
            [] if self.power == 1 else [{"kind": "signed_power", "exponent": float(self.power)}]
        )
        rooted = head(X)
        mean = rooted.mean(axis=0)
        scale = standard_scale(rooted.std(axis=0))
        self.features_stack_ = head.then(
            DenseStack([{"kind": "affine", "shift": -mean, "scale": scale.astype(np.float32)}])
        )
        self.history_: dict[str, list[float]] = {}
        if self.use_autoencoder:
            autoencoder = clone(self.autoencoder) if self.autoencoder is not None else Autoencoder()
            autoencoder.fit(rooted)
            self.history_ = autoencoder.history_
            code = head.then(autoencoder.encoder_stack())
        else:
            code = self.features_stack_
        if self.whiten:
            code = code.then(DenseStack([whitening_layer(code(X), self.whiten_shrink)]))
        self.code_stack_ = code
        self.code_dim_ = int(code(X[:1]).shape[1])
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Features -> codes ``(n, code_dim_)``."""
        check_is_fitted(self, "code_stack_")
        return self.code_stack_(validate_data(self, X, dtype=np.float32, reset=False))

    def features(self, X: Any) -> np.ndarray:
        """Features -> standardised features (the ``"features"`` image space)."""
        check_is_fitted(self, "features_stack_")
        return self.features_stack_(validate_data(self, X, dtype=np.float32, reset=False))

    def get_state(self) -> tuple[Meta, Arrays]:
        check_is_fitted(self, "code_stack_")
        code_meta, code_arrays = self.code_stack_.get_state()
        features_meta, features_arrays = self.features_stack_.get_state()
        meta = {
            "use_autoencoder": self.use_autoencoder,
            "power": self.power,
            "whiten": self.whiten,
            "whiten_shrink": self.whiten_shrink,
            "n_features_in": int(self.n_features_in_),
            "code": code_meta,
            "features": features_meta,
            "history": self.history_,
        }
        return meta, {**nest("code", code_arrays), **nest("features", features_arrays)}

    @classmethod
    def from_state(cls, meta: Meta, arrays: Mapping[str, np.ndarray]) -> ImageCoder:
        coder = cls(
            use_autoencoder=meta["use_autoencoder"],
            power=meta["power"],
            whiten=meta["whiten"],
            whiten_shrink=meta["whiten_shrink"],
        )
        coder.code_stack_ = DenseStack.from_state(meta["code"], part("code", arrays))
        coder.features_stack_ = DenseStack.from_state(meta["features"], part("features", arrays))
        coder.n_features_in_ = int(meta["n_features_in"])
        coder.code_dim_ = int(
            coder.code_stack_(np.zeros((1, coder.n_features_in_), np.float32)).shape[1]
        )
        coder.history_ = meta.get("history", {})
        return coder
