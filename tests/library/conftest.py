"""A small bundle trained on the demo's pool5 features, shared by the library tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.config import RunConfig
from retrieval.core import Trainer, save_bundle
from retrieval.data import load_competition

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = RunConfig.from_dict(
        {
            "image": {"code_dim": 32, "epochs": 3},
            "mappers": [{"kind": "neural", "params": {"epochs": 10}}],
        }
    )
    train = load_competition(DEMO, "train")
    model = Trainer(config).fit(train)
    return save_bundle(
        tmp_path_factory.mktemp("bundle") / "bundle", model, model.gallery_from_dataset(train)
    )
