from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.data import feature_csv_path, write_feature_csv

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "data" / "demo"


def write_tree(root: Path, n: int = 6, dim: int = 4, split: str = "train") -> Path:
    """A tiny competition part whose feature row for image i is [i, i, ...] (rows shuffled)."""
    for kind in ("descriptions", "tags", "features", "images"):
        (root / f"{kind}_{split}").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (root / f"descriptions_{split}" / f"{i}.txt").write_text(
            f"Picture number {i}.\nA second line.\n"
        )
        (root / f"tags_{split}" / f"{i}.txt").write_text("furniture:dining table\nanimal:dog\n")
    order = list(reversed(range(n)))
    matrix = np.repeat(np.array(order, dtype=np.float32)[:, None], dim, axis=1)
    write_feature_csv(
        feature_csv_path(root, split, "pool5"), [f"images_{split}/{i}.jpg" for i in order], matrix
    )
    return root


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "comp")


@pytest.fixture
def demo_root() -> Path:
    return DEMO
