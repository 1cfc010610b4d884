"""Image branch, part two: a 2048 -> 100 autoencoder whose code is the search space.

Backend-agnostic Keras 3 (only ``keras.layers``/``keras.ops``): the same code trains on
TensorFlow on a CPU and on JAX on a GPU. Inputs are standardised with statistics learned
in ``fit``; the decoder reconstructs the standardised features. A linear autoencoder
(``hidden=()``) starts from the principal directions (``pca_init``), the optimum of a
linear autoencoder, and is refined from there; deeper ones start at random.

Examples
--------
>>> import numpy as np
>>> X = np.random.default_rng(0).normal(size=(200, 64)).astype("float32")
>>> ae = Autoencoder(code_dim=8, epochs=2).fit(X)   # doctest: +SKIP
>>> ae.transform(X).shape                           # doctest: +SKIP
(200, 8)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from retrieval.arrays import standard_scale, unit_rows
from retrieval.config import ImageConfig
from retrieval.models._fit import fit_history
from retrieval.models._keras_files import load_keras, save_keras
from retrieval.models.dense_stack import DenseStack
from retrieval.parameters import Seeded, check_estimator

_IMAGE = ImageConfig()


def neighbour_overlap(
    a: np.ndarray, b: np.ndarray, k: int = 20, max_items: int = 2000, seed: int = 0
) -> float:
    """Mean fraction of each item's ``k`` nearest neighbours (cosine) shared by spaces ``a`` and ``b``."""
    n = len(a)
    rows = np.random.default_rng(seed).choice(n, min(n, max_items), replace=False)

    def neighbours(x: np.ndarray) -> np.ndarray:
        unit = unit_rows(x)
        similarity = unit[rows] @ unit.T
        similarity[np.arange(len(rows)), rows] = -np.inf
        return np.argpartition(-similarity, k, axis=1)[:, :k]

    na, nb = neighbours(a), neighbours(b)
    return float(np.mean([len(np.intersect1d(x, y)) / k for x, y in zip(na, nb, strict=True)]))


