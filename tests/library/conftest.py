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


def bundle_network_shards(pictures: list[Path], folder: Path, shard_size: int) -> Path:
    """Feature shards of ``pictures`` from the bundle's network (ResNet-50, random weights,
    seed 0: what the demo's pool5 features come from)."""
    from retrieval.features.networks import network_record
    from retrieval.features.shards import write_shards

    write_shards(
        pictures,
        folder,
        record=network_record("resnet50", None, 0),
        shard_size=shard_size,
        model="resnet50",
        weights=None,
        seed=0,
        progress=False,
    )
    return folder
