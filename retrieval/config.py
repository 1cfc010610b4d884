"""Run configuration: one dataclass per run, loadable from a TOML file in ``configs/``.

Every section is a small dataclass with defaults; a TOML file only states what differs.
Unknown keys and values of the wrong type are errors that name the file and the key.

Example
-------
>>> config = RunConfig.from_dict({"regressor": {"loss": "triplet"}})
>>> config.regressor.loss, config.image.code_dim
('triplet', 100)
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from retrieval.errors import DataFormatError


@dataclass
class DataConfig:
    """Where the training data is and how the held-out split is made."""

    root: str = "data/demo"
    val_size: float = 0.2
    split_seed: int = 0
    features: Literal["pool5", "fc1000"] = "pool5"


@dataclass
class ImageConfig:
    """The image branch: the autoencoder that maps pool5 features to the search code."""

    use_autoencoder: bool = True
    code_dim: int = 100
    hidden: list[int] = field(default_factory=lambda: [512])
    epochs: int = 50
    batch_size: int = 128
    learning_rate: float = 1e-3
    patience: int = 5


@dataclass
class TextConfig:
    """The text encoder(s); several names are concatenated (``["tfidf", "word2vec"]``)."""

    encoders: list[str] = field(default_factory=lambda: ["tfidf"])
    max_features: int = 20000
    word2vec_dim: int = 100
    word2vec_epochs: int = 20
    glove_vocabulary: int = 100000


@dataclass
class RegressorConfig:
    """The network that maps text features into the image code."""

    loss: Literal["rmse", "triplet", "contrastive"] = "contrastive"
    hidden: list[int] = field(default_factory=lambda: [512])
    dropout: float = 0.2
    epochs: int = 60
    batch_size: int = 64
    learning_rate: float = 1e-3
    margin: float = 0.2
    hard_negatives: bool = True
    temperature: float = 0.07
    patience: int = 8


@dataclass
class IndexConfig:
    """How ``Retriever.search`` finds candidates in a large gallery.

    ``exact`` scores every gallery image. Another backend (see :mod:`retrieval.index`) finds
    the ``candidates`` nearest codes first, and only those are scored in full (tag fusion
    included); ``params`` go to the backend (``{ef = 128}`` for hnsw, ``{url = "..."}`` or
    ``{path = "..."}`` for qdrant). Whole-gallery ranking (``rank``, the competition) stays exact.
    """

    backend: Literal["exact", "hnsw", "binary", "qdrant"] = "exact"
    metric: Literal["cosine", "euclidean"] = "cosine"
    candidates: int = 200
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class TagConfig:
    """Tag fusion: blend text -> tag predictions with the gallery images' tags."""

    enabled: bool = False
    weight: float = 0.3


@dataclass
class RunConfig:
    """Everything that defines a training run."""

    name: str = "run"
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    image: ImageConfig = field(default_factory=ImageConfig)
    text: TextConfig = field(default_factory=TextConfig)
    regressor: RegressorConfig = field(default_factory=RegressorConfig)
    index: IndexConfig = field(default_factory=IndexConfig)
    tags: TagConfig = field(default_factory=TagConfig)

    @classmethod
    def from_dict(cls, values: dict[str, Any], *, source: str | None = None) -> RunConfig:
        """Build a config from nested dicts; ``source`` names the file in errors."""
        return _build(cls, values, prefix="", source=source)

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> RunConfig:
        """Read a TOML file such as ``configs/demo.toml``."""
        path = Path(path)
        if not path.is_file():
            raise DataFormatError("config file not found", path=path)
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise DataFormatError(f"not valid TOML: {exc}", path=path) from None
        return cls.from_dict(values, source=str(path))

    def to_dict(self) -> dict[str, Any]:
        """Nested plain dicts, suitable for JSON or TOML."""
        return dataclasses.asdict(self)


def _build(cls: type, values: dict[str, Any], *, prefix: str, source: str | None) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise DataFormatError(
            f"unknown key {prefix + unknown[0]!r}; expected one of {sorted(known)}", path=source
        )
    kwargs = {}
    for name, value in values.items():
        hint = hints[name]
        key = prefix + name
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, dict):
                raise DataFormatError(f"{key!r} must be a table", path=source)
            kwargs[name] = _build(hint, value, prefix=f"{key}.", source=source)
        else:
            kwargs[name] = _check(value, hint, key, source)
    return cls(**kwargs)


def _check(value: Any, hint: Any, key: str, source: str | None) -> Any:
    origin = typing.get_origin(hint)
    if origin is Literal:
        if value not in typing.get_args(hint):
            raise DataFormatError(
                f"{key!r} must be one of {list(typing.get_args(hint))}, got {value!r}", path=source
            )
        return value
    if origin is list:
        (item_type,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise DataFormatError(f"{key!r} must be a list, got {value!r}", path=source)
        return [_check(v, item_type, f"{key}[{i}]", source) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise DataFormatError(f"{key!r} must be a table, got {value!r}", path=source)
        return dict(value)
    if origin in (typing.Union, types.UnionType):
        raise TypeError(f"unsupported config type for {key}")
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and (type(value) is not hint):
        raise DataFormatError(f"{key!r} must be {hint.__name__}, got {value!r}", path=source)
    return value
