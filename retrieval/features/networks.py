"""The image networks that make features, by name: ResNet-50 and EfficientNet-Lite0/1/2.

One place says what each name means: its row width, how pictures are decoded for it, how its
cache folder is labelled, how it is built, and what record it leaves. Extraction, the
competition writer, bundles and libraries all go through these functions, so a record written
by any of them rebuilds the same network (:func:`extraction_settings`).

>>> NETWORKS
('resnet50', 'efficientnet_lite0', 'efficientnet_lite1', 'efficientnet_lite2')
>>> network_dim("efficientnet_lite0"), network_dim("resnet50")
(1280, 2048)
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.features import efficientnet_lite as lite
from retrieval.features._model import (
    INPUT_SIZE,
    ResNet50Features,
    WeightsUnavailableError,
    describe_weights,
    feature_record,
    weights_from_record,
)

RESNET50 = "resnet50"
NETWORKS = (RESNET50, *lite.VARIANTS)
POOL5_DIM = 2048


def check_network(name: str) -> str:
    """``name`` if it names a network; a ValueError listing them otherwise.

    >>> check_network("resnet") # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown image network 'resnet'; use one of resnet50, efficientnet_lite0, ...
    """
    if name not in NETWORKS:
        raise ValueError(f"unknown image network {name!r}; use one of {', '.join(NETWORKS)}")
    return name


def network_dim(name: str) -> int:
    """The width of a network's feature rows."""
    return POOL5_DIM if check_network(name) == RESNET50 else lite.POOLED_DIM


def picture_settings(name: str) -> dict[str, Any]:
    """How pictures are decoded for a network (``size``, ``crop``, ``resample``)."""
    if check_network(name) == RESNET50:
        return {"size": INPUT_SIZE, "crop": False, "resample": "bilinear"}
    return {"size": lite.variant(name).input_size, "crop": False, "resample": "bilinear"}


def _lite_weights(weights: str | os.PathLike[str] | None) -> str | os.PathLike[str]:
    if weights is None:
        raise WeightsUnavailableError(
            "EfficientNet-Lite is used with its ImageNet weights only: --weights imagenet or a .pth file"
        )
    return weights


def cache_label(name: str, weights: str | os.PathLike[str] | None, seed: int = 0) -> str:
    """The feature cache's folder name for a network and its weights (without building it)."""
    if check_network(name) == RESNET50:
        return describe_weights(weights) + (f"(seed={seed})" if weights is None else "")
    weights = _lite_weights(weights)
    variant = lite.variant(name)
    source = lite.installed_weights_file(variant) if str(weights) == "imagenet" else Path(weights)
    if not source.is_file():
        raise WeightsUnavailableError(f"{source}: weights file not found")
    return f"{name}-{lite.sha256_of(source)[:16]}"


@functools.lru_cache(maxsize=4)
def build_network(
    name: str,
    weights: str | None,
    *,
    fc1000: bool = False,
    seed: int = 0,
    precision: str = "float32",
) -> ResNet50Features | lite.EfficientNetLiteFeatures:
    """A built network, reused across calls with the same settings. ``fc1000`` asks for the
    1000 ImageNet logits as a second output (ResNet-50's fc1000, EfficientNet-Lite's fc)."""
    if check_network(name) == RESNET50:
        return ResNet50Features(weights, fc1000=fc1000, seed=seed, precision=precision)
    if precision != "float32":
        raise ValueError(f"{name} runs in float32 only (precision {precision!r})")
    return lite.EfficientNetLiteFeatures(name, weights=_lite_weights(weights), logits=fc1000)


def query_encoder(
    name: str, weights: str | None, *, seed: int = 0, precision: str = "float32"
) -> Callable[[np.ndarray], np.ndarray]:
    """A function from a few uint8 pictures to their feature rows, with no compilation to wait
    for: ResNet-50's eager Keras call; EfficientNet-Lite's folded layers in NumPy, so an
    example-image query does not import Keras at all."""
    if check_network(name) == RESNET50:
        built = build_network(name, weights, seed=seed, precision=precision)
        return lambda pixels: built(pixels)[0]
    folded, _ = lite.folded_network(name, str(_lite_weights(weights)))
    return lambda pixels: lite.numpy_forward(folded, pixels)[0]


def network_record(
    name: str,
    weights: str | os.PathLike[str] | None,
    seed: int = 0,
    *,
    precision: str = "float32",
) -> dict[str, Any]:
    """What made a set of features (``features.json``, bundles, libraries)."""
    if check_network(name) == RESNET50:
        return feature_record(weights, seed, precision=precision)
    weights = _lite_weights(weights)
    variant = lite.variant(name)
    source = lite.installed_weights_file(variant) if str(weights) == "imagenet" else Path(weights)
    return lite.feature_record(name, {"source": source.name, "sha256": lite.sha256_of(source)})


def extraction_settings(
    record: dict[str, Any], override: str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """The ``model``, ``weights`` and ``seed`` that reproduce the features a record describes.

    For EfficientNet-Lite the installed package's weights (or ``override``, a ``.pth``) must
    have the recorded SHA-256: other weights would put pictures in another space.

    >>> extraction_settings({"model": "resnet50", "weights": "random", "seed": 2})
    {'model': 'resnet50', 'weights': None, 'seed': 2}
    """
    name = record.get("model")
    if name not in lite.VARIANTS:
        weights, seed = weights_from_record(record, override)
        return {"model": RESNET50, "weights": weights, "seed": seed}
    variant = lite.variant(name)
    source = Path(override) if override is not None else lite.installed_weights_file(variant)
    if not source.is_file():
        raise WeightsUnavailableError(f"{source}: weights file not found")
    if record.get("sha256") and lite.sha256_of(source) != record["sha256"]:
        raise WeightsUnavailableError(
            f"{source}: not the {name} weights the features were made with "
            f"({record.get('source')}, sha256 {str(record['sha256'])[:12]}...); "
            f"install the {variant.package} version that made them, or give that file (--weights PATH)"
        )
    return {"model": name, "weights": "imagenet" if override is None else str(override), "seed": 0}


def logit_layer(record: dict[str, Any]) -> tuple[np.ndarray, np.ndarray] | None:
    """The ``(kernel, bias)`` that turn a record's pooled features into its network's 1000
    ImageNet logits, or ``None`` for features without them (ResNet-50's pool5 records, CLIP).
    The installed weights must be the recorded ones (:func:`extraction_settings` checks)."""
    name = record.get("model")
    if name not in lite.VARIANTS:
        return None
    settings = extraction_settings(record)
    folded, _ = lite.folded_network(name, settings["weights"])
    return folded.fc_kernel, folded.fc_bias
