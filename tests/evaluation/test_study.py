"""The quality study's machinery: scores computed once and kept, choices on train folds only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from retrieval.data import load_competition
from retrieval.evaluation import study
from retrieval.evaluation.candidates import FAMILIES, PEERS, default_values
from retrieval.evaluation.study import ScoreCache, describe, ranks_on_test, varied

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
RIDGE = {"tags": {"enabled": False}, "mappers": [{"kind": "ridge", "space": "features"}]}
WEAK = {
    "tags": {"enabled": False},
    "image": {"use_autoencoder": False, "whiten": False},
    "mappers": [{"kind": "ridge", "space": "features", "params": {"alpha": 1e6}}],
}


def test_a_score_is_computed_once_kept_in_its_file_and_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    train = load_competition(DEMO, "train", features=["pool5"])
    runs: list[str] = []
    real = study.cross_validate

    def counted(config, data, *, folds, train_fraction):  # noqa: ANN001, ANN202
        runs.append(config.mappers[0].kind)
        return real(config, data, folds=folds, train_fraction=train_fraction)

    monkeypatch.setattr(study, "cross_validate", counted)
    path = tmp_path / "cache.json"
    cache = ScoreCache(path)
    best, score = cache.choose("demo", [WEAK, RIDGE], train, 2)
    assert best is RIDGE and score == cache.cv("demo", RIDGE, train, 2)
    assert score > cache.cv("demo", WEAK, train, 2)
    assert runs == ["ridge", "ridge"]  # each configuration once, however often asked
    again = ScoreCache(path)  # a later run resumes from the file
    assert again.cv("demo", RIDGE, train, 2) == score and len(runs) == 2
    keys = list(json.loads(path.read_text()))
    assert len(keys) == 2 and all(key.startswith("demo|2|") for key in keys)
    smaller = again.cv("demo", RIDGE, train, 2, train_fraction=0.5)  # a point of a learning curve
    assert len(runs) == 3 and smaller != score
    assert sum(key.startswith("demo|2|fraction 0.5|") for key in json.loads(path.read_text())) == 1
    assert ScoreCache(None, "efficientnet_lite0").features == "efficientnet_lite0"


def test_the_test_part_ranks_one_image_per_description() -> None:
    train = load_competition(DEMO, "train", features=["pool5"])
    test = load_competition(DEMO, "test", answers=DEMO / "answers_test.csv", features=["pool5"])
    ranks, seconds = ranks_on_test(RIDGE, train, test)
    assert ranks.shape == (len(test),) and ranks.min() >= 1 and seconds > 0
    assert np.mean(ranks <= 20) > 2 * 20 / len(test)  # far from chance


def test_candidates_and_their_descriptions() -> None:
    assert PEERS[0].startswith("ridge") and all(FAMILIES[name] for name in PEERS)
    assert describe(FAMILIES["CCA"][0]) == "cca(reg 0.3, n_components 128); power 0.5"
    epochs = varied(default_values(), "mappers.0.params.epochs", 10)
    assert epochs["mappers"][0]["params"]["epochs"] == 10
    assert default_values()["mappers"][0]["params"]["epochs"] == 3  # a copy was changed
    with pytest.raises(KeyError, match="image.no_such_setting"):
        varied(default_values(), "image.no_such_setting", 1)
