"""Run configuration: small dataclasses, one per concern, loadable from a TOML file.

Every section is a dataclass whose defaults are the default run's (``RunConfig()``, the same as
``configs/default.toml``); a TOML file only states what differs, and a table that names some
keys of a section keeps the defaults of the others. These dataclasses are the one place where
defaults live: each mapper's parameter dataclass (:data:`MAPPER_PARAMS`, registered in
:mod:`retrieval.mapper_kinds`) is also its estimator's signature (:func:`~retrieval.parameters.estimator_init`). Unknown keys, values of
the wrong type and values out of range are errors that name the file and the key.

A run maps text into an image space with one or more *mappers* (``[[mappers]]`` tables);
their scores are standardised per query and summed with weights, together with the tag
score when ``[tags]`` is enabled.

Examples
--------
>>> config = RunConfig.from_dict({"mappers": [{"kind": "ridge", "params": {"alpha": 3}}]})
>>> config.mappers[0].kind, config.mappers[0].params["alpha"], config.image.code_dim
('ridge', 3.0, 100)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from retrieval.errors import ConfigError
from retrieval.mapper_kinds import (  # noqa: F401  (the parameter dataclasses, named here too)
    MAPPER_PARAMS,
    CCAParams,
    KernelRidgeParams,
    NeuralParams,
    PLSParams,
    ReverseRidgeParams,
    RidgeParams,
)
from retrieval.parameters import AT_LEAST_ONE, FRACTION, NON_NEGATIVE, POSITIVE, problem

ImageSpace = Literal["code", "features"]


@dataclass
class DataConfig:
    """Where the training data is and how the held-out split is made."""

    root: str = "data/demo"
    val_size: float = 0.2
    split_seed: int = 0
    features: Literal[
        "pool5", "fc1000", "clip", "efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"
    ] = "pool5"


@dataclass
class ImageConfig:
    """The image branch: ResNet features -> standardised features -> autoencoder code.

    ``power`` raises the (non-negative) pooled features to this power before they are
    standardised (1 leaves them as they are; pooled ReLU activations are skewed).
    ``whiten`` decorrelates the code and scales each principal direction by
    ``1 / sqrt(variance + whiten_shrink * mean variance)`` (learned on the training images):
    with a shrink of 0 every direction gets unit variance, with a larger one the weak
    directions are damped instead of amplified. With ``use_autoencoder = false`` the code is
    the standardised features themselves. The remaining fields are the
    :class:`~retrieval.models.autoencoder.Autoencoder`'s.
    """

    use_autoencoder: bool = True
    power: Annotated[float, POSITIVE] = 0.5
    whiten: bool = True
    whiten_shrink: Annotated[float, NON_NEGATIVE] = 1.0
    code_dim: Annotated[int, AT_LEAST_ONE] = 100
    hidden: tuple[Annotated[int, AT_LEAST_ONE], ...] = ()
    epochs: Annotated[int, NON_NEGATIVE] = 3
    batch_size: Annotated[int, AT_LEAST_ONE] = 256
    learning_rate: Annotated[float, POSITIVE] = 1e-3
    validation_fraction: Annotated[float, FRACTION] = 0.1
    patience: Annotated[int, NON_NEGATIVE] = 3
    pca_init: bool = True


EncoderName = Literal["tfidf", "tfidf_neighbours", "word2vec", "glove"]
"""The text encoders by name (:func:`~retrieval.text.make_encoder` builds each)."""


@dataclass
class TextConfig:
    """The text encoders; several names are concatenated side by side (``["tfidf", "glove"]``).

    ``weights`` scales each encoder's block (one weight per name; empty: all 1). TF-IDF rows
    and GloVe rows both have unit length, so equal weights give the blocks equal say.
    ``neighbours`` and ``neighbour_similarity`` set the ``"tfidf_neighbours"`` encoder: how
    many training words an unseen word counts for, and the least GloVe cosine to count.
    ``stop_words`` is the set of words every encoder leaves out: ``"english"``
    (scikit-learn's list, which also drops content words such as "fire", "empty" and
    "front"), ``"function"`` (articles, prepositions, conjunctions, pronouns and auxiliary
    verbs only) or ``"none"``.
    """

    encoders: tuple[EncoderName, ...] = ("tfidf", "glove")
    weights: tuple[float, ...] = ()
    max_features: int = 20000
    min_df: int = 1
    ngram_max: int = 1
    sublinear_tf: bool = True
    word2vec_dim: int = 100
    word2vec_epochs: int = 20
    word2vec_min_count: int = 2
    glove_vocabulary: int = 100000
    neighbours: int = 5
    neighbour_similarity: float = 0.5
    stop_words: Literal["english", "function", "none"] = "function"

    def __post_init__(self) -> None:
        known = typing.get_args(EncoderName)
        unknown = [name for name in self.encoders if name not in known]
        if unknown or not self.encoders:
            raise ConfigError(
                f"'text.encoders' must list one or more of {list(known)}, got {list(self.encoders)}"
            )


@dataclass
class MapperConfig:
    """One way of matching text to images, and its weight in the sum of standardised scores.

    ``space`` is the image side it works in: ``"code"`` (the autoencoder code) or
    ``"features"`` (the standardised ResNet features). ``params`` are the kind's
    parameters (see :data:`MAPPER_PARAMS`); missing ones take their defaults.
    """

    kind: str = "neural"
    space: ImageSpace = "code"
    weight: float = 1.0
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in MAPPER_PARAMS:
            raise ConfigError(f"'kind' must be one of {list(MAPPER_PARAMS)}, got {self.kind!r}")
        self.params = dataclasses.asdict(
            _build(MAPPER_PARAMS[self.kind], self.params, "params.", None)
        )

    def settings(self) -> Any:
        """The parameters as the kind's dataclass."""
        return MAPPER_PARAMS[self.kind](**self.params)


