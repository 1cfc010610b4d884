"""Run a trained Keras layer chain with NumPy alone, for fast start-up at search time.

Training needs Keras (and its backend); answering a query needs only a few matrix
products. :class:`DenseStack` copies the weights of a linear chain of ``Normalization``,
``Dense``, ``Dropout`` and ``BatchNormalization`` layers into NumPy arrays and evaluates
them without importing Keras. Layers are plain dicts: ``affine`` (``(x + shift) * scale``),
``affine_after`` (``x * scale + shift``), ``dense`` (``act(x @ kernel + bias)``) and
``signed_power`` (``sign(x) * |x| ** exponent``).

Examples
--------
>>> import numpy as np
>>> stack = DenseStack([{"kind": "dense", "kernel": np.eye(2, dtype=np.float32),
...                      "bias": np.array([0.0, -5.0], dtype=np.float32), "activation": "relu"}])
>>> stack(np.array([[1.0, 2.0]])).tolist()
[[1.0, 0.0]]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from retrieval.store import Arrays, Meta

KERAS_EPSILON = 1e-7
_ACTIVATIONS = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0.0),
    "tanh": np.tanh,
}
_ARRAYS = {
    "affine": ("shift", "scale"),
    "affine_after": ("scale", "shift"),
    "dense": ("kernel", "bias"),
    "signed_power": (),
}


class DenseStack:
    """A chain of simple layers evaluated with NumPy (float32)."""

    def __init__(self, layers: list[dict[str, Any]]) -> None:
        for layer in layers:
            if layer.get("kind") not in _ARRAYS:
                raise ValueError(f"unknown layer kind {layer.get('kind')!r}")
            if layer["kind"] == "dense" and layer.get("activation", "linear") not in _ACTIVATIONS:
                raise ValueError(f"activation {layer['activation']!r} is not supported")
        self.layers = layers

    @classmethod
    def from_keras(cls, model: Any, *, upto: str | None = None) -> DenseStack:
        """Copy the layers of ``model`` (a linear chain) up to and including the layer named ``upto``."""
        layers: list[dict[str, Any]] = []
        for layer in model.layers:
            kind = type(layer).__name__
            if kind in ("InputLayer", "Dropout", "GaussianNoise"):
                pass
            elif kind == "Normalization":
                mean = np.asarray(layer.mean, dtype=np.float32).reshape(-1)
                scale = np.maximum(
                    np.sqrt(np.asarray(layer.variance, dtype=np.float32).reshape(-1)), KERAS_EPSILON
                )
                layers.append({"kind": "affine", "shift": -mean, "scale": 1.0 / scale})
            elif kind == "Dense":
                kernel, *bias = (np.asarray(w, dtype=np.float32) for w in layer.get_weights())
                activation = layer.get_config()["activation"]
                if not isinstance(activation, str):
                    raise ValueError(f"layer {layer.name}: only named activations can be exported")
                layers.append(
                    {
                        "kind": "dense",
                        "kernel": kernel,
                        "bias": bias[0] if bias else np.zeros(kernel.shape[1], np.float32),
                        "activation": activation,
                    }
                )
            elif kind == "BatchNormalization":
                config = layer.get_config()
                weights = dict(
                    zip(
                        [w.path.split("/")[-1] for w in layer.weights],
                        layer.get_weights(),
                        strict=True,
                    )
                )
                inv = 1.0 / np.sqrt(weights["moving_variance"] + config["epsilon"])
                gamma = weights.get("gamma", np.ones_like(inv))
                beta = weights.get("beta", np.zeros_like(inv))
                layers.append(
                    {
                        "kind": "affine_after",
                        "scale": (gamma * inv).astype(np.float32),
                        "shift": (beta - weights["moving_mean"] * gamma * inv).astype(np.float32),
                    }
                )
            else:
                raise ValueError(f"layer {layer.name} of type {kind} cannot be exported to NumPy")
            if upto is not None and layer.name == upto:
                break
        else:
            if upto is not None:
                raise ValueError(f"the model has no layer named {upto!r}")
        return cls(layers)

    def then(self, other: DenseStack) -> DenseStack:
        """This chain followed by ``other``."""
        return DenseStack(self.layers + other.layers)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out = np.asarray(x, dtype=np.float32)
        for layer in self.layers:
            kind = layer["kind"]
            if kind == "affine":
                out = (out + layer["shift"]) * layer["scale"]
            elif kind == "affine_after":
                out = out * layer["scale"] + layer["shift"]
            elif kind == "signed_power":
                out = np.sign(out) * np.power(np.abs(out), np.float32(layer["exponent"]))
            else:
                out = _ACTIVATIONS[layer.get("activation", "linear")](
                    out @ layer["kernel"] + layer["bias"]
                )
        return out.astype(np.float32, copy=False)

    def get_state(self) -> tuple[Meta, Arrays]:
        metas, arrays = [], {}
        for i, layer in enumerate(self.layers):
            metas.append(
                {
                    "kind": layer["kind"],
                    "activation": layer.get("activation", "linear"),
                    **({"exponent": float(layer["exponent"])} if "exponent" in layer else {}),
                }
            )
            for key in _ARRAYS[layer["kind"]]:
                arrays[f"{i}/{key}"] = np.asarray(layer[key], dtype=np.float32)
        return {"layers": metas}, arrays

    @classmethod
    def from_state(cls, meta: Meta, arrays: Mapping[str, np.ndarray]) -> DenseStack:
        layers = []
        for i, entry in enumerate(meta["layers"]):
            kind = entry.get("kind")
            if kind not in _ARRAYS:
                raise ValueError(f"unknown stored layer kind {kind!r}")
            layer: dict[str, Any] = {"kind": kind, "activation": entry.get("activation", "linear")}
            if "exponent" in entry:
                layer["exponent"] = float(entry["exponent"])
            layer.update({key: arrays[f"{i}/{key}"] for key in _ARRAYS[kind]})
            layers.append(layer)
        return cls(layers)

    @property
    def output_dim(self) -> int:
        dense = [layer for layer in self.layers if layer["kind"] == "dense"]
        return int(dense[-1]["kernel"].shape[1])
