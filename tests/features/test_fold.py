"""Folding batch normalisation into the convolution before it (inference arithmetic)."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval.features._model import fold_batch_norms

pytestmark = pytest.mark.filterwarnings("ignore")


def randomise_norms(model: object, rng: np.random.Generator) -> None:
    """Batch-norm statistics like a trained network's, not the identity of a fresh one."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, n),  # gamma
                    rng.normal(0, 0.2, n),  # beta
                    rng.normal(0, 0.3, n),  # moving mean
                    rng.uniform(0.3, 2.0, n),  # moving variance
                ]
            )


def test_only_foldable_pairs_are_folded_and_outputs_agree() -> None:
    import keras
    from keras import layers

    keras.utils.set_random_seed(1)
    inputs = keras.Input((16, 16, 3))
    a = layers.Conv2D(8, 3, padding="same", use_bias=False, name="a")(inputs)
    a = layers.BatchNormalization(name="a_bn")(a)  # folded
    a = layers.Activation("relu")(a)
    b = layers.Conv2D(8, 1, name="b")(a)
    b_bn = layers.BatchNormalization(name="b_bn")(b)  # b feeds two layers: kept
    c = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="c")(b_bn)
    c = layers.BatchNormalization(name="c_bn")(c)  # after an activation: kept
    d = layers.Conv2D(8, 3, strides=2, padding="same", name="d")(layers.Add()([b, b_bn]))
    d = layers.BatchNormalization(name="d_bn")(d)  # conv with a bias: folded
    outputs = layers.GlobalAveragePooling2D()(layers.Add()([c, d]))
    model = keras.Model(inputs, outputs)
    randomise_norms(model, np.random.default_rng(0))
    folded = fold_batch_norms(model)
    names = {layer.name for layer in folded.layers}
    assert {"a_a_bn", "d_d_bn", "b", "b_bn", "c", "c_bn"} <= names
    assert not {"a", "a_bn", "d", "d_bn"} & names
    x = np.random.default_rng(1).normal(size=(4, 16, 16, 3)).astype(np.float32)
    expected = np.asarray(model(x, training=False))
    np.testing.assert_allclose(
        np.asarray(folded(x, training=False)), expected, atol=1e-5, rtol=1e-5
    )


@pytest.mark.slow
def test_resnet50_with_trained_like_statistics_folds_within_float_rounding() -> None:
    """Random init leaves every norm near the identity; trained statistics test the arithmetic."""
    from keras.applications import ResNet50

    model = ResNet50(include_top=False, weights=None, pooling="avg")
    randomise_norms(model, np.random.default_rng(0))
    folded = fold_batch_norms(model)
    assert len(model.layers) - len(folded.layers) == 53  # every batch norm of ResNet-50
    x = np.random.default_rng(2).uniform(-120, 150, (2, 224, 224, 3)).astype(np.float32)
    expected = np.asarray(model(x, training=False))
    got = np.asarray(folded(x, training=False))
    # measured: max abs difference 5.0e-05 on features up to 135 (3.7e-07 relative)
    assert np.abs(got - expected).max() <= 1e-4 * np.abs(expected).max()
