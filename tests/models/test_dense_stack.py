from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from retrieval.models.dense_stack import DenseStack


def chain_model(seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    data = np.random.default_rng(seed).normal(3.0, 2.0, (64, 12)).astype(np.float32)
    inputs = keras.Input(shape=(12,))
    x = keras.layers.Normalization(mean=data.mean(0), variance=data.var(0))(inputs)
    x = keras.layers.Dense(16, activation="relu")(x)
    x = keras.layers.Dropout(0.3)(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Dense(8, activation="tanh", name="code")(x)
    outputs = keras.layers.Dense(5, name="after")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mse")
    model.fit(data, np.random.default_rng(1).normal(size=(64, 5)), epochs=3, verbose=0)
    return model


def test_matches_keras_and_survives_save_load(tmp_path: Path) -> None:
    model = chain_model()
    x = np.random.default_rng(2).normal(3.0, 2.0, (10, 12)).astype(np.float32)
    stack = DenseStack.from_keras(model)
    np.testing.assert_allclose(stack(x), model.predict(x, verbose=0), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(DenseStack.from_state(*stack.get_state())(x), stack(x))
    assert stack.output_dim == 5


def test_upto_cuts_the_chain_at_a_named_layer() -> None:
    model = chain_model()
    x = np.random.default_rng(3).normal(size=(4, 12)).astype(np.float32)
    code = keras.Model(model.inputs, model.get_layer("code").output)
    np.testing.assert_allclose(
        DenseStack.from_keras(model, upto="code")(x),
        code.predict(x, verbose=0),
        rtol=1e-4,
        atol=1e-5,
    )
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        DenseStack.from_keras(model, upto="nope")


def test_unsupported_layers_are_refused() -> None:
    inputs = keras.Input(shape=(4,))
    model = keras.Model(inputs, keras.layers.Reshape((2, 2))(inputs))
    with pytest.raises(ValueError, match="Reshape cannot be exported"):
        DenseStack.from_keras(model)


def test_loading_needs_no_keras(tmp_path: Path) -> None:
    from retrieval import store

    store.save(tmp_path / "s", "stack", *DenseStack.from_keras(chain_model()).get_state())
    code = (
        "import sys, numpy as np; from retrieval import store; from retrieval.models.dense_stack import DenseStack;"
        f"s = store.load({str(tmp_path / 's')!r}, 'stack');"
        "print(DenseStack.from_state(s.meta, s.arrays)(np.zeros((1, 12))).shape, 'keras' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "(1, 5) False"


def test_signed_sqrt_and_chaining() -> None:
    root = DenseStack([{"kind": "signed_power", "exponent": 0.5}])
    scale = DenseStack(
        [{"kind": "affine", "shift": np.zeros(2, np.float32), "scale": np.full(2, 2, np.float32)}]
    )
    np.testing.assert_allclose(root.then(scale)(np.array([[4.0, -9.0]])), [[4.0, -6.0]])
    with pytest.raises(ValueError, match="unknown layer kind"):
        DenseStack([{"kind": "conv"}])
