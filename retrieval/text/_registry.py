"""Stored text encoders by their ``"kind"`` tag: each encoder module registers its classes.

A leaf module, so that :class:`~retrieval.text.ConcatEncoder` (which rebuilds its parts) and
the encoders in other modules reach one another without importing each other back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

ENCODER_TYPES: dict[str, Any] = {}


def stored_as(tag: str) -> Callable[[type], type]:
    """Class decorator: encoders whose state carries ``{"kind": tag}`` are rebuilt by ``cls``."""

    def register(cls: type) -> type:
        ENCODER_TYPES[tag] = cls
        return cls

    return register


def encoder_from_state(meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Any:
    """The fitted encoder that ``get_state()`` described."""
    kind = meta.get("kind", meta.get("type"))  # "type": bundles of the earlier layout
    if kind not in ENCODER_TYPES:
        raise ValueError(f"unknown stored text encoder {kind!r}")
    return ENCODER_TYPES[kind].from_state(meta, arrays)