@dataclass
class TagConfig:
    """Tag fusion: predicted tags of a description against each image's tags.

    The tag score (cosine between predicted tag probabilities and the image's tags) is
    standardised per query like the mappers' scores and added with ``weight``.

    The tags can also join the image side of the mappers that work in the ``features``
    space: each image's standardised tag indicators, times a weight, are appended to its
    standardised features (:class:`~retrieval.models.tags.TagIndicators`), so the mapping
    learns to match a description to the image's tags and features at once. Galleries
    without tags get zeros there (or their predicted tags, below). ``joint_weights`` lists
    the candidate weights (``0``: the tags stay out of the image side); with
    ``fusion.select = "holdout"`` the best is chosen on the held-out items together with the
    fusion weights, otherwise the first is used.

    A gallery none of whose pictures has a tag (your own pictures) gets tag scores predicted
    from its image features (``predict_missing``: a ridge regression, penalty
    ``predict_alpha``, from the standardised features onto the tag indicators; soft scores in
    ``[0, 1]``), used where its tags would be: beside its features, and as the tag score's
    input. The tag score's weight for such galleries is chosen among ``predicted_weights`` on
    the held-out items with their tags predicted (``fusion.select = "holdout"``; otherwise the
    true tags' weight is used). Cross-validated on tagless galleries of the three datasets'
    EfficientNet-Lite0 features (``benchmarks/bench_tagless.py``), a model trained with tags
    ranks them better with predicted tags than with its tag columns left at zero (+6.5%,
    +0.8%, +4.9%: demo, Openclipart, icons); with ``joint_weights = [0]``
    (``configs/own_pictures.toml``) it also beats the default trained without tags (+2.6%,
    +0.6%, +1.5%).
    """

    enabled: bool = True
    weight: Annotated[float, NON_NEGATIVE] = 0.5
    C: Annotated[float, POSITIVE] = 10.0
    min_count: Annotated[int, AT_LEAST_ONE] = 2
    joint_weights: tuple[float, ...] = (1.0, 3.0)
    predict_missing: bool = True
    predict_alpha: float = 100.0
    predicted_weights: tuple[float, ...] = (0.0, 0.1, 0.25, 0.5, 1.0)

    def __post_init__(self) -> None:
        self.joint_weights = tuple(float(w) for w in self.joint_weights)
        self.predicted_weights = tuple(float(w) for w in self.predicted_weights)
        if not self.predicted_weights or min(self.predicted_weights) < 0:
            raise ConfigError(
                f"'tags.predicted_weights' must list one or more weights of 0 or more, "
                f"got {list(self.predicted_weights)}"
            )
        if not self.joint_weights or min(self.joint_weights) < 0:
            raise ConfigError(
                f"'tags.joint_weights' must list one or more weights of 0 or more, "
                f"got {list(self.joint_weights)}"
            )


