"""The learned mapping: a small Keras network from text features into the image code.

Trained with the losses of :mod:`retrieval.models.losses` (``rmse``, ``triplet`` or
``contrastive``), AdamW with decoupled weight decay, optional input and hidden dropout,
and early stopping on a seeded validation split. After ``fit`` the network is also held as
a :class:`~retrieval.models.dense_stack.DenseStack`, so a fitted or loaded mapper maps
queries with NumPy alone; only ``fit`` imports Keras.

Examples
--------
>>> import numpy as np
>>> X = np.random.default_rng(0).normal(size=(64, 10)).astype("float32")
>>> Y = X @ np.random.default_rng(1).normal(size=(10, 4)).astype("float32")
>>> mapper = NeuralMapper(loss="rmse", epochs=3).fit(X, Y)   # doctest: +SKIP
>>> mapper.query_keys(X[:2]).shape                         # doctest: +SKIP
(2, 4)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from retrieval.arrays import dense_float32, sparse_if_mostly_zero
from retrieval.config import NeuralParams
from retrieval.models._fit import fit_history
from retrieval.models._keras_files import save_keras
from retrieval.models.dense_stack import DenseStack
from retrieval.models.mappers import (
    CCAMapper,
    Mapper,
    ridge_solution,
)
from retrieval.parameters import Seeded
from retrieval.store import Arrays, Meta, nest, part


class NeuralMapper(Mapper):
    """Map text features into the image code with a fully connected network.

    Parameters
    ----------
    init, ridge_alpha, cca_reg, cca_components:
        ``"ridge"`` starts a linear network from the closed-form ridge solution (penalty
        ``ridge_alpha``), which training then refines; ``"random"`` from Keras' initialisation;
        ``"cca"`` fits a regularised CCA (:class:`~retrieval.models.mappers.CCAMapper` with
        ``cca_reg`` and ``cca_components``), keys images by its image-side projection, and
        starts the linear text network at its text-side projection.
    train_images:
        With ``init="cca"``: train the image-side projection too, jointly with the text
        network (two towers, one ``triplet`` or ``contrastive`` loss over their keys),
        instead of keeping CCA's.
    loss:
        ``"rmse"``, ``"triplet"`` or ``"contrastive"``.
    hidden:
        Widths of the hidden ReLU layers (``()``: a linear map).
    dropout, input_dropout:
        Dropout after each hidden layer, and on the input features.
    epochs, batch_size, learning_rate, weight_decay:
        AdamW training settings.
    margin, hard_negatives:
        Triplet margin; hardest in-batch negatives, or a random other batch item.
    temperature, target_temperature:
        Contrastive temperature; ``target_temperature > 0`` softens the contrastive targets
        by the images' similarity to each other (``0``: one matched image per text).
    validation_fraction, patience:
        Part of the training pairs held out (seeded) for early stopping on the validation
        loss, best weights restored; ``0`` trains all ``epochs``.
    standardize:
        Scale input columns to zero mean and unit variance first (learned in ``fit``).
    seed:
        Seeds initialisation, the split, dropout and shuffling.

    Attributes
    ----------
    model_:
        The trained ``keras.Model`` (only on a mapper fitted in this process).
    stack_:
        The network as NumPy arrays.
    history_:
        Per-epoch ``loss`` (and ``val_loss``).
    """

    kind = "neural"
    parameters = (NeuralParams, Seeded)

    def _build(self, X: np.ndarray, out_dim: int, image_dim: int | None = None):
        """The text network, and the model to train: the same, or with ``image_dim`` a
        two-tower model whose output is ``[text keys | image keys]``."""
        import keras

        from retrieval.models.losses import PairedLoss, make_loss

        inputs = keras.Input(shape=(X.shape[1],), sparse=sparse.issparse(X), name="text_features")
        x = inputs
        if self.standardize:
            x = keras.layers.Normalization(
                mean=X.mean(axis=0), variance=np.maximum(X.var(axis=0), 1e-6), name="standardize"
            )(x)
        if self.input_dropout:
            x = keras.layers.Dropout(self.input_dropout, seed=self.seed, name="input_dropout")(x)
        for i, width in enumerate(self.hidden):
            x = keras.layers.Dense(int(width), activation="relu", name=f"hidden_{i}")(x)
            if self.dropout:
                x = keras.layers.Dropout(self.dropout, seed=self.seed + i + 1, name=f"dropout_{i}")(
                    x
                )
        outputs = keras.layers.Dense(out_dim, name="code")(x)
        text_model = keras.Model(inputs, outputs, name="text_to_code")
        loss = make_loss(
            self.loss,
            margin=self.margin,
            hard_negatives=self.hard_negatives,
            temperature=self.temperature,
            target_temperature=self.target_temperature,
        )
        trained = text_model
        if image_dim is not None:
            images = keras.Input(shape=(image_dim,), name="centred_images")
            image_keys = keras.layers.Dense(out_dim, use_bias=False, name="image_code")(images)
            both = keras.layers.Concatenate(name="text_and_image_keys")([outputs, image_keys])
            trained = keras.Model([inputs, images], both, name="two_towers")
            loss = PairedLoss(loss)
        trained.compile(
            optimizer=keras.optimizers.AdamW(self.learning_rate, weight_decay=self.weight_decay),
            loss=loss,
        )
        return text_model, trained

    def fit(self, X: Any, Y: Any) -> NeuralMapper:
        """Train on text features ``X`` (n, d) and image codes ``Y`` (n, k); returns ``self``."""
        import keras

        X, Y = self._check_pairs(X, Y)
        if self.init != "random" and (self.hidden or self.standardize):
            raise ValueError(
                f"init={self.init!r} needs a linear network on raw features "
                "(hidden=(), standardize=False)"
            )
        if self.train_images and (self.init != "cca" or self.loss == "rmse"):
            raise ValueError(
                "train_images=True needs init='cca' and a ranking loss ('triplet' or 'contrastive')"
            )
        self.image_projection_: tuple[np.ndarray, np.ndarray] | None = None
        start = image_start = None
        if self.init == "ridge":
            start = ridge_solution(X, Y, self.ridge_alpha)
        elif self.init == "cca":
            cca = CCAMapper(reg=self.cca_reg, n_components=self.cca_components).fit(X, Y)
            self.image_projection_ = (cca.y_mean_, cca.y_weights_)
            start = (cca.x_weights_, -(cca.x_mean_ @ cca.x_weights_))
            if self.train_images:
                image_start = cca.y_weights_
                Y = Y - cca.y_mean_  # the image tower's input: centred rows
            else:
                Y = self.gallery_keys(Y)
        # a sparse input layer takes TF-IDF rows as they are; dropout and standardising need dense rows
        X = (
            sparse_if_mostly_zero(X)
            if not (self.input_dropout or self.standardize)
            else dense_float32(X)
        )
        keras.utils.set_random_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        order = np.arange(X.shape[0])
        n_val = int(round(X.shape[0] * self.validation_fraction))
        if n_val >= 2 and X.shape[0] - n_val >= 2:
            order = rng.permutation(X.shape[0])
        else:
            n_val = 0

        def inputs_and_targets(texts: Any, images: np.ndarray) -> tuple[Any, np.ndarray]:
            if image_start is None:
                return texts, images
            return [texts, images], np.zeros((len(images), 1), np.float32)

        X_fit = X[order[n_val:]]
        fit_inputs, fit_targets = inputs_and_targets(X_fit, Y[order[n_val:]])
        validation = inputs_and_targets(X[order[:n_val]], Y[order[:n_val]]) if n_val else None
        out_dim = start[0].shape[1] if start is not None else Y.shape[1]
        image_dim = None if image_start is None else Y.shape[1]
        self.model_, trained = self._build(X_fit, out_dim, image_dim)
        if start is not None:
            self.model_.get_layer("code").set_weights(list(start))
        if image_start is not None:
            trained.get_layer("image_code").set_weights([image_start])
        self.history_: dict[str, list[float]] = fit_history(
            trained,
            fit_inputs,
            fit_targets,
            epochs=self.epochs,
            batch_size=self.batch_size,
            validation=validation,
            patience=self.patience,
            verbose=self.verbose,
        )
        self.stack_ = DenseStack.from_keras(self.model_)
        if image_start is not None:
            weights = trained.get_layer("image_code").get_weights()[0]
            self.image_projection_ = (cca.y_mean_, np.asarray(weights, dtype=np.float32))
        return self

    def without_refinement(self) -> NeuralMapper:
        """The closed-form start alone (``epochs=0``) for ``init="ridge"`` or ``"cca"``;
        a randomly started network has no such start and is returned as it is.

        >>> NeuralMapper(init="cca", epochs=10).without_refinement().epochs
        0
        """
        if self.init == "random":
            return self
        return self.__class__(**{**self.get_params(), "epochs": 0})

    def query_keys(self, X: Any) -> np.ndarray:
        X = dense_float32(self._texts(X))
        return self.stack_(X)

    def gallery_keys(self, Y: Any) -> np.ndarray:
        Y = self._images(Y)
        projection = getattr(self, "image_projection_", None)
        if projection is None:
            return Y
        mean, weights = projection
        return (Y - mean) @ weights

    def get_state(self) -> tuple[Meta, Arrays]:
        meta, _ = super().get_state()
        stack_meta, stack_arrays = self.stack_.get_state()
        meta.update(stack=stack_meta, history=self.history_)
        arrays = nest("stack", stack_arrays)
        projection = getattr(self, "image_projection_", None)
        if projection is not None:
            arrays.update({"image_mean": projection[0], "image_weights": projection[1]})
        return meta, arrays

    @classmethod
    def from_state(cls, meta: Meta, arrays: Mapping[str, np.ndarray]) -> NeuralMapper:
        mapper = super().from_state(meta, arrays)
        mapper.stack_ = DenseStack.from_state(meta["stack"], part("stack", arrays))
        mapper.history_ = meta.get("history", {})
        mapper.image_projection_ = (
            (np.asarray(arrays["image_mean"]), np.asarray(arrays["image_weights"]))
            if "image_weights" in arrays
            else None
        )
        return mapper

    def save_keras(self, path: str | os.PathLike[str]) -> Path:
        """Write the Keras network to ``path/`` (``model.keras``) to train it further."""
        if not hasattr(self, "model_"):
            raise ValueError("only a mapper fitted in this process has a Keras model to save")
        meta, _ = self.get_state()
        return save_keras(self.model_, path, self.get_params(), {}, {"mapper": meta})
