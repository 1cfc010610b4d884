"""Small training runs on the demo's Lite0 features, for tests of one trainer choice each."""

from __future__ import annotations

from pathlib import Path

from retrieval.config import RunConfig
from retrieval.data import Dataset, load_competition, train_val_split

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"


def demo_split() -> tuple[Dataset, Dataset]:
    """The demo's train part as four fifths to fit on and a fifth held out (seed 0)."""
    return train_val_split(load_competition(DEMO, "train"), val_size=0.2, seed=0)


def small_run(mapper: dict, **tables: dict) -> RunConfig:
    """One ``mapper`` on the standardised Lite0 features, no tags, no concept bridge, plus
    ``tables`` (e.g. ``query_set={...}``)."""
    return RunConfig.from_dict(
        {
            "data": {"features": "efficientnet_lite0"},
            "image": {"use_autoencoder": False},
            "mappers": [{"space": "features", **mapper}],
            "tags": {"enabled": False},
            "concepts": {"enabled": False},
            **tables,
        }
    )


SMALL_CCA = {"kind": "cca", "params": {"n_components": 32}}
RIDGE = {"kind": "ridge"}
