"""The registry of image networks: every name answers through its family."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from retrieval.features import WeightsUnavailableError, networks
from retrieval.features.networks import (
    FAMILIES,
    NETWORKS,
    NetworkFamily,
    extraction_settings,
    logit_layer,
    network_dim,
    picture_settings,
    registered,
)


def test_every_network_name_has_its_family() -> None:
    assert tuple(FAMILIES) == NETWORKS
    assert {type(FAMILIES[name]).__name__ for name in NETWORKS} == {
        "ResNet50Family",
        "EfficientNetLiteFamily",
    }
    assert network_dim("resnet50") == 2048 and network_dim("efficientnet_lite2") == 1280
    assert picture_settings("efficientnet_lite1")["size"] == 240
    assert picture_settings("resnet50")["size"] == 224


def test_an_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown image network 'vgg16'; use one of resnet50"):
        network_dim("vgg16")


def test_records_find_their_family() -> None:
    assert extraction_settings({"model": "resnet50", "weights": "random", "seed": 3})["seed"] == 3
    # the other pool5 records (the competition's shipped CSVs) cannot be reproduced: one line
    with pytest.raises(WeightsUnavailableError, match="came with the data"):
        extraction_settings({"model": "shipped"})
    # CLIP records and ResNet-50's have no logit layer for the concept bridge
    assert logit_layer({"model": "clip", "preset": "x"}) is None
    assert logit_layer({"model": "resnet50", "weights": "random"}) is None


class TinyFamily(NetworkFamily):
    """A made-up network: the mean colour of each picture."""

    names = ("tiny_mean_colour",)

    def dim(self, name: str) -> int:
        return 3

    def build(self, name: str, weights: Any, *, fc1000: bool, seed: int, precision: str) -> Any:
        return lambda pixels: (np.asarray(pixels, np.float32).mean(axis=(1, 2)), None)


@pytest.fixture
def tiny_family():
    registered(TinyFamily)
    yield FAMILIES["tiny_mean_colour"]
    del FAMILIES["tiny_mean_colour"]
    networks.build_network.cache_clear()


def test_a_new_family_is_one_class(tiny_family: NetworkFamily) -> None:
    assert network_dim("tiny_mean_colour") == 3
    assert picture_settings("tiny_mean_colour")["size"] == 224  # the base class's decoding
    encode = networks.query_encoder("tiny_mean_colour", None)
    pixels = np.full((2, 4, 4, 3), 7, dtype=np.uint8)
    np.testing.assert_array_equal(encode(pixels), np.full((2, 3), 7.0))


def test_a_name_cannot_be_registered_twice(tiny_family: NetworkFamily) -> None:
    with pytest.raises(ValueError, match="registered twice"):
        registered(TinyFamily)
