"""The backend-specific part of inference: compiling one Keras model call, and the machine's defaults.

The model itself is plain Keras (``keras.ops`` only, see ``_model.py``); this adapter turns
its call into one compiled function of a fixed batch shape:

- JAX: ``jax.jit`` of ``model.stateless_call`` with the weights passed as arguments (XLA on
  every device). Calls are dispatched asynchronously, so the host decodes and copies the
  next batch while the device works on this one.
- TensorFlow: ``tf.function`` with a fixed input signature; ``jit_compile`` (XLA)
  when an accelerator is present, as Keras' own ``"auto"`` does (XLA is not faster on CPUs).
- any other backend (torch): Keras' compiled predict path, ``model.predict_on_batch``.

Every compiled call takes a fixed-shape batch of the model's input dtype (``(batch, 224, 224,
3)`` uint8 pictures for ResNet-50; int32 token ids for CLIP's text tower) and returns float32
arrays.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import numpy as np

ACCELERATOR_BATCH = 256
CPU_BATCH = 32


def backend_name() -> str:
    import keras

    return keras.backend.backend()


@functools.lru_cache(maxsize=1)
def accelerator() -> str | None:
    """The accelerator the Keras backend computes on (``"gpu"``, ``"tpu"``), or None on CPUs."""
    backend = backend_name()
    try:
        if backend == "jax":
            import jax

            platform = jax.default_backend()
            return None if platform == "cpu" else platform
        if backend == "tensorflow":
            import tensorflow as tf

            return "gpu" if tf.config.list_physical_devices("GPU") else None
        if backend == "torch":
            import torch

            return "gpu" if torch.cuda.is_available() else None
    except Exception:  # a broken driver is a machine without an accelerator
        return None
    return None


def default_batch_size() -> int:
    """256 pictures per call with an accelerator, 32 on CPUs (the Keras default)."""
    return ACCELERATOR_BATCH if accelerator() else CPU_BATCH


def default_workers() -> int:
    """Decoding workers: all cores but one with an accelerator; a quarter of them on CPUs,
    where the model needs the cores and a decoded picture costs about 1% of its features."""
    cores = os.cpu_count() or 1
    return max(1, cores - 1) if accelerator() else max(1, cores // 4)


def resolve_jit(jit_compile: bool | str) -> bool:
    """``"auto"``: XLA under JAX always; under TensorFlow only with an accelerator; never
    under other backends (torch's ``torch.compile`` is asked for with ``True``)."""
    if jit_compile == "auto":
        backend = backend_name()
        return backend == "jax" or (backend == "tensorflow" and accelerator() is not None)
    return bool(jit_compile)


class CompiledCall:
    """One compiled call of ``model`` on ``(batch_size, *input shape)`` batches of its input
    dtype (uint8 pictures, or int32 token ids).

    :meth:`submit` starts a batch and returns a handle (under JAX it returns at once);
    :meth:`fetch` waits for it and returns the outputs as float32 NumPy arrays. A caller that
    reuses its input buffer must wait for :meth:`fetch` first.
    """

    def __init__(self, model: Any, batch_size: int, *, jit_compile: bool | str = "auto") -> None:
        self.model = model
        self.batch_size = batch_size
        self.backend = backend_name()
        self.jit = resolve_jit(jit_compile)
        self.shape = (batch_size, *model.input_shape[1:])
        self.dtype = np.dtype(_input_dtype(model))
        build = getattr(self, f"_build_{self.backend}", self._build_other)
        self._call: Callable[[np.ndarray], Any] = build()

    @property
    def label(self) -> str:
        how = {
            "jax": "jax.jit",
            "tensorflow": "tf.function" + (" (XLA)" if self.jit else ""),
        }.get(self.backend, "predict_on_batch")
        return f"{how}, batch {self.batch_size}"

    def _build_jax(self) -> Callable[[np.ndarray], Any]:
        import jax

        model = self.model
        trainable = [v.value for v in model.trainable_variables]
        fixed = [v.value for v in model.non_trainable_variables]

        def forward(trainable: list, fixed: list, pixels: Any) -> Any:
            outputs, _ = model.stateless_call(trainable, fixed, pixels, training=False)
            return outputs

        compiled = jax.jit(forward)
        return lambda pixels: compiled(trainable, fixed, jax.device_put(pixels))

    def _build_tensorflow(self) -> Callable[[np.ndarray], Any]:
        import tensorflow as tf

        model = self.model
        spec = tf.TensorSpec(self.shape, tf.as_dtype(self.dtype))
        return tf.function(
            lambda pixels: model(pixels, training=False),
            input_signature=[spec],
            jit_compile=self.jit,
            autograph=False,
        )

    def _build_other(self) -> Callable[[np.ndarray], Any]:
        self.model.compile(jit_compile=self.jit)
        return self.model.predict_on_batch

    def submit(self, pixels: np.ndarray) -> Any:
        if pixels.shape != self.shape or pixels.dtype != self.dtype:
            raise ValueError(
                f"compiled call takes {self.dtype} {self.shape}, got {pixels.dtype} {pixels.shape}"
            )
        return self._call(pixels)

    @staticmethod
    def fetch(handle: Any) -> list[np.ndarray]:
        outputs = handle if isinstance(handle, list | tuple) else [handle]
        return [np.asarray(output, dtype=np.float32) for output in outputs]

    def __call__(self, pixels: np.ndarray) -> list[np.ndarray]:
        """Any number of rows: fixed-size calls, the last one padded with zeros (black pictures)."""
        n = len(pixels)
        if n == 0:
            return [np.zeros((0, *shape[1:]), np.float32) for shape in _output_shapes(self.model)]
        parts: list[list[np.ndarray]] = []
        for start in range(0, n, self.batch_size):
            chunk = pixels[start : start + self.batch_size]
            if len(chunk) < self.batch_size:
                chunk = pad_batch(chunk, self.batch_size)
            parts.append([o[: n - start] for o in self.fetch(self.submit(chunk))])
        return [np.concatenate(column)[:n] for column in zip(*parts, strict=True)]


def _input_dtype(model: Any) -> str:
    """The dtype of the model's (single) input, as NumPy names it."""
    import keras

    return keras.backend.standardize_dtype(model.inputs[0].dtype)


def _output_shapes(model: Any) -> list[tuple]:
    shapes = model.output_shape
    return list(shapes) if isinstance(shapes, list) else [shapes]


def pad_batch(pixels: np.ndarray, batch_size: int) -> np.ndarray:
    """``pixels`` followed by black pictures up to ``batch_size`` rows."""
    padded = np.zeros((batch_size, *pixels.shape[1:]), dtype=pixels.dtype)
    padded[: len(pixels)] = pixels
    return padded
