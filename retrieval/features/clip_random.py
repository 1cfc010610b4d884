"""A tiny randomly initialised CLIP saved as a keras-hub preset folder: for tests and offline trials.

Its embeddings carry no knowledge (random weights), but it is loaded exactly as a downloaded
preset is (``ClipEncoder(folder)``, ``retrieval index FOLDER --model clip:FOLDER``), in seconds
and without a network. The tokenizer is a byte-level BPE like CLIP's: every byte, plus merges
that make a few dozen common words single tokens.

Examples
--------
>>> folder = random_clip_preset("tiny-clip", seed=0)               # doctest: +SKIP
>>> ClipEncoder(folder).encode_texts(["a red apple"]).shape        # doctest: +SKIP
(1, 16)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WORDS = (  # noqa: SIM905 - a sentence of words reads better than a 34-line list
    "a an the of on in with and photo picture red green blue white black yellow apple dog cat "
    "car tree house sky grass beach snow water person people man woman child street city"
).split()
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)  # the channel statistics of CLIP's converter
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def byte_symbols() -> list[str]:
    """The 256 printable characters byte-level BPE writes the bytes 0..255 as (GPT-2, CLIP).

    >>> symbols = byte_symbols()
    >>> len(set(symbols)), symbols[ord("a")], symbols[ord(" ")]
    (256, 'a', 'Ġ')
    """
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    codes = {b: b for b in printable}
    extra = 0
    for b in range(256):
        if b not in codes:
            codes[b] = 256 + extra
            extra += 1
    return [chr(codes[b]) for b in range(256)]


def bpe_vocabulary(words: tuple[str, ...] | list[str] = WORDS) -> tuple[dict[str, int], list[str]]:
    """A CLIP-style vocabulary and merge rules that make each of ``words`` one token.

    Every byte symbol appears alone and with CLIP's end-of-word mark ``</w>``; the end token
    ``<|endoftext|>`` has the highest id (CLIP pools the text at the highest id).

    >>> vocabulary, merges = bpe_vocabulary(["red"])
    >>> merges, vocabulary["red</w>"] < vocabulary["<|endoftext|>"] == len(vocabulary) - 1
    (['r e', 're d</w>'], True)
    """
    symbols = byte_symbols()
    tokens = [*symbols, *(s + "</w>" for s in symbols)]
    merges: list[str] = []
    for word in words:
        pieces = [*word[:-1], word[-1] + "</w>"]
        merged = pieces[0]
        for piece in pieces[1:]:
            rule = f"{merged} {piece}"
            merged += piece
            if rule not in merges:
                merges.append(rule)
                tokens.append(merged)
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocabulary: dict[str, int] = {}
    for token in tokens:
        vocabulary.setdefault(token, len(vocabulary))
    return vocabulary, merges


def converter_settings(image_size: int) -> dict[str, Any]:
    """A CLIP image converter's settings: the input size, OpenAI's pixel mean and standard
    deviation as a scale and an offset, bicubic resampling and a centre crop.

    >>> converter_settings(224)["interpolation"]
    'bicubic'
    """
    return {
        "image_size": (image_size, image_size),
        "scale": [1.0 / (255.0 * s) for s in CLIP_STD],
        "offset": [-m / s for m, s in zip(CLIP_MEAN, CLIP_STD, strict=True)],
        "interpolation": "bicubic",
        "crop_to_aspect_ratio": True,
    }


@dataclass(frozen=True)
class TowerShape:
    """The size of a transformer tower: width, layers, heads (the MLP is 4x or given)."""

    width: int
    layers: int
    heads: int
    intermediate: int | None = None

    def encoder_args(self) -> dict[str, int]:
        """The keyword arguments of a keras-hub CLIP encoder for this shape."""
        return {
            "hidden_dim": self.width,
            "num_layers": self.layers,
            "num_heads": self.heads,
            "intermediate_dim": self.intermediate or 4 * self.width,
        }


def random_clip_backbone(
    keras_hub: Any,
    *,
    image_size: int,
    patch_size: int,
    vision: TowerShape,
    text: TowerShape,
    vocabulary_size: int,
    sequence_length: int,
    projection_dim: int,
) -> Any:
    """A keras-hub ``CLIPBackbone`` with random weights (Keras' global seed decides them)."""
    vision_encoder = keras_hub.models.CLIPVisionEncoder(
        patch_size=patch_size, image_shape=(image_size, image_size, 3), **vision.encoder_args()
    )
    text_encoder = keras_hub.models.CLIPTextEncoder(
        vocabulary_size=vocabulary_size,
        embedding_dim=text.width,
        max_sequence_length=sequence_length,
        **text.encoder_args(),
    )
    return keras_hub.models.CLIPBackbone(
        vision_encoder=vision_encoder, text_encoder=text_encoder, projection_dim=projection_dim
    )


def random_clip_preset(
    folder: str | os.PathLike[str],
    *,
    seed: int = 0,
    image_size: int = 32,
    embedding_dim: int = 16,
    sequence_length: int = 16,
) -> Path:
    """Build a tiny random CLIP (two layers a tower, width 32) and save it as a preset folder.

    Keras' global random seed is set to ``seed`` (as :class:`ResNet50Features` does), so a
    seed gives the same weights on every run. Returns ``folder``.
    """
    import keras

    from retrieval.features.clip import import_keras_hub

    keras_hub = import_keras_hub()
    keras.utils.set_random_seed(seed)
    vocabulary, merges = bpe_vocabulary()
    tiny = TowerShape(width=32, layers=2, heads=2, intermediate=64)
    backbone = random_clip_backbone(
        keras_hub,
        image_size=image_size,
        patch_size=max(1, image_size // 4),
        vision=tiny,
        text=tiny,
        vocabulary_size=len(vocabulary),
        sequence_length=sequence_length,
        projection_dim=embedding_dim,
    )
    converter = keras_hub.layers.CLIPImageConverter(**converter_settings(image_size))
    preprocessor = keras_hub.models.CLIPPreprocessor(
        tokenizer=keras_hub.models.CLIPTokenizer(vocabulary=vocabulary, merges=merges),
        image_converter=converter,
        sequence_length=sequence_length,
    )
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    backbone.save_to_preset(str(folder))
    preprocessor.save_to_preset(str(folder))
    return folder
