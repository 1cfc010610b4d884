"""Image branch, part one: ResNet-50 or EfficientNet-Lite features of pictures (and, in :mod:`retrieval.features.clip`,
CLIP embeddings of pictures and texts through keras-hub, for libraries searched zero-shot).

Examples
--------
>>> from retrieval.features import extract_features                       # doctest: +SKIP
>>> result = extract_features(paths, weights="imagenet", cache_dir=".cache/features")  # doctest: +SKIP
>>> result.pool5.shape, result.failures                                   # doctest: +SKIP
"""

from typing import Any

from retrieval.features._compiled import accelerator, default_batch_size, default_workers
from retrieval.features._decode import SlotDecoder
from retrieval.features._extract import (
    ExtractionResult,
    FeatureCache,
    choose_decoder,
    extract_array,
    get_model,
    write_feature_manifest,
)
from retrieval.features._images import (
    HEIF_SUFFIXES,
    IMAGE_SUFFIXES,
    BadImageError,
    heif_as_jpeg,
    load_picture,
    to_rgb_on_white,
)
from retrieval.features._model import (
    ResNet50Features,
    WeightsUnavailableError,
    feature_record,
    keras_models_dir,
    weights_from_record,
)
from retrieval.features.engines import extract_features
from retrieval.features.networks import NETWORKS, extraction_settings, logit_layer, network_record

__all__ = [
    "HEIF_SUFFIXES",
    "IMAGE_SUFFIXES",
    "BadImageError",
    "ExtractionResult",
    "NETWORKS",
    "FeatureCache",
    "ResNet50Features",
    "SlotDecoder",
    "WeightsUnavailableError",
    "accelerator",
    "choose_decoder",
    "default_batch_size",
    "default_workers",
    "extract_array",
    "extract_features",
    "extraction_settings",
    "feature_record",
    "get_model",
    "heif_as_jpeg",
    "keras_models_dir",
    "load_picture",
    "logit_layer",
    "network_record",
    "to_rgb_on_white",
    "write_feature_manifest",
    "weights_from_record",
    "write_competition_features",
    "write_layout_features",
]


def __getattr__(name: str) -> Any:
    """``write_competition_features`` on first use: the competition reader (pandas) stays out of
    plain extraction, which then needs only NumPy, Pillow, tqdm and Keras."""
    if name in ("write_competition_features", "write_layout_features"):
        from retrieval.features import _competition

        globals()[name] = getattr(_competition, name)
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