@dataclass
class ConceptConfig:
    """The ImageNet concept bridge (:class:`~retrieval.models.concepts.ConceptBridge`).

    Each image is placed at its ImageNet classes' name vectors weighted by the class
    probabilities (``softmax(logits / temperature)``), and scored against a description's
    GloVe vector; the score is standardised per query and added with ``weight`` (chosen with
    the fusion weights when ``fusion.select = "holdout"``). It applies when the features come
    from a network with ImageNet logits (EfficientNet-Lite) and the text features have a
    ``glove`` block; otherwise it is left out. ``synonyms``: how many of each class's names
    are embedded. ``side_weight > 0`` also appends the standardised concept vectors, times
    that weight, to the ``features`` image space, so the mappers there learn to match
    descriptions to them (``0``: the bridge is a fused score only).
    """

    enabled: bool = True
    weight: float = 1.0
    temperature: float = 1.0
    synonyms: int = 3
    side_weight: float = 0.0

    def __post_init__(self) -> None:
        if not self.temperature > 0:
            raise ConfigError(f"'concepts.temperature' must be positive, got {self.temperature}")
        if self.synonyms < 1:
            raise ConfigError(f"'concepts.synonyms' must be 1 or more, got {self.synonyms}")
        if self.side_weight < 0:
            raise ConfigError(f"'concepts.side_weight' must be 0 or more, got {self.side_weight}")


@dataclass
class TransferConfig:
    """Text transfer (:class:`~retrieval.models.transfer.TextTransfer`): each gallery picture
    scored by the descriptions of its ``k`` nearest training pictures in ``space`` (the image
    code, or the standardised features without tags),
    weighted by ``exp(cosine / temperature)``. The score is standardised per query and added
    with ``weight`` (chosen with the fusion weights when ``fusion.select = "holdout"``, 0
    among the candidates, so features whose neighbours mean nothing can leave it out). Off
    by default: cross-validated on the three datasets' EfficientNet-Lite0 features it moved
    the default's MAP@20 by +1.2%, +1.3% and -0.7% (the quality study, docs/benchmarks/quality.md).
    """

    enabled: bool = False
    weight: float = 1.0
    k: int = 50
    temperature: float = 0.05
    space: Literal["code", "features"] = "code"

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ConfigError(f"'transfer.k' must be 1 or more, got {self.k}")
        if not self.temperature > 0:
            raise ConfigError(f"'transfer.temperature' must be positive, got {self.temperature}")


