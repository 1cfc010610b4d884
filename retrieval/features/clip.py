"""CLIP (keras-hub) as a zero-shot encoder: pictures and texts as unit rows of one space.

A :class:`ClipEncoder` loads a keras-hub CLIP preset: a preset name such as
``clip_vit_base_patch32`` (downloaded once into the kagglehub cache, ``$KAGGLEHUB_CACHE`` or
``~/.cache/kagglehub``) or a local preset folder (``config.json``, ``model.weights.h5``,
``preprocessor.json``, ``tokenizer.json``, ``assets/``), so it runs offline once the files are
there. A missing preset is one :class:`ClipPresetError` line saying where to put the files.

Pictures are decoded as :func:`~retrieval.features.load_picture` decodes them (JPEG draft
mode, EXIF orientation, transparency on white), centre-cropped and resized the preset's way
(its image converter's size and interpolation); the converter's rescaling runs inside the
network, so batches travel as uint8. Both towers are compiled for a fixed batch shape, the
last batch padded. Many files go through :meth:`ClipEncoder.encode_files`: the worker decoding
and the per-file cache of :func:`~retrieval.features.extract_features`.

keras-hub (and TensorFlow under it) is imported only when an encoder is built.

Examples
--------
>>> encoder = ClipEncoder("clip_vit_base_patch32")                  # doctest: +SKIP
>>> pictures = encoder.encode_images(["cat.jpg", "dog.jpg"])        # doctest: +SKIP
>>> (encoder.encode_texts(["a photo of a dog"]) @ pictures.T).argmax()  # doctest: +SKIP
1
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.errors import refuse_single_string
from retrieval.features._extract import ExtractionResult, extract_features
from retrieval.features._images import load_picture
from retrieval.features._model import WeightsUnavailableError

MODEL = "clip"
DEFAULT_PRESET = "clip_vit_base_patch32"
PRESET_FILES = "config.json, model.weights.h5, preprocessor.json, tokenizer.json and assets/"
TEXT_BATCH = 32


class ClipPresetError(WeightsUnavailableError):
    """A CLIP preset that cannot be found, downloaded or loaded (one line: what, where)."""


def parse_model_spec(spec: str) -> str:
    """The preset of a ``clip:PRESET_OR_FOLDER`` model argument.

    >>> parse_model_spec("clip:clip_vit_base_patch32")
    'clip_vit_base_patch32'
    >>> parse_model_spec("resnet")
    Traceback (most recent call last):
    ...
    ValueError: --model 'resnet': use clip:PRESET_OR_FOLDER (a keras-hub preset such as clip_vit_base_patch32, or a local preset folder)
    """
    kind, colon, preset = str(spec).partition(":")
    if kind != MODEL or not colon or not preset.strip():
        raise ValueError(
            f"--model {spec!r}: use clip:PRESET_OR_FOLDER (a keras-hub preset such as "
            f"{DEFAULT_PRESET}, or a local preset folder)"
        )
    return preset.strip()


def clip_record(preset: str, embedding_dim: int) -> dict[str, Any]:
    """What embedded a set of pictures, as libraries record it (like ``feature_record``).

    >>> clip_record("clip_vit_base_patch32", 512)
    {'model': 'clip', 'preset': 'clip_vit_base_patch32', 'embedding_dim': 512}
    """
    return {"model": MODEL, "preset": str(preset), "embedding_dim": int(embedding_dim)}


def is_clip_record(record: dict[str, Any] | None) -> bool:
    """Whether a feature record names CLIP.

    >>> is_clip_record({"model": "clip", "preset": "p", "embedding_dim": 8}), is_clip_record(None)
    (True, False)
    """
    return bool(record) and record.get("model") == MODEL


def kagglehub_cache() -> Path:
    """Where preset names are downloaded to: ``$KAGGLEHUB_CACHE``, else ``~/.cache/kagglehub``."""
    return Path(os.environ.get("KAGGLEHUB_CACHE") or Path.home() / ".cache" / "kagglehub")


def _looks_like_folder(preset: str) -> bool:
    if "://" in preset:
        return False
    return os.sep in preset or preset.startswith((".", "~")) or Path(preset).exists()


def resolve_preset(preset: str | os.PathLike[str]) -> str:
    """A local preset folder as an absolute path (checked), a preset name or handle as given.

    >>> resolve_preset("clip_vit_base_patch32")
    'clip_vit_base_patch32'
    >>> resolve_preset("./no/such/folder")
    Traceback (most recent call last):
    ...
    retrieval.features.clip.ClipPresetError: /.../no/such/folder: no such CLIP preset folder (a preset folder holds config.json, model.weights.h5, preprocessor.json, tokenizer.json and assets/)
    """
    text = os.fspath(preset)
    if not _looks_like_folder(text):
        return text
    folder = Path(text).expanduser().absolute()
    if not folder.is_dir():
        raise ClipPresetError(
            f"{folder}: no such CLIP preset folder (a preset folder holds {PRESET_FILES})"
        )
    folder = folder.resolve()
    weights = [folder / "model.weights.h5", *folder.glob("model_*.weights.h5")]
    if not (folder / "config.json").is_file() or not any(w.is_file() for w in weights):
        raise ClipPresetError(
            f"{folder}: not a keras-hub preset folder (it needs {PRESET_FILES}); save one with "
            "CLIPBackbone.save_to_preset and CLIPPreprocessor.save_to_preset, or copy a "
            "downloaded preset"
        )
    return str(folder)


def _load_error(preset: str, exc: Exception) -> ClipPresetError:
    """One line for a preset keras-hub could not load."""
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    if Path(preset).is_dir():
        return ClipPresetError(f"{preset}: cannot load this CLIP preset folder ({reason})")
    import keras_hub

    known = sorted(keras_hub.models.CLIPBackbone.presets)
    if "://" not in preset and preset not in known:
        return ClipPresetError(
            f"{preset}: not a CLIP preset name or folder; use a local preset folder or one of "
            f"{', '.join(known)}"
        )
    handle = keras_hub.models.CLIPBackbone.presets.get(preset, {}).get("kaggle_handle", "")
    where = handle.replace("kaggle://", "models/", 1) or "its folder"
    return ClipPresetError(
        f"CLIP preset {preset!r} is not in the kagglehub cache {kagglehub_cache()} and could not "
        f"be downloaded ({type(exc).__name__}); copy the preset folder from a kagglehub cache "
        f"that has it ({where}) and give --model clip:/path/to/that/folder, or set "
        "KAGGLEHUB_CACHE to a copy of that whole cache"
    )


def import_keras_hub() -> Any:
    """The ``keras_hub`` module, or one line saying how to install it."""
    try:
        import keras_hub
    except ImportError:
        raise ClipPresetError(
            "CLIP needs the keras-hub package: pip install 'retrieval[clip]' "
            "(keras-hub>=0.29,<0.30)"
        ) from None
    return keras_hub


def _load(preset: str) -> tuple[Any, Any]:
    """keras-hub's CLIP backbone and preprocessor (tokenizer and image converter) of ``preset``."""
    keras_hub = import_keras_hub()
    try:
        backbone = keras_hub.models.CLIPBackbone.from_preset(preset)
        preprocessor = keras_hub.models.CLIPPreprocessor.from_preset(preset)
    except Exception as exc:  # offline downloads fail with many kinds of errors
        raise _load_error(preset, exc) from None
    if preprocessor.image_converter is None or preprocessor.image_converter.image_size is None:
        raise ClipPresetError(f"{preset}: the preset has no image converter with an image size")
    return backbone, preprocessor


