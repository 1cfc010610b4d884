"""ResNet-50 from ``keras.applications``: pool5 (2048-d) and optionally the fc1000 logits."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.errors import RetrievalError

NOTOP_FILE = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
TOP_FILE = "resnet50_weights_tf_dim_ordering_tf_kernels.h5"


class WeightsUnavailableError(RetrievalError):
    """ImageNet weights are neither cached nor downloadable."""


def keras_models_dir() -> Path:
    """Where Keras caches downloaded weights (``$KERAS_HOME/models``, default ``~/.keras/models``)."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"


def describe_weights(weights: str | os.PathLike[str] | None) -> str:
    """A short label for manifests: ``imagenet``, ``random(seed=0)``, or the file name."""
    if weights is None:
        return "random"
    return str(weights) if weights == "imagenet" else f"file:{Path(weights).name}"


class ResNet50Features:
    """ResNet-50 that maps preprocessed batches to pool5 (and fc1000 logits when asked).

    ``weights``: ``"imagenet"`` (Keras cache, downloaded when online), a local ``.h5``/``.keras``
    weights file, or ``None`` for a seeded random initialisation (features then carry no
    ImageNet knowledge; every output records this).
    """

    def __init__(
        self,
        weights: str | os.PathLike[str] | None = "imagenet",
        *,
        fc1000: bool = False,
        seed: int = 0,
    ) -> None:
        import keras

        self.weights = weights
        self.fc1000 = fc1000
        self.seed = seed
        keras.utils.set_random_seed(seed)
        if weights is None:
            warnings.warn(
                "ResNet-50 with random weights (weights=None): features are not ImageNet features",
                stacklevel=2,
            )
        base = self._build(keras, weights)
        if fc1000:
            pool = base.get_layer("avg_pool").output
            dense = base.get_layer("predictions")
            self.model = keras.Model(base.inputs, pool)
            kernel, bias = dense.get_weights()
            self._fc_kernel = np.asarray(kernel, dtype=np.float32)
            self._fc_bias = np.asarray(bias, dtype=np.float32)
        else:
            self.model = base

    def _build(self, keras: Any, weights: str | os.PathLike[str] | None) -> Any:
        from keras.applications import ResNet50

        include_top = self.fc1000
        if weights is None:
            return ResNet50(include_top=include_top, weights=None, pooling="avg")
        if weights == "imagenet":
            expected = keras_models_dir() / (TOP_FILE if include_top else NOTOP_FILE)
            try:
                return ResNet50(include_top=include_top, weights="imagenet", pooling="avg")
            except Exception as exc:  # offline: urllib/HTTP errors of many kinds
                raise WeightsUnavailableError(
                    f"ImageNet weights for ResNet-50 are not in the Keras cache and could not be downloaded "
                    f"({type(exc).__name__}); put {expected.name} at {expected}, or pass weights=PATH "
                    "or weights=None"
                ) from None
        path = Path(weights)
        if not path.is_file():
            raise WeightsUnavailableError(f"{path}: weights file not found")
        return ResNet50(include_top=include_top, weights=str(path), pooling="avg")

    @property
    def label(self) -> str:
        return describe_weights(self.weights) + (
            f"(seed={self.seed})" if self.weights is None else ""
        )

    def __call__(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``(n, 224, 224, 3)`` uint8 RGB -> pool5 ``(n, 2048)`` and fc1000 logits ``(n, 1000)`` or None."""
        from keras.applications.resnet50 import preprocess_input

        batch = preprocess_input(pixels.astype(np.float32))
        pool5 = np.asarray(self.model(batch, training=False), dtype=np.float32)
        logits = pool5 @ self._fc_kernel + self._fc_bias if self.fc1000 else None
        return pool5, logits
