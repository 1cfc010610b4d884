"""Every mapper kind: its tag, the dataclass of its parameters and defaults, and where its
estimator lives. The one list of mapper kinds: configs are checked against it
(:mod:`retrieval.config`) and mappers are built and loaded from it
(:mod:`retrieval.models.kinds`), so a new kind is its module plus one entry here.

It sits below the configuration layer, which needs the parameters to check a TOML file
before any model code is imported; the estimator classes are named by import path and
imported only when a mapper is built or loaded.

Examples
--------
>>> MAPPER_KINDS["ridge"].estimator
'retrieval.models.mappers:RidgeMapper'
>>> MAPPER_PARAMS["cca"]().n_components
128
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from retrieval.parameters import AT_LEAST_ONE, FRACTION, NON_NEGATIVE, POSITIVE, Range


@dataclass
class RidgeParams:
    """Ridge regression from text features to the image space (the course's baseline)."""

    alpha: Annotated[float, POSITIVE] = 1.0


@dataclass
class ReverseRidgeParams:
    """Ridge regression from the image space to text features; ranked in text space."""

    alpha: Annotated[float, POSITIVE] = 100.0


@dataclass
class KernelRidgeParams:
    """Kernel ridge regression with an RBF kernel on unit-length text features."""

    alpha: Annotated[float, POSITIVE] = 1.0
    gamma: Annotated[float, POSITIVE] = 1.0


@dataclass
class PLSParams:
    """Partial least squares with ``n_components`` latent directions."""

    n_components: Annotated[int, AT_LEAST_ONE] = 64
    max_iter: Annotated[int, AT_LEAST_ONE] = 500


@dataclass
class CCAParams:
    """Regularised canonical correlation analysis; ``reg`` shrinks each side's covariance."""

    reg: Annotated[float, POSITIVE] = 1.0
    n_components: Annotated[int, AT_LEAST_ONE] = 128


@dataclass
class NeuralParams:
    """The learned Keras mapping from text features into the image space
    (:class:`~retrieval.models.neural.NeuralMapper`, whose docstring describes each field).

    The defaults are the default run's: a regularised CCA between the text features and the
    image side gives the start (images are keyed by its image-side projection), and the
    linear text network is refined from its text-side projection for 3 epochs with the
    contrastive loss (3 won the cross-validation against 0, 5, 10 and 20 on every dataset of
    the quality study, with and without tags).
    """

    init: Literal["ridge", "random", "cca"] = "cca"
    ridge_alpha: Annotated[float, POSITIVE] = 1.0
    cca_reg: Annotated[float, POSITIVE] = 1.0
    cca_components: Annotated[int, AT_LEAST_ONE] = 256
    train_images: bool = False
    loss: Literal["rmse", "triplet", "contrastive"] = "contrastive"
    hidden: tuple[Annotated[int, AT_LEAST_ONE], ...] = ()
    dropout: Annotated[float, FRACTION] = 0.0
    input_dropout: Annotated[float, FRACTION] = 0.0
    epochs: Annotated[int, NON_NEGATIVE] = 3
    batch_size: Annotated[int, Range(2)] = 256
    learning_rate: Annotated[float, POSITIVE] = 6e-4
    weight_decay: Annotated[float, NON_NEGATIVE] = 1e-4
    margin: Annotated[float, NON_NEGATIVE] = 0.2
    hard_negatives: bool = True
    temperature: Annotated[float, POSITIVE] = 0.1
    target_temperature: Annotated[float, NON_NEGATIVE] = 0.0
    validation_fraction: Annotated[float, FRACTION] = 0.0
    patience: Annotated[int, NON_NEGATIVE] = 5
    standardize: bool = False


@dataclass(frozen=True)
class MapperKind:
    """A mapper kind: its parameters' dataclass, and its estimator as ``module:Class``."""

    params: type
    estimator: str


MAPPER_KINDS: dict[str, MapperKind] = {
    "ridge": MapperKind(RidgeParams, "retrieval.models.mappers:RidgeMapper"),
    "reverse_ridge": MapperKind(ReverseRidgeParams, "retrieval.models.mappers:ReverseRidgeMapper"),
    "kernel_ridge": MapperKind(KernelRidgeParams, "retrieval.models.mappers:KernelRidgeMapper"),
    "pls": MapperKind(PLSParams, "retrieval.models.mappers:PLSMapper"),
    "cca": MapperKind(CCAParams, "retrieval.models.mappers:CCAMapper"),
    "neural": MapperKind(NeuralParams, "retrieval.models.neural:NeuralMapper"),
}
"""Each mapper kind by its tag (the ``kind`` of a ``[[mappers]]`` table and of a stored mapper)."""

MAPPER_PARAMS: dict[str, type] = {kind: entry.params for kind, entry in MAPPER_KINDS.items()}
"""The mapper kinds and the dataclass holding each one's parameters and defaults."""