def _unit(keras: Any, rows: Any) -> Any:
    """Rows scaled to unit length, in ``keras.ops`` (float32)."""
    ops = keras.ops
    rows = ops.cast(rows, "float32")
    return rows * ops.rsqrt(ops.maximum(ops.sum(rows * rows, axis=-1, keepdims=True), 1e-12))


def _power_of_two_at_least(n: int, limit: int) -> int:
    """The smallest power of two holding ``n`` rows, at most ``limit``.

    >>> _power_of_two_at_least(1, 32), _power_of_two_at_least(5, 32), _power_of_two_at_least(90, 32)
    (1, 8, 32)
    """
    return min(limit, 1 << max(0, n - 1).bit_length())


class ClipImageTower:
    """CLIP's image side as an :class:`~retrieval.features._extract.ImageNetwork`:
    ``(n, size, size, 3)`` uint8 -> the converter's rescaling -> vision encoder, pooler and
    projection -> unit rows ``(n, dim)``."""

    def __init__(self, backbone: Any, converter: Any, label: str) -> None:
        import keras

        height, width = converter.image_size
        if height != width:
            raise ClipPresetError(f"image size {height}x{width}: only square CLIP inputs are read")
        self.label = label
        self.dim = int(backbone.projection_dim)
        self.input_size = int(height)
        self.crop = bool(converter.crop_to_aspect_ratio)
        self.resample = "bicubic" if converter.interpolation == "bicubic" else "bilinear"
        pixels = keras.Input((height, width, 3), dtype="uint8", name="pixels")
        x = keras.ops.cast(pixels, "float32")
        if converter.scale is not None:
            x = x * np.asarray(converter.scale, np.float32)
        if converter.offset is not None:
            x = x + np.asarray(converter.offset, np.float32)
        rows = _unit(keras, backbone.get_vision_embeddings(x))
        self.network = keras.Model(pixels, rows, name="clip_image_uint8")
        self._compiled: dict[tuple[int, bool | str], Any] = {}

    def compiled(self, batch_size: int, *, jit_compile: bool | str = "auto") -> Any:
        """The tower compiled for ``batch_size`` pictures per call (built once, reused)."""
        from retrieval.features._compiled import CompiledCall

        key = (batch_size, jit_compile)
        if key not in self._compiled:
            self._compiled[key] = CompiledCall(self.network, batch_size, jit_compile=jit_compile)
        return self._compiled[key]

    @staticmethod
    def split(outputs: list[np.ndarray]) -> tuple[np.ndarray, None]:
        return outputs[0], None


