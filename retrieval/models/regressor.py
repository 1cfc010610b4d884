"""A Keras network from text features to the image code (the learned text -> image mapping).

Three losses, each a serializable Keras object saved with the model:

- ``rmse``: root mean squared error between the predicted and the true code.
- ``triplet``: a hinge on cosine similarity, ``max(0, margin - cos(p, y+) + cos(p, y-))``.
  Negatives are the other images of the batch: ``"random"`` takes one (the batch is
  shuffled every epoch, so it is a random other image), ``"hardest"`` takes the most
  similar one.
- ``contrastive``: the symmetric cross-entropy over the batch's cosine-similarity
  matrix divided by a temperature, as CLIP trains (text -> image and image -> text).

The network uses ``keras.ops`` only, so it runs on any Keras backend.

Examples
--------
>>> import numpy as np
>>> X = np.random.default_rng(0).normal(size=(64, 10)).astype("float32")
>>> Y = X @ np.random.default_rng(1).normal(size=(10, 4)).astype("float32")
>>> reg = TextToCodeRegressor(loss="rmse", epochs=3, verbose=0).fit(X, Y)
>>> reg.predict(X[:2]).shape
(2, 4)
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Literal

import keras
import numpy as np
from keras import ops

from retrieval.fileio import atomic_write

_EPS = 1e-7
LossName = Literal["rmse", "triplet", "contrastive"]
_META = "retrieval_regressor.json"
FORMAT_VERSION = 1


def _l2_normalize(x):
    return x / ops.sqrt(ops.maximum(ops.sum(ops.square(x), axis=-1, keepdims=True), _EPS))


def _cosine_matrix(pred, true):
    return ops.matmul(_l2_normalize(pred), ops.transpose(_l2_normalize(true)))


@keras.saving.register_keras_serializable(package="retrieval")
class RMSELoss(keras.losses.Loss):
    """Root of the mean squared error over the batch and the code dimensions."""

    def __init__(self, name: str = "rmse", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype)
        return ops.sqrt(ops.mean(ops.square(y_pred - y_true)) + _EPS)


@keras.saving.register_keras_serializable(package="retrieval")
class TripletLoss(keras.losses.Loss):
    """Cosine triplet hinge with in-batch negatives (``"random"`` or ``"hardest"``)."""

    def __init__(
        self,
        margin: float = 0.2,
        negatives: Literal["random", "hardest"] = "hardest",
        name: str = "triplet",
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, **kwargs)
        if negatives not in ("random", "hardest"):
            raise ValueError(f"negatives must be 'random' or 'hardest', got {negatives!r}")
        self.margin = float(margin)
        self.negatives = negatives

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype)
        sim = _cosine_matrix(y_pred, y_true)  # row i: query i against every image of the batch
        positive = ops.diagonal(sim)
        if self.negatives == "hardest":
            n = ops.shape(sim)[0]
            eye = ops.eye(n, dtype=sim.dtype)
            negative = ops.max(sim - 4.0 * eye, axis=1)  # cosines are >= -1: the diagonal loses
        else:
            negative = ops.diagonal(ops.roll(sim, shift=1, axis=1))
        return ops.relu(self.margin - positive + negative)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "margin": self.margin, "negatives": self.negatives}


@keras.saving.register_keras_serializable(package="retrieval")
class ContrastiveLoss(keras.losses.Loss):
    """Symmetric InfoNCE over the batch: matched text/image pairs are the diagonal."""

    def __init__(self, temperature: float = 0.07, name: str = "contrastive", **kwargs: Any):
        super().__init__(name=name, **kwargs)
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = float(temperature)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype)
        logits = _cosine_matrix(y_pred, y_true) / self.temperature
        text_to_image = -ops.diagonal(ops.log_softmax(logits, axis=1))
        image_to_text = -ops.diagonal(ops.log_softmax(logits, axis=0))
        return (text_to_image + image_to_text) / 2.0

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "temperature": self.temperature}


def make_loss(
    name: LossName,
    *,
    margin: float = 0.2,
    hard_negatives: bool = True,
    temperature: float = 0.07,
) -> keras.losses.Loss:
    """The loss object for a name in ``("rmse", "triplet", "contrastive")``."""
    if name == "rmse":
        return RMSELoss()
    if name == "triplet":
        return TripletLoss(margin=margin, negatives="hardest" if hard_negatives else "random")
    if name == "contrastive":
        return ContrastiveLoss(temperature=temperature)
    raise ValueError(f"unknown loss {name!r}; expected 'rmse', 'triplet' or 'contrastive'")


def _check_matrix(name: str, values: Any, *, columns: int | None = None) -> np.ndarray:
    if hasattr(values, "toarray"):
        values = values.toarray()
    array = np.asarray(values, dtype=np.float32)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-d array, got shape {array.shape}")
    if columns is not None and array.shape[1] != columns:
        raise ValueError(f"{name} has {array.shape[1]} columns, the model expects {columns}")
    bad = ~np.isfinite(array)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise ValueError(
            f"{name} holds NaN or infinite values in {len(rows)} rows "
            f"(first rows: {rows[:5].tolist()}); clean or impute them first"
        )
    return array


class TextToCodeRegressor:
    """Map text features to image codes with a small fully connected network.

    Parameters
    ----------
    loss:
        ``"rmse"``, ``"triplet"`` or ``"contrastive"`` (see the module docstring).
    hidden:
        Widths of the hidden ReLU layers (``[]``: a linear map).
    dropout:
        Dropout rate after each hidden layer.
    epochs, batch_size, learning_rate:
        Adam training settings.
    margin, hard_negatives:
        Triplet margin; hardest in-batch negatives, or a random other batch item.
    temperature:
        Contrastive temperature.
    validation_fraction, patience:
        Part of the training pairs held out (at random, seeded) for early stopping on
        the validation loss, with the best weights restored; ``0`` trains all ``epochs``.
    standardize:
        Scale input columns to zero mean and unit variance (learned in ``fit``, saved with the model).
    seed:
        Seeds weight initialisation, the validation split, dropout and shuffling
        (``fit`` calls ``keras.utils.set_random_seed``, which also reseeds Python's and
        NumPy's global generators).

    Attributes
    ----------
    model_:
        The trained ``keras.Model``.
    history_:
        Per-epoch ``loss`` (and ``val_loss``) lists.
    """

    def __init__(
        self,
        loss: LossName = "contrastive",
        hidden: list[int] | tuple[int, ...] = (512,),
        dropout: float = 0.2,
        epochs: int = 60,
        batch_size: int = 64,
        learning_rate: float = 1e-3,
        margin: float = 0.2,
        hard_negatives: bool = True,
        temperature: float = 0.07,
        validation_fraction: float = 0.1,
        patience: int = 8,
        standardize: bool = True,
        seed: int = 0,
        verbose: int = 0,
    ) -> None:
        self.loss = loss
        self.hidden = hidden
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.margin = margin
        self.hard_negatives = hard_negatives
        self.temperature = temperature
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.standardize = standardize
        self.seed = seed
        self.verbose = verbose

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments."""
        names = self.__init__.__code__.co_varnames[1 : self.__init__.__code__.co_argcount]
        params = {n: getattr(self, n) for n in names}
        params["hidden"] = [int(h) for h in params["hidden"]]
        return params

    def _build(self, X: np.ndarray, out_dim: int) -> keras.Model:
        inputs = keras.Input(shape=(X.shape[1],), name="text_features")
        x = inputs
        if self.standardize:
            mean = X.mean(axis=0)
            var = np.maximum(X.var(axis=0), 1e-6)
            x = keras.layers.Normalization(mean=mean, variance=var, name="standardize")(x)
        for i, width in enumerate(self.hidden):
            x = keras.layers.Dense(int(width), activation="relu", name=f"hidden_{i}")(x)
            if self.dropout:
                x = keras.layers.Dropout(self.dropout, seed=self.seed + i, name=f"dropout_{i}")(x)
        outputs = keras.layers.Dense(out_dim, name="code")(x)
        model = keras.Model(inputs, outputs, name="text_to_code")
        model.compile(
            optimizer=keras.optimizers.Adam(self.learning_rate),
            loss=make_loss(
                self.loss,
                margin=self.margin,
                hard_negatives=self.hard_negatives,
                temperature=self.temperature,
            ),
        )
        return model

    def fit(self, X: Any, Y: Any) -> TextToCodeRegressor:
        """Train on text features ``X`` (n, d) and image codes ``Y`` (n, k); returns ``self``."""
        X = _check_matrix("X", X)
        Y = _check_matrix("Y", Y)
        if len(X) != len(Y):
            raise ValueError(f"X has {len(X)} rows but Y has {len(Y)}")
        if len(X) < 2:
            raise ValueError("need at least two training pairs")
        keras.utils.set_random_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        validation = None
        n_val = int(round(len(X) * self.validation_fraction)) if self.validation_fraction else 0
        if n_val >= 2 and len(X) - n_val >= 2:
            order = rng.permutation(len(X))
            val_idx, fit_idx = order[:n_val], order[n_val:]
            validation = (X[val_idx], Y[val_idx])
            X_fit, Y_fit = X[fit_idx], Y[fit_idx]
        else:
            X_fit, Y_fit = X, Y
        self.model_ = self._build(X_fit, Y.shape[1])
        callbacks = []
        if validation is not None and self.patience:
            callbacks.append(
                keras.callbacks.EarlyStopping(
                    monitor="val_loss", patience=self.patience, restore_best_weights=True
                )
            )
        history = self.model_.fit(
            X_fit,
            Y_fit,
            batch_size=self.batch_size,
            epochs=self.epochs,
            validation_data=validation,
            callbacks=callbacks,
            shuffle=True,
            verbose=self.verbose,
        )
        self.history_ = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        self.n_features_in_ = int(X.shape[1])
        self.code_dim_ = int(Y.shape[1])
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise RuntimeError("this TextToCodeRegressor is not fitted yet; call fit() first")

    def predict(self, X: Any, batch_size: int = 1024) -> np.ndarray:
        """Predicted image codes, float32 (n, k)."""
        self._check_fitted()
        X = _check_matrix("X", X, columns=self.n_features_in_)
        if len(X) == 0:
            return np.zeros((0, self.code_dim_), dtype=np.float32)
        return np.asarray(self.model_.predict(X, batch_size=batch_size, verbose=0), np.float32)

    def score(self, X: Any, Y: Any) -> float:
        """The training loss on ``(X, Y)`` (lower is better)."""
        self._check_fitted()
        X = _check_matrix("X", X, columns=self.n_features_in_)
        Y = _check_matrix("Y", Y, columns=self.code_dim_)
        return float(self.model_.evaluate(X, Y, batch_size=self.batch_size, verbose=0))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model, its loss and these settings to one ``.keras`` file, atomically."""
        self._check_fitted()
        path = Path(path)
        if path.suffix != ".keras":
            raise ValueError(f"the file name must end in .keras, got {path.name}")
        meta = {
            "format_version": FORMAT_VERSION,
            "params": self.get_params(),
            "history": self.history_,
            "n_features_in": self.n_features_in_,
            "code_dim": self.code_dim_,
        }
        staging = Path(tempfile.mkdtemp(prefix=".regressor."))
        try:
            tmp = staging / "model.keras"
            self.model_.save(tmp)
            with zipfile.ZipFile(tmp, "a") as archive:
                archive.writestr(_META, json.dumps(meta, indent=2))
            with atomic_write(path, "wb") as out, open(tmp, "rb") as src:
                shutil.copyfileobj(src, out)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TextToCodeRegressor:
        """A regressor saved by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no saved regressor at {path}")
        with zipfile.ZipFile(path) as archive:
            if _META not in archive.namelist():
                raise ValueError(f"{path} is a Keras file without the regressor's settings")
            meta = json.loads(archive.read(_META))
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(
                f"{path}: regressor format version {meta.get('format_version')!r} is not "
                f"supported (this version reads {FORMAT_VERSION})"
            )
        reg = cls(**meta["params"])
        reg.model_ = keras.saving.load_model(path)
        reg.history_ = meta["history"]
        reg.n_features_in_ = meta["n_features_in"]
        reg.code_dim_ = meta["code_dim"]
        return reg

    def __repr__(self) -> str:
        return f"TextToCodeRegressor(loss={self.loss!r}, hidden={list(self.hidden)})"
