"""Synthetic trees in the competition layout, for tests and loading benchmarks."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from retrieval.data._competition import feature_csv_path, write_answers
from retrieval.data._feature_csv import write_feature_csv

_WORDS = [
    "a",
    "the",
    "dog",
    "cat",
    "man",
    "woman",
    "child",
    "table",
    "pizza",
    "bus",
    "train",
    "street",
    "plate",
    "bench",
    "sits",
    "stands",
    "runs",
    "on",
    "in",
    "with",
    "near",
    "red",
    "blue",
    "green",
    "large",
    "small",
    "two",
    "three",
    "holding",
    "riding",
    "next",
    "to",
]
_TAGS = [
    "animal:dog",
    "animal:cat",
    "vehicle:bus",
    "vehicle:train",
    "food:pizza",
    "furniture:dining table",
]


def make_synthetic_competition(
    root: str | os.PathLike[str],
    *,
    n_train: int = 100,
    n_test: int = 20,
    pool5_dim: int = 2048,
    fc1000_dim: int = 1000,
    sentences: tuple[int, int] = (5, 7),
    seed: int = 0,
    float_format: str = "%.6f",
) -> Path:
    """Write random descriptions, tags and feature CSVs in the competition layout.

    No image files are written (the features stand in for them). Feature rows are
    shuffled as in the real files; test descriptions are paired with a random
    permutation of the test images, recorded in ``answers_test.csv``.

    Examples
    --------
    >>> import tempfile
    >>> root = make_synthetic_competition(tempfile.mkdtemp(), n_train=5, n_test=3,
    ...                                   pool5_dim=4, fc1000_dim=2)
    >>> sorted(p.name for p in root.iterdir())[:3]
    ['answers_test.csv', 'descriptions_test', 'descriptions_train']
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("test", n_test)):
        for kind in ("descriptions", "tags", "features"):
            (root / f"{kind}_{split}").mkdir(parents=True, exist_ok=True)
        for i in range(n):
            count = int(rng.integers(sentences[0], sentences[1] + 1))
            lines = [
                " ".join(rng.choice(_WORDS, size=int(rng.integers(6, 14)))) + "."
                for _ in range(count)
            ]
            (root / f"descriptions_{split}" / f"{i}.txt").write_text(
                "\n".join(lines) + "\n", encoding="utf-8"
            )
            tags = rng.choice(_TAGS, size=int(rng.integers(0, 4)), replace=False)
            (root / f"tags_{split}" / f"{i}.txt").write_text(
                "".join(f"{t}\n" for t in tags), encoding="utf-8"
            )
        order = rng.permutation(n)
        paths = [f"images_{split}/{i}.jpg" for i in order]
        for kind, dim in (("pool5", pool5_dim), ("fc1000", fc1000_dim)):
            matrix = rng.random((n, dim), dtype=np.float32)
            write_feature_csv(
                feature_csv_path(root, split, kind), paths, matrix, float_format=float_format
            )
    pairing = rng.permutation(n_test)
    write_answers(root / "answers_test.csv", [(str(d), str(i)) for d, i in enumerate(pairing)])
    return root
