"""ResNet-50 from ``keras.applications``: pool5 (2048-d) and optionally the fc1000 logits."""

from __future__ import annotations

import functools
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.errors import RetrievalError

NOTOP_FILE = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
TOP_FILE = "resnet50_weights_tf_dim_ordering_tf_kernels.h5"


class WeightsUnavailableError(RetrievalError):
    """ImageNet weights are neither cached nor downloadable."""


def keras_models_dir() -> Path:
    """Where Keras caches downloaded weights (``$KERAS_HOME/models``, default ``~/.keras/models``)."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"


INPUT_SIZE = 224
PREPROCESSING = "keras.applications.resnet50.preprocess_input (RGB to BGR, ImageNet channel means)"


def feature_record(
    weights: str | os.PathLike[str] | None, seed: int = 0, *, precision: str = "float32"
) -> dict[str, Any]:
    """What made a set of features: kept beside feature CSVs, in bundles and in libraries.

    A ``precision`` other than float32 is recorded as ``"precision"`` (float32 records carry no
    such key, as before).

    >>> feature_record(None, seed=3)["weights"], feature_record("imagenet")["weights"]
    ('random', 'imagenet')
    >>> feature_record(None, precision="bfloat16")["precision"]
    'bfloat16'
    """
    record: dict[str, Any] = {
        "model": "resnet50",
        "layers": "pool5 = global average pool (2048); fc1000 = logits of the 1000-way layer",
        "input": INPUT_SIZE,
        "preprocessing": PREPROCESSING,
    }
    if weights is None:
        record.update(weights="random", seed=int(seed))
    elif str(weights) == "imagenet":
        record.update(weights="imagenet")
    else:
        path = Path(weights)
        record.update(
            weights="file", file=path.name, sha256=sha256_of(path) if path.is_file() else None
        )
    if precision != "float32":
        record["precision"] = precision
    return record


def sha256_of(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a weights file, hashed once per file version (path, size, mtime): a
    search, an index run or a training run asks for it several times."""
    stat = Path(path).stat()
    return _sha256(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    import hashlib

    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def weights_from_record(
    record: dict[str, Any], override: str | os.PathLike[str] | None = None
) -> tuple[str | os.PathLike[str] | None, int]:
    """The ``(weights, seed)`` that reproduce the features a record describes.

    ``override`` (a weights file) is needed when the record names a file; it must have the
    recorded SHA-256. Features shipped with the data or of an unknown origin cannot be
    reproduced: that is a :class:`WeightsUnavailableError` explaining what to do.
    """
    kind = record.get("weights")
    if record.get("model") == "resnet50" and kind == "random":
        return None, int(record.get("seed", 0))
    if record.get("model") == "resnet50" and kind == "imagenet":
        return "imagenet", 0
    if record.get("model") == "resnet50" and kind == "file":
        if override is None:
            raise WeightsUnavailableError(
                f"the features were made with the weights file {record.get('file')}; "
                "give that file (--weights PATH) to encode pictures the same way"
            )
        digest = sha256_of(override) if Path(override).is_file() else None
        if record.get("sha256") and digest != record["sha256"]:
            raise WeightsUnavailableError(
                f"{override}: not the weights file the features were made with "
                f"({record.get('file')}, sha256 {str(record['sha256'])[:12]}...)"
            )
        return override, 0
    if record.get("model") == "shipped":
        raise WeightsUnavailableError(
            "this model was trained on feature CSVs that came with the data (the competition's "
            "are from a ResNet made outside this package), so pictures cannot be encoded the same "
            "way; for image queries, extract features with `retrieval features` and train on them"
        )
    raise WeightsUnavailableError(
        f"unknown feature record {record!r}: cannot encode pictures the same way"
    )


def describe_weights(weights: str | os.PathLike[str] | None) -> str:
    """A short label for manifests: ``imagenet``, ``random(seed=0)``, or the file name."""
    if weights is None:
        return "random"
    return str(weights) if weights == "imagenet" else f"file:{Path(weights).name}"


PRECISIONS = ("float32", "bfloat16")
IMAGENET_BGR_MEAN = (103.939, 116.779, 123.68)  # keras.applications "caffe" preprocessing


class KerasImageNetwork:
    """What the uint8 image networks share (ResNet-50, EfficientNet-Lite): one Keras model
    ``network`` from uint8 pictures to the pooled rows (and the ImageNet logits when
    ``has_logits``), compiled calls per batch size, and eager calls."""

    network: Any
    _compiled: dict[tuple[int, bool | str], Any]

    @property
    def has_logits(self) -> bool:
        raise NotImplementedError

    def compiled(self, batch_size: int, *, jit_compile: bool | str = "auto") -> Any:
        """The network compiled for ``batch_size`` uint8 pictures per call (built once, reused)."""
        from retrieval.features._compiled import CompiledCall

        key = (batch_size, jit_compile)
        if key not in self._compiled:
            self._compiled[key] = CompiledCall(self.network, batch_size, jit_compile=jit_compile)
        return self._compiled[key]

    def split(self, outputs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
        """The network's outputs as ``(pooled rows, logits or None)``."""
        return outputs[0], (outputs[1] if self.has_logits else None)

    def __call__(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """uint8 RGB pictures -> pooled rows and logits or None: an eager call of
        :attr:`network` (no compilation, so no wait for a few query pictures);
        :meth:`compiled` is the fast path for many."""
        outputs = self.network(np.asarray(pixels, dtype=np.uint8), training=False)
        outputs = outputs if isinstance(outputs, list | tuple) else [outputs]
        return self.split([np.asarray(o, dtype=np.float32) for o in outputs])


class ResNet50Features(KerasImageNetwork):
    """ResNet-50 that maps uint8 RGB pictures to pool5 (and fc1000 logits when asked).

    ``weights``: ``"imagenet"`` (Keras cache, downloaded when online), a local ``.h5``/``.keras``
    weights file, or ``None`` for a seeded random initialisation (features then carry no
    ImageNet knowledge; every output records this).

    :attr:`network` is one backend-agnostic Keras model from ``(n, 224, 224, 3)`` uint8 to
    pool5 ``(n, 2048)`` float32 (and the logits): ``preprocess_input`` (RGB to BGR, ImageNet
    channel means) is its first step, written in ``keras.ops``, so batches travel as uint8 and
    are preprocessed where the model runs. :attr:`model` is the plain ``keras.applications``
    pool5 model on preprocessed float input, as before.

    Each batch normalisation is folded into the convolution before it (inference only:
    ``kernel * gamma / sqrt(var + eps)``, bias ``beta - mean * gamma / sqrt(var + eps)``, in float64
    then float32): a third faster under TensorFlow on CPUs, the same features up to float
    rounding (``fold=False`` keeps the layers as they are).

    ``precision="bfloat16"`` runs the convolutions in mixed bfloat16 (float32 weights, input
    preprocessing, pooling and logits): on accelerators it is faster; its features have a
    cosine of about 0.99999 to the float32 ones (measured by the tests and the benchmark).
    """

    def __init__(
        self,
        weights: str | os.PathLike[str] | None = "imagenet",
        *,
        fc1000: bool = False,
        seed: int = 0,
        precision: str = "float32",
        fold: bool = True,
    ) -> None:
        import keras

        if precision not in PRECISIONS:
            raise ValueError(f"precision {precision!r}: use one of {', '.join(PRECISIONS)}")
        self.weights = weights
        self.fc1000 = fc1000
        self.seed = seed
        self.precision = precision
        self.fold = fold
        keras.utils.set_random_seed(seed)
        if weights is None:
            warnings.warn(
                "ResNet-50 with random weights (weights=None): features are not ImageNet features",
                stacklevel=2,
            )
        base = self._build(keras, weights)
        self._fc_kernel = self._fc_bias = None
        if fc1000:
            pool = base.get_layer("avg_pool").output
            dense = base.get_layer("predictions")
            self.model = keras.Model(base.inputs, pool)
            kernel, bias = dense.get_weights()
            self._fc_kernel = np.asarray(kernel, dtype=np.float32)
            self._fc_bias = np.asarray(bias, dtype=np.float32)
        else:
            self.model = base
        self.network = self._network(keras)
        self._compiled: dict[tuple[int, bool | str], Any] = {}

    def _build(self, keras: Any, weights: str | os.PathLike[str] | None) -> Any:
        from keras.applications import ResNet50

        include_top = self.fc1000
        if weights is None:
            return ResNet50(include_top=include_top, weights=None, pooling="avg")
        if weights == "imagenet":
            expected = keras_models_dir() / (TOP_FILE if include_top else NOTOP_FILE)
            try:
                return ResNet50(include_top=include_top, weights="imagenet", pooling="avg")
            except Exception as exc:  # offline: urllib/HTTP errors of many kinds
                raise WeightsUnavailableError(
                    f"ImageNet weights for ResNet-50 are not in the Keras cache and could not be downloaded "
                    f"({type(exc).__name__}); put {expected.name} at {expected}, or give a weights file "
                    "(--weights PATH; weights=PATH in Python), or use random weights (--weights "
                    "none; weights=None), or EfficientNet-Lite0's ImageNet weights, which work "
                    "offline (--model efficientnet_lite0)"
                ) from None
        path = Path(weights)
        if not path.is_file():
            raise WeightsUnavailableError(f"{path}: weights file not found")
        return ResNet50(include_top=include_top, weights=str(path), pooling="avg")

    def _network(self, keras: Any) -> Any:
        """uint8 pixels -> preprocessing -> ResNet-50 -> pool5 [, logits], in ``keras.ops``."""
        from keras import ops

        pixels = keras.Input((INPUT_SIZE, INPUT_SIZE, 3), dtype="uint8", name="pixels")
        x = ops.flip(ops.cast(pixels, "float32"), axis=-1)  # RGB -> BGR
        x = ops.subtract(x, np.asarray(IMAGENET_BGR_MEAN, dtype=np.float32))
        if self.precision == "float32":
            trunk = fold_batch_norms(self.model) if self.fold else self.model
            pool5 = trunk(x)
        else:
            trunk = self._mixed_trunk(keras)
            trunk = fold_batch_norms(trunk) if self.fold else trunk
            pool5 = ops.mean(ops.cast(trunk(x), "float32"), axis=(1, 2))
        outputs = [pool5]
        if self.fc1000:
            dense = keras.layers.Dense(1000, dtype="float32", name="fc1000_logits")
            outputs.append(dense(pool5))
            dense.set_weights([self._fc_kernel, self._fc_bias])
        return keras.Model(pixels, outputs, name=f"resnet50_uint8_{self.precision}")

    def _mixed_trunk(self, keras: Any) -> Any:
        """ResNet-50 without pooling under the ``mixed_bfloat16`` policy, sharing no state with
        the global policy (restored at once); weights copied from the float32 model."""
        from keras.applications import ResNet50

        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy("mixed_bfloat16")
        try:
            trunk = ResNet50(include_top=False, weights=None, pooling=None)
        finally:
            keras.config.set_dtype_policy(previous)
        for layer in trunk.layers:
            if layer.weights:
                layer.set_weights(self.model.get_layer(layer.name).get_weights())
        return trunk

    @property
    def label(self) -> str:
        return describe_weights(self.weights) + (
            f"(seed={self.seed})" if self.weights is None else ""
        )

    @property
    def has_logits(self) -> bool:
        return self.fc1000


def fold_batch_norms(model: Any) -> Any:
    """A functional Keras model in which every ``Conv2D -> BatchNormalization`` pair is one
    ``Conv2D`` with a bias (inference arithmetic; layers other than the pairs are shared).

    A pair is a batch normalisation over the last axis whose only input is the output of a
    convolution that feeds nothing else (in ResNet-50: every ``*_conv`` and its ``*_bn``).
    """
    import keras

    uses: dict[int, int] = {}
    for layer in model.layers:
        for node in layer._inbound_nodes:
            for tensor in node.input_tensors:
                uses[id(tensor)] = uses.get(id(tensor), 0) + 1
    norm_of: dict[str, Any] = {}
    for layer in model.layers:
        if not isinstance(layer, keras.layers.BatchNormalization) or layer.axis not in (-1, 3):
            continue
        if len(layer._inbound_nodes) != 1:
            continue
        (tensor,) = layer._inbound_nodes[0].input_tensors
        source = tensor._keras_history.operation
        if (
            isinstance(source, keras.layers.Conv2D)
            and source.data_format == "channels_last"
            and source.get_config()["activation"] == "linear"
            and len(source._inbound_nodes) == 1
            and uses.get(id(tensor)) == 1
        ):
            norm_of[source.name] = layer
    folded = {norm.name for norm in norm_of.values()}

    def call(layer: Any, *args: Any, **kwargs: Any) -> Any:
        if layer.name in folded:
            return args[0]
        if layer.name not in norm_of:
            return layer(*args, **kwargs)
        norm = norm_of[layer.name]
        scale = np.asarray(norm.gamma, np.float64) if norm.scale else 1.0
        scale = scale / np.sqrt(np.asarray(norm.moving_variance, np.float64) + norm.epsilon)
        bias = np.asarray(layer.bias, np.float64) if layer.use_bias else 0.0
        bias = (bias - np.asarray(norm.moving_mean, np.float64)) * scale
        bias = bias + (np.asarray(norm.beta, np.float64) if norm.center else 0.0)
        conv = keras.layers.Conv2D(
            layer.filters,
            layer.kernel_size,
            strides=layer.strides,
            padding=layer.padding,
            data_format=layer.data_format,
            dilation_rate=layer.dilation_rate,
            groups=layer.groups,
            activation=None,
            use_bias=True,
            dtype=layer.dtype_policy,
            name=f"{layer.name}_{norm.name}",
        )
        output = conv(*args, **kwargs)
        kernel = np.asarray(layer.kernel, np.float64) * scale
        conv.set_weights([kernel.astype(np.float32), np.asarray(bias, np.float32)])
        return output

    return keras.models.clone_model(model, clone_function=lambda layer: layer, call_function=call)
