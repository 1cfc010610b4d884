"""Deterministic held-out splits of paired data, for model selection."""

from __future__ import annotations

import numpy as np

from retrieval.data._dataset import Dataset


def train_val_split(
    dataset: Dataset, *, val_size: int | float = 0.1, seed: int = 0
) -> tuple[Dataset, Dataset]:
    """Split paired data into a training part and a held-out part.

    ``val_size`` is a count (int) or a fraction in (0, 1). The same ``seed`` and size
    always give the same split, whatever the machine.

    Examples
    --------
    >>> from pathlib import Path
    >>> ds = Dataset.paired(ids=[str(i) for i in range(10)],
    ...                     image_paths=[Path(f"{i}.jpg") for i in range(10)],
    ...                     descriptions=[[f"item {i}"] for i in range(10)])
    >>> train, val = train_val_split(ds, val_size=3, seed=1)
    >>> len(train), len(val)
    (7, 3)
    >>> sorted(train.ids + val.ids, key=int) == ds.ids
    True
    """
    n = len(dataset)
    if isinstance(val_size, float):
        if not 0.0 < val_size < 1.0:
            raise ValueError(f"val_size as a fraction must be in (0, 1), got {val_size}")
        n_val = max(1, int(round(n * val_size)))
    else:
        n_val = int(val_size)
    if not 0 < n_val < n:
        raise ValueError(f"val_size must leave both parts non-empty: {n_val} of {n} items")
    order = np.random.default_rng(seed).permutation(n)
    val_idx = np.sort(order[:n_val])
    train_idx = np.sort(order[n_val:])
    return dataset.subset(train_idx), dataset.subset(val_idx)
