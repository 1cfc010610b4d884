"""Image branch, part two: a 2048 -> 100 autoencoder whose code is the search space.

Backend-agnostic Keras 3 (only ``keras.layers``/``keras.ops``): the same code trains on
TensorFlow on a CPU and on JAX on a GPU. Inputs are standardised with statistics learned
in ``fit``; the decoder reconstructs the standardised features.

Example
-------
>>> import numpy as np
>>> X = np.random.default_rng(0).normal(size=(200, 64)).astype("float32")
>>> ae = Autoencoder(code_dim=8, hidden=[32], epochs=3, seed=0).fit(X)   # doctest: +SKIP
>>> ae.transform(X).shape                                                # doctest: +SKIP
(200, 8)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.fileio import atomic_directory
from retrieval.models.dense_stack import DenseStack

FORMAT_VERSION = 1


def neighbour_overlap(
    a: np.ndarray, b: np.ndarray, k: int = 20, max_items: int = 2000, seed: int = 0
) -> float:
    """Mean fraction of each item's ``k`` nearest neighbours (cosine) shared by spaces ``a`` and ``b``."""
    n = len(a)
    rows = np.random.default_rng(seed).choice(n, min(n, max_items), replace=False)

    def neighbours(x: np.ndarray) -> np.ndarray:
        unit = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        similarity = unit[rows] @ unit.T
        similarity[np.arange(len(rows)), rows] = -np.inf
        return np.argpartition(-similarity, k, axis=1)[:, :k]

    na, nb = neighbours(a), neighbours(b)
    return float(np.mean([len(np.intersect1d(x, y)) / k for x, y in zip(na, nb, strict=True)]))


class Autoencoder:
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
        code_dim: int = 100,
        hidden: list[int] | tuple[int, ...] = (512,),
        epochs: int = 50,
        batch_size: int = 128,
        learning_rate: float = 1e-3,
        validation_fraction: float = 0.1,
        patience: int = 5,
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
        self.seed = seed
        self.verbose = verbose

    def get_params(self) -> dict[str, Any]:
        names = (
            "code_dim",
            "hidden",
            "epochs",
            "batch_size",
            "learning_rate",
            "validation_fraction",
            "patience",
            "seed",
            "verbose",
        )
        params = {n: getattr(self, n) for n in names}
        params["hidden"] = [int(h) for h in params["hidden"]]
        return params

    @staticmethod
    def _check(X: Any, dim: int | None = None) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2:
            raise ValueError(f"expected a 2-d feature matrix, got shape {X.shape}")
        if dim is not None and X.shape[1] != dim:
            raise ValueError(f"expected {dim} features per row, got {X.shape[1]}")
        if not np.isfinite(X).all():
            bad = np.flatnonzero(~np.isfinite(X).all(axis=1))
            raise ValueError(
                f"features hold NaN or infinity in {len(bad)} rows (first: {bad[:5].tolist()})"
            )
        return X

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

    def fit(self, X: Any) -> Autoencoder:
        """Learn the standardisation and the code from features ``X`` (n, d); returns ``self``."""
        import keras

        X = self._check(X)
        if len(X) < 4:
            raise ValueError("need at least 4 rows to train an autoencoder")
        keras.utils.set_random_seed(self.seed)
        self.mean_ = X.mean(axis=0)
        self.scale_ = np.maximum(X.std(axis=0), 1e-6).astype(np.float32)
        self._build(X.shape[1])
        target = (X - self.mean_) / self.scale_
        rng = np.random.default_rng(self.seed)
        n_val = int(round(len(X) * self.validation_fraction)) if self.validation_fraction else 0
        callbacks, validation = [], None
        if n_val >= 2:
            order = rng.permutation(len(X))
            val, train = order[:n_val], order[n_val:]
            validation = (X[val], target[val])
            X_fit, target_fit = X[train], target[train]
            if self.patience:
                callbacks.append(
                    keras.callbacks.EarlyStopping(
                        monitor="val_loss", patience=self.patience, restore_best_weights=True
                    )
                )
        else:
            X_fit, target_fit = X, target
        history = self.model_.fit(
            X_fit,
            target_fit,
            epochs=self.epochs,
            batch_size=self.batch_size,
            validation_data=validation,
            callbacks=callbacks,
            shuffle=True,
            verbose=self.verbose,
        )
        self.history_ = {k: [float(v) for v in values] for k, values in history.history.items()}
        self.n_features_in_ = int(X.shape[1])
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "encoder_"):
            raise RuntimeError(
                "this Autoencoder is not fitted yet; call fit() or Autoencoder.load()"
            )

    def transform(self, X: Any) -> np.ndarray:
        """Features -> codes ``(n, code_dim)``."""
        self._check_fitted()
        return np.asarray(
            self.encoder_.predict(self._check(X, self.n_features_in_), batch_size=1024, verbose=0),
            dtype=np.float32,
        )

    def inverse_transform(self, codes: Any) -> np.ndarray:
        """Codes -> reconstructed features in the original units."""
        self._check_fitted()
        codes = self._check(codes, self.code_dim)
        standardized = np.asarray(
            self.decoder_.predict(codes, batch_size=1024, verbose=0), dtype=np.float32
        )
        return standardized * self.scale_ + self.mean_

    def evaluate(self, X: Any, k: int = 20) -> dict[str, float]:
        """Reconstruction RMSE (original and standardised units) and neighbourhood overlap at ``k``."""
        X = self._check(X, getattr(self, "n_features_in_", None))
        codes = self.transform(X)
        reconstruction = self.inverse_transform(codes)
        return {
            "rmse": float(np.sqrt(np.mean((reconstruction - X) ** 2))),
            "rmse_standardized": float(np.sqrt(np.mean(((reconstruction - X) / self.scale_) ** 2))),
            f"neighbour_overlap@{k}": neighbour_overlap(X, codes, k=min(k, len(X) - 1)),
        }

    def encoder_stack(self) -> DenseStack:
        """The encoder as NumPy arrays (for search without Keras)."""
        self._check_fitted()
        return DenseStack.from_keras(self.encoder_)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``path/`` with ``autoencoder.keras`` and ``config.json`` (atomically)."""
        self._check_fitted()
        path = Path(path)
        with atomic_directory(path) as staging:
            self.model_.save(staging / "autoencoder.keras")
            config = {
                "format": FORMAT_VERSION,
                "params": self.get_params(),
                "history": self.history_,
                "n_features_in": self.n_features_in_,
            }
            (staging / "config.json").write_text(json.dumps(config), encoding="utf-8")
            np.savez(staging / "scaler.npz", mean=self.mean_, scale=self.scale_)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Autoencoder:
        import keras

        path = Path(path)
        config_path = path / "config.json"
        if not config_path.is_file():
            raise FileNotFoundError(f"{path}: not a saved Autoencoder (no config.json)")
        config = json.loads(config_path.read_text(encoding="utf-8"))
        if config.get("format") != FORMAT_VERSION:
            raise ValueError(
                f"{config_path}: format {config.get('format')!r}, this version reads {FORMAT_VERSION}"
            )
        model = cls(**config["params"])
        with np.load(path / "scaler.npz") as scaler:
            model.mean_, model.scale_ = scaler["mean"], scaler["scale"]
        model.model_ = keras.models.load_model(path / "autoencoder.keras")
        model.encoder_ = model.model_.get_layer("encoder")
        model.decoder_ = model.model_.get_layer("decoder")
        model.history_ = config["history"]
        model.n_features_in_ = config["n_features_in"]
        return model
