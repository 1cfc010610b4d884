"""Every mapper kind by name: the classical mappers and the learned network.

This module sits above :mod:`~retrieval.models.mappers` and :mod:`~retrieval.models.neural`
(which imports the former), so neither imports the other back.

>>> sorted(MAPPERS)
['cca', 'kernel_ridge', 'neural', 'pls', 'reverse_ridge', 'ridge']
>>> type(make_mapper("ridge", {"alpha": 3.0})).__name__
'RidgeMapper'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from retrieval.models.mappers import (
    CCAMapper,
    KernelRidgeMapper,
    Mapper,
    PLSMapper,
    ReverseRidgeMapper,
    RidgeMapper,
)
from retrieval.models.neural import NeuralMapper
from retrieval.store import Meta

MAPPERS: dict[str, type[Mapper]] = {
    m.kind: m
    for m in (
        RidgeMapper,
        ReverseRidgeMapper,
        KernelRidgeMapper,
        PLSMapper,
        CCAMapper,
        NeuralMapper,
    )
}


def make_mapper(kind: str, params: Mapping[str, Any] | None = None, *, seed: int = 0) -> Mapper:
    """An unfitted mapper of ``kind`` with ``params`` (the kind's config fields)."""
    if kind not in MAPPERS:
        raise ValueError(f"unknown mapper {kind!r}; expected one of {sorted(MAPPERS)}")
    cls = MAPPERS[kind]
    params = dict(params or {})
    if "seed" in cls._get_param_names():
        params["seed"] = seed
    return cls(**params)


def mapper_from_state(meta: Meta, arrays: Mapping[str, np.ndarray]) -> Mapper:
    """The fitted mapper that ``get_state()`` described."""
    if meta.get("kind") not in MAPPERS:
        raise ValueError(f"unknown stored mapper {meta.get('kind')!r}")
    return MAPPERS[meta["kind"]].from_state(meta, arrays)