@dataclass
class HubnessConfig:
    """Hubness correction (CSLS, Conneau et al. 2018): a picture that sits close to many
    descriptions (a "hub") is pushed down for every query.

    Each member's similarity of a description with a picture becomes ``cos(q, p) - s * r(p)``,
    where ``r(p)`` is the mean similarity of the picture to its ``k`` most similar descriptions
    in a bank of ``bank`` training descriptions (a seeded sample) and ``s`` the strength. The
    bank's query keys are kept in the model, so ``r`` is computed once per picture when a
    gallery is built, and single queries are corrected as whole test sets are. ``neighbours``
    and ``strengths`` list the candidates for ``k`` and ``s``; with ``fusion.select =
    "holdout"`` the best pair is chosen on the held-out items (the bank drawn from the items
    fitted there), otherwise the first of each is used (``s = 0``: no correction).
    """

    enabled: bool = False
    bank: int = 2000
    neighbours: tuple[int, ...] = (5, 25)
    strengths: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75)

    def __post_init__(self) -> None:
        self.neighbours = tuple(int(k) for k in self.neighbours)
        self.strengths = tuple(float(s) for s in self.strengths)
        if self.bank < 1:
            raise ConfigError(f"'hubness.bank' must be 1 or more, got {self.bank}")
        if not self.neighbours or min(self.neighbours) < 1:
            raise ConfigError(
                f"'hubness.neighbours' must list numbers of 1 or more, got {list(self.neighbours)}"
            )
        if not self.strengths or min(self.strengths) < 0:
            raise ConfigError(
                f"'hubness.strengths' must list numbers of 0 or more, got {list(self.strengths)}"
            )


@dataclass
class QuerySetConfig:
    """Query-set normalisation for rankings of a whole set of descriptions at once (see
    :mod:`retrieval.models.query_set`): each score is multiplied by the picture's softmax over
    the set's queries, so a picture that every description likes is shared out among them.

    ``temperatures`` lists the candidates, in standard deviations of the scores (``0``: off).
    With ``fusion.select = "holdout"`` the one with the best MAP@20 on the held-out items is
    chosen (the held-out descriptions are the set there); otherwise the first is used. It
    changes ``retrieval evaluate``, ``retrieval submit`` and the reports (rankings of a whole
    test part), never a single search.
    """

    enabled: bool = True
    temperatures: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0)

    def __post_init__(self) -> None:
        self.temperatures = tuple(float(t) for t in self.temperatures)
        if not self.temperatures or min(self.temperatures) < 0:
            raise ConfigError(
                "'query_set.temperatures' must list numbers of 0 or more, "
                f"got {list(self.temperatures)}"
            )


@dataclass
class FusionConfig:
    """How the weights of the mappers and of the tag score are set.

    ``"fixed"`` uses the configured weights. ``"holdout"`` chooses them at training time:
    the mappers are fitted on the training items minus a seeded ``holdout`` fraction, the
    weights that give the best MAP@20 on that fraction are kept (``grid`` lists the
    candidate weights of every member after the first, whose weight stays 1), and the
    mappers are fitted again on every item.

    ``holdout_items`` caps the items this choice uses (a seeded sample; ``0``: all), and
    with ``holdout_refine = false`` a learned mapper is fitted there without its refinement
    (its CCA or ridge start, see :meth:`~retrieval.models.mappers.Mapper.without_refinement`).
    Both only make the choice cheaper; the final fit is the same. The default uses at most
    5,000 items, without refinement.
    """

    select: Literal["fixed", "holdout"] = "holdout"
    holdout: float = 0.2
    grid: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 2.0)
    holdout_items: int = 5000
    holdout_refine: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.holdout < 1:
            raise ConfigError(f"'fusion.holdout' must be between 0 and 1, got {self.holdout}")
        if self.holdout_items < 0:
            raise ConfigError(f"'fusion.holdout_items' must be 0 or more, got {self.holdout_items}")


@dataclass
class IndexConfig:
    """How search finds candidates in a large gallery.

    ``exact`` scores every gallery image. Another backend (see :mod:`retrieval.index`) finds
    the ``candidates`` nearest codes first, and only those are scored in full (tag fusion
    included); ``params`` go to the backend (``{ef = 128}`` for hnsw, ``{url = "..."}`` or
    ``{path = "..."}`` for qdrant). Whole-gallery ranking (the competition) stays exact.
    """

    backend: Literal["exact", "hnsw", "binary", "qdrant"] = "exact"
    metric: Literal["cosine", "euclidean"] = "cosine"
    candidates: int = 200
    params: dict[str, Any] = field(default_factory=dict)


def _default_mappers() -> list[MapperConfig]:
    """The default run's one mapper: the learned mapping (its defaults) in the features space."""
    return [MapperConfig(kind="neural", space="features")]


