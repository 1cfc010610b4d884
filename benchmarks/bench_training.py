"""Training time at the competition's size: 10,000 items, five sentences each, 2048-d features.

Builds a paired dataset in memory: descriptions of five 8-14 word sentences drawn (Zipf) from
the 20,000 most frequent GloVe words, so the TF-IDF vocabulary is as large as the real
competition's, and pool5 rows resampled from the demo's real features (as
``bench_autoencoder.py`` does). Then times ``Trainer(config).fit`` for the default config and
for each ``--config`` given, one run each, one after another, in one process, and prints a
table with the seconds and the size of the text features.

With ``--tags`` every item also has one to four of 80 random tags (as the competition's
images have COCO categories), so tag fusion and its held-out weight choice are timed too.

``--steps`` prints when each training step begins (seconds since the start) on stderr.

Usage: python benchmarks/bench_training.py [--n 10000] [--tags] [--steps] [--config configs/peers/ridge.toml ...]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from bench_autoencoder import resampled_pool5

from retrieval.config import RunConfig
from retrieval.core import Trainer
from retrieval.data import Dataset
from retrieval.text import glove_arrays


def competition_sized(n: int, seed: int = 0, *, tags: bool = False) -> Dataset:
    words, _ = glove_arrays(limit=20_000)
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, len(words) + 1)
    weights /= weights.sum()
    descriptions = []
    for _ in range(n):
        sentences = []
        for _ in range(5):
            picked = rng.choice(len(words), size=rng.integers(8, 15), p=weights)
            sentences.append(" ".join(words[i] for i in picked).capitalize() + ".")
        descriptions.append(sentences)
    ids = [str(i) for i in range(n)]
    # like the competition's COCO tags: one to four of 80 categories per image
    tag_lists = [
        [f"category:{c}" for c in rng.choice(80, size=rng.integers(1, 5), replace=False)]
        for _ in range(n)
    ]
    return Dataset.paired(
        ids=ids,
        image_paths=[Path(f"images_train/{i}.jpg") for i in ids],
        descriptions=descriptions,
        tags=tag_lists if tags else None,
        pool5=resampled_pool5(n),
        name=f"competition-sized ({n})",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--config", type=Path, action="append", default=[])
    parser.add_argument(
        "--tags", action="store_true", help="give every item one to four of 80 synthetic tags"
    )
    parser.add_argument(
        "--steps", action="store_true", help="print each training step's start on stderr"
    )
    args = parser.parse_args()
    data = competition_sized(args.n, tags=args.tags)
    configs = [("default (configs/default.toml)", RunConfig(name="default"))]
    configs += [(str(path), RunConfig.from_toml(path)) for path in args.config]
    print(f"\n{data.name}: {len(data)} items, {os.cpu_count()} CPU cores\n")
    print("| config | train s | text features |\n| --- | ---: | ---: |")
    for name, config in configs:
        start = time.perf_counter()
        model = Trainer(config, verbose=args.steps).fit(data)
        seconds = time.perf_counter() - start
        print(f"| {name} | {seconds:.1f} | {model.text_encoder.dim} |", flush=True)


if __name__ == "__main__":
    main()
