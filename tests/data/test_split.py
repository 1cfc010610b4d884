from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.data import Dataset, load_competition, train_val_split


def toy(n: int) -> Dataset:
    return Dataset.paired(
        ids=[str(i) for i in range(n)],
        image_paths=[Path(f"{i}.jpg") for i in range(n)],
        descriptions=[[f"caption {i}"] for i in range(n)],
        pool5=np.arange(n, dtype=np.float32)[:, None],
    )


def test_split_is_deterministic_disjoint_and_complete() -> None:
    ds = toy(50)
    a_train, a_val = train_val_split(ds, val_size=0.2, seed=3)
    b_train, b_val = train_val_split(ds, val_size=0.2, seed=3)
    assert a_val.ids == b_val.ids and a_train.ids == b_train.ids
    assert len(a_val) == 10 and len(a_train) == 40
    assert set(a_val.ids).isdisjoint(a_train.ids)
    assert sorted(a_train.ids + a_val.ids, key=int) == ds.ids
    other_train, other_val = train_val_split(ds, val_size=0.2, seed=4)
    assert other_val.ids != a_val.ids


def test_split_keeps_descriptions_and_features_with_their_image() -> None:
    train, val = train_val_split(toy(30), val_size=7, seed=0)
    for part in (train, val):
        assert part.is_paired
        for i, image_id in enumerate(part.ids):
            assert part.descriptions[i] == [f"caption {image_id}"]
            assert part.pool5[i, 0] == float(image_id)


@pytest.mark.parametrize("size", [0, 30, 1.0, 0.0, -2])
def test_split_rejects_sizes_that_empty_a_part(size: float) -> None:
    with pytest.raises(ValueError, match="val_size"):
        train_val_split(toy(30), val_size=size)


def test_split_needs_paired_data(demo_root: Path) -> None:
    test_part = load_competition(demo_root, "test", features=None)
    with pytest.raises(ValueError, match="paired"):
        train_val_split(test_part, val_size=10)
