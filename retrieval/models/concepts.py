"""ImageNet concepts as a bridge between words and pictures (ConSE, Norouzi et al. 2014).

A network with ImageNet weights (EfficientNet-Lite) knows 1000 classes. :class:`ConceptBridge`
places each image at the convex combination of its classes' name vectors, weighted by the
class probabilities (``softmax(logits / temperature)``), in the word-vector space of the text
features' GloVe block; a description is placed at its GloVe vector (the block itself). Their
cosine is a score that needs no training pairs, so it also reaches words that no training
description used ("kitten" finds a cat). The retriever standardises it per query and adds it
with a weight chosen on held-out training items, as it does the tag score. With a
``side_weight``, the standardised concept vectors also join the image side of the mappers that
work in the ``features`` space (:meth:`ConceptBridge.side`), as the tag indicators do.

The class names are WordNet's synonyms of the ImageNet-1k classes
(``retrieval/features/imagenet_classes.txt``, one class a line, comma-separated); the first
``synonyms`` of each are embedded.

Examples
--------
>>> import numpy as np
>>> labels = np.eye(3, dtype="float32")                 # three classes, three word dimensions
>>> kernel, bias = np.eye(2, 3, dtype="float32"), np.zeros(3, "float32")   # 2 features -> 3 logits
>>> bridge = ConceptBridge(temperature=0.1).fit(labels, kernel, bias, text_columns=(0, 3))
>>> bridge.image_vectors(np.array([[9.0, 0.0]], "float32")).round(2).tolist()   # mostly class 0
[[1.0, 0.0, 0.0]]
>>> texts = np.array([[0.0, 2.0, 0.0], [0.0, 0.0, 0.0]], "float32")   # "class 1", and no known word
>>> bridge.scores(texts, bridge.image_vectors(np.array([[0.0, 9.0]], "float32"))).round(2).tolist()
[[1.0], [0.0]]
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from typing import Any

import numpy as np

from retrieval.arrays import unit_rows
from retrieval.store import Arrays, Meta


def imagenet_class_names(synonyms: int = 3) -> list[str]:
    """The 1000 ImageNet-1k classes, each as its first ``synonyms`` names joined by spaces.

    >>> imagenet_class_names()[949], imagenet_class_names(1)[953]
    ('strawberry', 'pineapple')
    """
    text = resources.files("retrieval.features").joinpath("imagenet_classes.txt").read_text("utf-8")
    lines = text.splitlines()
    if len(lines) != 1000:
        raise ValueError(f"imagenet_classes.txt has {len(lines)} lines, expected 1000")
    return [" ".join(line.split(", ")[:synonyms]).replace("-", " ") for line in lines]


class ConceptBridge:
    """Images placed among the word vectors of their ImageNet classes (see the module docstring).

    ``fit(label_vectors, logit_kernel, logit_bias, text_columns)`` keeps the classes' name
    vectors (1000, d), the layer that turns pooled features into logits, and which columns
    ``(start, stop)`` of the text features hold the word vectors.
    """

    kind = "concepts"

    def __init__(self, temperature: float = 1.0, side_weight: float = 0.0) -> None:
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature!r}")
        if side_weight < 0:
            raise ValueError(f"side_weight must be 0 or more, got {side_weight!r}")
        self.temperature = float(temperature)
        self.side_weight = float(side_weight)

    def fit(
        self,
        label_vectors: np.ndarray,
        logit_kernel: np.ndarray,
        logit_bias: np.ndarray,
        text_columns: tuple[int, int],
    ) -> ConceptBridge:
        labels = np.asarray(label_vectors, np.float32)
        kernel = np.asarray(logit_kernel, np.float32)
        bias = np.asarray(logit_bias, np.float32).reshape(-1)
        start, stop = (int(c) for c in text_columns)
        if kernel.ndim != 2 or kernel.shape[1] != len(labels) or bias.shape != (len(labels),):
            raise ValueError(
                f"a logit layer {kernel.shape} + {bias.shape} does not give the {len(labels)} classes"
            )
        if labels.ndim != 2 or stop - start != labels.shape[1] or start < 0:
            raise ValueError(
                f"text columns {start}:{stop} do not hold the {labels.shape[1]}-d word vectors"
            )
        self.label_vectors_ = unit_rows(labels)
        self.logit_kernel_, self.logit_bias_ = kernel, bias
        self.text_columns_ = (start, stop)
        self.side_mean_ = np.zeros(labels.shape[1], np.float32)
        self.side_scale_ = np.ones(labels.shape[1], np.float32)
        return self

    def fit_side(self, features: np.ndarray) -> ConceptBridge:
        """Learn the standardisation of the training images' concept vectors for :meth:`side`."""
        vectors = self.image_vectors(features)
        std = vectors.std(axis=0)
        self.side_mean_ = vectors.mean(axis=0).astype(np.float32)
        self.side_scale_ = np.where(std > 1e-6, 1.0 / np.maximum(std, 1e-6), 1.0).astype(np.float32)
        return self

    def side(self, features: np.ndarray) -> np.ndarray:
        """Standardised concept vectors times ``side_weight``: the columns that join the
        ``features`` image space (none when ``side_weight`` is 0)."""
        if not self.side_weight:
            return np.zeros((len(features), 0), np.float32)
        vectors = self.image_vectors(features)
        return ((vectors - self.side_mean_) * self.side_scale_ * self.side_weight).astype(
            np.float32
        )

    @property
    def n_features_in_(self) -> int:
        return int(self.logit_kernel_.shape[0])

    def image_vectors(self, features: np.ndarray) -> np.ndarray:
        """Pooled features (n, 1280) -> unit concept vectors (n, d)."""
        logits = np.asarray(features, np.float32) @ self.logit_kernel_ + self.logit_bias_
        logits = (logits - logits.max(axis=1, keepdims=True)) / self.temperature
        weights = np.exp(logits)
        weights /= weights.sum(axis=1, keepdims=True)
        return unit_rows(weights @ self.label_vectors_)

    def query_vectors(self, X: Any) -> np.ndarray:
        """Text features (n, D) -> their word-vector block, unit length (zero rows stay zero)."""
        start, stop = self.text_columns_
        block = X[:, start:stop]
        block = block.toarray() if hasattr(block, "toarray") else np.asarray(block)
        return unit_rows(np.asarray(block, np.float32))

    def scores(self, X: Any, image_vectors: np.ndarray) -> np.ndarray:
        """Cosines of the descriptions' word vectors (text features ``X``) with image concept
        vectors, (n_texts, n_images)."""
        return self.query_vectors(X) @ np.asarray(image_vectors, np.float32).T

    def get_state(self) -> tuple[Meta, Arrays]:
        meta = {
            "kind": self.kind,
            "temperature": self.temperature,
            "side_weight": self.side_weight,
            "text_columns": list(self.text_columns_),
        }
        arrays = {
            "label_vectors": self.label_vectors_,
            "logit_kernel": self.logit_kernel_,
            "logit_bias": self.logit_bias_,
            "side_mean": self.side_mean_,
            "side_scale": self.side_scale_,
        }
        return meta, arrays

    @classmethod
    def from_state(cls, meta: Meta, arrays: Mapping[str, np.ndarray]) -> ConceptBridge:
        bridge = cls(float(meta["temperature"]), float(meta.get("side_weight", 0.0)))
        bridge.fit(
            arrays["label_vectors"],
            arrays["logit_kernel"],
            arrays["logit_bias"],
            tuple(meta["text_columns"]),
        )
        if "side_mean" in arrays:
            bridge.side_mean_ = np.asarray(arrays["side_mean"], np.float32)
            bridge.side_scale_ = np.asarray(arrays["side_scale"], np.float32)
        return bridge
