"""The quality study's machinery: cross-validated scores kept in a cache, the choice of each
family's member on train folds, and its ranks on a test part.

The protocol (:mod:`retrieval.evaluation.protocol`) cross-validates one configuration; this
module runs many of them, as plain values (:mod:`retrieval.evaluation.candidates`), without
ever scoring one twice: each score is kept in a JSON file under the dataset, the folds and the
values, so an interrupted study resumes where it stopped.

Examples
--------
>>> config = study_config({"mappers": [{"kind": "ridge"}]}, "cv")
>>> config.concepts.enabled, config.query_set.enabled, config.mappers[0].kind
(False, False, 'ridge')
>>> on_features({"tags": {"enabled": False}}, "efficientnet_lite0")["data"]
{'features': 'efficientnet_lite0'}
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from retrieval.config import RunConfig
from retrieval.core import Trainer
from retrieval.data import Dataset
from retrieval.evaluation._evaluate import evaluate
from retrieval.evaluation.protocol import cross_validate
from retrieval.fileio import atomic_write


def with_tags(values: dict) -> dict:
    """The same configuration with the default's tags (fusion, and tags beside the image
    features), their weights chosen on held-out training items. The tag settings are
    written out, so that the cache key changes whenever the default's do."""
    tagged = copy.deepcopy(values)
    tagged["tags"] = {**RunConfig().to_dict()["tags"], "enabled": True}
    tagged.setdefault("fusion", {})["select"] = "holdout"
    return tagged


def study_config(values: dict, name: str) -> RunConfig:
    """The run config of a study entry: without a ``concepts``, ``transfer``, ``hubness`` or
    ``query_set`` table, no concept bridge, no text transfer, no hubness correction and no
    query-set normalisation (the classical peers match text to image features alone)."""
    off = {
        "concepts": {"enabled": False},
        "transfer": {"enabled": False},
        "hubness": {"enabled": False},
        "query_set": {"enabled": False},
    }
    return RunConfig.from_dict({**off, **values, "name": name})


def on_features(values: dict, kind: str) -> dict:
    """``values`` reading the ``kind`` feature CSVs (``pool5``, the random-weight ResNet-50,
    adds nothing, so that its cache entries keep their keys)."""
    if kind == "pool5":
        return values
    return {**values, "data": {**values.get("data", {}), "features": kind}}


def with_text(values: dict) -> dict:
    """``values`` with the default's text settings written out when it has none of its own.

    >>> with_text({"mappers": []})["text"]["stop_words"]
    'function'
    """
    if "text" in values:
        return values
    return {**values, "text": RunConfig().to_dict()["text"]}


class ScoreCache:
    """Cross-validation scores by dataset and config, kept in a JSON file; every config reads
    the ``features`` kind."""

    def __init__(self, path: Path | None, features: str = "pool5") -> None:
        """Scores read from ``path`` (JSON; ``None``: kept in memory only), for configurations
        that read the ``features`` kind of feature CSVs."""
        self.path = path
        self.features = features
        self.data = json.loads(path.read_text()) if path and path.is_file() else {}

    def cv(
        self, root: str, values: dict, train: Dataset, folds: int, train_fraction: float = 1.0
    ) -> float:
        """The ``folds``-fold cross-validated MAP@20 of ``values`` on ``train`` (the train part
        of the dataset at ``root``), computed once and kept; each fold trained on
        ``train_fraction`` of its training items (see
        :func:`~retrieval.evaluation.protocol.cross_validate`).

        An entry without a ``text`` table reads the default's text features (every method of
        the study shares them), so the default's text settings are written into its key: a
        change of them (the stop words, say) is a new key, never a stale score."""
        values = with_text(on_features(values, self.features))
        fraction = f"|fraction {train_fraction:g}" if train_fraction < 1.0 else ""
        key = f"{root}|{folds}{fraction}|{json.dumps(values, sort_keys=True)}"
        if key not in self.data:
            config = study_config(values, "cv")
            result = cross_validate(config, train, folds=folds, train_fraction=train_fraction)
            self.data[key] = {"score": result.score, "folds": result.fold_scores}
            if self.path:  # replaced whole, so an interrupted run never leaves half a file
                with atomic_write(self.path) as handle:
                    json.dump(self.data, handle, indent=1)
        return self.data[key]["score"]

    def choose(
        self,
        root: str,
        grid: Sequence[dict],
        train: Dataset,
        folds: int,
        train_fraction: float = 1.0,
    ) -> tuple[dict, float]:
        """The member of ``grid`` with the best cross-validated score (ties: the first), and
        that score: a choice made on train folds only."""
        scores = [self.cv(root, values, train, folds, train_fraction) for values in grid]
        best = int(np.argmax(scores))
        return grid[best], float(scores[best])


def ranks_on_test(values: dict, train: Dataset, test: Dataset) -> tuple[np.ndarray, float]:
    """The rank of each test description's image after training ``values`` on the whole train
    part, and the training time in seconds."""
    start = time.perf_counter()
    model = Trainer(study_config(values, "test")).fit(train)
    seconds = time.perf_counter() - start
    return evaluate(model, test).ranks, seconds


def describe(values: dict) -> str:
    """A study entry in a few words: each mapper with its parameters, and the image settings
    that the peers' grids vary.

    >>> describe({"mappers": [{"kind": "cca", "params": {"reg": 1.0}}], "image": {"power": 0.5}})
    'cca(reg 1.0); power 0.5'
    """
    parts = []
    for mapper in values.get("mappers", []):
        params = ", ".join(f"{k} {v}" for k, v in mapper.get("params", {}).items())
        parts.append(f"{mapper['kind']}({params})")
    for key in ("power", "whiten_shrink"):
        if key in values.get("image", {}):
            parts.append(f"{key} {values['image'][key]}")
    return "; ".join(parts) or "RunConfig()"


def varied(values: dict, setting: str, value: object) -> dict:
    """A copy of ``values`` with the dotted ``setting`` (list items by number, such as
    ``mappers.0.params.epochs``) set to ``value``; ``KeyError`` if it is not a setting there.

    >>> varied({"mappers": [{"params": {"epochs": 10}}]}, "mappers.0.params.epochs", 3)
    {'mappers': [{'params': {'epochs': 3}}]}
    """
    *path, name = [int(part) if part.isdigit() else part for part in setting.split(".")]
    out = copy.deepcopy(values)
    parent = out
    try:
        for step in path:
            parent = parent[step]
        parent[name]  # noqa: B018 (the setting must exist)
    except (KeyError, IndexError, TypeError):
        raise KeyError(f"{setting}: not a setting of these values") from None
    parent[name] = value
    return out
