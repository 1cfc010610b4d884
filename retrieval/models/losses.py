"""The losses of the learned mapping, as serializable Keras objects (``keras.ops`` only).

- ``rmse``: root mean squared error between the predicted and the true code.
- ``triplet``: a hinge on cosine similarity, ``max(0, margin - cos(p, y+) + cos(p, y-))``.
  Negatives are the other images of the batch: ``"random"`` takes one (the batch is
  shuffled every epoch, so it is a random other image), ``"hardest"`` takes the most
  similar one.
- ``contrastive``: the symmetric cross-entropy over the batch's cosine-similarity
  matrix divided by a temperature, as CLIP trains (text -> image and image -> text).

Examples
--------
>>> import numpy as np
>>> y = np.eye(3, dtype="float32")
>>> float(make_loss("rmse")(y, y)) < 1e-3
True
"""

from __future__ import annotations

from typing import Any, Literal

import keras
from keras import ops

_EPS = 1e-7
LossName = Literal["rmse", "triplet", "contrastive"]


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
    """Symmetric InfoNCE over the batch: matched text/image pairs are the diagonal.

    With ``target_temperature > 0`` the targets are soft: row ``i`` spreads over the batch's
    images by ``softmax(cos(image i, image j) / target_temperature)``, so an image that looks
    like the matched one is not pushed away as hard as an unrelated one.
    """

    def __init__(
        self,
        temperature: float = 0.07,
        target_temperature: float = 0.0,
        name: str = "contrastive",
        **kwargs: Any,
    ):
        super().__init__(name=name, **kwargs)
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        if target_temperature < 0:
            raise ValueError(f"target_temperature must be 0 or more, got {target_temperature}")
        self.temperature = float(temperature)
        self.target_temperature = float(target_temperature)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype)
        logits = _cosine_matrix(y_pred, y_true) / self.temperature
        if not self.target_temperature:
            text_to_image = -ops.diagonal(ops.log_softmax(logits, axis=1))
            image_to_text = -ops.diagonal(ops.log_softmax(logits, axis=0))
            return (text_to_image + image_to_text) / 2.0
        targets = ops.softmax(_cosine_matrix(y_true, y_true) / self.target_temperature, axis=1)
        text_to_image = -ops.sum(targets * ops.log_softmax(logits, axis=1), axis=1)
        image_to_text = -ops.sum(targets * ops.log_softmax(logits, axis=0), axis=0)
        return (text_to_image + image_to_text) / 2.0

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "temperature": self.temperature,
            "target_temperature": self.target_temperature,
        }


@keras.saving.register_keras_serializable(package="retrieval")
class PairedLoss(keras.losses.Loss):
    """``inner`` between the two halves of a two-tower output ``[text keys | image keys]``.

    For a model that maps both sides (the image projection trained too), ``y_true`` is
    unused: the image keys it would hold are the second half of ``y_pred``.
    """

    def __init__(self, inner: keras.losses.Loss | dict, name: str = "paired", **kwargs: Any):
        super().__init__(name=name, **kwargs)
        self.inner = inner if isinstance(inner, keras.losses.Loss) else keras.losses.get(inner)

    def call(self, y_true, y_pred):
        half = ops.shape(y_pred)[-1] // 2
        return self.inner.call(y_pred[:, half:], y_pred[:, :half])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "inner": keras.losses.serialize(self.inner)}


def make_loss(
    name: LossName,
    *,
    margin: float = 0.2,
    hard_negatives: bool = True,
    temperature: float = 0.1,
    target_temperature: float = 0.0,
) -> keras.losses.Loss:
    """The loss object for a name in ``("rmse", "triplet", "contrastive")``."""
    if name == "rmse":
        return RMSELoss()
    if name == "triplet":
        return TripletLoss(margin=margin, negatives="hardest" if hard_negatives else "random")
    if name == "contrastive":
        return ContrastiveLoss(temperature=temperature, target_temperature=target_temperature)
    raise ValueError(f"unknown loss {name!r}; expected 'rmse', 'triplet' or 'contrastive'")
