"""Every mapper kind by name, built and loaded from the one list of kinds
(:data:`retrieval.mapper_kinds.MAPPER_KINDS`): the classical mappers and the learned network.

A kind's estimator is imported when a mapper of that kind is first built or loaded, so a new
kind is its module plus its entry in that list; nothing here changes.

>>> sorted(MAPPERS)
['cca', 'kernel_ridge', 'neural', 'pls', 'reverse_ridge', 'ridge']
>>> type(make_mapper("ridge", {"alpha": 3.0})).__name__
'RidgeMapper'
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

import numpy as np

from retrieval.mapper_kinds import MAPPER_KINDS
from retrieval.models.mappers import Mapper
from retrieval.store import Meta


@cache
def mapper_class(kind: str) -> type[Mapper]:
    """The estimator class of ``kind``, imported from the path its entry names."""
    if kind not in MAPPER_KINDS:
        raise ValueError(f"unknown mapper {kind!r}; expected one of {sorted(MAPPER_KINDS)}")
    module, name = MAPPER_KINDS[kind].estimator.split(":")
    cls = getattr(importlib.import_module(module), name)
    if not (isinstance(cls, type) and issubclass(cls, Mapper)) or cls.kind != kind:
        raise TypeError(f"{MAPPER_KINDS[kind].estimator} is not the {kind!r} mapper")
    return cls


class _Classes(Mapping[str, type[Mapper]]):
    """The kinds' estimator classes by tag, each imported on first use."""

    def __getitem__(self, kind: str) -> type[Mapper]:
        if kind not in MAPPER_KINDS:
            raise KeyError(kind)
        return mapper_class(kind)

    def __iter__(self) -> Iterator[str]:
        return iter(MAPPER_KINDS)

    def __len__(self) -> int:
        return len(MAPPER_KINDS)


MAPPERS: Mapping[str, type[Mapper]] = _Classes()


def make_mapper(kind: str, params: Mapping[str, Any] | None = None, *, seed: int = 0) -> Mapper:
    """An unfitted mapper of ``kind`` with ``params`` (the kind's config fields)."""
    cls = mapper_class(kind)
    params = dict(params or {})
    if "seed" in cls._get_param_names():
        params["seed"] = seed
    return cls(**params)


def mapper_from_state(meta: Meta, arrays: Mapping[str, np.ndarray]) -> Mapper:
    """The fitted mapper that ``get_state()`` described."""
    if meta.get("kind") not in MAPPER_KINDS:
        raise ValueError(f"unknown stored mapper {meta.get('kind')!r}")
    return mapper_class(meta["kind"]).from_state(meta, arrays)