@dataclass
class RunConfig:
    """Everything that defines a training run."""

    name: str = "run"
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    image: ImageConfig = field(default_factory=ImageConfig)
    text: TextConfig = field(default_factory=TextConfig)
    mappers: list[MapperConfig] = field(default_factory=_default_mappers)
    tags: TagConfig = field(default_factory=TagConfig)
    concepts: ConceptConfig = field(default_factory=ConceptConfig)
    transfer: TransferConfig = field(default_factory=TransferConfig)
    hubness: HubnessConfig = field(default_factory=HubnessConfig)
    query_set: QuerySetConfig = field(default_factory=QuerySetConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    index: IndexConfig = field(default_factory=IndexConfig)

    def __post_init__(self) -> None:
        if not self.mappers:
            raise ConfigError("'mappers' needs at least one [[mappers]] table")

    @classmethod
    def from_dict(cls, values: dict[str, Any], *, source: str | None = None) -> RunConfig:
        """Build a config from nested dicts; ``source`` names the file in errors."""
        return _build(cls, values, prefix="", source=source)

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> RunConfig:
        """Read a TOML file such as ``configs/default.toml``."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError("config file not found", path=path)
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"not valid TOML: {exc}", path=path) from None
        return cls.from_dict(values, source=str(path))

    def to_dict(self) -> dict[str, Any]:
        """Nested plain dicts and lists, suitable for JSON or TOML."""
        return _plain(dataclasses.asdict(self))

    def digest(self) -> str:
        """A short SHA-256 of every value but the name: equal digests, equal runs.

        >>> RunConfig(name="a").digest() == RunConfig(name="b").digest()
        True
        >>> RunConfig(seed=1).digest() == RunConfig().digest()
        False
        """
        values = {key: value for key, value in self.to_dict().items() if key != "name"}
        text = json.dumps(values, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _build(cls: type, values: Any, prefix: str, source: str | None) -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"{prefix.rstrip('.')!r} must be a table", path=source)
    if cls is MapperConfig:
        kind = values.get("kind", "neural")
        if kind not in MAPPER_PARAMS:
            raise ConfigError(
                f"{prefix + 'kind'!r} must be one of {list(MAPPER_PARAMS)}, got {kind!r}",
                path=source,
            )
        params = _build(MAPPER_PARAMS[kind], values.get("params", {}), f"{prefix}params.", source)
        values = {**values, "params": dataclasses.asdict(params)}
    hints = typing.get_type_hints(cls, include_extras=True)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(
            f"unknown key {prefix + unknown[0]!r}; expected one of {sorted(known)}", path=source
        )
    kwargs = {
        name: _check(value, hints[name], prefix + name, source) for name, value in values.items()
    }
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        raise ConfigError(exc.message, path=source) from None


def _check(value: Any, hint: Any, key: str, source: str | None) -> Any:
    origin = typing.get_origin(hint)
    if origin is Annotated:
        value = _check(value, typing.get_args(hint)[0], key, source)
        issue = problem(value, hint)
        if issue:
            raise ConfigError(f"{key!r} must be {issue}, got {value!r}", path=source)
        return value
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, f"{key}.", source)
    if origin is Literal:
        if value not in typing.get_args(hint):
            raise ConfigError(
                f"{key!r} must be one of {list(typing.get_args(hint))}, got {value!r}", path=source
            )
        return value
    if origin in (list, tuple):
        item_type = typing.get_args(hint)[0]
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{key!r} must be a list, got {value!r}", path=source)
        items = [_check(v, item_type, f"{key}[{i}]", source) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key!r} must be a table, got {value!r}", path=source)
        return dict(value)
    if origin in (typing.Union, types.UnionType) or hint is Any:
        raise TypeError(f"unsupported config type for {key}")
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool) and type(value) is not hint:
        raise ConfigError(f"{key!r} must be {hint.__name__}, got {value!r}", path=source)
    return value