class Autoencoder(TransformerMixin, BaseEstimator):
    """Dense autoencoder ``d -> hidden... -> code_dim -> ...hidden -> d``.

    Parameters
    ----------
    code_dim:
        Size of the code (100 in the classic design).
    hidden:
        Widths of the encoder's hidden layers; the decoder mirrors them.
    epochs, batch_size, learning_rate:
        Adam training settings.
    validation_fraction, patience:
        Rows held out (seeded) for early stopping on the validation loss, best weights restored.
    pca_init:
        Start a linear autoencoder from the principal directions of the standardised features.
    seed:
        Seeds initialisation, the split and shuffling: the same seed gives the same model.

    Attributes
    ----------
    mean_, scale_:
        Standardisation learned in ``fit``.
    model_, encoder_, decoder_:
        The Keras models.
    history_:
        Per-epoch ``loss`` and ``val_loss``.
    """

    def __init__(
        self,
        code_dim: int = _IMAGE.code_dim,
        hidden: tuple[int, ...] = _IMAGE.hidden,
        epochs: int = _IMAGE.epochs,
        batch_size: int = _IMAGE.batch_size,
        learning_rate: float = _IMAGE.learning_rate,
        validation_fraction: float = _IMAGE.validation_fraction,
        patience: int = _IMAGE.patience,
        pca_init: bool = _IMAGE.pca_init,
        seed: int = 0,
        verbose: int = 0,
    ) -> None:
        self.code_dim = code_dim
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.pca_init = pca_init
        self.seed = seed
        self.verbose = verbose

    def _validate_params(self) -> None:
        check_estimator(self, ImageConfig, Seeded)

    @classmethod
    def from_config(cls, config: ImageConfig, *, seed: int = 0) -> Autoencoder:
        """The autoencoder an :class:`~retrieval.config.ImageConfig` describes."""
        names = cls._get_param_names()
        return cls(**{n: getattr(config, n) for n in names if hasattr(config, n)}, seed=seed)

    def _build(self, dim: int) -> None:
        import keras

        inputs = keras.Input(shape=(dim,), name="features")
        x = keras.layers.Normalization(
            mean=self.mean_, variance=self.scale_**2, name="standardize"
        )(inputs)
        for i, width in enumerate(self.hidden):
            x = keras.layers.Dense(int(width), activation="relu", name=f"encode_{i}")(x)
        code = keras.layers.Dense(self.code_dim, name="code")(x)
        self.encoder_ = keras.Model(inputs, code, name="encoder")
        code_in = keras.Input(shape=(self.code_dim,), name="code_in")
        y = code_in
        for i, width in enumerate(reversed(list(self.hidden))):
            y = keras.layers.Dense(int(width), activation="relu", name=f"decode_{i}")(y)
        reconstruction = keras.layers.Dense(dim, name="reconstruction")(y)
        self.decoder_ = keras.Model(code_in, reconstruction, name="decoder")
        self.model_ = keras.Model(inputs, self.decoder_(self.encoder_(inputs)), name="autoencoder")
        self.model_.compile(optimizer=keras.optimizers.Adam(self.learning_rate), loss="mse")

    def _init_from_pca(self, standardized: np.ndarray) -> None:
        """Set a linear autoencoder to the top principal directions (its optimum)."""
        from sklearn.utils.extmath import randomized_svd

        _, _, right = randomized_svd(standardized, self.code_dim, n_iter=4, random_state=self.seed)
        top = right.T.astype(np.float32)
        zeros = np.zeros(self.code_dim, np.float32)
        self.encoder_.get_layer("code").set_weights([top, zeros])
        self.decoder_.get_layer("reconstruction").set_weights(
            [top.T.copy(), np.zeros(len(top), np.float32)]
        )

    def fit(self, X: Any, y: object = None) -> Autoencoder:
        """Learn the standardisation and the code from features ``X`` (n, d); returns ``self``."""
        import keras

        self._validate_params()
        X = validate_data(self, X, dtype=np.float32, ensure_min_samples=4)
        if self.code_dim > X.shape[1]:
            raise ValueError(f"code_dim={self.code_dim} is larger than the {X.shape[1]} features")
        if self.code_dim > len(X):
            raise ValueError(
                f"[image] code_dim = {self.code_dim} needs at least {self.code_dim} training "
                f"pictures, and there are {len(X)}: set [image] code_dim to {len(X)} or less, "
                "or use_autoencoder = false"
            )
        keras.utils.set_random_seed(self.seed)
        self.mean_ = X.mean(axis=0)
        self.scale_ = (1.0 / standard_scale(X.std(axis=0))).astype(np.float32)  # std, 1 if constant
        self._build(X.shape[1])
        target = (X - self.mean_) / self.scale_
        if self.pca_init and not self.hidden:
            self._init_from_pca(target)
        rng = np.random.default_rng(self.seed)
        n_val = int(round(len(X) * self.validation_fraction))
        validation = None
        X_fit, target_fit = X, target
        if n_val >= 2 and len(X) - n_val >= 2:
            order = rng.permutation(len(X))
            val, train = order[:n_val], order[n_val:]
            validation = (X[val], target[val])
            X_fit, target_fit = X[train], target[train]
        self.history_: dict[str, list[float]] = fit_history(
            self.model_,
            X_fit,
            target_fit,
            epochs=self.epochs,
            batch_size=self.batch_size,
            validation=validation,
            patience=self.patience,
            verbose=self.verbose,
        )
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Features -> codes ``(n, code_dim)``."""
        check_is_fitted(self, "encoder_")
        X = validate_data(self, X, dtype=np.float32, reset=False)
        return self.encoder_stack()(X)

    def inverse_transform(self, codes: Any) -> np.ndarray:
        """Codes -> reconstructed features in the original units."""
        check_is_fitted(self, "decoder_")
        codes = check_array(codes, dtype=np.float32)
        if codes.shape[1] != self.code_dim:
            raise ValueError(f"expected codes of {self.code_dim} columns, got {codes.shape[1]}")
        standardized = DenseStack.from_keras(self.decoder_)(codes)
        return standardized * self.scale_ + self.mean_

    def evaluate(self, X: Any, k: int = 20) -> dict[str, float]:
        """Reconstruction RMSE (original and standardised units) and neighbourhood overlap at ``k``."""
        X = validate_data(self, X, dtype=np.float32, reset=False)
        codes = self.transform(X)
        reconstruction = self.inverse_transform(codes)
        return {
            "rmse": float(np.sqrt(np.mean((reconstruction - X) ** 2))),
            "rmse_standardized": float(np.sqrt(np.mean(((reconstruction - X) / self.scale_) ** 2))),
            f"neighbour_overlap@{k}": neighbour_overlap(X, codes, k=min(k, len(X) - 1)),
        }

    def encoder_stack(self) -> DenseStack:
        """The encoder as NumPy arrays (for search without Keras)."""
        check_is_fitted(self, "encoder_")
        return DenseStack.from_keras(self.encoder_)

    def save(self, path) -> Any:
        """Write the Keras model to a ``.keras`` file (to train further; bundles keep arrays)."""
        check_is_fitted(self, "model_")
        return save_keras(
            self.model_, path, self.get_params(), {"mean": self.mean_, "scale": self.scale_}
        )

    @classmethod
    def load(cls, path) -> Autoencoder:
        """An autoencoder written by :meth:`save` (Keras ``safe_mode``: no code runs)."""
        model, params, arrays = load_keras(path)
        ae = cls(**params)
        ae.model_ = model
        ae.encoder_ = model.get_layer("encoder")
        ae.decoder_ = model.get_layer("decoder")
        ae.mean_, ae.scale_ = arrays["mean"], arrays["scale"]
        ae.n_features_in_ = int(ae.mean_.shape[0])
        ae.history_ = {}
        return ae
