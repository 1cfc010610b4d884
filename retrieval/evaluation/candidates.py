"""The quality study's candidates: each method family's grid of hyperparameters, the
default's own entries, and the candidate defaults (see the documentation's quality study, docs/benchmarks/quality.md).

An entry is the plain values of a run configuration (what a TOML file would hold); its JSON
text, with the dataset and the folds, is the key of its cross-validated score in a
:class:`~retrieval.evaluation.study.ScoreCache`, so an entry is written out as it was first
computed and changes only when what it means changes.

>>> sorted(FAMILIES)[:2]
['CCA', 'PLS']
>>> FAMILIES[PEERS[0]][0]["mappers"][0]["kind"]
'ridge'
"""

from __future__ import annotations

import itertools

from retrieval.config import NeuralParams, RunConfig

PEER_IMAGE = {"use_autoencoder": False, "whiten": False}  # peers work in the features space
NO_TAGS = {"tags": {"enabled": False}}


def _peer(kind: str, power: float, **params) -> dict:
    return {
        **NO_TAGS,
        "image": {**PEER_IMAGE, "power": power},
        "mappers": [{"kind": kind, "space": "features", "params": params}],
    }


def _grid(make, **axes) -> list[dict]:
    """``make`` called with every combination of the ``axes``' values."""
    names = list(axes)
    return [
        make(**dict(zip(names, values, strict=True)))
        for values in itertools.product(*axes.values())
    ]


FAMILIES: dict[str, list[dict]] = {
    "ridge (the course's baseline)": _grid(
        lambda power, alpha: _peer("ridge", power, alpha=alpha),
        power=[1.0, 0.5, 0.25],
        alpha=[0.3, 3, 30],
    ),
    "reverse ridge": _grid(
        lambda power, alpha: _peer("reverse_ridge", power, alpha=alpha),
        power=[0.5, 0.25],
        alpha=[100, 300, 1000],
    ),
    "kernel ridge (RBF)": _grid(
        lambda alpha, gamma: _peer("kernel_ridge", 0.5, alpha=alpha, gamma=gamma),
        alpha=[0.1, 0.3],
        gamma=[0.5, 1.0],
    ),
    "PLS": _grid(lambda n: _peer("pls", 0.5, n_components=n), n=[32, 64, 128]),
    "CCA": _grid(
        lambda power, reg, n: _peer("cca", power, reg=reg, n_components=n),
        power=[0.5, 0.25],
        reg=[0.3, 1.0, 3.0],
        n=[128, 256],
    ),
    "forward + reverse ridge": _grid(
        lambda forward, reverse: {
            **NO_TAGS,
            "image": {**PEER_IMAGE, "power": 0.5},
            "mappers": [
                {"kind": "ridge", "space": "features", "params": {"alpha": forward}},
                {"kind": "reverse_ridge", "space": "features", "params": {"alpha": reverse}},
            ],
            "fusion": {"select": "holdout"},
        },
        forward=[0.3, 3],
        reverse=[300, 1000],
    ),
}
PEERS = list(FAMILIES)
CONCEPTS_ON = {"concepts": {"enabled": True}}
# not a classical peer: the CCA member that cross-validation chose, with this package's
# ImageNet concept bridge fused, to show how much of the default's lead is the bridge
REFERENCES = {"CCA + concept bridge": "CCA"}
SEED_FAMILY = "the seed write-up's system (configs/seed.toml)"


# The default learned mapping's settings that the study's candidates vary, written out in
# each candidate (so that their cache keys stay what they were when first computed).
LEARNED = ("init", "cca_reg", "cca_components", "batch_size", "learning_rate", "epochs")


def _learned(cca_reg: float = 1.0, epochs: int = 10, **params) -> dict:
    """The learned mapping started at CCA, in the features space (power 0.5)."""
    defaults = NeuralParams()
    settings = {name: getattr(defaults, name) for name in LEARNED}
    settings.update(cca_reg=cca_reg, epochs=epochs, **params)
    return {
        **NO_TAGS,
        "image": {**PEER_IMAGE, "power": 0.5},
        "mappers": [{"kind": "neural", "space": "features", "params": settings}],
    }


def default_values() -> dict:
    """``RunConfig()`` written out (so that the cache key changes whenever the default does)."""
    values = RunConfig().to_dict()
    keys = ("image", "text", "mappers", "fusion", "concepts", "transfer", "hubness", "query_set")
    return {**NO_TAGS, **{key: values[key] for key in keys}}


def with_default_query_set(values: dict) -> dict:
    """``values`` with the default's query-set normalisation when the default has it on, so
    that every peer ranks a test set as the default does (and its cache key says so)."""
    settings = RunConfig().to_dict()["query_set"]
    return {**values, "query_set": settings} if settings["enabled"] else values


OURS: dict[str, list[dict]] = {
    "default, tuned per dataset": [
        {**values, **CONCEPTS_ON}
        for values in _grid(_learned, cca_reg=[0.3, 1.0], epochs=[5, 10, 20])
    ],
    "default (configs/default.toml)": [default_values()],
}
DEFAULT_FAMILY = "default (configs/default.toml)"
# the learned mapping started at ridge, as it was first studied (3 epochs, batch 512, rate 1e-4)
RIDGE_START = {
    "init": "ridge",
    "cca_components": 128,
    "epochs": 3,
    "batch_size": 512,
    "learning_rate": 1e-4,
}
FORMER_DEFAULT = {
    **NO_TAGS,
    "image": {"power": 0.25},
    "mappers": [
        {"kind": "neural", "params": {**RIDGE_START, "ridge_alpha": 1.0}},
        {"kind": "reverse_ridge", "space": "features", "params": {"alpha": 300.0}},
    ],
}
DEFAULT_CANDIDATES: dict[str, dict] = {
    "learned mapping into the code only (started at ridge)": {
        **NO_TAGS,
        "image": {"power": 0.25},
        "mappers": [{"kind": "neural", "params": {**RIDGE_START, "init": "ridge"}}],
    },
    "learned mapping into the code + reverse ridge (the former default)": FORMER_DEFAULT,
    "learned mapping started at CCA, refined 3 epochs (batch 512, rate 1e-4)": _learned(
        epochs=3, batch_size=512, learning_rate=1e-4
    ),
    "learned mapping started at CCA, refined 10 epochs (batch 128, rate 3e-4)": _learned(
        batch_size=128, learning_rate=3e-4
    ),
    "the same, both towers trained (train_images)": _learned(
        batch_size=128, learning_rate=3e-4, train_images=True
    ),
    "learned mapping started at CCA, refined 10 epochs (batch 256, rate 6e-4: the former default)": (
        _learned()
    ),
    "learned mapping started at CCA, refined 3 epochs (batch 256, rate 6e-4: the default)": (
        _learned(epochs=3)
    ),
}
