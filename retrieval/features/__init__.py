"""Image branch, part one: ResNet-50 features of pictures.

Examples
--------
>>> from retrieval.features import extract_features                       # doctest: +SKIP
>>> result = extract_features(paths, weights="imagenet", cache_dir=".cache/features")  # doctest: +SKIP
>>> result.pool5.shape, result.failures                                   # doctest: +SKIP
"""

from retrieval.features._competition import write_competition_features
from retrieval.features._extract import (
    ExtractionResult,
    FeatureCache,
    extract_array,
    extract_features,
)
from retrieval.features._images import BadImageError, load_picture, to_rgb_on_white
from retrieval.features._model import (
    ResNet50Features,
    WeightsUnavailableError,
    feature_record,
    keras_models_dir,
    weights_from_record,
)

__all__ = [
    "BadImageError",
    "ExtractionResult",
    "FeatureCache",
    "ResNet50Features",
    "WeightsUnavailableError",
    "extract_array",
    "extract_features",
    "feature_record",
    "keras_models_dir",
    "load_picture",
    "to_rgb_on_white",
    "weights_from_record",
    "write_competition_features",
]
