"""Keras models kept for further training: a stored folder with ``model.keras`` beside the arrays.

Bundles never need these (they hold the networks as NumPy arrays); they are for users who
want to go on training an estimator. The ``.keras`` file is read with ``safe_mode=True``,
which refuses to deserialise arbitrary Python code.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from retrieval import store

KIND = "retrieval.keras_estimator"
MODEL_FILE = "model.keras"


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def save_keras(
    model: Any,
    path: str | os.PathLike[str],
    params: Mapping[str, Any],
    arrays: Mapping[str, np.ndarray],
    meta: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``path/`` atomically: manifest (params, ``meta``), arrays and the Keras model."""
    return store.save(
        path,
        KIND,
        {"params": {k: _plain(v) for k, v in params.items()}, **(meta or {})},
        dict(arrays),
        extra=lambda staging: model.save(staging / MODEL_FILE),
    )


def load_keras(
    path: str | os.PathLike[str],
) -> tuple[Any, dict[str, Any], Mapping[str, np.ndarray]]:
    """The Keras model, the estimator's parameters and its arrays from a folder of :func:`save_keras`."""
    import keras

    import retrieval.models.losses  # noqa: F401  (registers the losses a saved mapping refers to)

    stored = store.load(path, KIND)
    file = stored.folder / MODEL_FILE
    if not file.is_file():
        raise store.StoreError(f"{file}: missing (the folder is incomplete)")
    try:
        model = keras.saving.load_model(file, safe_mode=True)
    except Exception as exc:  # Keras raises many kinds for a damaged archive
        raise store.StoreError(
            f"{file}: not a readable Keras model ({type(exc).__name__}: {exc})"
        ) from None
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in stored.meta["params"].items()}
    return model, params, stored.arrays
