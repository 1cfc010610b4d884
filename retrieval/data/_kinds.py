"""The kinds of image features a competition folder can hold, and their file names."""

from __future__ import annotations

from typing import Literal

LITE_KINDS = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
"""EfficientNet-Lite pooled features (:mod:`retrieval.features.efficientnet_lite`), a kind each."""
FeatureKind = Literal[
    "pool5", "fc1000", "clip", "efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"
]
FEATURE_FILES: dict[str, str] = {
    "pool5": "features_resnet1000intermediate_{split}.csv",
    "fc1000": "features_resnet1000_{split}.csv",
    "clip": "features_clip_{split}.csv",
    **{kind: f"features_{kind}_{{split}}.csv" for kind in LITE_KINDS},
}
RECORD_FILES = {  # the ResNet kinds share features.json
    "clip": "features_clip.json",
    **{kind: f"features_{kind}.json" for kind in LITE_KINDS},
}
RESNET50_DIMS = {"pool5": 2048, "fc1000": 1000}

__all__ = ["FEATURE_FILES", "LITE_KINDS", "RECORD_FILES", "RESNET50_DIMS", "FeatureKind"]