class ClipEncoder:
    """A keras-hub CLIP preset that embeds pictures and texts as unit rows of one space.

    ``preset``: a keras-hub preset name (``clip_vit_base_patch32``, ...; needs the network
    once, then the kagglehub cache) or a local preset folder. ``batch_size``: pictures per
    compiled call (default: chosen from the machine); ``jit_compile`` as in Keras.
    """

    def __init__(
        self,
        preset: str | os.PathLike[str] = DEFAULT_PRESET,
        *,
        batch_size: int | None = None,
        jit_compile: bool | str = "auto",
    ) -> None:
        import keras

        self.preset = resolve_preset(preset)
        self.batch_size = batch_size
        self.jit_compile = jit_compile
        backbone, self.preprocessor = _load(self.preset)
        self.embedding_dim = int(backbone.projection_dim)
        self.sequence_length = min(
            int(self.preprocessor.sequence_length),
            int(backbone.text_encoder.max_sequence_length),
        )
        self.preprocessor.sequence_length = self.sequence_length  # the packer cuts long texts
        self.images = ClipImageTower(
            backbone, self.preprocessor.image_converter, self._label(backbone)
        )
        tokens = keras.Input((self.sequence_length,), dtype="int32", name="token_ids")
        rows = _unit(keras, backbone.get_text_embeddings(tokens))
        self.text_network = keras.Model(tokens, rows, name="clip_text")
        self._text_calls: dict[int, Any] = {}

    def _label(self, backbone: Any) -> str:
        """The cache label: the preset's name and a digest of its config (and weights file)."""
        digest = hashlib.sha256(self.preset.encode())
        digest.update(json.dumps(backbone.get_config(), sort_keys=True, default=str).encode())
        weights = Path(self.preset) / "model.weights.h5"
        if weights.is_file():
            stat = weights.stat()
            digest.update(f"{stat.st_size}|{stat.st_mtime_ns}".encode())
        return f"clip-{Path(self.preset).name}-{digest.hexdigest()[:12]}"

    @property
    def record(self) -> dict[str, Any]:
        """``{"model": "clip", "preset": ..., "embedding_dim": ...}`` (see :func:`clip_record`)."""
        return clip_record(self.preset, self.embedding_dim)

    def _batch(self, n: int) -> int:
        from retrieval.features._compiled import default_batch_size

        return _power_of_two_at_least(n, self.batch_size or default_batch_size())

    def encode_images(self, images: Sequence[Any], *, draft: bool = True) -> np.ndarray:
        """``(n, d)`` float32 unit rows of pictures (paths or PIL images), in order.

        A picture that cannot be read raises :class:`~retrieval.features.BadImageError`;
        for folders of files use :meth:`encode_files` (workers, cache, bad files skipped).
        """
        images = list(images)
        if not images:
            return np.zeros((0, self.embedding_dim), np.float32)
        tower = self.images
        call = tower.compiled(self._batch(len(images)), jit_compile=self.jit_compile)
        parts = []
        for start in range(0, len(images), call.batch_size):
            pixels = np.stack(
                [
                    load_picture(
                        image,
                        tower.input_size,
                        draft=draft,
                        crop=tower.crop,
                        resample=tower.resample,
                    )
                    for image in images[start : start + call.batch_size]
                ]
            )
            parts.append(call(pixels)[0])
        return np.concatenate(parts)

    def encode_files(
        self,
        paths: Sequence[str | os.PathLike[str]],
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        batch_size: int | None = None,
        workers: int | None = None,
        progress: bool | None = None,
    ) -> ExtractionResult:
        """Embeddings of many picture files through the pipeline of
        :func:`~retrieval.features.extract_features` (worker decoding, per-file cache in
        ``cache_dir``); bad files are skipped and listed. The rows are ``result.pool5``."""
        return extract_features(
            paths,
            network=self.images,
            cache_dir=cache_dir,
            batch_size=batch_size or self.batch_size,
            workers=workers,
            progress=progress,
            jit_compile=self.jit_compile,
        )

    def tokenize(self, texts: Sequence[str]) -> np.ndarray:
        """``(n, sequence_length)`` int32 token ids (lower-cased, start and end tokens, padded)."""
        refuse_single_string(texts, "texts")
        if not len(texts):
            return np.zeros((0, self.sequence_length), np.int32)
        packed = self.preprocessor({"prompts": [str(t) for t in texts], "images": None})
        return np.asarray(packed["token_ids"], np.int32)[:, : self.sequence_length]

    def token_count(self, text: str) -> int:
        """How many tokens ``text`` has, before truncation to ``sequence_length - 2``."""
        return int(np.asarray(self.preprocessor.tokenizer([text.lower()])[0]).size)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """``(n, d)`` float32 unit rows of texts; a text beyond ``sequence_length`` tokens is cut."""
        tokens = self.tokenize(texts)
        if not len(tokens):
            return np.zeros((0, self.embedding_dim), np.float32)
        from retrieval.features._compiled import CompiledCall

        size = _power_of_two_at_least(len(tokens), TEXT_BATCH)
        if size not in self._text_calls:
            self._text_calls[size] = CompiledCall(
                self.text_network, size, jit_compile=self.jit_compile
            )
        return self._text_calls[size](tokens)[0]


@functools.lru_cache(maxsize=2)
def clip_encoder(preset: str) -> ClipEncoder:
    """A built :class:`ClipEncoder`, reused across calls with the same preset."""
    return ClipEncoder(preset)
